"""Browser logins: an API key exchanged for a server-side session in the database.

The login page takes an API key (the same keys as the REST API), checks it, and stores a row
of kind ``web-login`` in the ``sessions`` table: the key's id, organisation and role, and a
CSRF token, expiring after ``LOGIN_TTL``. The browser gets only a random session token in an
``HttpOnly; SameSite=Strict`` cookie (``Secure`` over HTTPS); the database keeps its SHA-256,
never the token or the API key. Any worker can therefore serve any page, logging out deletes
the row, and revoking the API key ends its browser sessions at the next request.

Every form that changes something carries the session's CSRF token (checked here) on top of
the SameSite cookie.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from rootcause.service.deps import DatabaseDep
from rootcause.storage import Database, repository, sessions
from rootcause.storage.schemas import Actor

COOKIE = "rootcause_session"
KIND = "web-login"
LOGIN_TTL = dt.timedelta(hours=12)


class LoginRequired(Exception):
    """No valid browser session: the page redirects to /login (handled in ``rootcause.web``)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class CsrfFailed(Exception):
    """A form without the session's CSRF token (403)."""


@dataclasses.dataclass(frozen=True)
class WebUser:
    actor: Actor
    csrf: str
    organisation_name: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def safe_next(target: str | None) -> str:
    """Only local paths: '/patients' yes; 'https://evil', '//evil', '/\\evil' no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def log_in(database: Database, presented: str) -> str | None:
    """Check the key; on success store a login and return the cookie token, else ``None``."""
    token = secrets.token_urlsafe(32)
    with database.transaction() as db:
        actor = repository.authenticate(session=db, presented=presented.strip())
        if actor is None:
            return None
        sessions.put_session(
            session=db,
            kind=KIND,
            id=_digest(token),
            payload={
                "key_id": actor.key_id,
                "organisation_id": str(actor.organisation_id),
                "role": actor.role,
                "csrf": secrets.token_urlsafe(24),
            },
            ttl=LOGIN_TTL,
            organisation_id=actor.organisation_id,
        )
        repository.record_audit(
            session=db, actor=actor, action="web.login", resource_type="api_key", resource_id=actor.key_id
        )
    return token


def log_out(database: Database, token: str) -> None:
    with database.transaction() as db:
        sessions.delete_session(session=db, kind=KIND, id=_digest(token))


def _resolve(database: Database, token: str, request_id: str | None) -> WebUser | None:
    with database.transaction(readonly=True) as db:
        row = sessions.get_session(session=db, kind=KIND, id=_digest(token))
        if row is None:
            return None
        payload = row.payload
        key = repository.get_api_key(session=db, key_id=str(payload.get("key_id")))
        if key is None or key.revoked_at is not None:
            return None
        org = repository.get_organisation(session=db, organisation_id=key.organisation_id)
        actor = Actor(
            key_id=key.id,
            organisation_id=key.organisation_id,
            role="admin" if key.role == "admin" else "clinician",
            request_id=request_id,
        )
        if str(actor.organisation_id) != str(payload.get("organisation_id")):
            return None
        return WebUser(actor, str(payload.get("csrf", "")), org.name if org else "")


async def current_user(request: Request, database: DatabaseDep) -> WebUser | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    return await run_in_threadpool(_resolve, database, token, request.scope.get("rootcause.request_id"))


async def require_user(request: Request, user: Annotated[WebUser | None, Depends(current_user)]) -> WebUser:
    if user is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path if request.method == "GET" else "/")
    return user


MaybeUser = Annotated[WebUser | None, Depends(current_user)]
UserDep = Annotated[WebUser, Depends(require_user)]


def check_csrf(user: WebUser, presented: object) -> None:
    if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), user.csrf.encode()):
        raise CsrfFailed()


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
