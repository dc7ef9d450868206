"""The database handle: connection pool, unit of work and migrations.

    db = Database("sqlite:///rootcause.sqlite3")     # or postgresql+psycopg://user@host/db
    db.upgrade()                                     # apply Alembic migrations (idempotent)
    with db.transaction() as session:                # one unit of work: commit or roll back whole
        repository.create_patient(session=session, actor=actor, data=...)

Creating a ``Database`` opens no connection. Driver errors that mean "cannot reach or lock the
database" become ``DatabaseUnavailable``, values the database refuses become ``InvalidValue``
(neither carries driver text, which can quote SQL parameters).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Executable, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from rootcause.storage.errors import DatabaseUnavailable, InvalidValue

UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
"""Driver errors meaning the database cannot be used now (refused, gone, locked, pool exhausted)."""

MIGRATION_LOCK_ID = 0x726F6F74  # pg_advisory_lock key: "root"


def migrations_dir() -> Path:
    return Path(str(resources.files("rootcause.storage").joinpath("migrations")))


class JsonText(str):
    """A value for a JSON column that is already JSON text (e.g. from ``orjson.dumps``): stored as
    it is, not serialized again."""


def json_dumps(value: Any) -> str:
    """JSON column values as text: orjson (several times faster than ``json.dumps``), and
    ``json.dumps`` for what orjson refuses (integers beyond 64 bits, for one). A ``JsonText``
    is JSON already and passes through."""
    if isinstance(value, JsonText):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


class Inserts:
    """The Core inserts of one transaction. ``deferred``: each statement runs once, at ``flush``, for
    all its rows (one executemany), in the statements' ``order`` (parents before children), so a
    group commit writes a statement per table instead of one per call. Otherwise each runs at once.
    Rows of a statement missing from ``order`` are written after the others, in the order first seen."""

    def __init__(self, conn: Connection, *, deferred: bool, order: Sequence[Executable] = ()) -> None:
        self.conn = conn
        self.deferred = deferred
        self.facts: dict[str, Any] = {}
        """What earlier writes of this transaction established, for later ones (gone with it)."""
        self._rank = {id(statement): i for i, statement in enumerate(order)}
        self._rows: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}

    def add(self, statement: Executable, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
        if not self.deferred:
            self.conn.execute(statement, rows)
            return
        pending = self._rows.setdefault(id(statement), (statement, []))[1]
        if isinstance(rows, dict):
            pending.append(rows)
        else:
            pending += rows

    def flush(self) -> None:
        pending = sorted(self._rows.items(), key=lambda kv: self._rank.get(kv[0], len(self._rank)))
        self._rows = {}
        for _, (statement, rows) in pending:
            if rows:
                self.conn.execute(statement, rows)


def json_loads(text: str | bytes) -> Any:
    """JSON column values from text: orjson, and ``json.loads`` for what orjson refuses (``NaN``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    """Real transactions on pysqlite: BEGIN IMMEDIATE (write lock up front, so concurrent
    writers wait for each other instead of failing), WAL, foreign keys, a busy timeout."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("rootcause_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Database:
    """A SQLAlchemy engine and session factory for one database URL."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        pool_size: int = 5,
        max_overflow: int = 10,
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {
            "pool_pre_ping": self.dialect != "sqlite",
            "json_serializer": json_dumps,
            "json_deserializer": json_loads,
        }
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": connect_timeout}
        elif self.dialect == "postgresql":
            kwargs.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=connect_timeout,
                connect_args={"connect_timeout": max(1, round(connect_timeout))},
            )
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_hooks(self.engine, int(connect_timeout * 1000))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readonly = sessionmaker(
            self.engine.execution_options(rootcause_readonly=True), expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """One unit of work: everything done with the session commits together or not at all."""
        session = (self._readonly if readonly else self._sessions)()
        try:
            with session.begin():
                yield session
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc
        except sa_exc.DataError as exc:
            raise InvalidValue() from exc
        finally:
            session.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """One unit of work on a Core connection, for hot paths that write with Core statements
        (no ORM session: less CPU per statement). Commits on success, rolls back on any error;
        errors are mapped as in ``transaction``."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc
        except sa_exc.DataError as exc:
            raise InvalidValue() from exc

    def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless a trivial query succeeds."""
        try:
            with self.engine.connect().execution_options(rootcause_readonly=True) as conn:
                conn.execute(text("SELECT 1"))
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ migrations

    def _alembic_config(self, connection: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        config.attributes["connection"] = connection
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``; safe to run from several processes at once."""
        from alembic import command

        if self.dialect == "sqlite":
            path = self.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_ID})
                command.upgrade(self._alembic_config(conn), revision)
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect().execution_options(rootcause_readonly=True) as conn:
                rev: str | None = MigrationContext.configure(conn).get_current_revision()
                return rev
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable() from exc

    @staticmethod
    def head_revision() -> str | None:
        """The newest migration shipped with this version of rootcause."""
        return _head_revision()


@functools.cache
def _head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    head: str | None = ScriptDirectory.from_config(config).get_current_head()
    return head
