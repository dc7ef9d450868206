"""A key/value store with expiry, for state that must outlive one request.

The service keeps no state in memory, so several workers (or hosts) can share one database;
whatever a later request needs is kept here. Rows are namespaced by ``kind``:

- an interview in progress (``kind="interview"``): ``put_session`` at the first question,
  ``get_session`` + ``update_session(expected_version=...)`` for each answer;
- a replay cache (``kind="jwt-jti"``): ``claim_once`` is true the first time an id is seen
  and false while it is remembered.

``update_session`` is optimistic: it succeeds only if the row still has the version the
caller read, so two workers answering the same interview cannot overwrite each other.
Expired rows are invisible at once and deleted by ``purge_expired`` (any worker may run it).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import sqlite3
import uuid
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rootcause.storage.errors import Conflict, StaleVersion
from rootcause.storage.models import StoredSession, utcnow


def put_session(
    *,
    session: Session,
    kind: str,
    payload: dict[str, Any],
    ttl: dt.timedelta,
    id: str | None = None,
    organisation_id: uuid.UUID | None = None,
) -> StoredSession:
    """Create a row (a random id unless given); ``Conflict`` if a live row has that id."""
    key = id or secrets.token_urlsafe(24)
    if not _insert_live(session, kind, key, payload, ttl, organisation_id):
        raise Conflict("id", f"a {kind} session with this id already exists")
    row = session.get(StoredSession, (kind, key), populate_existing=True)
    assert row is not None
    return row


_COLUMNS = ("kind", "id", "organisation_id", "payload", "created_at", "updated_at", "expires_at", "version")


@functools.cache
def _claim_statement(dialect: str) -> Executable | None:
    """``INSERT … ON CONFLICT (kind, id) DO UPDATE … WHERE the row in the way has expired
    RETURNING version``: a row back means claimed (inserted, or an expired row replaced), none
    means a live row holds the key. One atomic statement, no savepoint; built once per dialect."""
    upserts: dict[str, Any] = {"postgresql": postgresql.insert}
    if sqlite3.sqlite_version_info >= (3, 35):  # RETURNING needs SQLite 3.35
        upserts["sqlite"] = sqlite.insert
    insert = upserts.get(dialect)
    if insert is None:
        return None
    statement = insert(StoredSession).values({c: bindparam(c) for c in _COLUMNS})
    claimed: Executable = statement.on_conflict_do_update(
        index_elements=[StoredSession.kind, StoredSession.id],
        set_={c: statement.excluded[c] for c in _COLUMNS[2:]},
        where=StoredSession.expires_at <= bindparam("now"),
    ).returning(StoredSession.version)
    return claimed


def _insert_live(
    session: Session | Connection,
    kind: str,
    key: str,
    payload: dict[str, Any],
    ttl: dt.timedelta,
    organisation_id: uuid.UUID | None,
) -> bool:
    """Insert the row; false if a live row has the key. An expired one in the way is replaced."""
    now = utcnow()
    values = {
        "kind": kind,
        "id": key,
        "organisation_id": organisation_id,
        "payload": payload,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + ttl,
        "version": 1,
    }
    if isinstance(session, Session):
        session.flush()  # pending rows this one may refer to (its organisation)
        conn = session.connection()
    else:
        conn = session
    stmt = _claim_statement(conn.dialect.name)
    if stmt is not None:
        return conn.execute(stmt, {**values, "now": now}).first() is not None
    for attempt in range(2):  # other dialects: insert, and on a collision delete an expired row
        try:
            with conn.begin_nested():
                conn.execute(insert(StoredSession).values(**values))
            return True
        except IntegrityError:
            if attempt == 0:
                _delete_expired(conn, kind, key, now)
    return False


def get_session(*, session: Session, kind: str, id: str) -> StoredSession | None:
    """The live row, or ``None`` if it does not exist or has expired."""
    return session.scalars(
        select(StoredSession).where(
            StoredSession.kind == kind, StoredSession.id == id, StoredSession.expires_at > utcnow()
        )
    ).first()


def update_session(
    *,
    session: Session,
    kind: str,
    id: str,
    payload: dict[str, Any],
    expected_version: int,
    ttl: dt.timedelta | None = None,
) -> StoredSession | None:
    """Replace the payload if the row is still at ``expected_version``.

    Returns the updated row, ``None`` if it does not exist (or expired), and raises
    ``StaleVersion`` if someone else changed it first.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "payload": payload,
        "version": StoredSession.version + 1,
        "updated_at": now,
    }
    if ttl is not None:
        values["expires_at"] = now + ttl
    live = (StoredSession.kind == kind, StoredSession.id == id, StoredSession.expires_at > now)
    done = session.execute(
        update(StoredSession)
        .where(*live, StoredSession.version == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) == 1:
        session.expire_all()
        return get_session(session=session, kind=kind, id=id)
    current = session.scalars(select(StoredSession.version).where(*live)).first()
    if current is None:
        return None
    raise StaleVersion(kind, expected_version, current)


def delete_session(*, session: Session, kind: str, id: str) -> bool:
    done = session.execute(delete(StoredSession).where(StoredSession.kind == kind, StoredSession.id == id))
    return bool(getattr(done, "rowcount", 0))


def claim_once(
    *,
    session: Session | Connection,
    kind: str,
    id: str,
    ttl: dt.timedelta,
    organisation_id: uuid.UUID | None = None,
) -> bool:
    """True the first time ``id`` is claimed within ``ttl``; false while it is remembered.
    Takes an ORM session or a Core connection (one statement either way)."""
    return _insert_live(session, kind, id, {}, ttl, organisation_id)


def purge_expired(*, session: Session | Connection, kind: str | None = None) -> int:
    """Delete expired rows (of one kind, or all); returns how many."""
    where = [StoredSession.expires_at <= utcnow()]
    if kind is not None:
        where.append(StoredSession.kind == kind)
    done = session.execute(delete(StoredSession).where(*where))
    return int(getattr(done, "rowcount", 0))


def _delete_expired(session: Session | Connection, kind: str, key: str, now: dt.datetime) -> None:
    session.execute(
        delete(StoredSession).where(
            StoredSession.kind == kind, StoredSession.id == key, StoredSession.expires_at <= now
        )
    )
