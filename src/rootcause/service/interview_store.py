"""Interviews kept in the database: start, answer, undo, read. Shared by the REST API and the web app.

The engine's ``Session`` (mode, case id, answers) is plain JSON, stored as the payload of a
``sessions`` row of kind ``interview`` with an expiry (renewed on every answer) and the
organisation it belongs to. Nothing is kept in process memory, so any worker can serve the
next request of an interview: each change reads the row, applies the answer and writes it
back only if the row still has the version it read (``StaleVersion`` → 409 otherwise).

Another organisation's interview id is answered exactly like an unknown or expired one.
Every start, answer, undo and read is audited (the answers are health data).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy.orm import Session as DbSession

from rootcause.engine.assess import Engine
from rootcause.engine.interview import Interviewer, Mode, Session, Status
from rootcause.errors import CaseError, FieldProblem
from rootcause.storage import Database, StaleVersion, repository, sessions
from rootcause.storage.models import StoredSession
from rootcause.storage.schemas import Actor

KIND = "interview"
TTL = dt.timedelta(hours=24)
"""An interview not touched for a day expires (and is then answered like an unknown id)."""


class InterviewNotFound(Exception):
    """No live interview with this id in the caller's organisation."""


class InterviewConflict(Exception):
    """The answer does not fit the interview's state (finished, or another question is current)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


@functools.lru_cache(maxsize=8)
def interviewer_for(engine: Engine) -> Interviewer:
    """One interviewer per engine (re-derivable, immutable: no request state)."""
    return Interviewer(engine)


@dataclass(frozen=True)
class InterviewView:
    """An interview as stored plus where it stands now."""

    id: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime
    session: Session
    status: Status
    case: dict[str, Any]
    max_questions: int

    @property
    def done(self) -> bool:
        return self.status.done or self.status.question is None

    def to_dict(self) -> dict[str, Any]:
        """The REST representation (``InterviewState`` in the OpenAPI document)."""
        q = self.status.question
        state: Literal["asking", "done"] = "done" if self.done else "asking"
        assessment: dict[str, Any] | None = None
        if self.done:
            assessment = orjson.loads(
                orjson.dumps(self.status.assessment.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
            )
        return {
            "id": self.id,
            "mode": self.session.mode,
            "case_id": self.session.case_id,
            "version": self.version,
            "state": state,
            "done": self.done,
            "stage": None if self.done else self.status.reason,
            "stop_reason": self.status.reason if self.done else None,
            "question": q.to_dict() if q is not None and not self.done else None,
            "questions_asked": self.status.questions_asked,
            "max_questions": self.max_questions,
            "answers": list(self.session.answers),
            "case": self.case,
            "assessment": assessment,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
        }


def _view(engine: Engine, row: StoredSession) -> InterviewView:
    iv = interviewer_for(engine)
    session = Session.from_dict(row.payload)
    return InterviewView(
        id=row.id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        session=session,
        status=iv.status(session),
        case=iv.case_of(session),
        max_questions=iv.settings.max_questions,
    )


def _row(db: DbSession, actor: Actor, interview_id: str) -> StoredSession:
    row = sessions.get_session(session=db, kind=KIND, id=interview_id)
    if row is None or row.organisation_id != actor.organisation_id:
        raise InterviewNotFound(interview_id)
    return row


def _audit(db: DbSession, actor: Actor, action: str, interview_id: str) -> None:
    repository.record_audit(
        session=db,
        actor=actor,
        action=f"interview.{action}",
        resource_type="interview",
        resource_id=interview_id,
    )


def validate_case_id(engine: Engine, case_id: str | None) -> None:
    """Reject a case id the engine would refuse later (naming the field ``case_id``)."""
    if case_id is None:
        return
    try:
        engine.parse({"id": case_id, "surgery": {"procedure": "other"}})
    except CaseError as exc:
        raise CaseError([FieldProblem("case_id", p.message) for p in exc.problems]) from None


def start(database: Database, engine: Engine, actor: Actor, mode: Mode, case_id: str | None) -> InterviewView:
    validate_case_id(engine, case_id)
    payload = Session(mode, case_id=case_id).to_dict()
    with database.transaction() as db:
        row = sessions.put_session(
            session=db, kind=KIND, payload=payload, ttl=TTL, organisation_id=actor.organisation_id
        )
        _audit(db, actor, "create", row.id)
        return _view(engine, row)


def get(database: Database, engine: Engine, actor: Actor, interview_id: str) -> InterviewView:
    with database.transaction() as db:
        row = _row(db, actor, interview_id)
        _audit(db, actor, "read", row.id)
        return _view(engine, row)


def _check_version(row: StoredSession, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != row.version:
        raise StaleVersion(KIND, expected_version, row.version)


def answer(
    database: Database,
    engine: Engine,
    actor: Actor,
    interview_id: str,
    question: str,
    value: Any,
    *,
    expected_version: int | None = None,
) -> InterviewView:
    """Record the answer to the current question (``None`` = don't know).

    ``CaseError`` names the field when the answer is invalid; ``InterviewConflict`` when the
    interview is finished or another question is current; ``StaleVersion`` when someone else
    answered first.
    """
    iv = interviewer_for(engine)
    with database.transaction() as db:
        row = _row(db, actor, interview_id)
        _check_version(row, expected_version)
        current = Session.from_dict(row.payload)
        status = iv.status(current)
        if status.done or status.question is None:
            raise InterviewConflict("question", "the interview is finished; undo to change the last answer")
        if question != status.question.id:
            raise InterviewConflict(
                "question", f"the current question is {status.question.id!r}, not {question!r}"
            )
        try:
            updated = iv.answer(current, question, value)
        except CaseError as exc:
            raise CaseError([_answer_problem(p) for p in exc.problems]) from None
        saved = sessions.update_session(
            session=db,
            kind=KIND,
            id=row.id,
            payload=updated.to_dict(),
            expected_version=row.version,
            ttl=TTL,
        )
        if saved is None:  # expired between the read and the write
            raise InterviewNotFound(interview_id)
        _audit(db, actor, "answer", row.id)
        return _view(engine, saved)


def _answer_problem(problem: FieldProblem) -> FieldProblem:
    """Engine problems about an answer, renamed to the request field they concern."""
    if problem.field == "question":
        return problem
    # "answer to <question>", or a field of the case the answers build (e.g. an onset later
    # than the time since surgery): either way the request field at fault is the value
    return FieldProblem("value", f"{problem.field}: {problem.message}", problem.suggestions)


def undo(
    database: Database,
    engine: Engine,
    actor: Actor,
    interview_id: str,
    *,
    expected_version: int | None = None,
) -> InterviewView:
    """Remove the last answer (nothing to undo at the first question: unchanged)."""
    iv = interviewer_for(engine)
    with database.transaction() as db:
        row = _row(db, actor, interview_id)
        _check_version(row, expected_version)
        current = Session.from_dict(row.payload)
        if not current.answers:
            _audit(db, actor, "read", row.id)
            return _view(engine, row)
        saved = sessions.update_session(
            session=db,
            kind=KIND,
            id=row.id,
            payload=iv.undo(current).to_dict(),
            expected_version=row.version,
            ttl=TTL,
        )
        if saved is None:
            raise InterviewNotFound(interview_id)
        _audit(db, actor, "undo", row.id)
        return _view(engine, saved)
