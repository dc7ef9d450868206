"""Property-based API tests generated from the OpenAPI document (schemathesis, in-process ASGI).

For every operation, up to MAX_EXAMPLES generated requests (with a valid admin key, and a
stored patient and assessment, whose ids a second test substitutes) must never get a 5xx, must only use
documented status codes and content types, and must match the documented response schemas.
Runs on SQLite and PostgreSQL.

The schema is loaded from a module-level app (building it opens no database); each test
gives that app a fresh database through ``app.state``. (schemathesis's fixture-based lazy
loader does not work with pytest 9.2, which removed ``Node._nodeid``.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rootcause import Engine
from rootcause.service.app import create_app
from rootcause.service.settings import Settings
from rootcause.service.state import ServiceState

from .conftest import PATIENT, Org, make_org

MAX_EXAMPLES = int(os.environ.get("ROOTCAUSE_TEST_MAX_EXAMPLES", "30"))  # raise it for a deeper run
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

APP = create_app(Settings(environment="test", database_url="sqlite://"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@dataclass(frozen=True)
class Fuzz:
    org: Org
    patient_id: str
    assessment_id: str


@pytest.fixture()
def fuzz(database_url: str, engine: Engine) -> Iterator[Fuzz]:
    state = ServiceState(
        Settings(environment="test", database_url=database_url, db_connect_timeout=2), engine
    )
    APP.state.rootcause = state
    org = make_org(APP, "Fuzz")
    with TestClient(APP) as client:
        patient = client.post("/v1/patients", json=PATIENT, headers=org.admin)
        url = f"/v1/patients/{patient.json()['id']}/assessments"
        assessment = client.post(url, json={"assessed_on": "2026-07-01"}, headers=org.admin)
        assert (patient.status_code, assessment.status_code) == (201, 201)
    yield Fuzz(org, patient.json()["id"], assessment.json()["id"])
    state.database.dispose()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_never_fails_and_matches_its_schema(case: schemathesis.Case, fuzz: Fuzz) -> None:
    case.call_and_validate(headers=fuzz.org.admin, checks=CHECKS)


PATIENT_OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in APP.openapi()["paths"].items()
    if "{patient_id}" in path
    for method in operations
)


@pytest.mark.parametrize(("method", "path"), PATIENT_OPERATIONS)
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_patient_routes_with_a_stored_patient(
    method: str, path: str, data: st.DataObject, fuzz: Fuzz
) -> None:
    """The same checks with the ids of a real patient and assessment, so bodies reach the engine."""
    case = data.draw(schema[path][method].as_strategy())
    case.path_parameters["patient_id"] = fuzz.patient_id
    if "assessment_id" in case.path_parameters:
        case.path_parameters["assessment_id"] = fuzz.assessment_id
    response = case.call_and_validate(headers=fuzz.org.admin, checks=CHECKS)
    assert response.status_code != 404
