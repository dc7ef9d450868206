"""What the CDS Hooks routes share, built once per app: the JWT verifier (with the replay cache in the
database), the patient-view service (FHIR fetcher, note reader), the issuer → organisation map, and
storing a call (assessment, cards, FHIR basis, audit) in one transaction.

Tests and embedders replace the network seams with :func:`configure_cds`::

    configure_cds(app, jwks=StaticJwks(...), fhir=FakeFhir(...), today=lambda: date(2026, 8, 10))
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI

from rootcause.cdshooks import (
    CachingJwksFetcher,
    CardSettings,
    CdsSettings,
    FhirFetcher,
    HookRequest,
    HttpxFhirFetcher,
    JwksFetcher,
    JwtVerifier,
    PatientViewResult,
    PatientViewService,
    VerifiedToken,
    stable_uuid,
)
from rootcause.cdshooks.models import Card, Link
from rootcause.cdshooks.notes import NoteReaderFn, NotesReader
from rootcause.fhir.reader import FhirReader
from rootcause.fhir.values import as_date
from rootcause.service.cds_config import CdsIssuer, entry_for, trusted_issuers
from rootcause.service.state import ServiceState
from rootcause.storage import Database, repository, sessions
from rootcause.storage import cds as cds_storage
from rootcause.storage.schemas import Actor

log = logging.getLogger("rootcause.cdshooks")
SOURCES_PATH = "/knowledge/sources"
CASE_FORM_PATH = "/case"


class _WriteGate:
    """On SQLite, lets one thread of this process at a time into a CDS Hooks write transaction.

    SQLite serialises writers anyway; without the gate, dozens of pool threads wait for its lock by
    sleeping and retrying (up to 100 ms per retry), which wastes the lock's idle time and makes the
    latency tail seconds long under load. On PostgreSQL the gate is open.
    """

    def __init__(self, database: Database) -> None:
        self._lock = threading.Lock() if database.dialect == "sqlite" else None

    def __enter__(self) -> None:
        if self._lock is not None:
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()


class DatabaseReplayStore:
    """``ReplayStore`` on the ``sessions`` table: shared by every worker and host on the database.

    Each ``seen`` commits its claim at once (a token is spent even if the call later fails); expired
    claims are purged by this worker at most every ``purge_every_s`` seconds.
    """

    def __init__(
        self,
        database: Database,
        *,
        purge_every_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        gate: _WriteGate | None = None,
    ) -> None:
        self.database = database
        self.gate = gate or _WriteGate(database)
        self.purge_every_s = purge_every_s
        self.clock = clock
        self._next_purge = clock()

    def seen(self, jti: str, issuer: str, expires_at: dt.datetime) -> bool:
        with self.gate, self.database.transaction() as session:
            first = cds_storage.claim_jti(session=session, issuer=issuer, jti=jti, expires_at=expires_at)
            now = self.clock()
            if now >= self._next_purge:
                self._next_purge = now + self.purge_every_s
                sessions.purge_expired(session=session, kind=cds_storage.JTI_KIND)
        return not first


@dataclass(frozen=True)
class CdsCaller:
    """A verified EHR call: its token, its configuration entry and the actor it acts as."""

    token: VerifiedToken
    entry: CdsIssuer
    actor: Actor


class CdsRuntime:
    def __init__(
        self,
        state: ServiceState,
        *,
        jwks: JwksFetcher | None = None,
        fhir: FhirFetcher | None = None,
        note_reader: NoteReaderFn | None = None,
        clock: Callable[[], float] = time.time,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.state = state
        settings = state.settings
        self.base = settings.public_base_url
        self.launch_url = settings.cds_app_launch_url
        self.entries = list(settings.cds_issuers)
        self.gate = _WriteGate(state.database)
        self.verifier = JwtVerifier(
            trusted_issuers(self.entries),
            jwks or CachingJwksFetcher(),
            DatabaseReplayStore(state.database, gate=self.gate),
            clock=clock,
        )
        engine = state.engine
        reader = FhirReader.from_kb(engine.kb)
        self.notes = (
            NotesReader(engine.kb, reader.mapping, read_note=note_reader) if settings.cds_read_notes else None
        )
        cards = CardSettings(sources_url=f"{self.base}{SOURCES_PATH}") if self.base else CardSettings()
        extra: dict[str, Any] = {"today": today} if today is not None else {}
        self.service = PatientViewService(
            engine,
            fetcher=fhir or HttpxFhirFetcher(),
            settings=CdsSettings(
                cards=cards,
                fetch_budget_s=settings.cds_fetch_budget_seconds,
                require_https=settings.cds_fhir_require_https,
                refetch_null_prefetch=settings.cds_refetch_null_prefetch,
                risk_assessment=settings.cds_store_risk_assessment,
            ),
            reader=reader,
            engine_version=state.software_version,
            notes=self.notes,
            **extra,
        )
        self._organisations: dict[tuple[str, str | None], uuid.UUID] = {}
        self._warned: set[tuple[str, str | None]] = set()

    # ------------------------------------------------------------------ authentication

    def audience(self, path: str) -> str | None:
        return f"{self.base}{path}" if self.base else None

    def organisation_id(self, entry: CdsIssuer) -> uuid.UUID | None:
        """The organisation an issuer entry acts for (cached once found; ``None``, logged, if missing)."""
        key = (entry.iss, entry.tenant)
        found = self._organisations.get(key)
        if found is not None:
            return found
        with self.state.database.transaction(readonly=True) as session:
            org = cds_storage.find_organisation(session=session, name_or_id=entry.organisation)
            found = org.id if org is not None else None
        if found is None:
            if key not in self._warned:
                self._warned.add(key)
                log.error(
                    "CDS Hooks issuer entry names organisation %r, which does not exist", entry.organisation
                )
            return None
        self._organisations[key] = found
        return found

    def caller(self, token: VerifiedToken, request_id: str | None) -> CdsCaller | None:
        entry = entry_for(self.entries, token)
        org = self.organisation_id(entry) if entry is not None else None
        if entry is None or org is None:
            return None
        host = urlsplit(token.issuer).netloc or token.issuer
        actor = Actor(key_id=f"cds:{host}"[:64], organisation_id=org, role="clinician", request_id=request_id)
        return CdsCaller(token, entry, actor)

    def warm(self) -> None:
        if self.notes is not None:
            self.notes.warm()

    # ------------------------------------------------------------------ cards

    def links(
        self, hook_instance: str, patient_id: uuid.UUID | None, assessment_id: uuid.UUID | None
    ) -> list[Link]:
        """The card's links: the stored assessment's page (as a SMART link, or an absolute one beside
        a configured SMART launch URL), or the case form when nothing was assessed."""
        base = self.base
        if not base:  # no public URL: nothing to link to (and no issuer can pass authentication)
            return []
        if assessment_id is None or patient_id is None:
            if self.launch_url:
                context = json.dumps({"hookInstance": hook_instance}, separators=(",", ":"))
                return [
                    Link(
                        label="Open rootcause to enter the case",
                        url=self.launch_url,
                        type="smart",
                        appContext=context,
                    )
                ]
            return [
                Link(label="Open rootcause to enter the case", url=f"{base}{CASE_FORM_PATH}", type="absolute")
            ]
        path = f"/patients/{patient_id}/assessments/{assessment_id}"
        context = json.dumps(
            {
                "hookInstance": hook_instance,
                "assessment": str(assessment_id),
                "patient": str(patient_id),
                "path": path,
            },
            separators=(",", ":"),
        )
        label = "Open the full rootcause assessment"
        if self.launch_url:
            return [
                Link(label=label, url=self.launch_url, type="smart", appContext=context),
                Link(label="Result page (outside the EHR)", url=f"{base}{path}", type="absolute"),
            ]
        return [Link(label=label, url=f"{base}{path}", type="smart", appContext=context)]

    # ------------------------------------------------------------------ storing a call

    def record(self, caller: CdsCaller, request: HookRequest, result: PatientViewResult) -> dict[str, Any]:
        """Store the call (and its assessment, when one was made) in one transaction; return the
        response body with links to what was stored. Everything that needs no database is prepared
        first, so the transaction (SQLite's write lock) is held only for the writes."""
        fc = result.fhir_case
        fhir_patient_id = request.patient_view_context().patientId
        actor = caller.actor
        notes = result.notes
        case = fc.case if fc is not None and result.assessment is not None else None
        stored: dict[str, Any] | None = None
        parsed_case: dict[str, Any] | None = None
        if case is not None and result.assessment is not None:
            stored = orjson.loads(
                orjson.dumps(result.assessment.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
            )
            if notes is not None and notes.findings:
                stored["from_notes"] = [f.to_dict() for f in notes.findings]
            parsed_case = self.state.engine.parse(case).to_dict()
        record: dict[str, Any] = {
            "fhir": fc.to_dict() if fc is not None else None,
            "prefetch": {
                k: {"source": v.source, "detail": v.detail, "count": v.count}
                for k, v in result.gathered.status.items()
            },
            "fetch_seconds": round(result.gathered.elapsed_s, 4),
            "notes": notes.to_dict() if notes is not None else None,
            "precondition_failed": result.precondition_failed,
        }
        birth_year = _birth_year(result, fhir_patient_id)
        with self.gate, self.state.database.transaction() as session:
            patient = row = None
            if case is not None and stored is not None and parsed_case is not None:
                patient = cds_storage.sync_fhir_patient(
                    session=session,
                    actor=actor,
                    fhir_patient_id=fhir_patient_id,
                    case=case,
                    birth_year=birth_year,
                )
                if patient is not None:
                    row = repository.add_assessment(
                        session=session,
                        actor=actor,
                        patient=patient,
                        case=parsed_case,
                        result=stored,
                        software_version=self.state.software_version,
                        assessed_on=fc.assessed_on if fc is not None else None,
                    )
                else:  # the case does not fit a patient record: keep the result with the call
                    record["unstored_result"] = stored
            links = self.links(request.hookInstance, patient.id if patient else None, row.id if row else None)
            cards: list[Card] = [c.model_copy(update={"links": links or None}) for c in result.response.cards]
            body: dict[str, Any] = result.response.model_copy(update={"cards": cards}).model_dump(
                mode="json", exclude_none=True
            )
            risk = result.risk_assessment
            if risk is not None and row is not None:
                risk = {**risk, "id": str(row.id)}  # the RiskAssessment is the stored assessment
            record |= {"risk_assessment": risk, "cards": body["cards"]}
            cds_storage.add_call(
                session=session,
                actor=actor,
                hook=request.hook,
                hook_instance=request.hookInstance,
                issuer=caller.token.issuer,
                tenant=caller.token.tenant,
                jti=caller.token.jti,
                fhir_server=str(request.fhirServer) if request.fhirServer else None,
                fhir_patient_id=fhir_patient_id,
                cards=[(c.uuid, _kind(c.uuid, request.hookInstance)) for c in cards if c.uuid],
                record=record,
                patient_id=patient.id if patient else None,
                assessment_id=row.id if row else None,
            )
        return body


def _kind(card_uuid: str, hook_instance: str) -> str:
    for kind in ("assessment", "insufficient-data"):
        if card_uuid == stable_uuid(hook_instance, kind):
            return kind
    return "other"


def _birth_year(result: PatientViewResult, patient_id: str) -> int | None:
    for r in result.gathered.resources:
        if r.get("resourceType") == "Patient" and r.get("id") == patient_id:
            born = as_date(r.get("birthDate"))
            return born.year if born else None
    return None


_LOCK = threading.Lock()


def configure_cds(app: FastAPI, **seams: Any) -> CdsRuntime:
    """Build the app's CDS Hooks runtime now, with test or embedding seams (``jwks``, ``fhir``,
    ``note_reader``, ``clock``, ``today``)."""
    runtime = CdsRuntime(app.state.rootcause, **seams)
    app.state.cds_runtime = runtime
    return runtime


def cds_runtime(app: FastAPI) -> CdsRuntime:
    """The app's runtime, built on first use (blocking: call it from a worker thread)."""
    state: ServiceState = app.state.rootcause
    runtime: CdsRuntime | None = getattr(app.state, "cds_runtime", None)
    if runtime is None or runtime.state is not state:
        with _LOCK:
            runtime = getattr(app.state, "cds_runtime", None)
            if runtime is None or runtime.state is not state:
                runtime = CdsRuntime(state)
                app.state.cds_runtime = runtime
    return runtime
