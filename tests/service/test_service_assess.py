"""Stateless routes: /v1/assess, /v1/assess/batch, /v1/knowledge/*, health, limits, auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from rootcause import Engine
from rootcause.service.app import create_app
from rootcause.service.settings import Settings

from .conftest import Org

VIGNETTES = Path(__file__).parent.parent / "data" / "vignettes"
PROBLEM = "application/problem+json"


def vignette(name: str) -> dict[str, object]:
    case: dict[str, object] = json.loads((VIGNETTES / name).read_text())["case"]
    return case


def as_json(obj: object) -> object:
    return orjson.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))


def test_assess_returns_the_engine_contract(client: TestClient, org_a: Org, engine: Engine) -> None:
    case = vignette("02-sudden-return-after-lifting.json")
    r = client.post("/v1/assess", json=case, headers=org_a.clinician)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == as_json(engine.assess(case).to_dict())
    assert r.json()["triage"]["level"] == "soon"


def test_assess_accepts_bearer_and_rejects_missing_or_bad_keys(client: TestClient, org_a: Org) -> None:
    case = {"surgery": {"procedure": "discectomy"}}
    for scheme in ("Bearer", "bearer", "BEARER"):
        bearer = {"Authorization": f"{scheme} {org_a.clinician_key}"}
        assert client.post("/v1/assess", json=case, headers=bearer).status_code == 200
    for headers in (
        {},
        {"X-API-Key": "nonsense"},
        {"X-API-Key": org_a.clinician_key[:-2] + "zz"},
        {"Authorization": f"Basic {org_a.clinician_key}"},
        {"Authorization": "Bearer "},
        {"Authorization": org_a.clinician_key},
    ):
        r = client.post("/v1/assess", json=case, headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert org_a.clinician_key not in r.text


def test_invalid_case_names_each_field(client: TestClient, org_a: Org) -> None:
    case = {"surgery": {"procedure": "discectomy"}, "findings": {"fevr": True, "slr_positve": True}}
    r = client.post("/v1/assess", json=case, headers=org_a.clinician)
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "urn:rootcause:problem:invalid-case"
    assert {e["field"] for e in body["errors"]} == {"findings.fevr", "findings.slr_positve"}
    assert next(e for e in body["errors"] if e["field"] == "findings.fevr")["suggestions"][:1] == ["fever"]
    r = client.post(
        "/v1/assess", json={"surgery": {"procedure": "discectomy"}, "age": 250}, headers=org_a.clinician
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "age"


def test_malformed_and_empty_bodies(client: TestClient, org_a: Org) -> None:
    r = client.post("/v1/assess", content=b'{"surgery": ', headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "(json)")
    r = client.post("/v1/assess", content=b"", headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "(body)")
    r = client.post("/v1/assess", json=[1, 2], headers=org_a.clinician)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "(case)")


def test_batch_reports_errors_by_index(client: TestClient, org_a: Org, engine: Engine) -> None:
    good = vignette("05-fever-and-wound-week-three.json")
    cases = [good, {"surgery": {"procedure": "spinal_fusion"}}, {"surgery": {"procedure": "fusion"}}]
    r = client.post("/v1/assess/batch", json={"cases": cases}, headers=org_a.clinician)
    assert r.status_code == 200
    body = r.json()
    assert (body["count"], body["failed"]) == (3, 1)
    assert [item["index"] for item in body["results"]] == [0, 1, 2]
    assert [item["ok"] for item in body["results"]] == [True, False, True]
    assert body["results"][1]["errors"][0]["field"] == "surgery.procedure"
    assert body["results"][0]["result"] == as_json(engine.assess(good).to_dict())


def test_batch_shape_and_cap(database_url: str, engine: Engine) -> None:
    app = create_app(Settings(database_url=database_url, max_batch_size=3), engine=engine)
    with TestClient(app) as client:
        from .conftest import make_org

        org = make_org(app, "Batch")
        case = {"surgery": {"procedure": "fusion"}}
        r = client.post("/v1/assess/batch", json={"cases": [case] * 4}, headers=org.clinician)
        assert r.status_code == 422
        assert r.json()["type"] == "urn:rootcause:problem:batch-too-large"
        assert r.json()["errors"][0]["field"] == "cases"
        assert (
            client.post("/v1/assess/batch", json={"cases": [case] * 3}, headers=org.clinician).status_code
            == 200
        )
        for body in ([case], {"case": [case]}, {"cases": [case], "extra": 1}):
            r = client.post("/v1/assess/batch", json=body, headers=org.clinician)
            assert r.status_code == 422, body
            assert r.headers["content-type"] == PROBLEM


def test_knowledge_views_match_the_engine(client: TestClient, org_a: Org, engine: Engine) -> None:
    kb = engine.kb
    h = org_a.clinician
    index = client.get("/v1/knowledge", headers=h).json()
    assert index["knowledge_base_version"] == kb.version
    conditions = client.get("/v1/knowledge/conditions", headers=h).json()
    assert [c["id"] for c in conditions] == kb.condition_ids
    one = client.get("/v1/knowledge/conditions/epidural_fibrosis", headers=h).json()
    assert one == kb.condition("epidural_fibrosis").model_dump(mode="json")
    findings = client.get("/v1/knowledge/findings", headers=h).json()
    assert [f["id"] for f in findings] == kb.finding_ids
    assert (
        client.get("/v1/knowledge/findings/fever", headers=h).json()["red_flag"]
        is kb.finding("fever").red_flag
    )
    treatments = client.get("/v1/knowledge/treatments", headers=h).json()
    assert len(treatments) == sum(len(c.treatments) for c in kb.conditions) == index["counts"]["treatments"]
    assert {t["condition"] for t in treatments} == set(kb.condition_ids)
    sources = client.get("/v1/knowledge/sources", headers=h).json()
    assert {s["id"] for s in sources} == set(kb.references)
    procedures = client.get("/v1/knowledge/procedures", headers=h).json()
    assert {p["id"] for p in procedures} == set(kb.procedures)


def test_unknown_knowledge_ids_suggest_near_ones(client: TestClient, org_a: Org) -> None:
    r = client.get("/v1/knowledge/conditions/epidural_fibros", headers=org_a.clinician)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert "epidural_fibrosis" in r.json()["errors"][0]["suggestions"]
    r = client.get("/v1/knowledge/findings/slr_postive", headers=org_a.clinician)
    assert r.status_code == 404 and "slr_positive" in r.json()["errors"][0]["suggestions"]


def test_health_is_open_and_ready_checks_the_database(client: TestClient, engine: Engine) -> None:
    r = client.get("/v1/health")
    assert r.status_code == 200 and r.json()["knowledge_base_version"] == engine.version
    r = client.get("/v1/ready")
    assert r.status_code == 200 and r.json()["schema_revision"] == "0002"
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


@pytest.fixture()
def small_limit_client(database_url: str, engine: Engine) -> Iterator[tuple[TestClient, Org]]:
    app = create_app(Settings(database_url=database_url, max_body_bytes=2048), engine=engine)
    with TestClient(app) as client:
        from .conftest import make_org

        yield client, make_org(app, "Small")


def test_request_body_limit_gives_413(small_limit_client: tuple[TestClient, Org]) -> None:
    client, org = small_limit_client
    big = {"surgery": {"procedure": "discectomy"}, "id": "x" * 4000}
    r = client.post("/v1/assess", json=big, headers=org.clinician)
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:rootcause:problem:body-too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        yield b'{"surgery": {"procedure": "discectomy"}, "id": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    r = client.post("/v1/assess", content=chunks(), headers=org.clinician)
    assert r.status_code == 413
    assert r.json()["type"] == "urn:rootcause:problem:body-too-large"
    small = client.post("/v1/assess", json={"surgery": {"procedure": "discectomy"}}, headers=org.clinician)
    assert small.status_code == 200


def test_openapi_publishes_the_case_schema_and_problem_errors(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["Case"]["required"] == ["surgery"]
    assert "surgery" not in schemas["PatientCase"]["properties"]
    body = doc["paths"]["/v1/assess"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Case"}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM], (method, path, code)
    assert {"ApiKey", "Bearer"} <= set(doc["components"]["securitySchemes"])
    # every /v1 route but health and readiness takes either key (CDS Hooks takes a signed JWT)
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            keyed = path.startswith("/v1/") and path not in ("/v1/health", "/v1/ready")
            expected = [{"ApiKey": []}, {"Bearer": []}] if keyed else None
            assert op.get("security") == expected, (method, path)


def test_explain_false_keeps_the_answer_and_drops_the_explanations(client: TestClient, org_a: Org) -> None:
    case = vignette("01-gradual-return-at-six-weeks.json")
    full = client.post("/v1/assess", json=case, headers=org_a.clinician).json()
    lean = client.post("/v1/assess", params={"explain": "false"}, json=case, headers=org_a.clinician).json()
    assert full["explanations"] and full["treatments"]
    assert (lean["explanations"], lean["treatments"]) == ([], [])
    for key in ("differential", "triage", "next_steps", "fit", "timeline"):
        assert lean[key] == full[key], key
    batch = client.post(
        "/v1/assess/batch", params={"explain": "false"}, json={"cases": [case]}, headers=org_a.clinician
    ).json()
    assert batch["results"][0]["result"]["explanations"] == []
