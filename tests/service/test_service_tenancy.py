"""Tenant isolation and roles: no organisation can see or change another's patients."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rootcause.storage.models import Assessment, PainScore, Patient

from .conftest import PATIENT, Org, make_org


def test_organisation_a_cannot_read_list_or_change_b_patients(
    client: TestClient, app: FastAPI, org_a: Org, org_b: Org
) -> None:
    b_patient = client.post("/v1/patients", json=PATIENT, headers=org_b.clinician).json()
    b_url = f"/v1/patients/{b_patient['id']}"
    client.post(f"{b_url}/pain-scores", json={"recorded_on": "2026-06-20", "nrs": 3}, headers=org_b.clinician)
    b_assessment = client.post(
        f"{b_url}/assessments", json={"assessed_on": "2026-07-01"}, headers=org_b.clinician
    )
    assert b_assessment.status_code == 201
    missing = f"/v1/patients/{uuid.uuid4()}"

    for headers in (org_a.clinician, org_a.admin):
        # list: B's patient is invisible, also when searched by its external id
        page = client.get("/v1/patients", headers=headers).json()
        assert page["total"] == 0 and page["items"] == []
        found = client.get(
            "/v1/patients", params={"external_id": PATIENT["external_id"]}, headers=headers
        ).json()
        assert found["total"] == 0
        # read / change: exactly the answer for an id that does not exist (404, not 403)
        attempts = [
            ("GET", b_url, None),
            ("PATCH", b_url, {"sex": "male"}),
            ("GET", f"{b_url}/pain-scores", None),
            ("POST", f"{b_url}/pain-scores", {"recorded_on": "2026-06-21", "nrs": 9}),
            ("GET", f"{b_url}/assessments", None),
            ("POST", f"{b_url}/assessments", {"assessed_on": "2026-07-02"}),
            ("GET", f"{b_url}/assessments/{b_assessment.json()['id']}", None),
        ]
        for method, url, body in attempts:
            r = client.request(method, url, json=body, headers=headers)
            twin = client.request(method, url.replace(b_url, missing), json=body, headers=headers)
            assert r.status_code == 404, (method, url)
            assert r.headers["content-type"] == "application/problem+json"
            assert {k: v for k, v in r.json().items() if k != "instance"} == {
                k: v for k, v in twin.json().items() if k != "instance"
            }
            assert PATIENT["external_id"] not in r.text

    # B's data is unchanged
    assert client.get(b_url, headers=org_b.clinician).json() == b_patient
    with app.state.rootcause.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 1
        assert session.scalar(select(func.count()).select_from(PainScore)) == 1
        assert session.scalar(select(func.count()).select_from(Assessment)) == 1
    # A's audit log does not mention B's patient
    a_audit = client.get("/v1/admin/audit", params={"limit": 1000}, headers=org_a.admin).json()
    assert all(e["resource_id"] != b_patient["id"] for e in a_audit["items"])


def test_same_external_id_in_two_organisations_stays_separate(
    client: TestClient, org_a: Org, org_b: Org
) -> None:
    a = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician).json()
    b = client.post("/v1/patients", json=PATIENT | {"birth_year": 1950}, headers=org_b.clinician).json()
    assert a["id"] != b["id"]
    got = client.get("/v1/patients", params={"external_id": PATIENT["external_id"]}, headers=org_a.clinician)
    assert [p["birth_year"] for p in got.json()["items"]] == [1970]


def test_roles_and_key_administration(client: TestClient, app: FastAPI, org_a: Org, org_b: Org) -> None:
    # clinicians cannot administer
    for method, url, body in (
        ("POST", "/v1/admin/keys", {"role": "clinician"}),
        ("GET", "/v1/admin/keys", None),
        ("GET", "/v1/admin/audit", None),
        ("POST", "/v1/admin/organisations", {"name": "Rogue"}),
    ):
        r = client.request(method, url, json=body, headers=org_a.clinician)
        assert r.status_code == 403, url
        assert r.headers["content-type"] == "application/problem+json"
    # an admin creates a key in its own organisation; it is shown once
    created = client.post("/v1/admin/keys", json={"role": "clinician", "name": "Dr X"}, headers=org_a.admin)
    assert created.status_code == 201
    new_key = created.json()["key"]
    me = client.get("/v1/me", headers={"X-API-Key": new_key}).json()
    assert (me["organisation_id"], me["role"], me["organisation_name"]) == (
        str(org_a.id),
        "clinician",
        "Clinic A",
    )
    listed = client.get("/v1/admin/keys", headers=org_a.admin).json()
    assert created.json()["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert all(k["organisation_id"] == str(org_a.id) for k in listed)
    # A cannot revoke B's keys; revoking its own works at once
    b_key_id = org_b.clinician_key.split("_")[1]
    assert client.delete(f"/v1/admin/keys/{b_key_id}", headers=org_a.admin).status_code == 404
    assert client.get("/v1/me", headers=org_b.clinician).status_code == 200
    assert client.delete(f"/v1/admin/keys/{created.json()['id']}", headers=org_a.admin).status_code == 204
    assert client.get("/v1/me", headers={"X-API-Key": new_key}).status_code == 401
    # a new organisation gets its own admin key and sees nothing of A
    r = client.post("/v1/admin/organisations", json={"name": "Clinic C"}, headers=org_a.admin)
    assert r.status_code == 201
    c_admin = {"X-API-Key": r.json()["admin_key"]["key"]}
    assert client.get("/v1/me", headers=c_admin).json()["organisation_name"] == "Clinic C"
    assert client.get("/v1/admin/keys", headers=c_admin).json()[0]["role"] == "admin"
    dup = client.post("/v1/admin/organisations", json={"name": "Clinic C"}, headers=org_a.admin)
    assert dup.status_code == 409


def test_keys_are_stored_hashed(app: FastAPI) -> None:
    org = make_org(app, "Hashing")
    from rootcause.storage.models import ApiKey

    with app.state.rootcause.database.transaction() as session:
        rows = session.scalars(select(ApiKey).where(ApiKey.organisation_id == org.id)).all()
        stored = {r.secret_sha256 for r in rows} | {r.id for r in rows}
    for key in (org.admin_key, org.clinician_key):
        secret = key.split("_", 2)[2]
        assert secret not in stored and key not in stored
