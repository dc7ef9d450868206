"""The storage layer on its own: migrations, append-only audit, the sessions store, schemas."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, get_args

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, event, func, insert, select, text

from rootcause.engine import case as engine_case
from rootcause.storage import Conflict, Database, InvalidValue, StaleVersion, repository, sessions
from rootcause.storage import schemas as storage_schemas
from rootcause.storage.db import Inserts
from rootcause.storage.models import AuditEvent, Base


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert database.current_revision() == Database.head_revision()
    database.upgrade()  # idempotent
    assert database.current_revision() == Database.head_revision()


def test_audit_log_is_append_only(database: Database) -> None:
    with database.transaction() as session:
        org = repository.create_organisation(session=session, name="Audit")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), database.transaction() as session:
            session.execute(text(statement))
    with database.transaction() as session:
        rows = session.query(AuditEvent).all()
        assert [(r.action, r.organisation_id, r.actor) for r in rows] == [
            ("organisation.create", org.id, "cli")
        ]


def test_sessions_store_expiry_and_optimistic_locking(database: Database) -> None:
    ttl = dt.timedelta(minutes=10)
    with database.transaction() as session:
        row = sessions.put_session(session=session, kind="interview", payload={"step": 1}, ttl=ttl)
        key = row.id
        with pytest.raises(Conflict):
            sessions.put_session(session=session, kind="interview", id=key, payload={}, ttl=ttl)
        # same id, other kind: a separate namespace
        sessions.put_session(session=session, kind="other", id=key, payload={"x": 1}, ttl=ttl)
    with database.transaction() as session:
        got = sessions.get_session(session=session, kind="interview", id=key)
        assert got is not None and (got.payload, got.version) == ({"step": 1}, 1)
        assert got.expires_at > got.created_at and got.expires_at.tzinfo is not None
        updated = sessions.update_session(
            session=session, kind="interview", id=key, payload={"step": 2}, expected_version=1
        )
        assert updated is not None and (updated.payload, updated.version) == ({"step": 2}, 2)
    with database.transaction() as session, pytest.raises(StaleVersion):
        sessions.update_session(
            session=session, kind="interview", id=key, payload={"step": 9}, expected_version=1
        )
    with database.transaction() as session:
        assert sessions.get_session(session=session, kind="interview", id=key).payload == {"step": 2}  # type: ignore[union-attr]
        assert (
            sessions.update_session(
                session=session, kind="interview", id="missing", payload={}, expected_version=1
            )
            is None
        )
        assert sessions.delete_session(session=session, kind="other", id=key)
        assert sessions.get_session(session=session, kind="other", id=key) is None


def test_expired_sessions_vanish_and_can_be_reused(database: Database) -> None:
    gone = dt.timedelta(seconds=-1)
    with database.transaction() as session:
        sessions.put_session(session=session, kind="interview", id="old", payload={"a": 1}, ttl=gone)
        sessions.put_session(
            session=session, kind="interview", id="live", payload={"a": 2}, ttl=dt.timedelta(hours=1)
        )
    with database.transaction() as session:
        assert sessions.get_session(session=session, kind="interview", id="old") is None
        assert (
            sessions.update_session(
                session=session, kind="interview", id="old", payload={}, expected_version=1
            )
            is None
        )
        fresh = sessions.put_session(
            session=session, kind="interview", id="old", payload={"a": 3}, ttl=dt.timedelta(hours=1)
        )
        assert fresh.version == 1
    with database.transaction() as session:
        sessions.put_session(session=session, kind="jwt-jti", id="j", payload={}, ttl=gone)
        assert sessions.purge_expired(session=session) == 1
        assert sessions.get_session(session=session, kind="interview", id="live") is not None


def test_claim_once_is_a_replay_cache(database: Database) -> None:
    ttl = dt.timedelta(minutes=5)
    with database.transaction() as session:
        assert sessions.claim_once(session=session, kind="jwt-jti", id="jti-1", ttl=ttl)
        assert not sessions.claim_once(session=session, kind="jwt-jti", id="jti-1", ttl=ttl)
        assert sessions.claim_once(session=session, kind="jwt-jti", id="jti-2", ttl=ttl)
    with database.transaction() as session:  # remembered across transactions (and workers)
        assert not sessions.claim_once(session=session, kind="jwt-jti", id="jti-1", ttl=ttl)
    with database.transaction() as session:  # forgotten once expired: the stale row is replaced
        assert sessions.claim_once(session=session, kind="jwt-jti", id="jti-3", ttl=-ttl)
        assert sessions.claim_once(session=session, kind="jwt-jti", id="jti-3", ttl=ttl)
        assert not sessions.claim_once(session=session, kind="jwt-jti", id="jti-3", ttl=ttl)


def test_concurrent_claims_admit_exactly_one(database: Database) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait()
        with database.transaction() as session:
            results.append(
                sessions.claim_once(session=session, kind="jwt-jti", id="race", ttl=dt.timedelta(minutes=5))
            )

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]


def test_patient_enumerations_match_the_case_contract() -> None:
    def values(tp: Any) -> set[str]:
        return {str(v) for v in get_args(tp)}

    allowed = engine_case._ALLOWED
    assert values(storage_schemas.Procedure) == set(allowed["surgery.procedure"])
    assert values(storage_schemas.Approach) == set(allowed["surgery.approach"])
    assert values(storage_schemas.Route) == set(allowed["surgery.route"])
    assert values(storage_schemas.Sex) == set(allowed["sex"])


def test_values_the_database_refuses_raise_invalid_value(database: Database, backend: str) -> None:
    """PostgreSQL refuses NUL in text and JSON: a clear InvalidValue (HTTP 422), not a driver error."""
    payload = {"note": "a\x00b"}
    if backend == "postgresql":
        with pytest.raises(InvalidValue), database.transaction() as session:
            repository.create_organisation(session=session, name="nul\x00name")
        with pytest.raises(InvalidValue), database.transaction() as session:
            sessions.put_session(
                session=session, kind="interview", payload=payload, ttl=dt.timedelta(minutes=1)
            )
    else:  # SQLite stores them as given
        with database.transaction() as session:
            row = sessions.put_session(
                session=session, kind="interview", payload=payload, ttl=dt.timedelta(minutes=1)
            )
            assert row.payload == payload


def test_deferred_inserts_write_one_statement_per_table_parents_first(database: Database) -> None:
    meta = MetaData()
    parent = Table("t_parent", meta, Column("id", Integer, primary_key=True))
    child = Table(
        "t_child",
        meta,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("t_parent.id"), nullable=False),
    )
    statements: list[tuple[str, int]] = []
    with database.engine.begin() as conn:
        meta.create_all(conn)
    try:

        @event.listens_for(database.engine, "before_cursor_execute")
        def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, executemany: bool) -> None:
            if "t_parent" in sql or "t_child" in sql:
                statements.append((sql.split("(")[0].strip(), len(params) if executemany else 1))

        insert_parent, insert_child = insert(parent), insert(child)
        with database.connection() as conn:
            inserts = Inserts(conn, deferred=True, order=(insert_parent, insert_child))
            for i in range(3):  # each call adds its child before its parent: the order still holds
                inserts.add(insert_child, {"id": 10 + i, "parent_id": i})
                inserts.add(insert_parent, {"id": i})
            assert statements == []  # nothing written before the flush
            inserts.flush()
        assert statements == [("INSERT INTO t_parent", 3), ("INSERT INTO t_child", 3)]
        statements.clear()
        with database.connection() as conn:
            immediate = Inserts(conn, deferred=False)
            immediate.add(insert_parent, {"id": 7})
            assert statements == [("INSERT INTO t_parent", 1)]
        event.remove(database.engine, "before_cursor_execute", record)
        with database.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(child)).scalar() == 3
    finally:
        with database.engine.begin() as conn:
            meta.drop_all(conn)
