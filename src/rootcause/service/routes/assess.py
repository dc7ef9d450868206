"""Assess cases without storing anything: one case, or a batch with per-item errors.

A key is required (any role) so that use is attributable, but nothing about the case is
stored or logged.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.engine.case import Case
from rootcause.errors import CaseError
from rootcause.service.deps import ActorDep, EngineDep, JsonBody, SettingsDep, StateDep
from rootcause.service.models import AssessmentResult, BatchResult
from rootcause.service.openapi import WITH_BODY, json_body
from rootcause.service.problems import FieldError, ProblemError, field_errors, invalid_request

router = APIRouter(prefix="/v1", tags=["assess"])
Explain = Annotated[
    bool,
    Query(
        description="false leaves out `explanations` and `treatments` (about half the CPU time); "
        "the differential, triage and next steps are the same"
    ),
]
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, option=JSON_OPTIONS), status_code=status, media_type="application/json")


@router.post(
    "/assess",
    summary="Assess one case",
    response_class=Response,
    responses={200: {"model": AssessmentResult, "description": "The assessment"}, **WITH_BODY},
    openapi_extra=json_body("Case", description="one case (spec/case-format.md §1)"),
)
async def assess(
    body: JsonBody, actor: ActorDep, engine: EngineDep, state: StateDep, explain: Explain = True
) -> Response:
    """Differential, triage, next steps, explanations and treatments for one case.

    Invalid cases get 422 with one entry in `errors` per bad field (and suggestions for
    mistyped finding ids). Nothing is stored.
    """
    case = engine.parse(body)
    result = await state.batcher.assess(case, explain=explain)
    return json_response(result.to_dict())


def _assess_batch(engine: Engine, cases: list[Any], explain: bool) -> dict[str, Any]:
    parsed: list[tuple[int, Case]] = []
    items: list[dict[str, Any] | None] = [None] * len(cases)
    for i, raw in enumerate(cases):
        try:
            parsed.append((i, engine.parse(raw)))
        except CaseError as exc:
            items[i] = {
                "index": i,
                "ok": False,
                "result": None,
                "errors": [e.model_dump() for e in field_errors(exc.problems)],
            }
    if parsed:
        results = engine.assess_many([c for _, c in parsed], explain=explain, validated=True)
        for (i, _), result in zip(parsed, results, strict=True):
            items[i] = {"index": i, "ok": True, "result": result.to_dict(), "errors": []}
    failed = sum(1 for item in items if item is not None and not item["ok"])
    return {"count": len(cases), "failed": failed, "results": items}


@router.post(
    "/assess/batch",
    summary="Assess a batch of cases",
    response_class=Response,
    responses={
        200: {"model": BatchResult, "description": "One result or error list per case, in order"},
        **WITH_BODY,
    },
    openapi_extra=json_body("BatchRequest", description='{"cases": [case, …]}'),
)
async def assess_batch(
    body: JsonBody, actor: ActorDep, engine: EngineDep, settings: SettingsDep, explain: Explain = True
) -> Response:
    """Assess up to `ROOTCAUSE_MAX_BATCH_SIZE` cases (default 100) in one vectorised pass.

    The answer is 200 when the request is well formed; each case then succeeds or fails on
    its own (`ok`, `errors`), reported with its `index`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("cases"), list):
        raise invalid_request(
            'expected {"cases": [case, …]}',
            [FieldError(field="cases", message="expected a list of cases")],
        )
    extra = sorted(set(body) - {"cases"})
    if extra:
        raise invalid_request(
            "unknown fields in the batch request",
            [FieldError(field=name, message="unknown field; expected cases") for name in extra],
        )
    cases: list[Any] = body["cases"]
    limit = settings.max_batch_size
    if len(cases) > limit:
        raise ProblemError(
            422,
            f"at most {limit} cases per request; got {len(cases)}",
            slug="batch-too-large",
            title="Batch too large",
            errors=[FieldError(field="cases", message=f"at most {limit} cases per request")],
        )
    out = await run_in_threadpool(_assess_batch, engine, cases, explain)
    return json_response(out)
