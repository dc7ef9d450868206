"""The adaptive interview over HTTP: start, answer, undo, read (docs/interview.md, docs/api.md).

    POST /v1/interviews                  {"mode": "patient", "case_id": null}  → 201 state
    POST /v1/interviews/{id}/answers     {"question": "<current id>", "value": …}  (null = don't know)
    POST /v1/interviews/{id}/undo
    GET  /v1/interviews/{id}             the current question, or the stop reason and the assessment

State lives in the database (``service.interview_store``), scoped to the caller's organisation,
so any worker can serve any request of an interview. Each response carries the interview's
``version`` (also as ``ETag``); send ``If-Match: "<version>"`` to refuse a change when someone
else changed the interview first (409).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from rootcause.errors import CaseError
from rootcause.service import interview_store as store
from rootcause.service.deps import ActorDep, DatabaseDep, EngineDep
from rootcause.service.openapi import errors
from rootcause.service.problems import FieldError, ProblemError, field_errors, invalid_request, not_found

router = APIRouter(prefix="/v1/interviews", tags=["interviews"])

InterviewId = Annotated[
    str,
    Path(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="the interview's id"),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=32,
        description='the interview\'s version as returned (ETag), e.g. "3"; the change is refused '
        "with 409 if the interview has changed since",
    ),
]


class QuestionOut(BaseModel):
    id: str = Field(description="what to send back as `question`")
    kind: Literal["yes_no", "choice", "days", "checklist"] = Field(
        description="yes_no: true/false; choice: one option value; days: whole days 0-36500; "
        "checklist: a list of the option values present (the others are absent)"
    )
    text: str
    options: list[dict[str, str]] = Field(description="{value, label} for choice and checklist questions")
    category: str


class InterviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["patient", "clinician"] = Field(
        description="patient: plain words, history questions only; clinician: also examination and tests"
    )
    case_id: str | None = Field(default=None, min_length=1, max_length=64, description="an id for the case")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=100, description="the id of the current question")
    value: Any = Field(
        description="the answer: true/false, an option value, a number of days, a list of checklist "
        "values present (or {present, absent}); null means don't know"
    )


class InterviewState(BaseModel):
    id: str
    mode: Literal["patient", "clinician"]
    case_id: str | None
    version: int = Field(description="increases with every change; the ETag")
    state: Literal["asking", "done"]
    done: bool
    stage: str | None = Field(
        description="while asking: timeline, red_flags, leg_symptoms or information gain"
    )
    stop_reason: str | None = Field(description="when done: why the interview stopped")
    question: QuestionOut | None = Field(description="the question to answer next (null when done)")
    questions_asked: int
    max_questions: int = Field(description="the interview stops after at most this many answers")
    answers: list[dict[str, Any]] = Field(description="{question, value} in the order given")
    case: dict[str, Any] = Field(description="the case the answers so far describe")
    assessment: dict[str, Any] | None = Field(
        description="when done: the full assessment (as POST /v1/assess returns it)"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime = Field(description="an interview not touched until then is forgotten")


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise invalid_request(
            "If-Match must be the interview's version as returned in ETag",
            [FieldError(field="header.If-Match", message='expected a version such as "3"')],
        )
    return int(raw)


@contextmanager
def _problems() -> Iterator[None]:
    """Turn the store's errors into problem responses."""
    try:
        yield
    except store.InterviewNotFound:
        raise not_found("interview (it may have expired)") from None
    except store.InterviewConflict as exc:
        raise ProblemError(
            409,
            exc.message,
            slug="interview-conflict",
            title="Conflict",
            errors=[FieldError(field=exc.field, message=exc.message)],
        ) from None
    except CaseError as exc:
        found = field_errors(exc.problems)
        raise ProblemError(
            422,
            "; ".join(f"{e.field}: {e.message}" for e in found),
            slug="invalid-answer",
            title="Invalid answer",
            errors=found,
        ) from None


def _out(view: store.InterviewView, response: Response) -> InterviewState:
    response.headers["ETag"] = f'"{view.version}"'
    response.headers["Cache-Control"] = "no-store"
    return InterviewState.model_validate(view.to_dict())


@router.post(
    "",
    status_code=201,
    summary="Start an interview",
    response_model=InterviewState,
    responses=errors(400, 401, 413, 422, 503),
)
def start_interview(
    body: InterviewCreate, actor: ActorDep, db: DatabaseDep, engine: EngineDep, response: Response
) -> InterviewState:
    """Returns the first question. The interview is kept for a day after its last change."""
    with _problems():
        view = store.start(db, engine, actor, body.mode, body.case_id)
    response.headers["Location"] = f"/v1/interviews/{view.id}"
    return _out(view, response)


@router.get(
    "/{interview_id}",
    summary="The current question, or the stop reason and the assessment",
    response_model=InterviewState,
    responses=errors(401, 404, 422, 503),
)
def get_interview(
    interview_id: InterviewId, actor: ActorDep, db: DatabaseDep, engine: EngineDep, response: Response
) -> InterviewState:
    with _problems():
        view = store.get(db, engine, actor, interview_id)
    return _out(view, response)


@router.post(
    "/{interview_id}/answers",
    summary="Answer the current question (value null = don't know)",
    response_model=InterviewState,
    responses=errors(400, 401, 404, 409, 413, 422, 503),
)
def answer_question(
    interview_id: InterviewId,
    body: AnswerIn,
    actor: ActorDep,
    db: DatabaseDep,
    engine: EngineDep,
    response: Response,
    if_match: IfMatch = None,
) -> InterviewState:
    """422 names the field when the answer is invalid (`value`, or `question`); 409 when the
    interview is finished, another question is current, or `If-Match` is out of date."""
    expected = _version(if_match)
    with _problems():
        view = store.answer(
            db, engine, actor, interview_id, body.question, body.value, expected_version=expected
        )
    return _out(view, response)


@router.post(
    "/{interview_id}/undo",
    summary="Take back the last answer",
    response_model=InterviewState,
    responses=errors(401, 404, 409, 422, 503),
)
def undo_answer(
    interview_id: InterviewId,
    actor: ActorDep,
    db: DatabaseDep,
    engine: EngineDep,
    response: Response,
    if_match: IfMatch = None,
) -> InterviewState:
    """Also after the interview stopped (it then asks again). At the first question: unchanged."""
    expected = _version(if_match)
    with _problems():
        view = store.undo(db, engine, actor, interview_id, expected_version=expected)
    return _out(view, response)
