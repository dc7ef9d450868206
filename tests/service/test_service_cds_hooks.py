"""The CDS Hooks routes over HTTP (SQLite and PostgreSQL): discovery, JWT checks, cards, partial
prefetch, the insufficient-data card and what is stored. Keys are made here; no network is used."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rootcause import Engine
from rootcause.cdshooks import CdsResponse, DiscoveryResponse, FetchError
from rootcause.storage.models import AuditEvent, CdsCall, CdsCard, Patient

from .cds_support import (
    BASE,
    EHR_A,
    EHR_B,
    FHIR,
    OO,
    CdsWorld,
    FakeFhir,
    build_app,
    full_prefetch,
    hook_body,
    of_type,
    red_flag_prefetch,
    searchset,
    world,
)
from .test_service_error_shape import assert_problem

SERVICE = "/cds-services/patient-view"


@pytest.fixture()
def cds(database_url: str, engine: Engine) -> Iterator[CdsWorld]:
    with world(database_url, engine) as w:
        yield w


def call(w: CdsWorld, body: Any, headers: dict[str, str] | None = None) -> Any:
    return w.client.post(SERVICE, json=body, headers=EHR_A.headers() if headers is None else headers)


def stored_calls(w: CdsWorld) -> list[CdsCall]:
    with w.app.state.rootcause.database.transaction() as session:
        return list(session.scalars(select(CdsCall).order_by(CdsCall.created_at)).all())


def one_card(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    CdsResponse.model_validate(body)
    assert len(body["cards"]) == 1
    card: dict[str, Any] = body["cards"][0]
    assert 0 < len(card["summary"]) < 140
    return card


# ---------------------------------------------------------------------------- discovery


def test_discovery_is_open_and_matches_the_spec(cds: CdsWorld) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
        r = cds.client.get("/cds-services", headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        DiscoveryResponse.model_validate(body)
        (service,) = body["services"]
        assert {"hook", "description", "id"} <= set(service)  # REQUIRED by the spec
        assert (service["hook"], service["id"]) == ("patient-view", "patient-view")
        assert service["prefetch"]["documents"] == "DocumentReference?patient={{context.patientId}}"
        assert service["prefetch"]["procedures"] == "Procedure?patient={{context.patientId}}"
        assert all(v is not None for v in service.values())  # optional fields are omitted, not null


def test_discovery_can_require_the_jwt(database_url: str, engine: Engine) -> None:
    with world(database_url, engine, cds_discovery_requires_auth=True) as w:
        assert_problem(w.client.get("/cds-services"), 401, "no token")
        wrong = EHR_A.headers()  # audience of the service, not of discovery
        assert_problem(w.client.get("/cds-services", headers=wrong), 401, "wrong audience")
        r = w.client.get("/cds-services", headers=EHR_A.headers("/cds-services"))
        assert r.status_code == 200 and r.json()["services"][0]["id"] == "patient-view"


# ---------------------------------------------------------------------------- a valid call


def test_a_signed_call_gets_a_card_and_the_assessment_is_stored(cds: CdsWorld) -> None:
    body = hook_body(full_prefetch())
    card = one_card(call(cds, body))
    assert card["indicator"] == "info" and "Epidural fibrosis" in card["summary"]
    assert "%" in card["summary"] and "**Most likely causes**" in card["detail"]
    assert "**Next step:**" in card["detail"] and card["source"]["label"] == "rootcause"
    assert card["source"]["url"] == f"{BASE}/knowledge/sources"
    (link,) = card["links"]
    context = json.loads(link["appContext"])
    assert link["type"] == "smart"
    assert link["url"] == f"{BASE}/patients/{context['patient']}/assessments/{context['assessment']}"
    assert context["hookInstance"] == body["hookInstance"] and context["path"] in link["url"]
    assert cds.fhir.calls == []  # everything was prefetched

    # the stored assessment is readable by the organisation the issuer maps to
    r = cds.client.get(context["path"].replace("/patients", "/v1/patients"), headers=cds.org_a.clinician)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["case"]["surgery"]["procedure"] == "discectomy"
    assert stored["case"]["findings"]["slr_positive"] is True
    assert stored["result"]["differential"][0]["condition"] == "epidural_fibrosis"
    assert stored["knowledge_base_version"] == stored["result"]["knowledge_base_version"]
    patient = cds.client.get(f"/v1/patients/{context['patient']}", headers=cds.org_a.clinician).json()
    assert patient["external_id"] == "fhir:demo-07" and patient["surgery"]["date"] == "2026-06-01"
    assert patient["birth_year"] == 1974

    (row,) = stored_calls(cds)
    assert (row.organisation_id, row.outcome) == (cds.org_a.id, "assessment")
    assert row.card_uuids == [card["uuid"]] and row.fhir_patient_id == "demo-07"
    assert (row.issuer, row.hook_instance) == (EHR_A.iss, body["hookInstance"])
    assert str(row.assessment_id) == context["assessment"] and str(row.patient_id) == context["patient"]
    assert "Procedure/op-1" in row.record["fhir"]["basis"] and row.record["cards"][0]["uuid"] == card["uuid"]
    assert row.record["risk_assessment"]["id"] == context["assessment"]
    assert row.record["prefetch"]["procedures"]["source"] == "prefetch"
    assert "fhir-access-token-secret" not in json.dumps(row.record)
    with cds.app.state.rootcause.database.transaction() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        cards = session.scalars(select(CdsCard)).all()
    by_ehr = [(e.action, e.actor, e.organisation_id) for e in events if e.actor.startswith("cds:")]
    assert by_ehr == [
        (action, "cds:ehr-a.example.org", cds.org_a.id)
        for action in ("patient.create", "assessment.create", "cds.patient_view")
    ]
    assert [(c.card_uuid, c.kind) for c in cards] == [(card["uuid"], "assessment")]

    # a second call for the same patient reuses the local patient record
    one_card(call(cds, hook_body(full_prefetch())))
    with cds.app.state.rootcause.database.transaction() as session:
        assert len(session.scalars(select(Patient)).all()) == 1


def test_red_flags_give_a_critical_card_and_ec_keys_work(cds: CdsWorld) -> None:
    card = one_card(call(cds, hook_body(red_flag_prefetch()), EHR_B.headers()))  # ES384, issuer B
    assert card["indicator"] == "critical" and "EMERGENCY" in card["summary"]
    (row,) = stored_calls(cds)
    assert row.organisation_id == cds.org_b.id and row.tenant == "clinic-b"


# ---------------------------------------------------------------------------- refused tokens


def unsigned(claims: dict[str, Any]) -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': EHR_A.kid})}.{b64(claims)}."


def refused_tokens() -> dict[str, str]:
    valid = jwt.decode(EHR_A.token(), options={"verify_signature": False})
    hmac = jwt.encode(valid | {"jti": str(uuid.uuid4())}, "s" * 64, algorithm="HS384")
    return {
        "wrong audience": EHR_A.token(aud=f"{BASE}/cds-services/other-service"),
        "audience from another host": EHR_A.token(aud="https://evil.example/cds-services/patient-view"),
        "expired": EHR_A.token(iat=valid["iat"] - 4000, exp=valid["iat"] - 600),
        "unsigned (alg none)": unsigned(valid | {"jti": str(uuid.uuid4())}),
        "HMAC": hmac,
        "unknown issuer": EHR_A.token(iss="https://someone-else.example"),
        "issuer B without its tenant": EHR_B.token(tenant=None),
        "no jti": EHR_A.token(jti=None),
        "not a JWT": "rc_demo00000000_demo-key-public-never-use-in-production",
    }


def test_bad_tokens_are_refused_with_a_bare_401(cds: CdsWorld) -> None:
    assert_problem(call(cds, hook_body(full_prefetch()), {}), 401, "no Authorization header")
    for what, token in refused_tokens().items():
        r = call(cds, hook_body(full_prefetch()), {"Authorization": f"Bearer {token}"})
        assert_problem(r, 401, what)
        assert r.json()["detail"] == "the request is not authenticated", what
        assert r.headers["www-authenticate"].startswith("Bearer")
        for part in token.split("."):  # nothing of the token comes back
            assert len(part) < 8 or part not in r.text, what
        assert EHR_A.iss not in r.text and "jti" not in r.text
    assert stored_calls(cds) == []


def test_a_replayed_jti_is_refused(cds: CdsWorld) -> None:
    headers = EHR_A.headers()
    one_card(call(cds, hook_body(full_prefetch()), headers))
    assert_problem(call(cds, hook_body(full_prefetch()), headers), 401, "replayed")
    assert len(stored_calls(cds)) == 1


def test_a_failed_call_spends_its_token(cds: CdsWorld) -> None:
    headers = EHR_A.headers()
    r = call(cds, {"hook": "patient-view"}, headers)  # no hookInstance, no context: 400
    assert r.status_code == 400, r.text
    assert_problem(call(cds, hook_body(full_prefetch()), headers), 401, "replayed after a failed call")
    assert stored_calls(cds) == []


def test_the_replay_cache_is_shared_by_two_app_instances(database_url: str, engine: Engine) -> None:
    with world(database_url, engine) as first:
        second_app = build_app(database_url, engine, FakeFhir())
        try:
            with TestClient(second_app) as second:
                headers = EHR_A.headers()
                one_card(first.client.post(SERVICE, json=hook_body(full_prefetch()), headers=headers))
                r = second.post(SERVICE, json=hook_body(full_prefetch()), headers=headers)
                assert_problem(r, 401, "replayed on another instance")
                one_card(second.post(SERVICE, json=hook_body(full_prefetch()), headers=EHR_A.headers()))
        finally:
            second_app.state.rootcause.database.dispose()


def test_an_issuer_whose_organisation_does_not_exist_is_refused(database_url: str, engine: Engine) -> None:
    with world(database_url, engine) as w:
        runtime = w.app.state.cds_runtime
        runtime.entries[0] = runtime.entries[0].model_copy(update={"organisation": "No such clinic"})
        runtime._organisations.clear()
        assert_problem(call(w, hook_body(full_prefetch())), 401, "unmapped issuer")


# ---------------------------------------------------------------------------- bad requests


def test_malformed_hook_requests_are_400_problems_after_authentication(cds: CdsWorld) -> None:
    body = hook_body(full_prefetch()) | {"hook": "order-sign"}
    r = call(cds, body)
    assert_problem(r, 400, "wrong hook")
    assert [e["field"] for e in r.json()["errors"]] == ["hook"]
    r = call(cds, {"hook": "patient-view", "context": {}})
    assert_problem(r, 400, "missing fields")
    assert [e["field"] for e in r.json()["errors"]] == ["hookInstance"]
    r = call(cds, hook_body(None) | {"context": {"userId": "Practitioner/1"}})
    assert_problem(r, 400, "no patient")
    assert [e["field"] for e in r.json()["errors"]] == ["context.patientId"]
    r = cds.client.post(
        SERVICE, content=b"{nope", headers=EHR_A.headers() | {"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed JSON")
    r = call(cds, hook_body(full_prefetch(), hook_instance="x" * 200))
    assert_problem(r, 400, "long hookInstance")
    assert stored_calls(cds) == []


# ---------------------------------------------------------------------------- partial prefetch


def test_partial_prefetch_is_fetched_through_the_fhir_fetcher(cds: CdsWorld) -> None:
    prefetch = full_prefetch()
    del prefetch["procedures"]  # missing: not attempted or failed
    prefetch["observations"] = OO  # the EHR's prefetch failed
    prefetch["conditions"] = None  # null: no data (not fetched, per the spec)
    del prefetch["documents"]
    cds.fhir.pages.update(
        {
            f"{FHIR}/Procedure?patient=demo-07": searchset(of_type("Procedure")),
            f"{FHIR}/Observation?patient=demo-07": searchset(of_type("Observation")),
            f"{FHIR}/DocumentReference?patient=demo-07": searchset([]),
        }
    )
    card = one_card(call(cds, hook_body(prefetch)))
    assert "Epidural fibrosis" in card["summary"]
    assert cds.fhir.calls == [
        (f"{FHIR}/Procedure?patient=demo-07", "fhir-access-token-secret"),
        (f"{FHIR}/Observation?patient=demo-07", "fhir-access-token-secret"),
        (f"{FHIR}/DocumentReference?patient=demo-07", "fhir-access-token-secret"),
    ]
    (row,) = stored_calls(cds)
    sources = {k: v["source"] for k, v in row.record["prefetch"].items()}
    assert sources == {
        "patient": "prefetch",
        "procedures": "fetched",
        "observations": "fetched",
        "conditions": "no data",
        "documents": "fetched",
    }


def test_null_prefetch_is_fetched_when_configured(database_url: str, engine: Engine) -> None:
    with world(database_url, engine, cds_refetch_null_prefetch=True) as w:
        prefetch = full_prefetch() | {"conditions": None}
        w.fhir.pages[f"{FHIR}/Condition?patient=demo-07"] = searchset(of_type("Condition"))
        one_card(call(w, hook_body(prefetch)))
        assert [url for url, _ in w.fhir.calls] == [f"{FHIR}/Condition?patient=demo-07"]


# ---------------------------------------------------------------------------- insufficient data


def test_insufficient_data_is_a_card_not_an_error(cds: CdsWorld) -> None:
    prefetch = full_prefetch() | {"procedures": OO}
    cds.fhir.pages[f"{FHIR}/Procedure?patient=demo-07"] = FetchError("timed out")
    card = one_card(call(cds, hook_body(prefetch)))
    assert card["indicator"] == "info" and "not enough data" in card["summary"]
    assert "lumbar spine Procedure" in card["detail"] and "fetch failed: timed out" in card["detail"]
    assert card["links"] == [
        {"label": "Open rootcause to enter the case", "url": f"{BASE}/case", "type": "absolute"}
    ]
    card = one_card(call(cds, hook_body(full_prefetch() | {"procedures": searchset([])})))
    assert "not enough data" in card["summary"]
    calls = stored_calls(cds)
    assert [c.outcome for c in calls] == ["insufficient-data", "insufficient-data"]
    assert all(c.patient_id is None and c.assessment_id is None for c in calls)
    assert calls[0].record["precondition_failed"] is True and calls[1].record["precondition_failed"] is False
    assert calls[1].card_uuids == [card["uuid"]]
    with cds.app.state.rootcause.database.transaction() as session:
        assert session.scalars(select(Patient)).all() == []
        kinds = {c.kind for c in session.scalars(select(CdsCard))}
    assert kinds == {"insufficient-data"}


def test_the_risk_assessment_can_be_left_out(database_url: str, engine: Engine) -> None:
    with world(database_url, engine, cds_store_risk_assessment=False) as w:
        card = one_card(call(w, hook_body(full_prefetch())))
        assert "Epidural fibrosis" in card["summary"]
        (row,) = stored_calls(w)
        assert row.record["risk_assessment"] is None and row.assessment_id is not None
        assert "Procedure/op-1" in row.record["fhir"]["basis"]  # the basis is kept either way
