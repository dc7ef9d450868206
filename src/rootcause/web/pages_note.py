"""'Start from a note' on the clinician case form: the pasted note is read (rootcause.adapters.notes),
the form comes back filled with what the note states, and the note is shown with the span behind
each value highlighted; every filled input is marked "from the note" for the clinician to confirm or
change. Nothing is stored; the case is only assessed when the clinician submits the form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.errors import CaseError, FieldProblem
from rootcause.service.deps import EngineDep
from rootcause.service.routes.notes import MAX_NOTE_CHARS
from rootcause.web import auth, caseform
from rootcause.web.auth import UserDep
from rootcause.web.note_view import NoteView, note_view
from rootcause.web.pages_case import form_context
from rootcause.web.render import render_page

router = APIRouter()


def _read(text: str, note_date: str) -> Any:
    from rootcause.adapters.notes import read_note

    return read_note(text, note_date or None)


def render_note_form(
    request: Request,
    engine: Engine,
    user: auth.WebUser,
    state: caseform.FormState,
    view: NoteView | None,
    note_errors: dict[str, str],
    note: tuple[str, str] = ("", ""),
    status: int = 200,
) -> Response:
    context = form_context(engine, state, action="/case", heading="New case", submit="Assess")
    context["note_view"] = view
    context["note_errors"] = note_errors
    context["note_text"], context["note_date"] = note
    context["from_note"] = view.inputs if view is not None else {}
    return render_page(request, "case_form.html", engine, context, status=status, user=user)


@router.post("/case/from-note")
async def case_from_note(request: Request, user: UserDep, engine: EngineDep) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    text = str(form.get("note", ""))
    note_date = str(form.get("note_date", "")).strip()
    errors: dict[str, str] = {}
    if not text.strip():
        errors["note"] = "Paste the text of a note first."
    elif len(text) > MAX_NOTE_CHARS:
        errors["note"] = f"The note is too long: at most {MAX_NOTE_CHARS:,} characters."
    if note_date:
        try:
            dt.date.fromisoformat(note_date)
        except ValueError:
            errors["note_date"] = "Expected a date (YYYY-MM-DD)."
    if errors:
        state = caseform.FormState()
        return render_note_form(request, engine, user, state, None, errors, (text, note_date), status=422)
    try:
        reading = await run_in_threadpool(_read, text, note_date)
    except CaseError as exc:  # only note_date can be refused, and it was checked above
        problem = exc.problems[0] if exc.problems else FieldProblem("note_date", "invalid")
        state = caseform.FormState()
        errors = {problem.field: problem.message}
        return render_note_form(request, engine, user, state, None, errors, (text, note_date), status=422)
    state = caseform.state_from_case(reading.case)
    view = note_view(text, note_date, reading.evidence, engine)
    return render_note_form(request, engine, user, state, view, {}, (text, note_date))
