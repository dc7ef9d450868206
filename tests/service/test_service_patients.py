"""Patients, pain scores and stored assessments, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from rootcause import Engine
from rootcause.storage.models import Assessment, AuditEvent

from .conftest import PATIENT, Org

PROBLEM = "application/problem+json"


def create_patient(client: TestClient, org: Org, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(PATIENT) | changes
    r = client.post("/v1/patients", json=body, headers=org.clinician)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/v1/patients/{r.json()['id']}"
    out: dict[str, Any] = r.json()
    return out


def audit_actions(app: FastAPI, org: Org) -> list[tuple[str, str | None]]:
    with app.state.rootcause.database.transaction() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.organisation_id == org.id).order_by(AuditEvent.id)
        ).all()
        return [(r.action, r.resource_id) for r in rows]


def test_create_get_list_and_update_a_patient(client: TestClient, org_a: Org) -> None:
    p = create_patient(client, org_a)
    assert p["surgery"] == PATIENT["surgery"]
    assert (p["birth_year"], p["sex"]) == (1970, "female")
    assert client.get(f"/v1/patients/{p['id']}", headers=org_a.clinician).json() == p
    second = create_patient(client, org_a, external_id="MRN-0002", birth_year=None, age=40)
    assert second["birth_year"] == dt.date.today().year - 40
    page = client.get("/v1/patients", headers=org_a.clinician).json()
    assert (page["total"], [i["id"] for i in page["items"]]) == (2, [p["id"], second["id"]])
    page = client.get("/v1/patients", params={"limit": 1, "offset": 1}, headers=org_a.clinician).json()
    assert (page["total"], [i["id"] for i in page["items"]]) == (2, [second["id"]])
    found = client.get("/v1/patients", params={"external_id": "MRN-0002"}, headers=org_a.clinician).json()
    assert [i["id"] for i in found["items"]] == [second["id"]]
    r = client.patch(
        f"/v1/patients/{p['id']}",
        json={"surgery": {"procedure": "fusion", "instrumented": True}, "sex": None},
        headers=org_a.clinician,
    )
    assert r.status_code == 200
    assert r.json()["surgery"]["procedure"] == "fusion" and r.json()["sex"] is None
    assert r.json()["birth_year"] == 1970


def test_duplicate_external_id_is_a_conflict(client: TestClient, org_a: Org, org_b: Org) -> None:
    create_patient(client, org_a)
    r = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "external_id"
    assert client.post("/v1/patients", json=PATIENT, headers=org_b.clinician).status_code == 201


def test_invalid_patients_name_the_field(client: TestClient, org_a: Org) -> None:
    cases = [
        ({"surgery": {"procedure": "spinal_fusion"}}, "surgery.procedure"),
        ({"surgery": {"procedure": "fusion", "levels": ["L9-L10"]}}, "surgery.levels.0"),
        ({"birth_year": 1970, "age": 50}, "(body)"),
        ({"sex": "f"}, "sex"),
        ({"nickname": "x"}, "nickname"),
    ]
    for change, field in cases:
        r = client.post("/v1/patients", json=PATIENT | change, headers=org_a.clinician)
        assert r.status_code == 422, change
        assert r.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in r.json()["errors"]], (change, r.json())


def test_pain_scores_feed_the_next_assessment(
    client: TestClient, org_a: Org, engine: Engine, app: FastAPI
) -> None:
    p = create_patient(client, org_a)
    url = f"/v1/patients/{p['id']}"
    for day, nrs in (("2026-05-25", 8), ("2026-06-15", 2), ("2026-07-13", 5), ("2026-09-30", 9)):
        r = client.post(f"{url}/pain-scores", json={"recorded_on": day, "nrs": nrs}, headers=org_a.clinician)
        assert r.status_code == 201
    scores = client.get(f"{url}/pain-scores", headers=org_a.clinician).json()
    assert [(s["day"], s["nrs"]) for s in scores] == [(-7, 8), (14, 2), (42, 5), (121, 9)]
    visit = {"assessed_on": "2026-08-10", "findings": {"slr_positive": True}, "leg_pain": {"side": "left"}}
    r = client.post(f"{url}/assessments", json=visit, headers=org_a.clinician)
    assert r.status_code == 201, r.text
    stored = r.json()
    # the exact case: record + visit + the scores up to the assessment date (day 121 is later)
    assert stored["case"]["surgery"] == PATIENT["surgery"]
    assert stored["case"]["age"] == 56 and stored["case"]["sex"] == "female"
    assert stored["case"]["pain_scores"] == [
        {"day": -7, "nrs": 8.0},
        {"day": 14, "nrs": 2.0},
        {"day": 42, "nrs": 5.0},
    ]
    expected = engine.assess(stored["case"]).to_dict()
    assert stored["result"]["differential"] == [
        {"condition": c["condition"], "probability": c["probability"]} for c in expected["differential"]
    ]
    assert stored["result"]["timeline"]["derived_from_pain_scores"]
    assert stored["knowledge_base_version"] == engine.version == stored["result"]["knowledge_base_version"]
    assert stored["triage_level"] == expected["triage"]["level"]
    assert stored["assessed_on"] == "2026-08-10"
    again = client.get(f"{url}/assessments/{stored['id']}", headers=org_a.clinician).json()
    assert again == stored
    actions = [a for a, _ in audit_actions(app, org_a)]
    assert actions[-2:] == ["assessment.create", "assessment.read"]


def test_assessments_over_time(client: TestClient, org_a: Org) -> None:
    p = create_patient(client, org_a)
    url = f"/v1/patients/{p['id']}/assessments"
    first = client.post(url, json={"assessed_on": "2026-06-10"}, headers=org_a.clinician).json()
    second = client.post(
        url, json={"assessed_on": "2026-07-10", "findings": {"fever": True}}, headers=org_a.clinician
    ).json()
    page = client.get(url, headers=org_a.clinician).json()
    assert page["total"] == 2
    assert [i["id"] for i in page["items"]] == [first["id"], second["id"]]
    assert [i["assessed_on"] for i in page["items"]] == ["2026-06-10", "2026-07-10"]
    assert page["items"][1]["triage_level"] in ("urgent", "emergency")
    assert "result" not in page["items"][0]
    undated = client.post(url, json={}, headers=org_a.clinician).json()
    assert undated["assessed_on"] == dt.date.today().isoformat()


def test_assessment_refuses_to_restate_the_record_or_bad_cases(
    client: TestClient, org_a: Org, app: FastAPI
) -> None:
    p = create_patient(client, org_a)
    url = f"/v1/patients/{p['id']}/assessments"
    r = client.post(url, json={"age": 40, "surgery": {"procedure": "fusion"}}, headers=org_a.clinician)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"age", "surgery"}
    r = client.post(
        url, json={"assessed_on": "2026-08-01", "findings": {"fevr": True}}, headers=org_a.clinician
    )
    assert r.status_code == 422 and r.json()["errors"][0]["suggestions"][:1] == ["fever"]
    r = client.post(url, json={"assessed_on": "2026-05-01"}, headers=org_a.clinician)  # before surgery
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "assessed_on"
    with app.state.rootcause.database.transaction() as session:
        assert session.scalars(select(Assessment)).all() == []


def test_reads_of_patient_data_are_audited(client: TestClient, org_a: Org, app: FastAPI) -> None:
    p = create_patient(client, org_a)
    client.get(f"/v1/patients/{p['id']}", headers=org_a.clinician)
    client.get("/v1/patients", headers=org_a.clinician)
    client.get(f"/v1/patients/{p['id']}/pain-scores", headers=org_a.clinician)
    client.get(f"/v1/patients/{p['id']}/assessments", headers=org_a.clinician)
    events = audit_actions(app, org_a)
    assert events[-5:] == [
        ("patient.create", p["id"]),
        ("patient.read", p["id"]),
        ("patient.list", None),
        ("pain_score.list", p["id"]),
        ("assessment.list", p["id"]),
    ]
    r = client.get("/v1/admin/audit", params={"limit": 2}, headers=org_a.admin)
    assert r.status_code == 200
    body = r.json()
    assert [i["action"] for i in body["items"]] == ["assessment.list", "pain_score.list"]
    assert body["items"][0]["actor"] == org_a.clinician_key.split("_")[1]
    assert body["items"][0]["request_id"]


def test_text_with_nul_characters_is_refused_by_field(client: TestClient, org_a: Org) -> None:
    p = create_patient(client, org_a)
    r = client.post(f"/v1/patients/{p['id']}/assessments", json={"id": "visit\x001"}, headers=org_a.clinician)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id"
    r = client.post("/v1/admin/organisations", json={"name": "Clinic\x00X"}, headers=org_a.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = client.post("/v1/admin/keys", json={"name": "Dr\x00X"}, headers=org_a.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
