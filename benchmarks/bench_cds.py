"""CDS Hooks for benchmarks/bench_service.py: a benchmark EHR (an RSA key, its JWK Set served on
loopback, signed tokens) and patient-view request bodies with a complete prefetch."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CDS_ISSUER = "https://bench-ehr.invalid"
CDS_KID = "bench-rs384"
CDS_PATH = "/cds-services/patient-view"


def cds_body(with_note: bool) -> dict[str, Any]:
    """A patient-view call with a complete prefetch: 70 days after an L4-L5 discectomy."""
    today = dt.date.today()
    surgery = (today - dt.timedelta(days=70)).isoformat()
    patient = "bench-1"
    subject = {"reference": f"Patient/{patient}"}

    def obs(oid: str, code: dict[str, Any], day: int, **value: Any) -> dict[str, Any]:
        when = (today - dt.timedelta(days=70 - day)).isoformat()
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [code]},
            "subject": subject,
            "effectiveDateTime": when,
            **value,
        }

    pain = {"system": "http://loinc.org", "code": "72514-3"}
    slr = {"system": "https://rootcause.dev/fhir/CodeSystem/finding", "code": "slr_positive"}
    observations = [
        obs("p1", pain, 14, valueQuantity={"value": 2}),
        obs("p2", pain, 42, valueQuantity={"value": 5}),
        obs("p3", pain, 70, valueQuantity={"value": 6}),
        obs("slr", slr, 70, valueBoolean=True),
    ]
    procedure = {
        "resourceType": "Procedure",
        "id": "op-1",
        "status": "completed",
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "42515009"}],
            "text": "Microdiscectomy L4-L5, open",
        },
        "subject": subject,
        "performedDateTime": surgery,
    }
    notes = []
    if with_note:
        text = "Seen in clinic. Reports numbness in the left foot. Weakness of the left leg. No fever."
        notes.append(
            {
                "resourceType": "DocumentReference",
                "id": "note-1",
                "status": "current",
                "date": today.isoformat(),
                "subject": subject,
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": base64.b64encode(text.encode()).decode(),
                        }
                    }
                ],
            }
        )

    def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}

    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/bench", "patientId": patient},
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": patient,
                "gender": "female",
                "birthDate": "1974-03-02",
            },
            "procedures": bundle([procedure]),
            "observations": bundle(observations),
            "conditions": bundle([]),
            "documents": bundle(notes),
        },
    }


class CdsEhr:
    """The benchmark's EHR: an RSA key, its JWK Set on a loopback HTTP server, signed tokens."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [public | {"kid": CDS_KID, "alg": "RS384", "use": "sig"}]}).encode()

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self, base: str) -> dict[str, str]:
        issuer = {"iss": CDS_ISSUER, "jwks_url": self.jwks_url, "organisation": "demo"}
        return {"ROOTCAUSE_PUBLIC_BASE_URL": base, "ROOTCAUSE_CDS_ISSUERS": json.dumps([issuer])}

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": CDS_ISSUER, "aud": audience, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.key, algorithm="RS384", headers={"kid": CDS_KID, "typ": "JWT"})

    def tokens(self, audience: str, n: int) -> Iterator[str]:
        for _ in range(n):
            yield self.token(audience)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
