"""The interview page: one question at a time, progress, back, "don't know"; the result at the end.

Plain HTML forms posting to this page (which then redirects to the current question), so it
works without JavaScript; ``app.js`` submits the same forms with ``fetch`` and swaps the
question in place, where the ``aria-live`` region announces it. The state is the same
database-backed interview as the REST API (``service.interview_store``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.engine.interview import Mode
from rootcause.errors import CaseError
from rootcause.service import interview_store as store
from rootcause.service.deps import DatabaseDep, EngineDep
from rootcause.storage import StaleVersion
from rootcause.web import auth
from rootcause.web.auth import UserDep, WebUser
from rootcause.web.pages_case import redirect
from rootcause.web.render import render_page
from rootcause.web.views import patient_view, result_view

router = APIRouter(prefix="/interview")
UNIT_DAYS = {"days": 1, "weeks": 7, "months": 30.44, "years": 365.25}
STAGES = {
    "timeline": "About your operation",
    "red_flags": "Warning signs",
    "leg_symptoms": "About your leg pain",
    "information gain": "A few more questions",
}
CLINICIAN_STAGES = {
    "timeline": "Timeline",
    "red_flags": "Red-flag screen",
    "leg_symptoms": "Symptom pattern",
    "information gain": "Most informative next findings",
}


class InvalidAnswer(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@router.get("")
async def interview_start(request: Request, user: UserDep, engine: EngineDep) -> Response:
    return render_page(request, "interview_start.html", engine, {"title": "Patient interview"}, user=user)


@router.post("")
async def interview_create(
    request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    mode: Mode = "clinician" if form.get("mode") == "clinician" else "patient"
    view = await run_in_threadpool(store.start, database, engine, user.actor, mode, None)
    return redirect(f"/interview/{view.id}")


def _value(form: FormData, kind: str, options: list[dict[str, str]]) -> Any:
    """The answer the form gives for a question of ``kind`` (raises ``InvalidAnswer``)."""
    if form.get("action") == "dont_know":
        return None
    if kind == "checklist":
        allowed = [o["value"] for o in options]
        return [v for v in form.getlist("item") if isinstance(v, str) and v in allowed]
    raw = form.get("value")
    if kind == "days":
        amount = str(form.get("amount", "")).strip()
        unit = str(form.get("unit", "days"))
        if not amount:
            raise InvalidAnswer("Enter a number, or choose “Don't know”.")
        try:
            number = float(amount.replace(",", "."))
        except ValueError:
            raise InvalidAnswer("Enter a number, for example 6.") from None
        if number < 0 or unit not in UNIT_DAYS:
            raise InvalidAnswer("Enter a number of 0 or more.")
        return round(number * UNIT_DAYS[unit])
    if raw is None or raw == "":
        raise InvalidAnswer("Choose an answer, or choose “Don't know”.")
    if kind == "yes_no":
        if raw not in ("yes", "no"):
            raise InvalidAnswer("Choose yes or no.")
        return raw == "yes"
    return str(raw)


def _page(
    request: Request,
    engine: Engine,
    user: WebUser,
    view: store.InterviewView,
    error: str = "",
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {"title": "Patient interview", "iv": view, "error": error}
    mode = view.session.mode
    if view.done:
        result = orjson.loads(
            orjson.dumps(view.status.assessment.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
        )
        context["stop_reason"] = view.status.reason
        context["patient"] = patient_view(engine, result)
        context["r"] = result_view(engine, result) if mode == "clinician" else None
        context["case_json"] = orjson.dumps(view.case).decode()
        context["pdf_url"] = None
    else:
        q = view.status.question
        assert q is not None
        stages = STAGES if mode == "patient" else CLINICIAN_STAGES
        context["q"] = q
        context["stage"] = stages.get(view.status.reason, "")
        context["number"] = view.status.questions_asked + 1
    return render_page(request, "interview.html", engine, context, status=status, user=user)


@router.get("/{interview_id}")
async def interview_page(
    interview_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    try:
        view = await run_in_threadpool(store.get, database, engine, user.actor, interview_id)
    except store.InterviewNotFound:
        return _gone(request, engine, user)
    return _page(request, engine, user, view)


def _gone(request: Request, engine: Engine, user: WebUser) -> Response:
    context = {
        "title": "Interview not found",
        "heading": "This interview has ended or expired",
        "message": "Interviews are kept for a day after the last answer. "
        "Start a new one from the interview page.",
    }
    return render_page(request, "error.html", engine, context, status=404, user=user)


@router.post("/{interview_id}/answer")
async def interview_answer(
    interview_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    try:
        view = await run_in_threadpool(store.get, database, engine, user.actor, interview_id)
    except store.InterviewNotFound:
        return _gone(request, engine, user)
    q = view.status.question
    if view.done or q is None or form.get("question") != q.id:
        return redirect(f"/interview/{interview_id}")  # answered elsewhere or twice: show where it stands
    try:
        value = _value(form, q.kind, q.options)
        version = int(str(form.get("version", view.version)))
        await run_in_threadpool(
            lambda: store.answer(
                database, engine, user.actor, interview_id, q.id, value, expected_version=version
            )
        )
    except InvalidAnswer as exc:
        return _page(request, engine, user, view, exc.message, status=422)
    except CaseError as exc:
        message = "; ".join(p.message for p in exc.problems)
        return _page(request, engine, user, view, f"That answer does not fit: {message}", status=422)
    except (StaleVersion, store.InterviewConflict, ValueError):
        pass  # someone else moved the interview on: show where it stands now
    except store.InterviewNotFound:
        return _gone(request, engine, user)
    return redirect(f"/interview/{interview_id}")


@router.post("/{interview_id}/undo")
async def interview_undo(
    interview_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    raw = str(form.get("version", ""))
    version = int(raw) if raw.isdigit() else None
    try:
        await run_in_threadpool(
            lambda: store.undo(database, engine, user.actor, interview_id, expected_version=version)
        )
    except store.InterviewNotFound:
        return _gone(request, engine, user)
    except StaleVersion:
        pass  # a double click: the first one went back already
    return redirect(f"/interview/{interview_id}")
