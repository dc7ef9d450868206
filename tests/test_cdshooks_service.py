"""The patient-view service end to end with a fake FHIR server: partial prefetch, fetching, failures."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from rootcause import Engine
from rootcause.cdshooks import (
    CdsResponse,
    CdsSettings,
    FetchError,
    HttpxFhirFetcher,
    PatientViewResult,
    PatientViewService,
    gather,
    parse_hook_request,
)
from rootcause.cdshooks.prefetch import DeferringFetcher, FetchDeferred, render

BASE = "https://ehr.example.org/fhir"
TOKEN = "fhir-access-token"
BUNDLE = json.loads((Path(__file__).parent / "data" / "fhir" / "bundle-discectomy-snomed.json").read_text())
RESOURCES = [e["resource"] for e in BUNDLE["entry"]]
DAY = dt.date(2026, 8, 10)


def of_type(rtype: str) -> list[dict[str, Any]]:
    return [r for r in RESOURCES if r["resourceType"] == rtype]


def searchset(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        b["link"] = [{"relation": "next", "url": next_url}]
    return b


OO = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}


def full_prefetch() -> dict[str, Any]:
    return {
        "patient": of_type("Patient")[0],
        "procedures": searchset(of_type("Procedure")),
        "observations": searchset(of_type("Observation")),
        "conditions": searchset(of_type("Condition")),
        "documents": searchset(of_type("DocumentReference")),
    }


def request(prefetch: dict[str, Any] | None, *, server: str | None = BASE, auth: bool = True) -> Any:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "6f1c0a8e-3b7d-4c59-9f0e-1d2b3c4d5e6f",
        "context": {"userId": "Practitioner/dr-1", "patientId": "demo-07"},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if server:
        body["fhirServer"] = server
        if auth:
            body["fhirAuthorization"] = {
                "access_token": TOKEN,
                "token_type": "Bearer",
                "expires_in": 30,
                "scope": "user/*.read",
                "subject": "rootcause",
            }
    return parse_hook_request(body)


class FakeFhir:
    """A fetcher fake: URL → JSON (or an exception); records (url, token, timeout)."""

    def __init__(self, pages: dict[str, Any], clock: list[float] | None = None, cost: float = 0.0) -> None:
        self.pages = pages
        self.calls: list[tuple[str, str | None, float]] = []
        self.clock = clock
        self.cost = cost

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        self.calls.append((url, access_token, timeout))
        if self.clock is not None:
            self.clock[0] += self.cost
        page = self.pages.get(url)
        if isinstance(page, Exception):
            raise page
        if page is None:
            raise FetchError("HTTP 404")
        return copy.deepcopy(page)


def service(engine: Engine, fetcher: Any = None, **settings: Any) -> PatientViewService:
    return PatientViewService(
        engine,
        fetcher=fetcher,
        settings=CdsSettings(**settings),
        today=lambda: DAY,
        now=lambda: dt.datetime(2026, 8, 10, 9, tzinfo=dt.UTC),
    )


def check_response(result: PatientViewResult) -> dict[str, Any]:
    body = result.response_json()
    CdsResponse.model_validate(body)
    assert len(body["cards"]) == 1 and len(body["cards"][0]["summary"]) < 140
    return body["cards"][0]


def test_complete_prefetch_needs_no_fetch(engine: Engine) -> None:
    fake = FakeFhir({})
    result = service(engine, fake).handle(request(full_prefetch()))
    card = check_response(result)
    assert fake.calls == []
    assert result.assessment is not None and result.assessment.leading == "epidural_fibrosis"
    assert card["indicator"] == "info" and "Epidural fibrosis" in card["summary"]
    assert result.risk_assessment is not None and result.risk_assessment["id"] == result.assessment_id
    assert result.risk_assessment["subject"] == {"reference": "Patient/demo-07"}
    assert result.card_uuids == [card["uuid"]] and not result.precondition_failed
    assert {k: s.source for k, s in result.gathered.status.items()} == dict.fromkeys(
        ["patient", "procedures", "observations", "conditions", "documents"], "prefetch"
    )


def test_missing_key_is_fetched_with_the_bearer_token(engine: Engine) -> None:
    prefetch = full_prefetch()
    del prefetch["procedures"]
    fake = FakeFhir({f"{BASE}/Procedure?patient=demo-07": searchset(of_type("Procedure"))})
    result = service(engine, fake).handle(request(prefetch))
    check_response(result)
    assert [(url, token) for url, token, _ in fake.calls] == [(f"{BASE}/Procedure?patient=demo-07", TOKEN)]
    assert all(0 < t <= 1.5 for _, _, t in fake.calls)
    assert result.gathered.status["procedures"].source == "fetched"
    assert result.assessment is not None


def test_operation_outcome_and_failed_fetch_give_an_insufficient_data_card(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["procedures"] = OO
    fake = FakeFhir({f"{BASE}/Procedure?patient=demo-07": FetchError("timed out")})
    result = service(engine, fake).handle(request(prefetch))
    card = check_response(result)
    assert len(fake.calls) == 1
    assert result.assessment is None and result.risk_assessment is None
    assert result.precondition_failed  # the router may answer 412 instead
    assert "not enough data" in card["summary"]
    assert "prefetch failed in the EHR; fetch failed: timed out" in card["detail"]
    assert "lumbar spine Procedure" in card["detail"]


def test_no_procedure_at_all_gives_an_insufficient_data_card(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["procedures"] = searchset([])
    result = service(engine, FakeFhir({})).handle(request(prefetch))
    card = check_response(result)
    assert not result.precondition_failed and "lumbar spine Procedure" in card["detail"]


def test_null_means_no_data_unless_refetch_is_configured(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["procedures"] = None
    fake = FakeFhir({f"{BASE}/Procedure?patient=demo-07": searchset(of_type("Procedure"))})
    result = service(engine, fake).handle(request(prefetch))
    assert fake.calls == [] and result.assessment is None
    result = service(engine, fake, refetch_null_prefetch=True).handle(request(prefetch))
    assert len(fake.calls) == 1 and result.assessment is not None


def test_nothing_prefetched_everything_fetched(engine: Engine) -> None:
    fake = FakeFhir(
        {
            f"{BASE}/Patient/demo-07": of_type("Patient")[0],
            f"{BASE}/Procedure?patient=demo-07": searchset(of_type("Procedure")),
            f"{BASE}/Observation?patient=demo-07": searchset(of_type("Observation")[:3], f"{BASE}?page=2"),
            f"{BASE}?page=2": searchset([*of_type("Observation")[3:], OO]),
            f"{BASE}/Condition?patient=demo-07": searchset(of_type("Condition")),
        }
    )
    result = service(engine, fake).handle(request(None))
    check_response(result)
    assert len(fake.calls) == 5  # a service without a NotesReader does not fetch documents
    assert result.gathered.status["documents"].source == "not requested"
    assert result.fhir_case is not None and result.fhir_case.case is not None
    assert len(result.fhir_case.case["pain_scores"]) == 4  # page two was read


def test_prefetched_bundle_pages_are_followed_only_on_the_fhir_server(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(of_type("Observation")[:2], "https://elsewhere.example/fhir?page=2")
    fake = FakeFhir({})
    result = service(engine, fake).handle(request(prefetch))
    assert fake.calls == []  # the token is never sent to another server
    assert "not on fhirServer" in result.gathered.status["observations"].detail
    assert "only part of the data was read" in check_response(result)["detail"]


def test_page_limit(engine: Engine) -> None:
    pages = {f"{BASE}/Observation?patient=demo-07": searchset([], f"{BASE}?p=1")}
    pages.update({f"{BASE}?p={i}": searchset([], f"{BASE}?p={i + 1}") for i in range(1, 10)})
    req = request({"observations": None} | {k: v for k, v in full_prefetch().items() if k != "observations"})
    fake = FakeFhir(pages)
    got = gather(req, fetcher=fake, max_pages=3, refetch_null=True)
    assert len(fake.calls) == 3 and "stopped after 3 pages" in got.status["observations"].detail


def test_time_budget_bounds_fetching(engine: Engine) -> None:
    clock = [0.0]
    fake = FakeFhir({}, clock=clock, cost=1.2)  # every call takes 1.2 s of fake time and fails
    got = gather(request(None), fetcher=fake, budget_s=2.0, request_timeout_s=1.5, clock=lambda: clock[0])
    assert len(fake.calls) == 2  # the third would start after the budget
    assert [t for _, _, t in fake.calls] == [1.5, pytest.approx(0.8)]
    assert got.status["conditions"].detail == "time budget exhausted"


@pytest.mark.parametrize(
    ("server", "detail"),
    [(None, "no fhirServer to fetch from"), ("http://ehr.example.org/fhir", "fhirServer is not https")],
)
def test_no_fetch_without_a_secure_fhir_server(engine: Engine, server: str | None, detail: str) -> None:
    fake = FakeFhir({})
    result = service(engine, fake).handle(request(None, server=server, auth=False))
    assert fake.calls == [] and result.precondition_failed
    assert detail in check_response(result)["detail"]


def test_invalid_resources_and_bad_data_never_raise(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["observations"]["entry"].append({"resource": {"resourceType": "Observation", "id": "bad"}})
    result = service(engine, FakeFhir({})).handle(request(prefetch))
    assert (
        result.assessment is not None and "invalid resources skipped: 1" in check_response(result)["detail"]
    )
    prefetch = full_prefetch()
    prefetch["patient"] = {**prefetch["patient"], "birthDate": "1890-01-01"}  # age 136: the engine refuses
    result = service(engine, FakeFhir({})).handle(request(prefetch))
    assert result.assessment is None and "could not be used: age" in check_response(result)["detail"]


def test_render_prefetch_tokens() -> None:
    ctx = {"patientId": "p1", "userId": "PractitionerRole/r9"}
    assert render("Procedure?patient={{context.patientId}}", ctx) == "Procedure?patient=p1"
    assert render("PractitionerRole/{{userPractitionerRoleId}}", ctx) == "PractitionerRole/r9"
    assert render("Encounter/{{context.encounterId}}", ctx) is None


def test_httpx_fetcher_headers_status_and_timeouts() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path.endswith("/timeout"):
            raise httpx.ReadTimeout("slow", request=req)
        if req.url.path.endswith("/missing"):
            return httpx.Response(404)
        if req.url.path.endswith("/html"):
            return httpx.Response(200, text="<html>")
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p"})

    fetcher = HttpxFhirFetcher(httpx.Client(transport=httpx.MockTransport(handler)))
    assert fetcher.get(f"{BASE}/Patient/p", access_token=TOKEN, timeout=1.0)["id"] == "p"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "application/fhir+json" in seen[0].headers["Accept"]
    for path, message in [("timeout", "timed out"), ("missing", "HTTP 404"), ("html", "not JSON")]:
        with pytest.raises(FetchError, match=message):
            fetcher.get(f"{BASE}/{path}", access_token=None, timeout=1.0)
    assert "Authorization" not in seen[-1].headers
    fetcher.close()


def test_a_prefetch_value_that_is_not_fhir_is_refetched(engine: Engine) -> None:
    prefetch = full_prefetch()
    prefetch["procedures"] = "Procedure/op-1"
    prefetch["observations"]["entry"].append("junk")
    result = service(engine, FakeFhir({})).handle(request(prefetch))
    detail = check_response(result)["detail"]
    assert "prefetch value is not a FHIR resource; fetch failed: HTTP 404" in detail
    assert result.precondition_failed and result.assessment is None


def test_handle_many_answers_each_call_as_handle_does_and_defers_those_that_must_fetch(
    engine: Engine,
) -> None:
    aged = full_prefetch()
    aged["patient"] = {**aged["patient"], "birthDate": "1890-01-01"}  # the engine refuses the case
    no_operation = full_prefetch()
    no_operation["procedures"] = searchset([])
    partial = full_prefetch()
    partial["observations"] = OO  # must be fetched
    prefetches = [full_prefetch(), aged, no_operation, partial, full_prefetch()]
    fake = FakeFhir({f"{BASE}/Observation?patient=demo-07": searchset(of_type("Observation"))})
    alone = [service(engine, fake).handle(request(copy.deepcopy(p))) for p in prefetches]
    deferring = service(engine, DeferringFetcher())
    together = deferring.handle_many([request(copy.deepcopy(p)) for p in prefetches])
    assert isinstance(together[3], FetchDeferred)
    for i in (0, 1, 2, 4):
        result = together[i]
        assert isinstance(result, PatientViewResult)
        assert result.response_json() == alone[i].response_json()
        assert (result.assessment is None) == (alone[i].assessment is None)
    assert (
        together[0].assessment is not None
        and together[0].assessment.to_dict() == alone[0].assessment.to_dict()
    )
