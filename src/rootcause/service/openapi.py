"""The OpenAPI document: error responses as problem+json, and the case schema from the engine.

The case body of /v1/assess is validated by the engine's msgspec structs (fast, and the one
source of truth), so its schema is generated from them (``msgspec.json.schema_components``)
rather than restated as pydantic models.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from rootcause.engine.case import Case
from rootcause.service.deps import AUTH_SCHEMES, get_actor
from rootcause.service.problems import PROBLEM_JSON, Problem

DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing or invalid API key",
    403: "The key's role does not allow this",
    404: "Not found (also for another organisation's ids)",
    409: "Conflict with stored data",
    413: "Request body too large",
    422: "Invalid request: `errors` names each bad field",
    503: "Database unavailable; retry",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error codes; their content is set to Problem below."""
    return {code: {"description": DESCRIPTIONS[code]} for code in codes}


PROBLEM_503 = errors(503)
AUTHED = errors(401, 503)
WITH_BODY = errors(400, 401, 413, 422, 503)


def json_body(schema_name: str, *, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
        }
    }


def _case_components() -> dict[str, Any]:
    _, components = msgspec.json.schema_components([Case], ref_template="#/components/schemas/{name}")
    case = components["Case"]
    case["description"] = (
        "A case (spec/case-format.md §1). Every field except surgery.procedure may be missing, "
        "meaning unknown; findings map finding ids to true (present) or false (looked for, absent)."
    )
    case["examples"] = [
        {
            "id": "demo-07",
            "age": 52,
            "sex": "female",
            "surgery": {"procedure": "discectomy", "levels": ["L4-L5"], "date": "2026-06-01"},
            "assessed_on": "2026-08-10",
            "leg_pain": {"relief_after_surgery": "complete", "onset_days": 35, "onset_speed": "gradual"},
            "findings": {"slr_positive": True, "fever": False},
        }
    ]
    patient_case = copy.deepcopy(case)
    for name in ("surgery", "age", "sex"):
        patient_case["properties"].pop(name)
    patient_case.pop("required", None)
    patient_case["title"] = "PatientCase"
    patient_case["description"] = (
        "What is new for a stored patient: the case without surgery, age and sex (they come "
        "from the patient record). The patient's stored pain scores are added as pain_scores; "
        "without assessed_on or days_since_surgery the assessment is dated today."
    )
    patient_case["examples"] = [
        {
            "assessed_on": "2026-08-10",
            "leg_pain": {"relief_after_surgery": "complete", "onset_speed": "gradual"},
            "findings": {"slr_positive": True},
        }
    ]
    components["PatientCase"] = patient_case
    components["BatchRequest"] = {
        "title": "BatchRequest",
        "type": "object",
        "properties": {
            "cases": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Case"},
                "description": "the cases; each is assessed or rejected on its own",
            }
        },
        "required": ["cases"],
        "additionalProperties": False,
    }
    return dict(components)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_case_components())
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if str(code)[0] in "45":
                    response["description"] = DESCRIPTIONS.get(int(code), response.get("description", ""))
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    _declare_auth(app, schema)
    app.openapi_schema = schema
    return schema


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    """The API routes, including those of routers included without a prefix (all of ours)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI's included-router node
        if included is not None:
            yield from _api_routes(included.routes)


def _declare_auth(app: FastAPI, schema: dict[str, Any]) -> None:
    """Declare the API-key schemes on every operation that authenticates with ``get_actor``.

    ``get_actor`` reads the headers itself (faster than two Security dependencies), so FastAPI
    no longer sees the schemes; this restores exactly what it would have written.
    """
    requirement: list[dict[str, list[str]]] = [{scheme.scheme_name: []} for scheme in AUTH_SCHEMES]
    for route in _api_routes(app.routes):
        if not (route.include_in_schema and _uses(route.dependant, get_actor)):
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["security"] = requirement
                schemes = schema["components"].setdefault("securitySchemes", {})
                for scheme in AUTH_SCHEMES:
                    declared = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
                    schemes[scheme.scheme_name] = declared
