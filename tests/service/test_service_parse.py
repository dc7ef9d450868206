"""POST /v1/parse: a note in, the case it states (with evidence) out; ?assess=true also assesses it.

Runs on SQLite and PostgreSQL (the ``client`` fixture), as the key lookup goes to the database.
"""

from __future__ import annotations

import logging

import orjson
import pytest
from fastapi.testclient import TestClient

from rootcause import Engine
from rootcause.adapters.notes import read_note
from rootcause.service.routes.notes import MAX_NOTE_CHARS

from .conftest import Org

PROBLEM = "application/problem+json"
NOTE = (
    "Spinal clinic 14/05/2026. Mr Alan Price, 66. L4/5 laminectomy 10/03/2026. "
    "His left leg pain went away completely after surgery but came back 3 weeks ago. "
    "Denies saddle anaesthesia. No bladder or bowel problems. Afebrile. SLR left 40 degrees +ve."
)
MESSAGE = "hi, its been 3 wks since my L5-S1 microdiscectomy. Since Sunday my right leg hurts again. no temp."


def as_json(obj: object) -> object:
    return orjson.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))


def test_parse_returns_the_note_reading(client: TestClient, org_a: Org) -> None:
    r = client.post("/v1/parse", json={"text": NOTE}, headers=org_a.clinician)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body == as_json(read_note(NOTE).to_dict())
    case = body["case"]
    assert case["surgery"]["procedure"] == "laminectomy"
    assert case["days_since_surgery"] == 65
    assert case["findings"]["saddle_anaesthesia"] is False
    assert case["findings"]["slr_positive"] is True
    assert "assessment" not in body
    for ev in body["evidence"]:
        assert NOTE[ev["start"] : ev["end"]] == ev["text"]
    assert {e["field"] for e in body["evidence"]} >= {"surgery.procedure", "findings.fever"}


def test_note_date_places_relative_times(client: TestClient, org_a: Org) -> None:
    r = client.post("/v1/parse", json={"text": MESSAGE, "note_date": "2026-03-11"}, headers=org_a.clinician)
    assert r.status_code == 200
    case = r.json()["case"]
    assert case["days_since_surgery"] == 21
    assert case["leg_pain"]["onset_days"] == 18  # Sunday 8 March, three days before the Wednesday message
    without = client.post("/v1/parse", json={"text": MESSAGE}, headers=org_a.clinician).json()["case"]
    assert "onset_days" not in without.get("leg_pain", {})


def test_assess_true_adds_the_assessment(client: TestClient, org_a: Org, engine: Engine) -> None:
    r = client.post("/v1/parse?assess=true", json={"text": NOTE}, headers=org_a.clinician)
    assert r.status_code == 200
    body = r.json()
    assert body["assessment"] == as_json(engine.assess(body["case"]).to_dict())
    assert body["assessment"]["differential"][0]["condition"]
    short = client.post(
        "/v1/parse?assess=true&explain=false", json={"text": NOTE}, headers=org_a.clinician
    ).json()
    assert not short["assessment"].get("explanations")
    no_operation = client.post(
        "/v1/parse?assess=true", json={"text": "Leg pain for two weeks. Afebrile."}, headers=org_a.clinician
    ).json()
    assert no_operation["assessment"] is None
    assert "surgery.procedure" in no_operation["missing"]


def test_parse_needs_a_key(client: TestClient, org_a: Org) -> None:
    for headers in ({}, {"X-API-Key": "rc_nonsense"}):
        r = client.post("/v1/parse", json={"text": NOTE}, headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
    ok = client.post("/v1/parse", json={"text": NOTE}, headers={"Authorization": f"Bearer {org_a.admin_key}"})
    assert ok.status_code == 200


def test_bad_input_names_the_field(client: TestClient, org_a: Org) -> None:
    cases = [
        ({"text": NOTE, "note_date": "14/05/2026"}, "note_date"),
        ({"text": NOTE, "note_date": "2026-02-30"}, "note_date"),
        ({"text": ""}, "text"),
        ({"text": "   \n "}, "text"),
        ({"text": 42}, "text"),
        ({"note_date": "2026-05-14"}, "text"),
        ({"text": "x" * (MAX_NOTE_CHARS + 1)}, "text"),
        ({"text": NOTE, "notes": "typo"}, "notes"),
    ]
    for body, field in cases:
        r = client.post("/v1/parse", json=body, headers=org_a.clinician)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["type"] == "urn:rootcause:problem:invalid-request"
        assert [e["field"] for e in problem["errors"]] == [field], problem
    r = client.post("/v1/parse", content=b'{"text": ', headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "(json)")
    r = client.post("/v1/parse", json=["a note"], headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "(body)")
    r = client.post("/v1/parse?assess=maybe", json={"text": NOTE}, headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "query.assess")


def test_note_text_is_not_logged(client: TestClient, org_a: Org, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        r = client.post("/v1/parse", json={"text": NOTE + " Unique-marker-7741."}, headers=org_a.clinician)
    assert r.status_code == 200
    assert "Unique-marker-7741" not in caplog.text
