"""Stored patients: the list, one patient's follow-ups (pain trajectory, the differential over
time), adding a pain score, a new stored assessment, a stored assessment and its PDF.

Everything goes through ``rootcause.storage.repository`` with the logged-in key as the actor,
so it is scoped to that key's organisation (another organisation's patient is "not found")
and audited like the REST API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rootcause.engine.assess import Engine
from rootcause.engine.timeline import build_timeline
from rootcause.errors import CaseError, FieldProblem
from rootcause.service.deps import DatabaseDep, EngineDep, StateDep
from rootcause.storage import Conflict, Database, repository
from rootcause.storage.cases import patient_case
from rootcause.storage.models import Assessment, Patient
from rootcause.storage.schemas import PainScoreCreate, PatientCreate
from rootcause.web import auth, caseform, pdf
from rootcause.web.auth import UserDep, WebUser
from rootcause.web.pages_case import form_context, form_fields, pdf_response, redirect
from rootcause.web.plots import differential_svg, trajectory_svg
from rootcause.web.render import render_page
from rootcause.web.views import condition_name, result_view

router = APIRouter(prefix="/patients")
HISTORY_CAUSES = 5


class NotFound(Exception):
    pass


def _patient(db: Any, user: WebUser, patient_id: str, audit: str | None = "patient.read") -> Patient:
    pid = auth.parse_uuid(patient_id)
    patient = (
        repository.get_patient(session=db, actor=user.actor, patient_id=pid, audit_action=audit)
        if pid
        else None
    )
    if patient is None:
        raise NotFound()
    return patient


def not_found(request: Request, engine: Engine, user: WebUser, what: str = "patient") -> Response:
    context = {
        "title": "Not found",
        "heading": f"No such {what}",
        "message": f"There is no {what} with this id in your organisation.",
    }
    return render_page(request, "error.html", engine, context, status=404, user=user)


# ---------------------------------------------------------------------------- list


def _list(database: Database, user: WebUser) -> list[dict[str, Any]]:
    with database.transaction() as db:
        patients, _ = repository.list_patients(session=db, actor=user.actor, limit=500)
        latest: dict[uuid.UUID, dict[str, Any]] = {}
        rows = db.execute(
            select(
                Assessment.patient_id,
                Assessment.triage_level,
                Assessment.leading_condition,
                Assessment.leading_probability,
                Assessment.assessed_on,
                Assessment.created_at,
            )
            .where(Assessment.organisation_id == user.actor.organisation_id)
            .order_by(Assessment.created_at)
        ).all()
        for row in rows:
            latest[row.patient_id] = dict(row._mapping)
        return [{"patient": repository.patient_public(p), "latest": latest.get(p.id)} for p in patients]


@router.get("")
async def patient_list(request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep) -> Response:
    items = await run_in_threadpool(_list, database, user)
    context = {
        "title": "Patients",
        "items": items,
        "names": {c.id: c.name for c in engine.kb.conditions},
    }
    return render_page(request, "patients.html", engine, context, user=user)


# ---------------------------------------------------------------------------- new patient


def _new_form(
    request: Request,
    engine: Engine,
    user: WebUser,
    values: dict[str, str],
    problems: list[FieldProblem],
    status: int = 200,
) -> Response:
    context = {
        "title": "New patient",
        "values": values,
        "problems": problems,
        "errors": {p.field: p.message for p in problems},
        "choices": caseform.CHOICES,
    }
    return render_page(request, "patient_new.html", engine, context, status=status, user=user)


@router.get("/new")
async def new_patient_form(request: Request, user: UserDep, engine: EngineDep) -> Response:
    return _new_form(request, engine, user, {}, [])


@router.post("/new")
async def create_patient(
    request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    values = {
        k: str(form.get(k, "")).strip()
        for k in ("external_id", "birth_year", "sex", "procedure", "surgery_date")
    }
    body: dict[str, Any] = {
        "external_id": values["external_id"],
        "surgery": {"procedure": values["procedure"]},
    }
    if values["birth_year"]:
        body["birth_year"] = values["birth_year"]
    if values["sex"]:
        body["sex"] = values["sex"]
    if values["surgery_date"]:
        body["surgery"]["date"] = values["surgery_date"]
    try:
        data = PatientCreate.model_validate(body)
    except ValidationError as exc:
        problems = [FieldProblem(_new_field(err["loc"]), str(err["msg"])) for err in exc.errors()]
        return _new_form(request, engine, user, values, problems, status=422)

    def create() -> uuid.UUID:
        with database.transaction() as db:
            return repository.create_patient(session=db, actor=user.actor, data=data).id

    try:
        pid = await run_in_threadpool(create)
    except Conflict as exc:
        return _new_form(
            request, engine, user, values, [FieldProblem("external_id", exc.message)], status=409
        )
    return redirect(f"/patients/{pid}")


def _new_field(loc: tuple[int | str, ...]) -> str:
    names = {"surgery.procedure": "procedure", "surgery.date": "surgery_date"}
    dotted = ".".join(str(p) for p in loc)
    return names.get(dotted, dotted or "external_id")


# ---------------------------------------------------------------------------- one patient


def _course(engine: Engine, patient: Patient, points: list[tuple[int, float]]) -> str | None:
    if not points:
        return None
    try:
        case = engine.parse(
            {
                "surgery": {"procedure": patient.procedure},
                "pain_scores": [{"day": d, "nrs": v} for d, v in points],
            }
        )
    except CaseError:
        return None
    course = build_timeline(case).course
    return None if course == "unknown" else course.replace("_", " ")


def _detail(database: Database, engine: Engine, user: WebUser, patient_id: str) -> dict[str, Any]:
    with database.transaction() as db:
        patient = _patient(db, user, patient_id)
        scores = repository.list_pain_scores(session=db, actor=user.actor, patient=patient)
        rows, _ = repository.list_assessments(session=db, actor=user.actor, patient=patient, limit=500)
        public = repository.patient_public(patient)
        score_rows = [repository.pain_score_public(s, patient.surgery_date) for s in scores]
        points = [(s.day, float(s.nrs)) for s in score_rows if s.day is not None]
        assessments: list[dict[str, Any]] = [
            {
                "summary": repository.assessment_summary(r),
                "differential": {d["condition"]: float(d["probability"]) for d in r.result["differential"]},
            }
            for r in rows
        ]
        course = _course(engine, patient, points)
    causes: list[str] = []
    for a in assessments:
        for cid, _ in sorted(a["differential"].items(), key=lambda kv: -kv[1])[:3]:
            if cid not in causes:
                causes.append(cid)
    causes = sorted(causes, key=lambda c: -max(a["differential"].get(c, 0.0) for a in assessments))
    causes = causes[:HISTORY_CAUSES]
    labels = [str(a["summary"].assessed_on or a["summary"].created_at.date()) for a in assessments]
    series = [
        (condition_name(engine, c), [a["differential"].get(c, 0.0) for a in assessments]) for c in causes
    ]
    return {
        "patient": public,
        "scores": score_rows,
        "course": course,
        "trajectory": trajectory_svg(points, course=course),
        "assessments": assessments,
        "history_causes": [(c, condition_name(engine, c)) for c in causes],
        "history": differential_svg(labels, series),
        "history_labels": labels,
        "names": {c.id: c.name for c in engine.kb.conditions},
    }


def _page(
    request: Request,
    engine: Engine,
    user: WebUser,
    detail: dict[str, Any],
    problems: list[FieldProblem] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": f"Patient {detail['patient'].external_id}",
        **detail,
        "score_errors": {p.field: p.message for p in problems or []},
        "score_values": values or {"recorded_on": dt.date.today().isoformat(), "nrs": ""},
    }
    return render_page(request, "patient.html", engine, context, status=status, user=user)


@router.get("/{patient_id}")
async def patient_page(
    patient_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    try:
        detail = await run_in_threadpool(_detail, database, engine, user, patient_id)
    except NotFound:
        return not_found(request, engine, user)
    return _page(request, engine, user, detail)


@router.post("/{patient_id}/pain-scores")
async def add_pain_score(
    patient_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    values = {
        "recorded_on": str(form.get("recorded_on", "")).strip(),
        "nrs": str(form.get("nrs", "")).strip(),
    }
    problems: list[FieldProblem] = []
    data = None
    try:
        data = PainScoreCreate.model_validate(
            {"recorded_on": values["recorded_on"], "nrs": values["nrs"] or None}
        )
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "nrs"
            problems.append(FieldProblem(name, str(err["msg"])))

    def add() -> None:
        with database.transaction() as db:
            patient = _patient(db, user, patient_id, audit=None)
            assert data is not None
            repository.add_pain_score(session=db, actor=user.actor, patient=patient, data=data)

    try:
        if problems:
            detail = await run_in_threadpool(_detail, database, engine, user, patient_id)
            return _page(request, engine, user, detail, problems, values, status=422)
        await run_in_threadpool(add)
    except NotFound:
        return not_found(request, engine, user)
    return redirect(f"/patients/{patient_id}#trajectory")


# ---------------------------------------------------------------------------- assessments


def _assess_form(
    request: Request,
    engine: Engine,
    user: WebUser,
    patient: Any,
    state: caseform.FormState,
    status: int = 200,
) -> Response:
    context = form_context(
        engine,
        state,
        action=f"/patients/{patient.id}/assess",
        heading=f"New assessment of {patient.external_id}",
        submit="Assess and save",
    )
    context["patient"] = patient
    return render_page(request, "case_form.html", engine, context, status=status, user=user)


def _public(database: Database, user: WebUser, patient_id: str) -> Any:
    with database.transaction() as db:
        return repository.patient_public(_patient(db, user, patient_id, audit=None))


@router.get("/{patient_id}/assess")
async def assess_form(
    patient_id: str, request: Request, user: UserDep, engine: EngineDep, database: DatabaseDep
) -> Response:
    try:
        patient = await run_in_threadpool(_public, database, user, patient_id)
    except NotFound:
        return not_found(request, engine, user)
    state = caseform.FormState(values={"assessed_on": dt.date.today().isoformat()})
    return _assess_form(request, engine, user, patient, state)


@router.post("/{patient_id}/assess")
async def assess_patient(
    patient_id: str,
    request: Request,
    user: UserDep,
    engine: EngineDep,
    database: DatabaseDep,
    state: StateDep,
) -> Response:
    form = await request.form()
    auth.check_csrf(user, form.get("csrf"))
    single, lists = form_fields(form)
    fstate = caseform.read_form(single, lists, engine)
    body = caseform.build_case(fstate, with_record=False)

    def store() -> uuid.UUID:
        with database.transaction() as db:
            patient = _patient(db, user, patient_id, audit=None)
            scores = repository.list_pain_scores(session=db, actor=user.actor, patient=patient, audit=False)
            built = patient_case(patient=patient, pain_scores=scores, request=body, today=dt.date.today())
            case = engine.parse(built.case)
            result = orjson.loads(
                orjson.dumps(engine.assess(case).to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
            )
            row = repository.add_assessment(
                session=db,
                actor=user.actor,
                patient=patient,
                case=case.to_dict(),
                result=result,
                software_version=state.software_version,
                assessed_on=built.assessed_on,
            )
            return row.id

    try:
        patient = await run_in_threadpool(_public, database, user, patient_id)
        if fstate.problems:
            return _assess_form(request, engine, user, patient, fstate, status=422)
        aid = await run_in_threadpool(store)
    except NotFound:
        return not_found(request, engine, user)
    except CaseError as exc:
        fstate.problems.extend(exc.problems)
        return _assess_form(request, engine, user, patient, fstate, status=422)
    return redirect(f"/patients/{patient_id}/assessments/{aid}")


def _stored(database: Database, user: WebUser, patient_id: str, assessment_id: str) -> tuple[Any, Any]:
    with database.transaction() as db:
        patient = _patient(db, user, patient_id, audit=None)
        aid = auth.parse_uuid(assessment_id)
        row = (
            repository.get_assessment(session=db, actor=user.actor, patient=patient, assessment_id=aid)
            if aid
            else None
        )
        if row is None:
            raise NotFound()
        return repository.patient_public(patient), repository.assessment_public(row)


@router.get("/{patient_id}/assessments/{assessment_id}")
async def assessment_page(
    patient_id: str,
    assessment_id: str,
    request: Request,
    user: UserDep,
    engine: EngineDep,
    database: DatabaseDep,
) -> Response:
    try:
        patient, row = await run_in_threadpool(_stored, database, user, patient_id, assessment_id)
    except NotFound:
        return not_found(request, engine, user, "assessment")
    context = {
        "title": "Assessment",
        "r": result_view(engine, row.result),
        "case_json": "",
        "pdf_url": f"/patients/{patient_id}/assessments/{assessment_id}/report.pdf",
        "subtitle": f"Patient {patient.external_id}, assessed {row.assessed_on or row.created_at.date()} "
        f"with knowledge base {row.knowledge_base_version}.",
    }
    return render_page(request, "result.html", engine, context, user=user)


@router.get("/{patient_id}/assessments/{assessment_id}/report.pdf")
async def assessment_pdf(
    patient_id: str,
    assessment_id: str,
    request: Request,
    user: UserDep,
    engine: EngineDep,
    database: DatabaseDep,
) -> Response:
    try:
        _, row = await run_in_threadpool(_stored, database, user, patient_id, assessment_id)
    except NotFound:
        return not_found(request, engine, user, "assessment")
    when = str(row.assessed_on or row.created_at.date())
    body = await run_in_threadpool(lambda: pdf.report_pdf(engine, row.result, row.case, generated=when))
    return pdf_response(body, pdf.filename(row.result | {"case_id": row.case.get("id") or f"{row.id}"}))
