"""Start page, login and logout, the clinician case form, its result and the report download."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from rootcause.engine.assess import Engine
from rootcause.errors import CaseError
from rootcause.service.deps import DatabaseDep, EngineDep, SettingsDep
from rootcause.storage import Database, repository
from rootcause.storage.keys import DEMO_API_KEY, DEMO_KEY_ID
from rootcause.storage.models import Patient
from rootcause.web import auth, caseform, pdf
from rootcause.web.auth import MaybeUser, UserDep
from rootcause.web.render import SECURITY_HEADERS, render_page
from rootcause.web.views import result_view

router = APIRouter()
BLANK_SCORE_ROWS = 3


def form_fields(form: FormData) -> tuple[dict[str, str], dict[str, list[str]]]:
    single = {k: v for k, v in form.items() if isinstance(v, str)}
    lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in ("levels", "ps_day", "ps_nrs")}
    return single, lists


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def assessment_dict(engine: Engine, case: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(
        orjson.dumps(engine.assess(case).to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
    )
    return parsed


# ---------------------------------------------------------------------------- start, login


def _count_patients(database: Database, user: auth.WebUser) -> int:
    with database.transaction(readonly=True) as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(Patient)
                .where(Patient.organisation_id == user.actor.organisation_id)
            )
            or 0
        )


@router.get("/")
async def home(request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep) -> Response:
    count = await run_in_threadpool(_count_patients, database, user)
    return render_page(request, "home.html", engine, {"title": "Start", "patient_count": count}, user=user)


def _demo_key(database: Database) -> str | None:
    with database.transaction(readonly=True) as db:
        row = repository.get_api_key(session=db, key_id=DEMO_KEY_ID)
        return DEMO_API_KEY if row is not None and row.revoked_at is None else None


@router.get("/login")
async def login_page(
    request: Request, engine: EngineDep, database: DatabaseDep, settings: SettingsDep, user: MaybeUser
) -> Response:
    next_path = auth.safe_next(request.query_params.get("next"))
    if user is not None:
        return redirect(next_path)
    demo = None if settings.environment == "production" else await run_in_threadpool(_demo_key, database)
    return render_page(
        request, "login.html", engine, {"title": "Log in", "next": next_path, "error": "", "demo_key": demo}
    )


@router.post("/login")
async def login(
    request: Request, engine: EngineDep, database: DatabaseDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    presented = str(form.get("api_key", ""))[:200]
    next_path = auth.safe_next(str(form.get("next", "/")))
    token = await run_in_threadpool(auth.log_in, database, presented) if presented.strip() else None
    if token is None:
        demo = None if settings.environment == "production" else await run_in_threadpool(_demo_key, database)
        context = {
            "title": "Log in",
            "next": next_path,
            "error": "That API key is not valid (unknown, revoked or mistyped).",
            "demo_key": demo,
        }
        return render_page(request, "login.html", engine, context, status=401)
    response = redirect(next_path)
    response.set_cookie(
        auth.COOKIE,
        token,
        max_age=int(auth.LOGIN_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, user: UserDep, database: DatabaseDep) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    token = request.cookies.get(auth.COOKIE, "")
    await run_in_threadpool(auth.log_out, database, token)
    response = redirect("/login")
    response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ---------------------------------------------------------------------------- case form


def form_context(
    engine: Engine, state: caseform.FormState, *, action: str, heading: str, submit: str
) -> dict[str, Any]:
    rows = list(state.scores) + [("", "")] * max(BLANK_SCORE_ROWS - len(state.scores), 1)
    return {
        "title": heading,
        "heading": heading,
        "form": state,
        "errors": state.errors_by_input(),
        "choices": caseform.CHOICES,
        "levels": caseform.LEVELS,
        "groups": caseform.finding_groups(engine),
        "score_rows": rows,
        "action": action,
        "submit_label": submit,
        "patient": None,
    }


def _case_form(
    request: Request, engine: Engine, user: auth.WebUser, state: caseform.FormState, status: int = 200
) -> Response:
    context = form_context(engine, state, action="/case", heading="New case", submit="Assess")
    return render_page(request, "case_form.html", engine, context, status=status, user=user)


@router.get("/case")
async def case_form(request: Request, user: UserDep, engine: EngineDep) -> Response:
    return _case_form(request, engine, user, caseform.FormState())


@router.post("/case")
async def assess_case(request: Request, user: UserDep, engine: EngineDep) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    single, lists = form_fields(form)
    state = caseform.read_form(single, lists, engine)
    case = caseform.build_case(state)
    if state.problems:
        return _case_form(request, engine, user, state, status=422)
    try:
        result = await run_in_threadpool(assessment_dict, engine, case)
    except CaseError as exc:
        state.problems.extend(exc.problems)
        return _case_form(request, engine, user, state, status=422)
    context = {
        "title": "Assessment",
        "r": result_view(engine, result),
        "case_json": orjson.dumps(case).decode(),
        "pdf_url": None,
        "subtitle": "",
    }
    return render_page(request, "result.html", engine, context, user=user)


def _posted_case(form: FormData) -> Any:
    try:
        return orjson.loads(str(form.get("case", "")))
    except orjson.JSONDecodeError:
        return None


@router.post("/case/edit")
async def edit_case(request: Request, user: UserDep, engine: EngineDep) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    case = _posted_case(form)
    state = caseform.state_from_case(case if isinstance(case, dict) else {})
    return _case_form(request, engine, user, state)


@router.post("/case/report.pdf")
async def case_report(request: Request, user: UserDep, engine: EngineDep) -> Response:
    """The PDF of an unsaved case's assessment (the case is posted back from the result page)."""
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    case = _posted_case(form)
    try:
        result = await run_in_threadpool(assessment_dict, engine, case)
    except CaseError:
        return render_page(
            request,
            "error.html",
            engine,
            {"title": "Invalid case", "heading": "Invalid case", "message": "The case could not be read."},
            status=422,
            user=user,
        )
    body = await run_in_threadpool(pdf.report_pdf, engine, result, case if isinstance(case, dict) else {})
    return pdf_response(body, pdf.filename(result))


def pdf_response(body: bytes, filename: str) -> Response:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, media_type="application/pdf", headers=headers)
