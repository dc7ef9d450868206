"""The interview REST API (/v1/interviews), on SQLite and PostgreSQL.

State lives in the database only: the tests drive one interview through two app instances
(two "workers") sharing a database, expire it in the database, and race two answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rootcause import Engine
from rootcause.engine.interview import Interviewer, Question, simulated_answer
from rootcause.service.app import create_app
from rootcause.service.settings import Settings
from rootcause.storage.models import AuditEvent, StoredSession

from .conftest import Org

PROBLEM = "application/problem+json"
VIGNETTES = Path(__file__).parents[1] / "data" / "vignettes"


def vignette(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((VIGNETTES / name).read_text())["case"]
    return case


def start(client: TestClient, org: Org, mode: str = "patient", **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/interviews", json={"mode": mode, **extra}, headers=org.clinician)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["location"] == f"/v1/interviews/{body['id']}"
    assert r.headers["etag"] == '"1"'
    return body


def answer(client: TestClient, org: Org, state: dict[str, Any], value: Any, **headers: str) -> Any:
    q = state["question"]
    return client.post(
        f"/v1/interviews/{state['id']}/answers",
        json={"question": q["id"], "value": value},
        headers={**org.clinician, **headers},
    )


def run_to_end(
    clients: list[TestClient], org: Org, engine: Engine, case: dict[str, Any], mode: str = "patient"
) -> dict[str, Any]:
    """Answer from ``case`` (unknown → don't know), alternating between ``clients``."""
    iv = Interviewer(engine)
    state = start(clients[0], org, mode)
    for i in range(60):
        if state["done"]:
            return state
        q = Question(**state["question"])
        r = answer(clients[i % len(clients)], org, state, simulated_answer(iv, q, case))
        assert r.status_code == 200, r.text
        state = r.json()
    raise AssertionError("the interview did not stop")


@pytest.fixture()
def second_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """Another app instance (another worker) on the same database."""
    other = create_app(settings, engine=engine)
    with TestClient(other) as c:
        yield c
    other.state.rootcause.database.dispose()


def test_start_returns_the_first_question(client: TestClient, org_a: Org) -> None:
    state = start(client, org_a, case_id="visit-1")
    assert state["state"] == "asking" and state["done"] is False
    assert state["question"]["id"] == "surgery.procedure" and state["question"]["kind"] == "choice"
    assert state["stage"] == "timeline" and state["assessment"] is None and state["stop_reason"] is None
    assert (state["version"], state["questions_asked"], state["case_id"]) == (1, 0, "visit-1")
    assert state["max_questions"] == 25
    got = client.get(f"/v1/interviews/{state['id']}", headers=org_a.clinician)
    assert got.status_code == 200 and got.json()["question"] == state["question"]
    assert got.headers["cache-control"] == "no-store"


def test_a_full_interview_across_two_workers_ends_with_the_assessment(
    client: TestClient, second_client: TestClient, org_a: Org, engine: Engine
) -> None:
    case = vignette("02-sudden-return-after-lifting.json")
    final = run_to_end([client, second_client], org_a, engine, case)
    assert final["done"] is True and final["state"] == "done" and final["question"] is None
    assert final["stop_reason"]
    assessment = final["assessment"]
    assert assessment["differential"][0]["condition"] == "recurrent_disc_herniation"
    assert assessment["triage"]["level"] == "soon"
    assert assessment["triage"]["patient_advice"]
    assert assessment["explanations"] and assessment["treatments"]
    assert final["case"]["surgery"]["procedure"] == "discectomy"
    # the first worker reads what the second wrote
    again = client.get(f"/v1/interviews/{final['id']}", headers=org_a.clinician).json()
    assert again["done"] is True and again["version"] == final["version"]
    assert again["answers"] == final["answers"]


def test_red_flags_make_the_patient_advice_an_emergency(
    client: TestClient, org_a: Org, engine: Engine
) -> None:
    case = vignette("04-day-one-saddle-numbness.json")
    final = run_to_end([client], org_a, engine, case)
    assert final["assessment"]["triage"]["level"] == "emergency"
    assert "emergency" in final["assessment"]["triage"]["patient_advice"].lower()


def test_clinician_mode_can_ask_for_examination_findings(
    client: TestClient, org_a: Org, engine: Engine
) -> None:
    case = vignette("02-sudden-return-after-lifting.json")
    final = run_to_end([client], org_a, engine, case, mode="clinician")
    assert final["mode"] == "clinician" and final["done"]
    assert final["assessment"]["differential"][0]["condition"] == "recurrent_disc_herniation"


def test_an_invalid_answer_is_a_422_naming_the_field(client: TestClient, org_a: Org) -> None:
    state = start(client, org_a)
    r = answer(client, org_a, state, "brain_surgery")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"] == "urn:rootcause:problem:invalid-answer"
    assert problem["errors"][0]["field"] == "value"
    assert "discectomy" in problem["errors"][0]["message"]
    # a value the timeline refuses: onset after the time since surgery
    for value in ("discectomy", 30, "complete"):
        r = answer(client, org_a, state, value)
        assert r.status_code == 200, r.text
        state = r.json()
    assert state["question"]["id"] == "leg_pain.onset_days"
    r = answer(client, org_a, state, 40)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "value" and "onset_days" in r.json()["errors"][0]["message"]
    # nothing was half-applied
    now = client.get(f"/v1/interviews/{state['id']}", headers=org_a.clinician).json()
    assert now["version"] == state["version"] and now["question"]["id"] == "leg_pain.onset_days"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "surgery.procedure"}, "value"),
        ({"value": "discectomy"}, "question"),
        ({"question": "surgery.procedure", "value": "discectomy", "extra": 1}, "extra"),
    ],
)
def test_malformed_answer_bodies_name_the_field(
    client: TestClient, org_a: Org, body: dict[str, Any], field: str
) -> None:
    state = start(client, org_a)
    r = client.post(f"/v1/interviews/{state['id']}/answers", json=body, headers=org_a.clinician)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_start_validates_mode_and_case_id(client: TestClient, org_a: Org) -> None:
    r = client.post("/v1/interviews", json={"mode": "doctor"}, headers=org_a.clinician)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"
    r = client.post("/v1/interviews", json={"mode": "patient", "case_id": ""}, headers=org_a.clinician)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case_id"


def test_dont_know_and_undo(client: TestClient, org_a: Org) -> None:
    state = start(client, org_a)
    state = answer(client, org_a, state, "discectomy").json()
    assert state["question"]["id"] == "days_since_surgery"
    state = answer(client, org_a, state, None).json()  # don't know
    assert state["answers"][-1] == {"question": "days_since_surgery", "value": None}
    assert state["question"]["id"] == "leg_pain.relief_after_surgery"
    r = client.post(f"/v1/interviews/{state['id']}/undo", headers=org_a.clinician)
    assert r.status_code == 200
    undone = r.json()
    assert undone["question"]["id"] == "days_since_surgery" and len(undone["answers"]) == 1
    assert undone["version"] == state["version"] + 1
    client.post(f"/v1/interviews/{state['id']}/undo", headers=org_a.clinician)
    first = client.post(f"/v1/interviews/{state['id']}/undo", headers=org_a.clinician).json()
    assert first["question"]["id"] == "surgery.procedure" and first["answers"] == []


def test_answering_another_question_or_a_finished_interview_conflicts(
    client: TestClient, org_a: Org, engine: Engine
) -> None:
    state = start(client, org_a)
    r = client.post(
        f"/v1/interviews/{state['id']}/answers",
        json={"question": "fever", "value": True},
        headers=org_a.clinician,
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "question"
    assert "surgery.procedure" in r.json()["detail"]
    final = run_to_end([client], org_a, engine, vignette("02-sudden-return-after-lifting.json"))
    r = client.post(
        f"/v1/interviews/{final['id']}/answers",
        json={"question": "fever", "value": True},
        headers=org_a.clinician,
    )
    assert r.status_code == 409 and "finished" in r.json()["detail"]
    # undo after the stop asks again
    reopened = client.post(f"/v1/interviews/{final['id']}/undo", headers=org_a.clinician).json()
    assert reopened["done"] is False and reopened["assessment"] is None


def test_if_match_refuses_a_stale_change(client: TestClient, org_a: Org) -> None:
    state = start(client, org_a)
    first = answer(client, org_a, state, "discectomy", **{"If-Match": '"1"'})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    stale = client.post(f"/v1/interviews/{state['id']}/undo", headers={**org_a.clinician, "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["type"] == "urn:rootcause:problem:stale-version"
    bad = client.post(f"/v1/interviews/{state['id']}/undo", headers={**org_a.clinician, "If-Match": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "header.If-Match"
    ok = client.post(f"/v1/interviews/{state['id']}/undo", headers={**org_a.clinician, "If-Match": 'W/"2"'})
    assert ok.status_code == 200 and ok.json()["answers"] == []


def test_another_organisation_cannot_see_or_answer(client: TestClient, org_a: Org, org_b: Org) -> None:
    state = start(client, org_a)
    url = f"/v1/interviews/{state['id']}"
    for r in (
        client.get(url, headers=org_b.clinician),
        client.post(
            url + "/answers", json={"question": "surgery.procedure", "value": "fusion"}, headers=org_b.admin
        ),
        client.post(url + "/undo", headers=org_b.clinician),
    ):
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert client.get(url, headers=org_a.clinician).json()["version"] == 1
    assert client.get("/v1/interviews/unknown-id-123", headers=org_a.clinician).status_code == 404
    assert client.get(url).status_code == 401


def test_an_expired_interview_is_gone(client: TestClient, app: FastAPI, org_a: Org) -> None:
    state = start(client, org_a)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with app.state.rootcause.database.transaction() as session:
        session.execute(update(StoredSession).where(StoredSession.id == state["id"]).values(expires_at=past))
    assert client.get(f"/v1/interviews/{state['id']}", headers=org_a.clinician).status_code == 404
    assert answer(client, org_a, state, "fusion").status_code == 404


def test_each_answer_renews_the_expiry_and_is_audited(client: TestClient, app: FastAPI, org_a: Org) -> None:
    state = start(client, org_a)
    expires = dt.datetime.fromisoformat(state["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)
    after = answer(client, org_a, state, "fusion").json()
    assert dt.datetime.fromisoformat(after["expires_at"]) >= expires
    with app.state.rootcause.database.transaction() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.organisation_id == org_a.id, AuditEvent.resource_id == state["id"]
            )
        ).all()
    assert list(actions) == ["interview.create", "interview.answer"]


def test_two_workers_answering_the_same_version_one_wins(
    client: TestClient, second_client: TestClient, org_a: Org
) -> None:
    state = start(client, org_a)
    one = answer(client, org_a, state, "discectomy", **{"If-Match": '"1"'})
    two = answer(second_client, org_a, state, "fusion", **{"If-Match": '"1"'})
    assert sorted([one.status_code, two.status_code]) == [200, 409]
    final = client.get(f"/v1/interviews/{state['id']}", headers=org_a.clinician).json()
    assert final["answers"] == [{"question": "surgery.procedure", "value": "discectomy"}]
