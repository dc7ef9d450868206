"""Liveness and readiness: open (no key), for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from rootcause.service.deps import StateDep
from rootcause.service.openapi import PROBLEM_503
from rootcause.service.problems import ProblemError
from rootcause.storage import Database, DatabaseUnavailable

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    knowledge_base_version: str


class Ready(BaseModel):
    status: str
    database: str
    schema_revision: str | None


@router.get("/health", response_model=Health, summary="Liveness (no database)")
async def health(state: StateDep) -> Health:
    """The process is up and the knowledge base is loaded. Does not touch the database."""
    return Health(
        status="ok",
        version=state.software_version,
        knowledge_base_version=state.engine.version,
    )


def _check(database: Database) -> str | None:
    database.ping()
    return database.current_revision()


@router.get("/ready", response_model=Ready, summary="Readiness (checks the database)", responses=PROBLEM_503)
async def ready(state: StateDep) -> Ready:
    """Ready to serve: the database answers and its schema is at the shipped migration."""
    try:
        await run_in_threadpool(state.migrate)
        revision = await run_in_threadpool(_check, state.database)
    except DatabaseUnavailable:
        raise ProblemError(
            503,
            "the database is unavailable",
            slug="database-unavailable",
            title="Service unavailable",
            headers={"Retry-After": "5"},
        ) from None
    head = Database.head_revision()
    if revision != head:
        raise ProblemError(
            503,
            f"the database schema is at {revision}, expected {head}; run `rootcause db upgrade`",
            slug="schema-outdated",
            title="Service unavailable",
        )
    return Ready(status="ready", database=state.database.dialect, schema_revision=revision)
