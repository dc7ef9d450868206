"""Fixtures for the service and storage tests, parametrised over SQLite and PostgreSQL.

PostgreSQL: the server at 127.0.0.1:5432 (user postgres, trust auth). Each test run creates
its own database ``rootcause_test_<random>`` (dropped at the end) and each test its own schema
in it, so runs and tests never collide. If the server cannot be reached the PostgreSQL tests
fail (they are never skipped).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rootcause import Engine
from rootcause.service.app import create_app
from rootcause.service.settings import Settings
from rootcause.storage import Database, repository
from rootcause.storage.schemas import Actor

PG_HOST = os.environ.get("ROOTCAUSE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ROOTCAUSE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ROOTCAUSE_TEST_PG_USER", "postgres")
PG_MAINTENANCE_DB = os.environ.get("ROOTCAUSE_TEST_PG_DB", "test")
BACKENDS = ["sqlite", "postgresql"]


def pg_conninfo(dbname: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname} connect_timeout=5"


def pg_url(dbname: str, schema: str | None = None) -> str:
    url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of our own for this test run; fails (not skips) if PostgreSQL is down."""
    name = f"rootcause_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_conninfo(PG_MAINTENANCE_DB), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(pg_conninfo(PG_MAINTENANCE_DB), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database (SQLite file, or a new PostgreSQL schema) for one test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'rootcause.sqlite3'}"
        return
    dbname = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_conninfo(dbname), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_url(dbname, schema)
    finally:
        with psycopg.connect(pg_conninfo(dbname), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture()
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, db_connect_timeout=2)


@pytest.fixture()
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, connect_timeout=2)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture()
def app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    app = create_app(settings, engine=engine)
    yield app
    app.state.rootcause.database.dispose()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    name: str
    admin_key: str
    clinician_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"X-API-Key": self.admin_key}

    @property
    def clinician(self) -> dict[str, str]:
        return {"X-API-Key": self.clinician_key}

    def actor(self, key_id: str = "test") -> Actor:
        return Actor(key_id=key_id, organisation_id=self.id, role="admin")


def make_org(app: FastAPI, name: str) -> Org:
    """An organisation with an admin and a clinician key, created through the storage layer."""
    state = app.state.rootcause
    state.migrate()
    with state.database.transaction() as session:
        org = repository.create_organisation(session=session, name=name)
        _, admin = repository.create_api_key(session=session, organisation_id=org.id, role="admin")
        _, clinician = repository.create_api_key(session=session, organisation_id=org.id, role="clinician")
        return Org(org.id, name, admin, clinician)


@pytest.fixture()
def org_a(app: FastAPI) -> Org:
    return make_org(app, "Clinic A")


@pytest.fixture()
def org_b(app: FastAPI) -> Org:
    return make_org(app, "Clinic B")


PATIENT = {
    "external_id": "MRN-0001",
    "birth_year": 1970,
    "sex": "female",
    "surgery": {
        "procedure": "discectomy",
        "levels": ["L4-L5"],
        "approach": "open",
        "route": "posterior",
        "instrumented": False,
        "date": "2026-06-01",
    },
}
