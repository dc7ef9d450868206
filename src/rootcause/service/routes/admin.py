"""Who am I, and administration: organisations, API keys and the audit log.

An admin key manages the keys and reads the audit log of its own organisation only. It may
also create new organisations (each with a first admin key); it cannot act inside another
organisation. Keys are shown once, at creation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from rootcause.service.deps import ActorDep, AdminDep, DatabaseDep, StateDep
from rootcause.service.models import ApiKeyCreate, Me, OrganisationCreate, OrganisationCreated, Page
from rootcause.service.openapi import errors
from rootcause.service.problems import not_found
from rootcause.storage import repository
from rootcause.storage.schemas import ApiKeyCreated, ApiKeyPublic, AuditEventPublic, OrganisationPublic

router = APIRouter(prefix="/v1", tags=["admin"])
ADMIN = errors(401, 403, 422, 503)
ADMIN_BODY = errors(400, 401, 403, 409, 413, 422, 503)


@router.get(
    "/me",
    summary="The calling key, its role and organisation",
    response_model=Me,
    tags=["account"],
    responses=errors(401, 503),
)
def me(actor: ActorDep, db: DatabaseDep) -> Me:
    with db.transaction(readonly=True) as session:
        org = repository.get_organisation(session=session, organisation_id=actor.organisation_id)
        name = org.name if org else ""
    return Me(
        key_id=actor.key_id, role=actor.role, organisation_id=actor.organisation_id, organisation_name=name
    )


@router.post(
    "/admin/organisations",
    status_code=201,
    summary="Create an organisation and its first admin key",
    response_model=OrganisationCreated,
    responses=ADMIN_BODY,
)
def create_organisation(data: OrganisationCreate, actor: AdminDep, db: DatabaseDep) -> OrganisationCreated:
    """The new organisation starts empty; its admin key (shown once) creates its other keys."""
    with db.transaction() as session:
        org = repository.create_organisation(session=session, name=data.name, actor=actor)
        row, key = repository.create_api_key(
            session=session, organisation_id=org.id, role="admin", name="first admin key", actor=actor
        )
        public = repository.api_key_public(row)
        return OrganisationCreated(
            organisation=OrganisationPublic.model_validate(org, from_attributes=True),
            admin_key=ApiKeyCreated(**public.model_dump(), key=key),
        )


@router.post(
    "/admin/keys",
    status_code=201,
    summary="Create an API key in your organisation (shown once)",
    response_model=ApiKeyCreated,
    responses=ADMIN_BODY,
)
def create_key(data: ApiKeyCreate, actor: AdminDep, db: DatabaseDep) -> ApiKeyCreated:
    with db.transaction() as session:
        row, key = repository.create_api_key(
            session=session,
            organisation_id=actor.organisation_id,
            role=data.role,
            name=data.name,
            actor=actor,
        )
        return ApiKeyCreated(**repository.api_key_public(row).model_dump(), key=key)


@router.get(
    "/admin/keys",
    summary="Your organisation's API keys (no secrets)",
    response_model=list[ApiKeyPublic],
    responses=ADMIN,
)
def list_keys(actor: AdminDep, db: DatabaseDep) -> list[ApiKeyPublic]:
    with db.transaction() as session:
        return [repository.api_key_public(r) for r in repository.list_api_keys(session=session, actor=actor)]


@router.delete(
    "/admin/keys/{key_id}",
    status_code=204,
    summary="Revoke an API key of your organisation",
    response_class=Response,
    responses=errors(401, 403, 404, 422, 503),
)
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z0-9]+$")],
    actor: AdminDep,
    db: DatabaseDep,
    state: StateDep,
) -> Response:
    """Takes effect at once in this worker, and within ROOTCAUSE_KEY_CACHE_SECONDS in others."""
    with db.transaction() as session:
        row = repository.revoke_api_key(session=session, actor=actor, key_id=key_id)
        if row is None:
            raise not_found("API key")
    state.keys.evict_key_id(key_id)
    return Response(status_code=204)


@router.get(
    "/admin/audit",
    summary="Your organisation's audit log, newest first",
    response_model=Page[AuditEventPublic],
    responses=ADMIN,
)
def list_audit(
    actor: AdminDep,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[AuditEventPublic]:
    with db.transaction() as session:
        items, total = repository.list_audit(session=session, actor=actor, limit=limit, offset=offset)
    return Page[AuditEventPublic](items=items, total=total, limit=limit, offset=offset)
