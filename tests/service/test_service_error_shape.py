"""Every route's client errors are application/problem+json of one shape (datasette style).

``CASES`` holds, for each route, requests that must fail with a 4xx. A route missing from the
table fails ``test_every_route_has_error_cases``, so new routes must join.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from rootcause.service.app import create_app
from rootcause.service.settings import Settings

from .conftest import PATIENT, Org

NO_KEY = "none"
CLINICIAN = "clinician"
ADMIN = "admin"


class Req(NamedTuple):
    method: str
    path: str
    status: int
    body: Any = None
    key: str = CLINICIAN
    raw: bytes | None = None


PID = "{pid}"  # replaced by a real patient of the caller's organisation
MISSING = str(uuid.uuid4())
CASE = {"surgery": {"procedure": "discectomy"}}

CASES: dict[tuple[str, str], list[Req]] = {
    ("GET", "/v1/health"): [Req("POST", "/v1/health", 405, key=NO_KEY)],
    ("GET", "/v1/ready"): [Req("DELETE", "/v1/ready", 405, key=NO_KEY)],
    ("POST", "/v1/assess"): [
        Req("POST", "/v1/assess", 401, CASE, key=NO_KEY),
        Req("POST", "/v1/assess", 422, {"surgery": {"procedure": "x"}}),
        Req("POST", "/v1/assess", 400, raw=b"{nope"),
        Req("GET", "/v1/assess", 405),
    ],
    ("POST", "/v1/assess/batch"): [
        Req("POST", "/v1/assess/batch", 401, {"cases": [CASE]}, key=NO_KEY),
        Req("POST", "/v1/assess/batch", 422, {"cases": "x"}),
        Req("POST", "/v1/assess/batch", 400, raw=b"[1,"),
    ],
    ("POST", "/v1/parse"): [
        Req("POST", "/v1/parse", 401, {"text": "Afebrile."}, key=NO_KEY),
        Req("POST", "/v1/parse", 422, {"text": "Afebrile.", "note_date": "yesterday"}),
        Req("POST", "/v1/parse", 422, {"note_date": "2026-05-14"}),
        Req("POST", "/v1/parse", 400, raw=b'{"text": '),
        Req("GET", "/v1/parse", 405),
    ],
    ("GET", "/v1/knowledge"): [Req("GET", "/v1/knowledge", 401, key=NO_KEY)],
    ("GET", "/v1/knowledge/conditions"): [Req("GET", "/v1/knowledge/conditions", 401, key=NO_KEY)],
    ("GET", "/v1/knowledge/conditions/{condition_id}"): [
        Req("GET", "/v1/knowledge/conditions/epidural_fibrosis", 401, key=NO_KEY),
        Req("GET", "/v1/knowledge/conditions/no_such_cause", 404),
        Req("GET", "/v1/knowledge/conditions/Bad-Id", 422),
    ],
    ("GET", "/v1/knowledge/findings"): [Req("GET", "/v1/knowledge/findings", 401, key=NO_KEY)],
    ("GET", "/v1/knowledge/findings/{finding_id}"): [
        Req("GET", "/v1/knowledge/findings/fever", 401, key=NO_KEY),
        Req("GET", "/v1/knowledge/findings/no_such_finding", 404),
    ],
    ("GET", "/v1/knowledge/treatments"): [Req("GET", "/v1/knowledge/treatments", 401, key=NO_KEY)],
    ("GET", "/v1/knowledge/sources"): [Req("GET", "/v1/knowledge/sources", 401, key=NO_KEY)],
    ("GET", "/v1/knowledge/procedures"): [Req("GET", "/v1/knowledge/procedures", 401, key=NO_KEY)],
    ("POST", "/v1/patients"): [
        Req("POST", "/v1/patients", 401, PATIENT, key=NO_KEY),
        Req("POST", "/v1/patients", 422, {"external_id": "x"}),
        Req("POST", "/v1/patients", 409, PATIENT),
        Req("POST", "/v1/patients", 400, raw=b'{"external_id": '),
    ],
    ("GET", "/v1/patients"): [
        Req("GET", "/v1/patients", 401, key=NO_KEY),
        Req("GET", "/v1/patients?limit=0", 422),
    ],
    ("GET", "/v1/patients/{patient_id}"): [
        Req("GET", f"/v1/patients/{PID}", 401, key=NO_KEY),
        Req("GET", f"/v1/patients/{MISSING}", 404),
        Req("GET", "/v1/patients/not-a-uuid", 422),
    ],
    ("PATCH", "/v1/patients/{patient_id}"): [
        Req("PATCH", f"/v1/patients/{PID}", 401, {"sex": "male"}, key=NO_KEY),
        Req("PATCH", f"/v1/patients/{MISSING}", 404, {"sex": "male"}),
        Req("PATCH", f"/v1/patients/{PID}", 422, {"sex": "m"}),
    ],
    ("POST", "/v1/patients/{patient_id}/pain-scores"): [
        Req(
            "POST",
            f"/v1/patients/{PID}/pain-scores",
            401,
            {"recorded_on": "2026-06-02", "nrs": 1},
            key=NO_KEY,
        ),
        Req("POST", f"/v1/patients/{MISSING}/pain-scores", 404, {"recorded_on": "2026-06-02", "nrs": 1}),
        Req("POST", f"/v1/patients/{PID}/pain-scores", 422, {"recorded_on": "2026-06-02", "nrs": 11}),
    ],
    ("GET", "/v1/patients/{patient_id}/pain-scores"): [
        Req("GET", f"/v1/patients/{PID}/pain-scores", 401, key=NO_KEY),
        Req("GET", f"/v1/patients/{MISSING}/pain-scores", 404),
    ],
    ("POST", "/v1/patients/{patient_id}/assessments"): [
        Req("POST", f"/v1/patients/{PID}/assessments", 401, {}, key=NO_KEY),
        Req("POST", f"/v1/patients/{MISSING}/assessments", 404, {}),
        Req("POST", f"/v1/patients/{PID}/assessments", 422, {"findings": {"fevr": True}}),
        Req("POST", f"/v1/patients/{PID}/assessments", 400, raw=b"{"),
    ],
    ("GET", "/v1/patients/{patient_id}/assessments"): [
        Req("GET", f"/v1/patients/{PID}/assessments", 401, key=NO_KEY),
        Req("GET", f"/v1/patients/{MISSING}/assessments", 404),
    ],
    ("GET", "/v1/patients/{patient_id}/assessments/{assessment_id}"): [
        Req("GET", f"/v1/patients/{PID}/assessments/{MISSING}", 401, key=NO_KEY),
        Req("GET", f"/v1/patients/{PID}/assessments/{MISSING}", 404),
        Req("GET", f"/v1/patients/{PID}/assessments/nope", 422),
    ],
    ("POST", "/v1/interviews"): [
        Req("POST", "/v1/interviews", 401, {"mode": "patient"}, key=NO_KEY),
        Req("POST", "/v1/interviews", 422, {"mode": "robot"}),
        Req("POST", "/v1/interviews", 400, raw=b'{"mode": '),
    ],
    ("GET", "/v1/interviews/{interview_id}"): [
        Req("GET", "/v1/interviews/no-such-interview", 401, key=NO_KEY),
        Req("GET", "/v1/interviews/no-such-interview", 404),
        Req("GET", "/v1/interviews/x", 422),
    ],
    ("POST", "/v1/interviews/{interview_id}/answers"): [
        Req(
            "POST", "/v1/interviews/no-such-interview/answers", 401, {"question": "q", "value": 1}, key=NO_KEY
        ),
        Req("POST", "/v1/interviews/no-such-interview/answers", 404, {"question": "q", "value": True}),
        Req("POST", "/v1/interviews/no-such-interview/answers", 422, {"value": True}),
    ],
    ("POST", "/v1/interviews/{interview_id}/undo"): [
        Req("POST", "/v1/interviews/no-such-interview/undo", 401, key=NO_KEY),
        Req("POST", "/v1/interviews/no-such-interview/undo", 404),
    ],
    ("GET", "/v1/me"): [Req("GET", "/v1/me", 401, key=NO_KEY)],
    ("POST", "/v1/admin/organisations"): [
        Req("POST", "/v1/admin/organisations", 401, {"name": "X"}, key=NO_KEY),
        Req("POST", "/v1/admin/organisations", 403, {"name": "X"}),
        Req("POST", "/v1/admin/organisations", 422, {"name": ""}, key=ADMIN),
    ],
    ("POST", "/v1/admin/keys"): [
        Req("POST", "/v1/admin/keys", 401, {}, key=NO_KEY),
        Req("POST", "/v1/admin/keys", 403, {}),
        Req("POST", "/v1/admin/keys", 422, {"role": "superuser"}, key=ADMIN),
    ],
    ("GET", "/v1/admin/keys"): [
        Req("GET", "/v1/admin/keys", 401, key=NO_KEY),
        Req("GET", "/v1/admin/keys", 403),
    ],
    ("DELETE", "/v1/admin/keys/{key_id}"): [
        Req("DELETE", "/v1/admin/keys/abc", 401, key=NO_KEY),
        Req("DELETE", "/v1/admin/keys/abc", 403),
        Req("DELETE", "/v1/admin/keys/abc", 404, key=ADMIN),
    ],
    ("GET", "/v1/admin/audit"): [
        Req("GET", "/v1/admin/audit", 401, key=NO_KEY),
        Req("GET", "/v1/admin/audit", 403),
        Req("GET", "/v1/admin/audit?offset=-1", 422, key=ADMIN),
    ],
    # CDS Hooks authenticate with the EHR's signed JWT, not an API key (valid-JWT errors are in
    # test_service_cds_hooks.py and test_service_cds_feedback_notes.py)
    ("GET", "/cds-services"): [Req("POST", "/cds-services", 405, key=NO_KEY)],
    ("POST", "/cds-services/patient-view"): [
        Req("POST", "/cds-services/patient-view", 401, {"hook": "patient-view"}, key=NO_KEY),
        Req("POST", "/cds-services/patient-view", 401, {"hook": "patient-view"}),
        Req("POST", "/cds-services/patient-view", 401, raw=b"{nope", key=NO_KEY),
        Req("GET", "/cds-services/patient-view", 405, key=NO_KEY),
    ],
    ("POST", "/cds-services/patient-view/feedback"): [
        Req("POST", "/cds-services/patient-view/feedback", 401, {"feedback": []}, key=NO_KEY),
        Req("POST", "/cds-services/patient-view/feedback", 401, {"feedback": []}, key=ADMIN),
        Req("GET", "/cds-services/patient-view/feedback", 405, key=NO_KEY),
    ],
}
UNROUTED = [Req("GET", "/v1/nothing-here", 404, key=NO_KEY), Req("GET", "/no-such-page", 404, key=NO_KEY)]
# ("/" is the web app: docs/web.md)


def api_routes() -> set[tuple[str, str]]:
    """Every operation of the app, from its OpenAPI document."""
    doc = create_app(Settings(database_url="sqlite://")).openapi()
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def test_every_route_has_error_cases() -> None:
    assert api_routes() == set(CASES), "add the new route's 4xx requests to CASES"


def assert_problem(r: Any, status: int, what: str) -> None:
    assert r.status_code == status, (what, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json", what
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail", "errors", "instance"}, what
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"] == "about:blank" or body["type"].startswith("urn:rootcause:problem:")
    assert body["instance"] == f"urn:uuid:{r.headers['x-request-id']}"
    for error in body["errors"]:
        assert set(error) == {"field", "message", "suggestions"}
    if status in (400, 422):
        assert body["errors"], f"{what}: a 400/422 names the bad field"
    assert "Traceback" not in r.text


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_errors_are_problems(route: tuple[str, str], client: TestClient, org_a: Org) -> None:
    patient = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician).json()
    keys = {NO_KEY: {}, CLINICIAN: org_a.clinician, ADMIN: org_a.admin}
    for req in CASES[route]:
        path = req.path.replace(PID, patient["id"])
        r = client.request(
            req.method,
            path,
            json=req.body if req.raw is None else None,
            content=req.raw,
            headers=keys[req.key] | ({"content-type": "application/json"} if req.raw is not None else {}),
        )
        assert_problem(r, req.status, f"{req.method} {path}")


def test_unrouted_paths_are_problems(client: TestClient) -> None:
    for req in UNROUTED:
        assert_problem(client.request(req.method, req.path), req.status, req.path)
