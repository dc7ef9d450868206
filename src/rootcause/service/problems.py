"""One error shape for every HTTP error: RFC 9457 ``application/problem+json``.

    {"type": "urn:rootcause:problem:invalid-case", "title": "Invalid case", "status": 422,
     "detail": "2 problems in the request", "instance": "urn:uuid:<request id>",
     "errors": [{"field": "age", "message": "Expected `int` <= 120", "suggestions": []}]}

Routes raise ``ProblemError`` (or let ``CaseError``, validation and storage errors escape);
the handlers here turn each into that shape. Raw exception text never reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rootcause.errors import CaseError, FieldProblem
from rootcause.storage.errors import Conflict, DatabaseUnavailable, InvalidValue, StaleVersion

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:rootcause:problem:"
log = logging.getLogger("rootcause.service")


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the bad field, e.g. `surgery.procedure`")
    message: str
    suggestions: list[str] = Field(default_factory=list)


class Problem(BaseModel):
    type: str = Field(description="a URN naming the kind of problem, or about:blank")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="urn:uuid:<request id>, quote it to support")
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """Raise from a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors)
        self.headers = dict(headers or {})
        super().__init__(detail)


def not_found(what: str) -> ProblemError:
    return ProblemError(404, f"no {what} with this id", slug="not-found", title="Not found")


def invalid_request(detail: str, errors: Iterable[FieldError]) -> ProblemError:
    """422 `invalid-request`, with one entry per bad field."""
    return ProblemError(422, detail, slug="invalid-request", title="Invalid request", errors=errors)


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
) -> Response:
    if request is not None:
        request_id = request.scope.get("rootcause.request_id", request_id)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [e.model_dump() for e in errors],
    }
    if request_id:
        body["instance"] = f"urn:uuid:{request_id}"
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def field_errors(problems: Iterable[FieldProblem], prefix: str = "") -> list[FieldError]:
    return [
        FieldError(field=prefix + p.field, message=p.message, suggestions=p.suggestions) for p in problems
    ]


def _validation_errors(exc: RequestValidationError) -> tuple[int, list[FieldError]]:
    errors: list[FieldError] = []
    status = 422
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        if err.get("type") == "json_invalid":
            status = 400
            errors.append(FieldError(field="(json)", message="malformed JSON"))
            continue
        field = ".".join(loc) if loc else f"({where})"
        if where != "body":
            field = f"{where}.{field}"
        message = str(err.get("msg", "invalid value"))
        errors.append(FieldError(field=field, message=message))
    return status, errors


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the problem shape."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            slug=exc.slug,
            title=exc.title,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(CaseError)
    async def _case(request: Request, exc: CaseError) -> Response:
        errors = field_errors(exc.problems)
        malformed = any(e.field == "(json)" for e in errors)
        return problem_response(
            request,
            400 if malformed else 422,
            "the request body is not valid JSON" if malformed else f"{len(errors)} problem(s) in the case",
            slug="malformed-json" if malformed else "invalid-case",
            title="Malformed JSON" if malformed else "Invalid case",
            errors=errors,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        status, errors = _validation_errors(exc)
        if status == 400:
            return problem_response(
                request,
                400,
                "the request body is not valid JSON",
                slug="malformed-json",
                title="Malformed JSON",
                errors=errors,
            )
        return problem_response(
            request,
            422,
            f"{len(errors)} problem(s) in the request",
            slug="invalid-request",
            title="Invalid request",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such route; see /docs"
        slug = "body-too-large" if exc.status_code == 413 else None
        return problem_response(request, exc.status_code, detail, slug=slug, headers=exc.headers)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return problem_response(
            request,
            409,
            exc.message,
            slug="conflict",
            title="Conflict",
            errors=[FieldError(field=exc.field, message=exc.message)],
        )

    @app.exception_handler(InvalidValue)
    async def _invalid_value(request: Request, exc: InvalidValue) -> Response:
        return problem_response(
            request,
            422,
            exc.reason,
            slug="invalid-request",
            title="Invalid request",
            errors=[FieldError(field="(body)", message=exc.reason)],
        )

    @app.exception_handler(StaleVersion)
    async def _stale(request: Request, exc: StaleVersion) -> Response:
        return problem_response(request, 409, str(exc), slug="stale-version", title="Conflict")

    async def _unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable (%s) on %s", type(exc.__cause__ or exc).__name__, _route(request))
        return problem_response(
            request,
            503,
            "the database is unavailable; nothing was changed, retry shortly",
            slug="database-unavailable",
            title="Service unavailable",
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(DatabaseUnavailable, _unavailable)
    for cls in (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DisconnectionError,
        sa_exc.TimeoutError,
    ):
        app.add_exception_handler(cls, _unavailable)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "?"))
