"""Database faults: 503 problems while the database is gone, nothing lost or half-written."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from rootcause.storage import repository
from rootcause.storage.models import AuditEvent, Patient

from .conftest import PATIENT, PG_MAINTENANCE_DB, Org, pg_conninfo


@contextlib.contextmanager
def database_outage(app: FastAPI) -> Iterator[None]:
    """Make the service's database unreachable, then bring it back unchanged.

    SQLite: close the pool, move the file aside and put a directory in its place (the file
    cannot be opened; root ignores file permissions, so chmod would not do). PostgreSQL:
    refuse new connections to the database and terminate the open ones.
    """
    database = app.state.rootcause.database
    url = database.url
    database.dispose()
    if database.dialect == "sqlite":
        path = Path(str(url.database))
        aside = path.with_name(path.name + ".aside")
        path.rename(aside)
        path.mkdir()
        try:
            yield
        finally:
            path.rmdir()
            aside.rename(path)
        return
    name = str(make_url(url).database)
    with psycopg.connect(pg_conninfo(PG_MAINTENANCE_DB), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_database_outage_gives_503_and_loses_nothing(client: TestClient, app: FastAPI, org_a: Org) -> None:
    before = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician).json()
    url = f"/v1/patients/{before['id']}"
    client.post(f"{url}/pain-scores", json={"recorded_on": "2026-06-15", "nrs": 2}, headers=org_a.clinician)
    stored = client.post(
        f"{url}/assessments", json={"assessed_on": "2026-07-01"}, headers=org_a.clinician
    ).json()

    with database_outage(app):
        attempts: list[tuple[str, str, Any]] = [
            ("GET", url, None),
            ("GET", "/v1/patients", None),
            ("POST", "/v1/patients", PATIENT | {"external_id": "MRN-OUTAGE"}),
            ("POST", f"{url}/pain-scores", {"recorded_on": "2026-06-20", "nrs": 7}),
            ("POST", f"{url}/assessments", {"assessed_on": "2026-07-02"}),
            ("GET", "/v1/ready", None),
        ]
        for method, target, body in attempts:
            r = client.request(method, target, json=body, headers=org_a.clinician)
            assert r.status_code == 503, (method, target, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["status"] == 503 and problem["title"] == "Service unavailable"
            assert "unavailable" in problem["detail"]
            assert "sqlite" not in r.text.lower() and "psycopg" not in r.text.lower()
        assert client.get("/v1/health").status_code == 200  # liveness does not need the database
        # an unknown key cannot be checked without the database: 503, not a false 401
        r = client.get("/v1/me", headers={"X-API-Key": "rc_aaaaaaaaaaaa_" + "b" * 43})
        assert r.status_code == 503

    # back: everything accepted before is there, nothing from the outage is
    assert client.get("/v1/ready").status_code == 200
    assert client.get(url, headers=org_a.clinician).json() == before
    assert client.get(f"{url}/assessments/{stored['id']}", headers=org_a.clinician).json() == stored
    scores = client.get(f"{url}/pain-scores", headers=org_a.clinician).json()
    assert [(s["recorded_on"], s["nrs"]) for s in scores] == [("2026-06-15", 2.0)]
    assert client.get("/v1/patients", headers=org_a.clinician).json()["total"] == 1
    assert client.get(f"{url}/assessments", headers=org_a.clinician).json()["total"] == 1


def test_service_starts_while_the_database_is_down(app: FastAPI, org_a: Org) -> None:
    with database_outage(app), TestClient(app) as client:
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/ready").status_code == 503
    with TestClient(app) as client:
        assert client.get("/v1/ready").status_code == 200
        assert client.get("/v1/patients", headers=org_a.clinician).status_code == 200


def test_a_failure_mid_write_leaves_nothing(
    client: TestClient,
    app: FastAPI,
    org_a: Org,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "MRN-SECRET-" + "42"

    def broken_audit(**_: Any) -> None:
        message = "audit store failed while writing " + secret
        raise RuntimeError(message)

    with app.state.rootcause.database.transaction() as session:
        audit_before = session.scalar(select(func.count()).select_from(AuditEvent))
    monkeypatch.setattr(repository, "record_audit", broken_audit)
    with caplog.at_level(logging.INFO):
        r = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "internal error; quote the request id to support"
    assert secret not in r.text and "audit store" not in r.text
    # the log has the error type, request id and stack, but not the message (it may hold data)
    assert "RuntimeError" in caplog.text and r.headers["x-request-id"] in caplog.text
    assert "raise RuntimeError(message)" in caplog.text
    assert secret not in caplog.text and PATIENT["external_id"] not in caplog.text
    with app.state.rootcause.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_access_log_has_routes_not_identifiers(
    client: TestClient, org_a: Org, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="rootcause"):
        p = client.post("/v1/patients", json=PATIENT, headers=org_a.clinician).json()
        client.get("/v1/patients", params={"external_id": PATIENT["external_id"]}, headers=org_a.clinician)
        client.get(f"/v1/patients/{p['id']}", headers=org_a.clinician)
    lines = [r.getMessage() for r in caplog.records if r.name == "rootcause.access"]
    assert "GET /v1/patients/{patient_id} 200" in "\n".join(lines)
    assert PATIENT["external_id"] not in caplog.text
    assert p["id"] not in caplog.text
    assert org_a.clinician_key not in caplog.text


def test_sqlite_outage_helper_restores_the_file(tmp_path: Path) -> None:
    """The SQLite outage really removes access (guards the fault test itself)."""
    import sqlite3

    path = tmp_path / "x.sqlite3"
    sqlite3.connect(path).close()
    path.rename(tmp_path / "aside")
    path.mkdir()
    with pytest.raises(sqlite3.OperationalError):
        sqlite3.connect(path).execute("SELECT 1")
    path.rmdir()
    shutil.move(tmp_path / "aside", path)
    sqlite3.connect(path).close()
