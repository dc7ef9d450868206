"""Read-only views of the knowledge base the engine runs on (``engine.kb``).

The knowledge base is immutable while the process runs, so each response is serialised once
and then served from memory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Path
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.knowledge.schema import Condition, Finding, ProcedureInfo, Reference
from rootcause.service.deps import ActorDep, EngineDep, StateDep
from rootcause.service.models import ConditionSummary, KnowledgeIndex, TreatmentEntry
from rootcause.service.openapi import AUTHED, errors
from rootcause.service.problems import FieldError, ProblemError
from rootcause.service.state import ServiceState

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
ID = r"^[a-z][a-z0-9_]*$"


def _cached(state: ServiceState, key: str, build: Callable[[], Any]) -> Response:
    body = state.cache.get(key)
    if body is None:
        body = orjson.dumps(build())
        state.cache[key] = body
    return Response(body, media_type="application/json", headers={"ETag": f'"{state.engine.version}"'})


def _unknown(kind: str, field: str, value: str, options: list[str]) -> ProblemError:
    return ProblemError(
        404,
        f"no {kind} with this id",
        slug="not-found",
        title="Not found",
        errors=[
            FieldError(
                field=field,
                message=f"unknown {kind} id",
                suggestions=difflib.get_close_matches(value, options, n=3, cutoff=0.5),
            )
        ],
    )


def _index(engine: Engine) -> dict[str, Any]:
    kb = engine.kb
    return {
        "knowledge_base_version": kb.version,
        "title": kb.manifest.title,
        "disclaimer": kb.manifest.disclaimer,
        "counts": {
            "conditions": len(kb.conditions),
            "findings": len(kb.findings),
            "treatments": sum(len(c.treatments) for c in kb.conditions),
            "sources": len(kb.references),
            "procedures": len(kb.procedures),
            "triage_rules": len(kb.triage.rules),
        },
    }


@router.get(
    "",
    summary="Knowledge base version and counts",
    response_class=Response,
    responses={200: {"model": KnowledgeIndex, "description": "Version and counts"}, **AUTHED},
)
async def knowledge_index(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    return _cached(state, "index", lambda: _index(engine))


@router.get(
    "/conditions",
    summary="List the causes (conditions)",
    response_class=Response,
    responses={200: {"model": list[ConditionSummary], "description": "Every condition"}, **AUTHED},
)
async def list_conditions(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    def build() -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "name": c.name,
                "group": c.group,
                "rare": c.rare,
                "urgency": c.urgency.level,
                "clinician_description": c.clinician_description,
                "patient_description": c.patient_description,
            }
            for c in engine.kb.conditions
        ]

    return _cached(state, "conditions", build)


@router.get(
    "/conditions/{condition_id}",
    summary="One condition with its priors, likelihoods, timing, treatments and sources",
    response_class=Response,
    responses={200: {"model": Condition, "description": "The condition"}, **errors(401, 404, 422, 503)},
)
async def get_condition(
    actor: ActorDep,
    state: StateDep,
    engine: EngineDep,
    condition_id: str = Path(max_length=64, pattern=ID, examples=["epidural_fibrosis"]),
) -> Response:
    ids = engine.kb.condition_ids
    if condition_id not in ids:
        raise _unknown("condition", "condition_id", condition_id, ids)
    return _cached(
        state, f"condition:{condition_id}", lambda: engine.kb.condition(condition_id).model_dump(mode="json")
    )


@router.get(
    "/findings",
    summary="List the findings (symptoms, signs, tests)",
    response_class=Response,
    responses={200: {"model": list[Finding], "description": "Every finding"}, **AUTHED},
)
async def list_findings(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    return _cached(state, "findings", lambda: [f.model_dump(mode="json") for f in engine.kb.findings])


@router.get(
    "/findings/{finding_id}",
    summary="One finding",
    response_class=Response,
    responses={200: {"model": Finding, "description": "The finding"}, **errors(401, 404, 422, 503)},
)
async def get_finding(
    actor: ActorDep,
    state: StateDep,
    engine: EngineDep,
    finding_id: str = Path(max_length=64, pattern=ID, examples=["slr_positive"]),
) -> Response:
    ids = engine.kb.finding_ids
    if finding_id not in ids:
        raise _unknown("finding", "finding_id", finding_id, ids)
    return _cached(
        state, f"finding:{finding_id}", lambda: engine.kb.finding(finding_id).model_dump(mode="json")
    )


@router.get(
    "/treatments",
    summary="List the treatment options of every condition",
    response_class=Response,
    responses={
        200: {"model": list[TreatmentEntry], "description": "Treatments with their condition"},
        **AUTHED,
    },
)
async def list_treatments(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    def build() -> list[dict[str, Any]]:
        return [
            {"condition": c.id, "condition_name": c.name, **t.model_dump(mode="json")}
            for c in engine.kb.conditions
            for t in c.treatments
        ]

    return _cached(state, "treatments", build)


@router.get(
    "/sources",
    summary="List the references every number cites",
    response_class=Response,
    responses={200: {"model": list[Reference], "description": "References"}, **AUTHED},
)
async def list_sources(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    return _cached(
        state, "sources", lambda: [r.model_dump(mode="json") for r in engine.kb.references.values()]
    )


@router.get(
    "/procedures",
    summary="List the surgical procedure categories",
    response_class=Response,
    responses={200: {"model": list[ProcedureInfo], "description": "Procedures"}, **AUTHED},
)
async def list_procedures(actor: ActorDep, state: StateDep, engine: EngineDep) -> Response:
    return _cached(
        state, "procedures", lambda: [p.model_dump(mode="json") for p in engine.kb.procedures.values()]
    )
