"""How a CDS Hooks call is stored (SQLite and PostgreSQL): one transaction holding exactly one call
record, its assessment and their audit entries, nothing at all when it fails half-way; and the
machinery around it: the write gate shared by worker processes, the group commit and the call slots."""

from __future__ import annotations

import collections
import copy
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from rootcause import Engine
from rootcause.service.cds_runtime import CallSlots, GroupCommit, TokenReplayed, _Write, _WriteGate
from rootcause.storage import Database, sessions
from rootcause.storage import cds as cds_storage
from rootcause.storage.db import Inserts
from rootcause.storage.models import Assessment, AuditEvent, CdsCall, CdsCard, Patient, StoredSession

from .cds_support import EHR_A, CdsWorld, full_prefetch, hook_body, world

SERVICE = "/cds-services/patient-view"


@pytest.fixture()
def cds(database_url: str, engine: Engine) -> Iterator[CdsWorld]:
    with world(database_url, engine) as w:
        yield w


def rows(w: CdsWorld) -> dict[str, Any]:
    """What is stored, by table: row counts, and the audit actions written on behalf of the EHR."""
    with w.app.state.rootcause.database.transaction(readonly=True) as session:
        count = {
            name: session.scalar(select(func.count()).select_from(model))
            for name, model in (
                ("patients", Patient),
                ("assessments", Assessment),
                ("calls", CdsCall),
                ("cards", CdsCard),
                ("jti", StoredSession),
            )
        }
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor.startswith("cds:")).order_by(AuditEvent.id)
        ).all()
    return count | {"audit": list(actions)}


def test_a_call_stores_one_call_one_assessment_and_their_audit_entries(cds: CdsWorld) -> None:
    r = cds.client.post(SERVICE, json=hook_body(full_prefetch()), headers=EHR_A.headers())
    assert r.status_code == 200, r.text
    assert rows(cds) == {
        "patients": 1,
        "assessments": 1,
        "calls": 1,
        "cards": 1,
        "jti": 1,
        "audit": ["patient.create", "assessment.create", "cds.patient_view"],
    }
    with cds.app.state.rootcause.database.transaction(readonly=True) as session:
        call = session.scalars(select(CdsCall)).one()
        stored = session.scalars(select(Assessment)).one()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "cds.patient_view")).one()
    assert (call.assessment_id, call.patient_id) == (stored.id, stored.patient_id)
    assert audit.resource_id == str(call.id)
    # the full result, the exact case and the versions, as /v1/assess stores them
    assert stored.result["differential"][0]["condition"] == stored.leading_condition
    assert stored.result["knowledge_base_version"] == stored.knowledge_base_version
    assert stored.triage_level == stored.result["triage"]["level"]
    assert stored.case["surgery"]["procedure"] == "discectomy"

    # the same patient again, unchanged: no patient row or update, one more call and assessment
    r = cds.client.post(SERVICE, json=hook_body(full_prefetch()), headers=EHR_A.headers())
    assert r.status_code == 200, r.text
    after = rows(cds)
    assert (after["patients"], after["assessments"], after["calls"], after["jti"]) == (1, 2, 2, 2)
    assert after["audit"][3:] == ["assessment.create", "cds.patient_view"]


def test_a_changed_record_updates_the_local_patient(cds: CdsWorld) -> None:
    prefetch = full_prefetch()
    assert cds.client.post(SERVICE, json=hook_body(prefetch), headers=EHR_A.headers()).status_code == 200
    changed = copy.deepcopy(prefetch)
    changed["patient"]["birthDate"] = "1980-01-01"
    assert cds.client.post(SERVICE, json=hook_body(changed), headers=EHR_A.headers()).status_code == 200
    stored = rows(cds)
    assert stored["patients"] == 1
    assert stored["audit"][3:] == ["patient.update", "assessment.create", "cds.patient_view"]
    with cds.app.state.rootcause.database.transaction(readonly=True) as session:
        assert session.scalars(select(Patient.birth_year)).one() == 1980


def test_a_failure_half_way_stores_nothing_but_spends_the_token(
    cds: CdsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_call = cds_storage.add_call

    def fails_after_writing(**kwargs: Any) -> Any:
        add_call(**kwargs)  # the patient, assessment, call, cards and audit rows are written...
        raise RuntimeError("the database went away")  # ...and the transaction fails

    monkeypatch.setattr(cds_storage, "add_call", fails_after_writing)
    headers = EHR_A.headers()
    r = cds.client.post(SERVICE, json=hook_body(full_prefetch()), headers=headers)
    assert r.status_code == 500
    assert rows(cds) == {"patients": 0, "assessments": 0, "calls": 0, "cards": 0, "jti": 1, "audit": []}

    monkeypatch.setattr(cds_storage, "add_call", add_call)
    r = cds.client.post(SERVICE, json=hook_body(full_prefetch()), headers=headers)
    assert r.status_code == 401  # the token was spent when it was checked
    r = cds.client.post(SERVICE, json=hook_body(full_prefetch()), headers=EHR_A.headers())
    assert r.status_code == 200 and rows(cds)["calls"] == 1


# ---------------------------------------------------------------------------- write gate, slots


def test_the_write_gate_queues_two_workers_on_one_sqlite_file(database: Database) -> None:
    if database.dialect != "sqlite":
        assert _WriteGate(database)._lock is None  # PostgreSQL: open
        return
    first, second = _WriteGate(database), _WriteGate(database)  # two workers' gates: own files
    entered = threading.Event()

    def other_worker() -> None:
        with second:
            entered.set()

    with first:
        thread = threading.Thread(target=other_worker)
        thread.start()
        assert not entered.wait(0.3)  # held out by the file lock, not by a shared threading.Lock
    assert entered.wait(5)
    thread.join()


def test_call_slots_are_handed_over_first_come_first_served() -> None:
    slots = CallSlots(1)
    order: list[int] = []
    started: list[threading.Thread] = []

    def call(i: int) -> None:
        with slots.held():
            order.append(i)

    with slots.held():
        for i in range(5):
            t = threading.Thread(target=call, args=(i,))
            t.start()
            started.append(t)
            while len(slots._waiters) < i + 1:  # each waits in turn
                time.sleep(0.001)
    for t in started:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_call_waiting_for_the_ehr_gives_up_its_slot() -> None:
    slots = CallSlots(1)
    other_ran = threading.Event()

    def other() -> None:
        with slots.held():
            other_ran.set()

    with slots.held():
        with slots.released():  # e.g. waiting for the FHIR server
            t = threading.Thread(target=other)
            t.start()
            assert other_ran.wait(5)
        assert slots._free == 0  # taken back
    t.join()
    with slots.released():  # outside a call: nothing to give up
        assert slots._free == 1


# ---------------------------------------------------------------------------- group commit


def _claims(database: Database) -> list[str]:
    with database.transaction(readonly=True) as session:
        return sorted(session.scalars(select(StoredSession.id).where(StoredSession.kind == "test")).all())


def _claim(name: str) -> Any:
    """A write that claims ``name``: a call's ``first`` (given the connection) or its work (``Inserts``)."""

    def write(target: Connection | Inserts) -> str:
        conn = target.conn if isinstance(target, Inserts) else target
        assert sessions.claim_once(session=conn, kind="test", id=name, ttl=dt.timedelta(hours=1))
        return name

    return write


def test_concurrent_writes_share_transactions_and_each_gets_its_own_result(database: Database) -> None:
    writer = GroupCommit(database, _WriteGate(database), max_batch=4)
    results: dict[int, Any] = {}

    def call(i: int) -> None:
        results[i] = writer.run(_claim(f"job-{i:02d}"))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: f"job-{i:02d}" for i in range(24)}
    assert _claims(database) == [f"job-{i:02d}" for i in range(24)]
    assert writer._queue == collections.deque() and not writer._writing  # nothing left behind


def test_a_failing_write_is_rolled_back_alone_and_keeps_what_it_wrote_first(database: Database) -> None:
    writer = GroupCommit(database, _WriteGate(database))

    def fails(inserts: Inserts) -> None:
        _claim("half-written")(inserts)
        raise RuntimeError("bad row")

    with pytest.raises(RuntimeError, match="bad row"):
        writer.run(fails, first=_claim("spent-token"))
    assert writer.run(_claim("next")) == "next"
    assert _claims(database) == ["next", "spent-token"]

    def replayed(conn: Connection) -> None:
        raise TokenReplayed()

    with pytest.raises(TokenReplayed):
        writer.run(_claim("never"), first=replayed)
    assert "never" not in _claims(database)


def test_a_failed_commit_fails_every_call_of_its_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = GroupCommit(database, _WriteGate(database))

    class Unavailable(Exception):
        pass

    def broken_connection() -> Any:
        raise Unavailable("the database went away")

    monkeypatch.setattr(database, "connection", broken_connection)
    with pytest.raises(Unavailable):
        writer.run(_claim("lost"))
    assert not writer._writing  # the next call leads again
    monkeypatch.undo()
    assert writer.run(_claim("after")) == "after"
    assert _claims(database) == ["after"]


def _savepoints(database: Database) -> list[str]:
    """Every SAVEPOINT statement the database runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    return seen


def _batch(writer: GroupCommit, *jobs: tuple[Any, Any]) -> list[_Write]:
    """Queue the jobs and write them as one batch (as the leading call does), in this thread."""
    queued = [_Write(work, first) for work, first in jobs]
    writer._queue.extend(queued)
    writer._writing = True
    writer._write_batch()
    return queued


def test_a_batch_without_failures_is_written_without_savepoints(database: Database) -> None:
    writer = GroupCommit(database, _WriteGate(database))
    savepoints = _savepoints(database)

    def replayed(conn: Connection) -> None:
        raise TokenReplayed()

    done = _batch(
        writer,
        (_claim("a"), _claim("token-a")),
        (_claim("never"), replayed),  # a spent token: refused alone, no second pass
        (_claim("b"), None),
    )
    assert [job.result for job in done] == ["a", None, "b"]
    assert isinstance(done[1].error, TokenReplayed) and done[0].error is None and done[2].error is None
    assert _claims(database) == ["a", "b", "token-a"]
    assert savepoints == []


def test_a_call_failing_in_a_batch_is_written_again_with_savepoints_and_fails_alone(
    database: Database,
) -> None:
    writer = GroupCommit(database, _WriteGate(database))
    savepoints = _savepoints(database)

    def fails(inserts: Inserts) -> None:
        _claim("half-written")(inserts)
        raise RuntimeError("bad row")

    done = _batch(writer, (_claim("a"), None), (fails, _claim("spent")), (_claim("b"), None))
    assert [job.result for job in done] == ["a", None, "b"]
    assert isinstance(done[1].error, RuntimeError)
    assert _claims(database) == ["a", "b", "spent"]  # the plain pass left nothing twice, nothing half-written
    assert savepoints  # the second pass isolated each call
