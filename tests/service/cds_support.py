"""Helpers for the CDS Hooks service tests: two EHRs with their own keys (RSA and EC, made here), a
JWKS fetcher and a FHIR server that never touch the network, signed tokens, and hook bodies."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rootcause import Engine
from rootcause.cdshooks import FetchError
from rootcause.service.app import create_app
from rootcause.service.cds_runtime import configure_cds
from rootcause.service.settings import Settings

from .conftest import Org, make_org

BASE = "https://cds.rootcause.test"
FHIR = "https://ehr-a.example.org/fhir"
DAY = dt.date(2026, 8, 10)
PATIENT_ID = "demo-07"
BUNDLE = json.loads(
    (Path(__file__).parent.parent / "data" / "fhir" / "bundle-discectomy-snomed.json").read_text()
)
RESOURCES = [e["resource"] for e in BUNDLE["entry"]]
OO = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}


@dataclass(frozen=True)
class Ehr:
    iss: str
    kid: str
    alg: str
    key: Any
    jwks_url: str
    organisation: str
    tenant: str | None = None

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        public: dict[str, Any] = json.loads(algorithm.to_jwk(self.key.public_key()))
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def entry(self) -> dict[str, Any]:
        out = {"iss": self.iss, "jwks_url": self.jwks_url, "organisation": self.organisation}
        return out | ({"tenant": self.tenant} if self.tenant else {})

    def token(self, path: str = "/cds-services/patient-view", **override: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": BASE + path,
            "iat": now - 5,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        if self.tenant:
            claims["tenant"] = self.tenant
        claims.update(override)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"})

    def headers(self, path: str = "/cds-services/patient-view", **override: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(path, **override)}"}


EHR_A = Ehr(
    "https://ehr-a.example.org",
    "a-rsa-1",
    "RS384",
    rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "https://ehr-a.example.org/jwks.json",
    "Clinic A",
)
EHR_B = Ehr(
    "https://ehr-b.example.org",
    "b-ec-1",
    "ES384",
    ec.generate_private_key(ec.SECP384R1()),
    "https://ehr-b.example.org/jwks.json",
    "Clinic B",
    tenant="clinic-b",
)


class StaticJwks:
    """JWK Sets by URL, no network."""

    def __init__(self, *ehrs: Ehr) -> None:
        self.sets = {e.jwks_url: [e.jwk()] for e in ehrs}

    def get_jwks(self, url: str, *, refresh: bool = False) -> Mapping[str, Any]:
        return {"keys": self.sets.get(url, [])}


class FakeFhir:
    """A FHIR server fake: URL → JSON (or an exception); records (url, token)."""

    def __init__(self, pages: dict[str, Any] | None = None) -> None:
        self.pages = pages or {}
        self.calls: list[tuple[str, str | None]] = []

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        self.calls.append((url, access_token))
        page = self.pages.get(url)
        if isinstance(page, Exception):
            raise page
        if page is None:
            raise FetchError("HTTP 404")
        return copy.deepcopy(page)


def of_type(rtype: str) -> list[dict[str, Any]]:
    return [copy.deepcopy(r) for r in RESOURCES if r["resourceType"] == rtype]


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def full_prefetch() -> dict[str, Any]:
    return {
        "patient": of_type("Patient")[0],
        "procedures": searchset(of_type("Procedure")),
        "observations": searchset(of_type("Observation")),
        "conditions": searchset(of_type("Condition")),
        "documents": searchset([]),
    }


def red_flag_prefetch() -> dict[str, Any]:
    """The record with saddle anaesthesia and bladder dysfunction present: an emergency."""
    prefetch = full_prefetch()
    for entry in prefetch["observations"]["entry"]:
        obs = entry["resource"]
        if obs["id"] in ("saddle", "bladder"):
            obs.pop("dataAbsentReason", None)
            obs["valueBoolean"] = True
    return prefetch


def fever_prefetch() -> dict[str, Any]:
    """The record with fever since surgery: urgent, and the card suggests a blood test."""
    prefetch = full_prefetch()
    for entry in prefetch["observations"]["entry"]:
        obs = entry["resource"]
        if obs["id"] == "fever":
            del obs["valueCodeableConcept"]
            obs["valueBoolean"] = True
    return prefetch


def note(doc_id: str, text: str, date: str = "2026-08-05", **extra: Any) -> dict[str, Any]:
    """A DocumentReference holding ``text`` as base64 text/plain."""
    return {
        "resourceType": "DocumentReference",
        "id": doc_id,
        "status": "current",
        "date": f"{date}T10:00:00Z",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "content": [
            {"attachment": {"contentType": "text/plain", "data": base64.b64encode(text.encode()).decode()}}
        ],
        **extra,
    }


def hook_body(prefetch: dict[str, Any] | None, *, hook_instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "fhirServer": FHIR,
        "fhirAuthorization": {
            "access_token": "fhir-access-token-secret",
            "token_type": "Bearer",
            "expires_in": 30,
            "scope": "user/*.read",
            "subject": "rootcause",
        },
        "context": {"userId": "Practitioner/dr-1", "patientId": PATIENT_ID},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def cds_settings(database_url: str, **extra: Any) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        db_connect_timeout=2,
        public_base_url=BASE,
        cds_issuers=[EHR_A.entry(), EHR_B.entry()],
        **extra,
    )


@dataclass
class CdsWorld:
    app: FastAPI
    client: TestClient
    fhir: FakeFhir
    org_a: Org
    org_b: Org


def build_app(database_url: str, engine: Engine, fhir: FakeFhir, **settings: Any) -> FastAPI:
    app = create_app(cds_settings(database_url, **settings), engine=engine)
    configure_cds(app, jwks=StaticJwks(EHR_A, EHR_B), fhir=fhir, today=lambda: DAY)
    return app


@contextmanager
def world(database_url: str, engine: Engine, **settings: Any) -> Iterator[CdsWorld]:
    settings.setdefault("cds_store_risk_assessment", True)  # most tests check the stored resource
    fhir = FakeFhir()
    app = build_app(database_url, engine, fhir, **settings)
    org_a, org_b = make_org(app, "Clinic A"), make_org(app, "Clinic B")
    try:
        with TestClient(app) as client:
            yield CdsWorld(app, client, fhir, org_a, org_b)
    finally:
        app.state.rootcause.database.dispose()
