"""Dependencies for routes, as ``Annotated`` aliases (full-stack-fastapi-template style).

They are ``async`` so FastAPI runs them on the event loop: a sync dependency would cost a
thread-pool round trip on every request. Anything that may block runs in the thread pool.

    def handler(state: StateDep, actor: ActorDep, db: DatabaseDep) -> ...

Authentication: an API key in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. Every
/v1 route except /v1/health and /v1/ready needs one; admin routes need an admin key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from rootcause.engine.assess import Engine
from rootcause.service.problems import FieldError, ProblemError, invalid_request
from rootcause.service.settings import Settings
from rootcause.service.state import ServiceState
from rootcause.storage import Database, repository
from rootcause.storage.schemas import Actor

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`rc_…`), created with `rootcause keys create` or POST /v1/admin/keys.",
)
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer", description="The same API key as a bearer token.")


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.rootcause
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_engine(request: Request) -> Engine:
    state: ServiceState = request.app.state.rootcause
    if not state.engine_loaded:
        return await run_in_threadpool(lambda: state.engine)
    return state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def get_database(state: StateDep) -> Database:
    """The database, migrated (retried here if it was down at start-up)."""
    if not state.migrated:
        await run_in_threadpool(state.migrate)
    return state.database


DatabaseDep = Annotated[Database, Depends(get_database)]


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        detail,
        slug="unauthorized",
        title="Unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="rootcause"'},
    )


def _lookup(state: ServiceState, presented: str) -> Actor | None:
    state.migrate()
    with state.database.transaction(readonly=True) as session:
        return repository.authenticate(session=session, presented=presented)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key from ``X-API-Key``, else from ``Authorization: Bearer`` (scheme case-insensitive)."""
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def get_actor(request: Request) -> Actor:
    """The caller, from its API key.

    The headers are read here rather than through ``Security(api_key_header)`` and
    ``Security(bearer)``: two fewer dependencies to solve on every request (FastAPI re-inspects
    each one per call). The OpenAPI document still declares both schemes on every route that
    depends on this (``openapi.build_openapi``).
    """
    presented = presented_key(request.headers)
    if not presented:
        raise _unauthorized("an API key is required: send X-API-Key: <key> or Authorization: Bearer <key>")
    state: ServiceState = request.app.state.rootcause
    actor = state.keys.get(presented)
    if actor is None:
        actor = await run_in_threadpool(_lookup, state, presented)
        if actor is None:
            raise _unauthorized("the API key is not valid (unknown, revoked or mistyped)")
        state.keys.put(presented, actor)
    return dataclasses.replace(actor, request_id=request.scope.get("rootcause.request_id"))


AUTH_SCHEMES = (api_key_header, bearer)
"""The security schemes ``get_actor`` accepts, for the OpenAPI document."""

ActorDep = Annotated[Actor, Depends(get_actor)]


async def require_admin(actor: ActorDep) -> Actor:
    if actor.role != "admin":
        raise ProblemError(403, "this needs an admin API key", slug="forbidden", title="Forbidden")
    return actor


AdminDep = Annotated[Actor, Depends(require_admin)]


async def read_json_body(request: Request) -> Any:
    """The decoded JSON body, for routes whose body the engine validates (400 if malformed)."""
    return parse_json_body(await request.body())


def parse_json_body(body: bytes) -> Any:
    """``read_json_body`` for a body already read: the decoded JSON, or the same 422/400 problems."""
    if not body.strip():
        raise invalid_request(
            "a JSON body is required",
            [FieldError(field="(body)", message="a JSON body is required")],
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProblemError(
            400,
            "the request body is not valid JSON",
            slug="malformed-json",
            title="Malformed JSON",
            errors=[FieldError(field="(json)", message="malformed JSON")],
        ) from None


JsonBody = Annotated[Any, Depends(read_json_body)]
