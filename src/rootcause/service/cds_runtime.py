"""What the CDS Hooks routes share, built once per app: the JWT verifier (with the replay cache in the
database), the patient-view service (FHIR fetcher, note reader), the issuer → organisation map, and
storing a call (assessment, cards, FHIR basis, audit) in one transaction.

Tests and embedders replace the network seams with :func:`configure_cds`::

    configure_cds(app, jwks=StaticJwks(...), fhir=FakeFhir(...), today=lambda: date(2026, 8, 10))
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI
from sqlalchemy import Connection, Executable

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
from rootcause.cdshooks.models import Link
from rootcause.cdshooks.notes import NoteReaderFn, NotesReader
from rootcause.cdshooks.prefetch import DeferringFetcher
from rootcause.fhir.reader import FhirReader
from rootcause.fhir.values import as_date
from rootcause.service.cds_config import CdsIssuer, entry_for, trusted_issuers
from rootcause.service.state import ServiceState
from rootcause.storage import Database, DatabaseUnavailable, repository, sessions
from rootcause.storage import cds as cds_storage
from rootcause.storage.cds import PatientKey, StoredPatient
from rootcause.storage.db import Inserts, JsonText
from rootcause.storage.schemas import Actor

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: the gate is then per process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("rootcause.cdshooks")
SOURCES_PATH = "/knowledge/sources"
CASE_FORM_PATH = "/case"


class _WriteGate:
    """On SQLite, lets one thread of all the workers at a time into a CDS Hooks write transaction.

    SQLite serialises writers anyway; without the gate, dozens of pool threads wait for its lock by
    sleeping and retrying (up to 100 ms per retry), which wastes the lock's idle time and makes the
    latency tail seconds long under load. In a process a ``threading.Lock`` queues the threads; across
    worker processes an ``flock`` on a file beside the database (``<database>-write.lock``) queues the
    processes, so a waiting worker is woken when the lock is free instead of sleeping in SQLite's
    busy handler. On PostgreSQL the gate is open.
    """

    def __init__(self, database: Database) -> None:
        sqlite = database.dialect == "sqlite"
        self._lock = threading.Lock() if sqlite else None
        path = database.url.database if sqlite else None
        file_backed = bool(path) and path != ":memory:" and not str(path).startswith("file:")
        self._path = f"{path}-write.lock" if file_backed and fcntl is not None else None
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # e.g. a read-only directory: the in-process gate still works
                self._path = None
                return None
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        if self._lock is None:
            return
        self._lock.acquire()
        fd = self._file()
        if fd is not None and fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # no file locks here (some network file systems): in-process gate only
                pass
            except BaseException:
                self._lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        if self._lock is None:
            return
        try:
            if self._fd is not None and self._pid == os.getpid() and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


class CallSlots:
    """At most ``n`` CDS Hooks calls of this worker compute and store at a time on the thread pool; more wait
    their turn. These are the calls that must fetch from the EHR (a partial prefetch); the others are
    answered in batches on one thread (``call_batcher``, ``routes.cds_hooks``).

    Python runs one thread at a time (the GIL), so dozens of pool threads working on calls at once
    only take turns: each call, and the write gate it holds, lasts longer, and the latency tail grows
    with the number of clients at no gain in throughput. A call holds a slot while it checks, computes
    and stores; it gives the slot up while it waits for the EHR's FHIR server (``released``), so a
    slow EHR does not hold up other calls. Slots are handed over first come, first served (a free
    slot goes to the longest waiter, never to a thread that just arrived), which keeps the tail short.
    """

    def __init__(self, n: int) -> None:
        self._lock = threading.Lock()
        self._free = n
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._local = threading.local()

    def _acquire(self) -> None:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        waiter.acquire()  # released by _release, which hands its slot over

    def _release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._acquire()
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            self._release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Around blocking I/O: the current thread's slot, if it holds one, is free meanwhile."""
        if not getattr(self._local, "held", False):
            yield
            return
        self._local.held = False
        self._release()
        try:
            yield
        finally:
            self._acquire()
            self._local.held = True


class _SlotFreeFetcher:
    """A ``FhirFetcher`` that gives up the calling thread's ``CallSlots`` slot while it fetches."""

    def __init__(self, fetcher: FhirFetcher, slots: CallSlots) -> None:
        self.fetcher = fetcher
        self.slots = slots

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        with self.slots.released():
            return self.fetcher.get(url, access_token=access_token, timeout=timeout)


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
        with self.gate, self.database.connection() as conn:  # one statement, committed at once
            return not self.claim(conn, jti, issuer, expires_at)

    def claim(self, conn: Connection, jti: str, issuer: str, expires_at: dt.datetime) -> bool:
        """Claim the token in the caller's transaction: true the first time (the claim commits with it)."""
        first = cds_storage.claim_jti(session=conn, issuer=issuer, jti=jti, expires_at=expires_at)
        now = self.clock()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every_s
            sessions.purge_expired(session=conn, kind=cds_storage.JTI_KIND)
        return first


class TokenReplayed(Exception):
    """The call's token was spent by an earlier call (found when the call is stored): answer 401."""


Work = Callable[[Inserts], Any]
First = Callable[[Connection], None]


@dataclass(eq=False)
class _Write:
    work: Work
    first: First | None = None
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    finished: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Concurrent CDS Hooks calls of a worker store their records in one write transaction (group commit).

    A batch is written without savepoints first; if a call then fails (a bad row), the transaction rolls
    back and the batch is written again with each call's writes in their own savepoint, so the failing call
    is rolled back alone, while what it wrote ``first`` (spending its token) stays. A replayed token needs
    no second pass: its claim writes nothing, so only that call is refused. The transaction commits
    once for all of them, before any of them is answered, so nothing answered is lost. One call at a time
    leads: it writes every call waiting when it starts (up to ``max_batch``), then hands the lead to the
    first call that arrived meanwhile, so no thread writes for others longer than one batch. On SQLite this
    turns one write lock per call into one per batch; that lock is what limits the calls per second of a
    whole deployment, as every worker queues for it."""

    def __init__(
        self,
        database: Database,
        gate: _WriteGate,
        max_batch: int = 32,
        insert_order: Sequence[Executable] = (),
    ) -> None:
        self.database = database
        self.gate = gate
        self.max_batch = max_batch
        self.insert_order = insert_order
        self._lock = threading.Lock()
        self._queue: collections.deque[_Write] = collections.deque()
        self._writing = False

    def run(self, work: Work, first: First | None = None) -> Any:
        """Run ``first`` then ``work`` on a connection inside the shared transaction (``work`` failing does
        not undo ``first``); return the result of ``work`` once committed. ``first`` raising
        ``TokenReplayed`` must have written nothing; ``work`` may run twice (the first time rolled back)."""
        [(result, error)] = self.run_many([(work, first)])
        if error is not None:
            raise error
        return result

    def run_many(self, jobs: Sequence[tuple[Work, First | None]]) -> list[tuple[Any, BaseException | None]]:
        """``run`` for several calls at once (``(work, first)`` each), queued together in this order;
        each call's result or error, once committed."""
        writes = [_Write(work, first) for work, first in jobs]
        if not writes:
            return []
        with self._lock:
            self._queue.extend(writes)
            if not self._writing:
                self._writing = writes[0].lead = True
        for job in writes:  # the queue is first in, first out: the jobs finish in this order
            while True:
                if job.lead:
                    job.lead = False
                    self._write_batch()
                if job.finished:
                    break
                job.wake.wait()
                job.wake.clear()
        return [(job.result, job.error) for job in writes]

    def _write_batch(self) -> None:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
        try:
            with self.gate:
                try:
                    self._write_plain(batch)
                except DatabaseUnavailable:
                    raise  # the database, not a call: writing again would only wait as long again
                except Exception:  # a call failed part-way: rolled back, and written again call by call
                    self._write_isolated(batch)
        except BaseException as exc:  # the transaction failed: nothing of the batch was stored
            for job in batch:
                job.result, job.error = None, job.error if isinstance(job.error, TokenReplayed) else exc
        self._hand_over(batch)

    def _write_plain(self, batch: list[_Write]) -> None:
        """The batch in one transaction without savepoints: the usual case, when no call fails. A spent
        token is found by its claim, which writes nothing, so that call alone is refused; any other
        failure propagates and rolls the whole transaction back. The calls' inserts are deferred and
        written with one statement per table for the whole batch (``Inserts``); savepoints would
        cost two statements a call, all of them inside the write lock."""
        with self.database.connection() as conn:
            inserts = Inserts(conn, deferred=True, order=self.insert_order)
            for job in batch:
                job.result, job.error = None, None
                if job.first is not None:
                    try:
                        job.first(conn)
                    except TokenReplayed as exc:
                        job.error = exc
                        continue
                job.result = job.work(inserts)
            inserts.flush()

    def _write_isolated(self, batch: list[_Write]) -> None:
        """The batch in one transaction, each call in its savepoints: one call failing is rolled back
        alone, while what it wrote ``first`` (spending its token) stays."""
        with self.database.connection() as conn:
            inserts = Inserts(conn, deferred=False)
            for job in batch:
                job.result, job.error = None, None
                try:  # a call's own failure is kept for its thread; the others go on
                    if job.first is not None:
                        with conn.begin_nested():
                            job.first(conn)
                    with conn.begin_nested():
                        job.result = job.work(inserts)
                except Exception as exc:
                    job.error = exc

    def _hand_over(self, batch: list[_Write]) -> None:
        with self._lock:
            nxt = self._queue[0] if self._queue else None
            if nxt is None:
                self._writing = False
            else:
                nxt.lead = True
        for job in batch:
            job.finished = True
            job.wake.set()
        if nxt is not None:
            nxt.wake.set()


@dataclass(frozen=True)
class CallJob:
    """A call's writes for ``GroupCommit`` and the patient record they touch."""

    work: Work
    first: First
    patient: PatientKey | None


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
        self.slots = CallSlots(settings.cds_concurrent_calls)
        self.replay = DatabaseReplayStore(state.database, gate=self.gate)
        self.writer = GroupCommit(state.database, self.gate, insert_order=cds_storage.CALL_INSERTS)
        self.verifier = JwtVerifier(
            trusted_issuers(self.entries),
            jwks or CachingJwksFetcher(),
            self.replay,
            clock=clock,
        )
        engine = state.engine
        reader = FhirReader.from_kb(engine.kb)
        self.notes = (
            NotesReader(engine.kb, reader.mapping, read_note=note_reader) if settings.cds_read_notes else None
        )
        cards = CardSettings(sources_url=f"{self.base}{SOURCES_PATH}") if self.base else CardSettings()
        extra: dict[str, Any] = {"today": today} if today is not None else {}

        def service(fetcher: FhirFetcher) -> PatientViewService:
            return PatientViewService(
                engine,
                fetcher=fetcher,
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

        self.service = service(_SlotFreeFetcher(fhir or HttpxFhirFetcher(), self.slots))
        # the same service for calls answered in batches: it never waits on the EHR, as its fetcher
        # stops a call at its first fetch (FetchDeferred), which is then answered by ``service``
        self.batch_service = service(DeferringFetcher())
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
        response body with links to what was stored."""
        job = self.record_job(caller, request, result)
        return self.writer.run(job.work, job.first)  # type: ignore[no-any-return]

    def read_patients(self, jobs: Sequence[CallJob], known: dict[PatientKey, StoredPatient | None]) -> None:
        """Read the local records of the jobs' patients into ``known`` (one statement per organisation),
        before the write transaction, which then holds the write lock for less time."""
        keys = {job.patient for job in jobs if job.patient is not None}
        if keys:
            with self.state.database.transaction(readonly=True) as session:
                known |= cds_storage.find_fhir_patients(conn=session.connection(), keys=keys)

    def spend_job(self, caller: CdsCaller) -> CallJob:
        """The write of a call refused after its token was checked: the token is spent all the same."""
        return CallJob(lambda inserts: None, self._spend(caller.token), None)

    def _spend(self, token: VerifiedToken) -> First:
        def spend(conn: Connection) -> None:
            if token.replay_until is not None and not self.replay.claim(
                conn, token.jti, token.issuer, token.replay_until
            ):
                raise TokenReplayed()

        return spend

    def record_job(
        self,
        caller: CdsCaller,
        request: HookRequest,
        result: PatientViewResult,
        patients: dict[PatientKey, StoredPatient | None] | None = None,
    ) -> CallJob:
        """``record``'s writes, for ``GroupCommit``: ``work`` returns the response body. Everything that
        needs no database is prepared here first (the rows, the patient record's validation, the cards
        as JSON), so the transaction (SQLite's write lock) is held only for the writes: Core
        statements, one per table. ``patients``: local records read before (``read_patients``), filled
        in before the job runs."""
        fc = result.fhir_case
        fhir_patient_id = request.patient_view_context().patientId
        actor = caller.actor
        notes = result.notes
        case = fc.case if fc is not None and result.assessment is not None else None
        stored: JsonText | None = None  # the full result, serialized once and stored as it is
        headline: repository.ResultHeadline | None = None
        parsed_case: dict[str, Any] | None = None
        if case is not None and result.assessment is not None:
            a = result.assessment
            full = a.to_dict()
            if notes is not None and notes.findings:
                full["from_notes"] = [f.to_dict() for f in notes.findings]
            stored = JsonText(orjson.dumps(full, option=orjson.OPT_SERIALIZE_NUMPY).decode())
            leading, probability = a.differential[0]
            headline = repository.ResultHeadline(
                a.knowledge_base_version, a.triage.level, leading, float(probability)
            )
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
        patient: cds_storage.FhirPatient | None = None
        if case is not None and stored is not None and parsed_case is not None:
            patient = cds_storage.fhir_patient(
                fhir_patient_id=fhir_patient_id, case=case, birth_year=_birth_year(result, fhir_patient_id)
            )
            if patient is None:  # the case does not fit a patient record: keep the result with the call
                record["unstored_result"] = orjson.loads(stored)
        # the response as JSON, links left out (they name the stored rows); Card's last field is
        # ``links``, so adding it back below keeps the keys in the order a model dump gives
        response = result.response
        cards = [c.model_dump(mode="json", exclude_none=True, exclude={"links"}) for c in response.cards]
        body: dict[str, Any] = {"cards": cards} | response.model_dump(
            mode="json", exclude_none=True, exclude={"cards"}
        )
        card_kinds = [(c.uuid, _kind(c.uuid, request.hookInstance)) for c in response.cards if c.uuid]
        risk = result.risk_assessment

        def store(inserts: Inserts) -> dict[str, Any]:
            audit: list[dict[str, Any]] = []
            patient_id: uuid.UUID | None = None
            assessment: dict[str, Any] | None = None
            if patient is not None and stored is not None and parsed_case is not None:
                # what this transaction wrote, then what was read before it (not when written again
                # call by call after a failure: the failure may be a record that changed meanwhile)
                known = collections.ChainMap(
                    inserts.facts.setdefault("fhir_patients", {}),
                    *([patients] if patients is not None and inserts.deferred else []),
                )
                patient_id = cds_storage.sync_fhir_patient(
                    conn=inserts.conn, actor=actor, patient=patient, audit=audit, known=known
                )
                assessment = repository.assessment_values(
                    actor=actor,
                    patient_id=patient_id,
                    organisation_id=actor.organisation_id,
                    case=parsed_case,
                    result=stored,
                    software_version=self.state.software_version,
                    assessed_on=fc.assessed_on if fc is not None else None,
                    headline=headline,
                )
            assessment_id: uuid.UUID | None = assessment["id"] if assessment is not None else None
            links = [
                link.model_dump(mode="json", exclude_none=True)
                for link in self.links(request.hookInstance, patient_id, assessment_id)
            ]
            if links:
                for card in cards:
                    card["links"] = links
            basis = risk
            if basis is not None and assessment_id is not None:
                basis = {**basis, "id": str(assessment_id)}  # the RiskAssessment is the stored assessment
            cds_storage.add_call(
                inserts=inserts,
                actor=actor,
                hook=request.hook,
                hook_instance=request.hookInstance,
                issuer=caller.token.issuer,
                tenant=caller.token.tenant,
                jti=caller.token.jti,
                fhir_server=str(request.fhirServer) if request.fhirServer else None,
                fhir_patient_id=fhir_patient_id,
                cards=card_kinds,
                record=record | {"risk_assessment": basis, "cards": body["cards"]},
                patient_id=patient_id,
                assessment=assessment,
                audit=audit,
            )
            return body

        key = (actor.organisation_id, patient.data.external_id) if patient is not None else None
        return CallJob(store, self._spend(caller.token), key)


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
