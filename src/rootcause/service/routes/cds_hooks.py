"""CDS Hooks 2.0: discovery, the ``patient-view`` service and its feedback endpoint (docs/cds-hooks.md).

Every POST (and discovery when ``ROOTCAUSE_CDS_DISCOVERY_REQUIRES_AUTH`` is on) carries the EHR's
JWT: RS384/ES384 only, an allow-listed ``iss`` (``ROOTCAUSE_CDS_ISSUERS``) whose JWKS holds the key,
``aud`` = ``ROOTCAUSE_PUBLIC_BASE_URL`` + the path, not expired, ``jti`` not seen before by any
worker (the ``sessions`` table). Any failure is a bare 401 problem: no reason, nothing from the
token. The issuer entry names the organisation the call acts for; everything stored is scoped to it.

The hook never answers with an error for missing or bad patient data: it is a 200 with an
"insufficient data" card naming what is missing; FHIR fetching and note reading have time budgets.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rootcause.cdshooks import (
    AuthError,
    CdsResponse,
    DiscoveryResponse,
    HookRequestError,
    PatientViewResult,
    discovery,
    parse_feedback,
    parse_hook_request,
)
from rootcause.cdshooks.models import FeedbackRequest, HookRequest
from rootcause.cdshooks.prefetch import FetchDeferred
from rootcause.errors import FieldProblem
from rootcause.service.call_batcher import CallBatcher
from rootcause.service.cds_runtime import CallJob, CdsCaller, CdsRuntime, TokenReplayed, cds_runtime
from rootcause.service.deps import DatabaseDep, JsonBody, StateDep, parse_json_body
from rootcause.service.openapi import errors
from rootcause.service.problems import ProblemError, field_errors
from rootcause.storage import DatabaseUnavailable
from rootcause.storage import cds as cds_storage
from rootcause.storage.cds import PatientKey, StoredPatient

log = logging.getLogger("rootcause.cdshooks")
DISCOVERY_PATH = "/cds-services"
SERVICE_PATH = "/cds-services/patient-view"
FEEDBACK_PATH = "/cds-services/patient-view/feedback"
MAX_ID = 128
MAX_COMMENT = 4000


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the note reader's pipeline before the first call (about two seconds), when CDS is on."""
    settings = app.state.rootcause.settings
    if settings.cds_issuers and settings.cds_read_notes:
        await run_in_threadpool(lambda: cds_runtime(app).warm())
    yield


router = APIRouter(tags=["cds-hooks"], lifespan=_lifespan)


def _unauthorized() -> ProblemError:
    return ProblemError(
        401,
        "the request is not authenticated",
        slug="unauthorized",
        title="Unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="rootcause-cds-hooks"'},
    )


def _authenticate(
    runtime: CdsRuntime, authorization: str | None, path: str, request_id: str | None, claim: bool = True
) -> CdsCaller:
    audience = runtime.audience(path)
    if audience is None:
        log.info("CDS Hooks call refused on %s: ROOTCAUSE_PUBLIC_BASE_URL is not set", path)
        raise _unauthorized()
    try:
        token = runtime.verifier.verify(authorization, audience=audience, claim=claim)
    except AuthError as exc:
        log.info("CDS Hooks call refused on %s: %s", path, exc.reason)
        raise _unauthorized() from None
    caller = runtime.caller(token, request_id)
    if caller is None:
        log.info("CDS Hooks call refused on %s: no organisation for the issuer", path)
        raise _unauthorized()
    return caller


def _check(request: Request, path: str, claim: bool = True) -> CdsCaller:
    """Authenticate the call to ``path`` (blocking: the replay cache is in the database). With
    ``claim=False`` the token's ``jti`` is claimed later, in the transaction that stores the call."""
    request.app.state.rootcause.migrate()
    return _authenticate(
        cds_runtime(request.app),
        request.headers.get("authorization"),
        path,
        request.scope.get("rootcause.request_id"),
        claim,
    )


def _caller(path: str) -> Callable[[Request], Awaitable[CdsCaller]]:
    async def dependency(request: Request) -> CdsCaller:
        return await run_in_threadpool(_check, request, path)

    return dependency


FeedbackCaller = Annotated[CdsCaller, Depends(_caller(FEEDBACK_PATH))]


def _bad_request(problems: list[FieldProblem], what: str) -> ProblemError:
    return ProblemError(
        400,
        f"{len(problems)} problem(s) in the {what}",
        slug="invalid-hook-request",
        title="Invalid CDS Hooks request",
        errors=field_errors(problems),
    )


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _inline(model: type[Any]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined (for a request body in ``openapi_extra``)."""
    schema: dict[str, Any] = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    out: dict[str, Any] = resolve(schema)
    return out


def _body(model: type[Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": _inline(model)}},
        }
    }


# ---------------------------------------------------------------------------- discovery


@router.get(
    DISCOVERY_PATH,
    summary="CDS Hooks discovery: the services offered",
    response_model=DiscoveryResponse,
    response_model_exclude_none=True,
    responses=errors(401, 503),
)
async def cds_discovery(request: Request, state: StateDep) -> Response:
    """The `patient-view` service with its prefetch templates. Open (200 always) unless
    `ROOTCAUSE_CDS_DISCOVERY_REQUIRES_AUTH` is on; then the EHR's JWT is checked as for the service,
    with the audience `{ROOTCAUSE_PUBLIC_BASE_URL}/cds-services`."""
    if state.settings.cds_discovery_requires_auth:
        await _caller(DISCOVERY_PATH)(request)
    return _json(discovery().model_dump(mode="json", exclude_none=True))


# ---------------------------------------------------------------------------- the service


def _check_ids(hook: HookRequest) -> None:
    problems = []
    if len(hook.hookInstance) > MAX_ID:
        problems.append(FieldProblem("hookInstance", f"longer than {MAX_ID} characters"))
    if len(hook.patient_view_context().patientId) > MAX_ID:
        problems.append(FieldProblem("context.patientId", f"longer than {MAX_ID} characters"))
    if problems:
        raise _bad_request(problems, "hook request")


@router.post(
    SERVICE_PATH,
    summary="CDS Hooks patient-view: cards for leg pain after lumbar spine surgery",
    response_model=CdsResponse,
    response_model_exclude_none=True,
    responses=errors(400, 401, 413, 422, 503),
    openapi_extra=_body(HookRequest, "a CDS Hooks request for the patient-view hook"),
)
async def cds_patient_view(request: Request) -> Response:
    """One card: the triage level, the leading causes with probabilities, the next step and a link to
    the stored assessment; or an "insufficient data" card naming what is missing (still 200).
    Prefetch may be partial: missing keys, `null` and OperationOutcome values are fetched from
    `fhirServer` within a time budget. Each call is stored with its assessment, FHIR basis and card
    uuids, and audited."""
    raw = await request.body()
    call = _Call(request.headers.get("authorization"), request.scope.get("rootcause.request_id"), raw)
    batcher: CallBatcher[_Call, _Outcome] | None = getattr(request.app.state, "cds_batcher", None)
    if batcher is None:
        batcher = request.app.state.cds_batcher = CallBatcher(
            lambda calls: _patient_view_many(request.app, calls),
            max_batch=request.app.state.rootcause.settings.cds_batch_calls,
            name="cds-hooks",
        )
    outcome = await batcher.answer(call)
    if isinstance(outcome, Response):
        return outcome
    if isinstance(outcome, BaseException):
        raise outcome
    # _FETCH: its prefetch is partial, so it is answered on a pool thread, which may wait on the EHR
    return await run_in_threadpool(_patient_view, request.app, call)


@dataclass(frozen=True)
class _Call:
    authorization: str | None
    request_id: str | None
    raw: bytes


_FETCH = object()
_Outcome = Response | BaseException | object
"""A call's answer from the batch: the response, the exception to raise, or ``_FETCH``."""


def _admit(runtime: CdsRuntime, call: _Call) -> tuple[CdsCaller, HookRequest | ProblemError]:
    """Check the call's token (raising a 401 problem), then its body: the hook request, or the 400
    problem to answer once the token is spent. The token is spent when the call is stored (the same
    transaction), so a call costs one write; a replayed token is refused then, before anything of its
    call is kept or answered."""
    caller = _authenticate(runtime, call.authorization, SERVICE_PATH, call.request_id, claim=False)
    try:
        body = parse_json_body(call.raw)
        try:
            hook = parse_hook_request(body)
        except HookRequestError as exc:
            raise _bad_request(exc.problems, "hook request") from None
        _check_ids(hook)
    except ProblemError as exc:
        return caller, exc
    return caller, hook


def _patient_view(app: FastAPI, call: _Call) -> Response:
    """One call on its own pool thread: the path of a call whose data must be fetched from the EHR."""
    app.state.rootcause.migrate()
    runtime = cds_runtime(app)
    with runtime.slots.held():  # a few calls at a time per worker (CallSlots)
        caller, hook = _admit(runtime, call)
        if isinstance(hook, ProblemError):
            _spend(runtime, caller)  # a refused call spends its token too (401 if it was already spent)
            raise hook
        result = runtime.service.handle(hook)
        try:
            return _json(runtime.record(caller, hook, result))
        except TokenReplayed:
            log.info("CDS Hooks call refused on %s: replayed", SERVICE_PATH)
            raise _unauthorized() from None


def _patient_view_many(app: FastAPI, calls: Sequence[_Call]) -> list[_Outcome]:
    """The calls of a batch (``CallBatcher``): each token and body checked, every complete prefetch
    read, the cases assessed in one engine call and the calls stored in one write transaction. A call
    whose prefetch is partial is left out (``_FETCH``), as its first fetch raises ``FetchDeferred``."""
    app.state.rootcause.migrate()
    runtime = cds_runtime(app)
    outcomes: list[_Outcome] = [None] * len(calls)
    admitted: list[tuple[int, CdsCaller, HookRequest]] = []
    refused: list[tuple[int, CdsCaller, ProblemError]] = []
    for i, call in enumerate(calls):
        try:
            caller, hook = _admit(runtime, call)
        except Exception as exc:  # a 401 problem, or a bug (a 500 for this call alone)
            outcomes[i] = exc
            continue
        if isinstance(hook, ProblemError):
            refused.append((i, caller, hook))
        else:
            admitted.append((i, caller, hook))
    jobs: list[tuple[int, CallJob]] = [(i, runtime.spend_job(caller)) for i, caller, _ in refused]
    patients: dict[PatientKey, StoredPatient | None] = {}
    results = _handle_many(runtime, [hook for _, _, hook in admitted])
    for (i, caller, hook), result in zip(admitted, results, strict=True):
        if isinstance(result, FetchDeferred):
            outcomes[i] = _FETCH
        elif isinstance(result, BaseException):
            outcomes[i] = result
        else:
            try:
                jobs.append((i, runtime.record_job(caller, hook, result, patients)))
            except Exception as exc:
                outcomes[i] = exc
    with contextlib.suppress(DatabaseUnavailable):  # if this read fails, the writes read for themselves
        runtime.read_patients([job for _, job in jobs], patients)  # before the write lock is taken
    problems = {i: exc for i, _, exc in refused}
    done = runtime.writer.run_many([(job.work, job.first) for _, job in jobs])
    for (i, _), (body, error) in zip(jobs, done, strict=True):
        if isinstance(error, TokenReplayed):
            log.info("CDS Hooks call refused on %s: replayed", SERVICE_PATH)
            outcomes[i] = _unauthorized()
        elif error is not None:
            outcomes[i] = error
        else:
            outcomes[i] = problems.get(i) or _json(body)
    return outcomes


def _handle_many(
    runtime: CdsRuntime, hooks: list[HookRequest]
) -> list[PatientViewResult | FetchDeferred | Exception]:
    """``handle_many``; if it fails (a bug), each call again alone, so one call cannot fail the others."""
    try:
        return list(runtime.batch_service.handle_many(hooks))
    except Exception as exc:
        if len(hooks) == 1:
            return [exc]
    out: list[PatientViewResult | FetchDeferred | Exception] = []
    for hook in hooks:
        try:
            out += runtime.batch_service.handle_many([hook])
        except Exception as exc:
            out.append(exc)
    return out


def _spend(runtime: CdsRuntime, caller: CdsCaller) -> None:
    token = caller.token
    if token.replay_until is not None and runtime.replay.seen(token.jti, token.issuer, token.replay_until):
        log.info("CDS Hooks call refused on %s: replayed", SERVICE_PATH)
        raise _unauthorized()


# ---------------------------------------------------------------------------- feedback


def _check_feedback(feedback: FeedbackRequest) -> None:
    problems = []
    for i, item in enumerate(feedback.feedback):
        where = f"feedback.{i}"
        reason = item.overrideReason.reason if item.overrideReason else None
        limits: list[tuple[str, str | None, int]] = [
            ("card", item.card, MAX_ID),
            ("overrideReason.reason.code", reason.code if reason else None, MAX_ID),
            ("overrideReason.reason.system", reason.system if reason else None, 255),
            ("overrideReason.reason.display", reason.display if reason else None, 255),
            (
                "overrideReason.userComment",
                item.overrideReason.userComment if item.overrideReason else None,
                MAX_COMMENT,
            ),
        ]
        limits += [
            (f"acceptedSuggestions.{j}.id", s.id, MAX_ID)
            for j, s in enumerate(item.acceptedSuggestions or [])
        ]
        for name, value, limit in limits:
            if value is not None and len(value) > limit:
                problems.append(FieldProblem(f"{where}.{name}", f"longer than {limit} characters"))
    if problems:
        raise _bad_request(problems, "feedback")


@router.post(
    FEEDBACK_PATH,
    summary="CDS Hooks feedback on patient-view cards",
    responses={
        200: {
            "description": "Stored (repeats are stored once)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "stored": {"type": "integer"},
                            "duplicates": {"type": "integer"},
                            "unknown_cards": {"type": "integer"},
                        },
                        "required": ["stored", "duplicates", "unknown_cards"],
                    }
                }
            },
        },
        **errors(400, 401, 413, 422, 503),
    },
    openapi_extra=_body(FeedbackRequest, "CDS Hooks feedback: what the clinician did with each card"),
)
def cds_feedback(caller: FeedbackCaller, body: JsonBody, db: DatabaseDep) -> Response:
    """Each item (card uuid, `accepted`/`overridden`, accepted suggestions, override reason,
    time) is stored once per organisation (repeats are counted as `duplicates`); an item about a
    card this organisation was never sent is stored too, flagged, and counted in `unknown_cards`."""
    try:
        feedback = parse_feedback(body)
    except HookRequestError as exc:
        raise _bad_request(exc.problems, "feedback") from None
    _check_feedback(feedback)
    counts = {"stored": 0, "duplicates": 0, "unknown_cards": 0}
    with db.transaction() as session:
        for item in feedback.feedback:
            reason = item.overrideReason.reason if item.overrideReason else None
            row, known = cds_storage.add_feedback(
                session=session,
                actor=caller.actor,
                idempotency_key=item.idempotency_key(),
                card_uuid=item.card,
                outcome=item.outcome,
                outcome_timestamp=item.outcomeTimestamp,
                accepted_suggestions=[s.id for s in item.acceptedSuggestions or []],
                override={
                    "system": reason.system if reason else None,
                    "code": reason.code if reason else None,
                    "display": reason.display if reason else None,
                    "comment": item.overrideReason.userComment if item.overrideReason else None,
                },
                issuer=caller.token.issuer,
                jti=caller.token.jti,
            )
            counts["stored" if row is not None else "duplicates"] += 1
            counts["unknown_cards"] += not known
    return _json(counts)
