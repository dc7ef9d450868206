"""CDS Hooks calls answered in batches (SQLite and PostgreSQL): every call of a batch gets the answer it
would get alone, a refused or failing call does not touch the others, a call whose prefetch is partial
leaves the batch for the path that may fetch, and concurrent calls over HTTP are batched and stored."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.responses import Response

from rootcause import Engine
from rootcause.service.problems import ProblemError
from rootcause.service.routes import cds_hooks
from rootcause.service.routes.cds_hooks import _FETCH, _Call, _patient_view_many
from rootcause.storage.models import Patient

from .cds_support import (
    EHR_A,
    FHIR,
    OO,
    CdsWorld,
    full_prefetch,
    hook_body,
    of_type,
    red_flag_prefetch,
    searchset,
    world,
)
from .test_service_cds_storing import rows

SERVICE = "/cds-services/patient-view"


@pytest.fixture()
def cds(database_url: str, engine: Engine) -> Iterator[CdsWorld]:
    with world(database_url, engine) as w:
        yield w


def call(body: Any, token: str | None = None) -> _Call:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _Call(f"Bearer {token or EHR_A.token()}", None, raw)


def cards(outcome: Any) -> list[dict[str, Any]]:
    """A 200 response's cards without what differs between two calls of the same record (the ids)."""
    assert isinstance(outcome, Response) and outcome.status_code == 200
    out = json.loads(bytes(outcome.body))["cards"]
    for card in out:
        for key in ("uuid", "links", "suggestions"):
            card.pop(key, None)
    return list(out)


def status(outcome: Any) -> int:
    if isinstance(outcome, ProblemError):
        return outcome.status
    assert isinstance(outcome, Response), outcome
    return outcome.status_code


def test_each_call_of_a_batch_gets_the_answer_it_gets_alone(cds: CdsWorld) -> None:
    bodies = [hook_body(full_prefetch()), hook_body(red_flag_prefetch()), hook_body(full_prefetch())]
    alone = [_patient_view_many(cds.app, [call(b)])[0] for b in bodies]
    together = _patient_view_many(cds.app, [call(copy.deepcopy(b)) for b in bodies])
    assert [cards(o) for o in together] == [cards(o) for o in alone]
    assert cards(together[1]) != cards(together[0])  # the red flags changed that call's card alone
    assert rows(cds)["calls"] == 6 and rows(cds)["assessments"] == 6


def test_refused_calls_in_a_batch_are_refused_alone_and_spend_their_tokens(cds: CdsWorld) -> None:
    replayed, bad_body = EHR_A.token(), EHR_A.token()
    outcomes = _patient_view_many(
        cds.app,
        [
            call(hook_body(full_prefetch()), replayed),
            call(hook_body(full_prefetch()), replayed),  # the same token again, in the same batch
            call({"hook": "patient-view"}, bad_body),  # no hookInstance, no context: 400
            call(hook_body(full_prefetch()), "not-a-token"),
            call(b"{not json", EHR_A.token()),
            call(hook_body(full_prefetch())),
        ],
    )
    assert [status(o) for o in outcomes] == [200, 401, 400, 401, 400, 200]
    assert rows(cds)["calls"] == 2
    again = _patient_view_many(cds.app, [call(hook_body(full_prefetch()), bad_body)])
    assert status(again[0]) == 401  # the refused call's token was spent


def test_a_call_with_a_partial_prefetch_leaves_the_batch_without_fetching(cds: CdsWorld) -> None:
    partial = full_prefetch()
    partial["observations"] = OO  # an error in place of the observations: they must be fetched
    outcomes = _patient_view_many(cds.app, [call(hook_body(full_prefetch())), call(hook_body(partial))])
    assert status(outcomes[0]) == 200 and outcomes[1] is _FETCH
    assert cds.fhir.calls == []  # the batch never waits on the EHR
    assert rows(cds)["calls"] == 1 and rows(cds)["jti"] == 1  # its token is left for the path that fetches


def test_a_partial_prefetch_is_fetched_and_answered_over_http(cds: CdsWorld) -> None:
    partial = full_prefetch()
    partial["observations"] = OO
    cds.fhir.pages[f"{FHIR}/Observation?patient=demo-07"] = searchset(of_type("Observation"))
    r = cds.client.post(SERVICE, json=hook_body(partial), headers=EHR_A.headers())
    assert r.status_code == 200, r.text
    assert [url for url, _ in cds.fhir.calls] == [f"{FHIR}/Observation?patient=demo-07"]
    assert rows(cds)["calls"] == 1


def test_a_call_that_fails_in_a_batch_fails_alone(cds: CdsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    service = cds_hooks.cds_runtime(cds.app).batch_service
    prepare = service._prepare

    def breaks_on_one(request: Any) -> Any:
        if request.hookInstance == "breaks":
            raise RuntimeError("a bug reading this call")
        return prepare(request)

    monkeypatch.setattr(service, "_prepare", breaks_on_one)
    outcomes = _patient_view_many(
        cds.app,
        [call(hook_body(full_prefetch())), call(hook_body(full_prefetch(), hook_instance="breaks"))],
    )
    assert status(outcomes[0]) == 200
    assert isinstance(outcomes[1], RuntimeError)
    assert rows(cds)["calls"] == 1


def test_concurrent_calls_over_http_are_batched_and_each_is_stored(
    cds: CdsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    def recording(app: Any, calls: Any) -> Any:
        sizes.append(len(calls))
        return _patient_view_many(app, calls)

    monkeypatch.setattr(cds_hooks, "_patient_view_many", recording)
    n = 12

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=cds.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://cds.rootcause.test") as client:
            return await asyncio.gather(
                *(
                    client.post(SERVICE, json=hook_body(full_prefetch()), headers=EHR_A.headers())
                    for _ in range(n)
                )
            )

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [200] * n
    assert len({r.json()["cards"][0]["uuid"] for r in answers}) == n  # one card per call
    assert sum(sizes) == n and max(sizes) > 1
    assert rows(cds)["calls"] == n and rows(cds)["assessments"] == n


def test_two_calls_for_one_patient_in_a_batch_are_stored_in_order(cds: CdsWorld) -> None:
    changed = full_prefetch()
    changed["patient"]["birthDate"] = "1980-01-01"
    outcomes = _patient_view_many(cds.app, [call(hook_body(full_prefetch())), call(hook_body(changed))])
    assert [status(o) for o in outcomes] == [200, 200]
    stored = rows(cds)
    assert stored["patients"] == 1 and stored["assessments"] == 2
    assert stored["audit"].count("patient.create") == 1 and stored["audit"].count("patient.update") == 1
    with cds.app.state.rootcause.database.transaction(readonly=True) as session:
        assert session.scalars(select(Patient.birth_year)).one() == 1980


def test_a_patient_created_after_the_batch_read_it_is_not_created_twice(
    cds: CdsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = cds_hooks.cds_runtime(cds.app)
    read = runtime.read_patients

    def read_then_another_worker_creates_it(jobs: Any, known: Any) -> None:
        read(jobs, known)  # the batch reads: no record yet
        assert set(known.values()) == {None}
        _patient_view_many_alone(cds)  # meanwhile another worker stores a call for the same patient

    monkeypatch.setattr(runtime, "read_patients", read_then_another_worker_creates_it)
    outcomes = _patient_view_many(cds.app, [call(hook_body(full_prefetch()))])
    assert status(outcomes[0]) == 200
    assert rows(cds)["patients"] == 1 and rows(cds)["calls"] == 2


def _patient_view_many_alone(cds: CdsWorld) -> None:
    runtime = cds_hooks.cds_runtime(cds.app)
    caller, hook = cds_hooks._admit(runtime, call(hook_body(full_prefetch())))
    assert not isinstance(hook, ProblemError)
    runtime.record(caller, hook, runtime.service.handle(hook))
