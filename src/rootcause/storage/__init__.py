"""Persistence: patients, assessments, pain scores, API keys, the audit log and sessions.

    from rootcause.storage import Database, repository, sessions
    db = Database(settings.sqlalchemy_url)        # SQLite file or postgresql+psycopg://…
    db.upgrade()                                  # Alembic migrations shipped in the package
    with db.transaction() as session:             # one unit of work
        patient = repository.get_patient(session=session, actor=actor, patient_id=pid)

Modules: ``models`` (tables), ``db`` (engine, unit of work, migrations), ``repository``
(scoped, audited reads and writes), ``sessions`` (key/value with expiry and optimistic
locking), ``cases`` (patient record → case), ``schemas`` (inputs and outputs), ``keys``
(API key format and hashing), ``errors``.
"""

from rootcause.storage.db import Database
from rootcause.storage.errors import Conflict, DatabaseUnavailable, InvalidValue, StaleVersion, StorageError
from rootcause.storage.schemas import Actor

__all__ = [
    "Actor",
    "Conflict",
    "Database",
    "DatabaseUnavailable",
    "InvalidValue",
    "StaleVersion",
    "StorageError",
]
