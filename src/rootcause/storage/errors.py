"""Errors the storage layer raises on purpose (all are ``RootcauseError``s).

    RootcauseError
    └── StorageError
        ├── DatabaseUnavailable   the database cannot be reached or is locked; retry later (HTTP 503)
        ├── Conflict              a unique value is already taken, e.g. a patient's external id (HTTP 409)
        ├── InvalidValue          the database refused a value, e.g. text with a NUL character (HTTP 422)
        └── StaleVersion          optimistic locking: the row changed since it was read (HTTP 409)

Messages never contain patient data or driver text (which can quote SQL parameters).
"""

from __future__ import annotations

from rootcause.errors import RootcauseError


class StorageError(RootcauseError):
    """Base of every deliberate storage error."""


class DatabaseUnavailable(StorageError):
    def __init__(self, reason: str = "the database is unavailable") -> None:
        self.reason = reason
        super().__init__(reason)


class Conflict(StorageError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InvalidValue(StorageError):
    def __init__(
        self, reason: str = "a value cannot be stored (for example text with a NUL character)"
    ) -> None:
        self.reason = reason
        super().__init__(reason)


class StaleVersion(StorageError):
    def __init__(self, kind: str, expected: int, actual: int | None) -> None:
        self.kind = kind
        self.expected = expected
        self.actual = actual
        super().__init__(f"{kind} was changed by someone else (expected version {expected}, found {actual})")
