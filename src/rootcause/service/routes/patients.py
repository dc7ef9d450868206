"""Patients, their follow-up pain scores and their stored assessments.

Every route is scoped to the caller's organisation: another organisation's patient id is
answered exactly like an unknown one (404), and every read or write of patient data is
audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from rootcause.service.deps import ActorDep, DatabaseDep, EngineDep, JsonBody, StateDep
from rootcause.service.models import Page
from rootcause.service.openapi import WITH_BODY, errors, json_body
from rootcause.service.problems import not_found
from rootcause.storage import repository
from rootcause.storage.cases import patient_case
from rootcause.storage.schemas import (
    AssessmentPublic,
    AssessmentSummary,
    ExternalId,
    PainScoreCreate,
    PainScorePublic,
    PatientCreate,
    PatientPublic,
    PatientUpdate,
)

router = APIRouter(prefix="/v1/patients", tags=["patients"])

PatientId = Annotated[uuid.UUID, Path(description="the patient's id (from POST /v1/patients)")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")]
FOUND = errors(401, 404, 422, 503)


@router.post(
    "",
    status_code=201,
    summary="Register a patient and their operation",
    response_model=PatientPublic,
    responses=errors(400, 401, 409, 413, 422, 503),
)
def create_patient(
    data: PatientCreate, actor: ActorDep, db: DatabaseDep, response: Response
) -> PatientPublic:
    with db.transaction() as session:
        patient = repository.create_patient(session=session, actor=actor, data=data)
        out = repository.patient_public(patient)
    response.headers["Location"] = f"/v1/patients/{out.id}"
    return out


@router.get(
    "",
    summary="List your organisation's patients",
    response_model=Page[PatientPublic],
    responses=errors(401, 422, 503),
)
def list_patients(
    actor: ActorDep,
    db: DatabaseDep,
    limit: Limit = 50,
    offset: Offset = 0,
    external_id: Annotated[ExternalId | None, Query(description="find by your own patient id")] = None,
) -> Page[PatientPublic]:
    with db.transaction() as session:
        rows, total = repository.list_patients(
            session=session, actor=actor, limit=limit, offset=offset, external_id=external_id
        )
        items = [repository.patient_public(p) for p in rows]
    return Page[PatientPublic](items=items, total=total, limit=limit, offset=offset)


@router.get("/{patient_id}", summary="One patient", response_model=PatientPublic, responses=FOUND)
def get_patient(patient_id: PatientId, actor: ActorDep, db: DatabaseDep) -> PatientPublic:
    with db.transaction() as session:
        patient = repository.get_patient(session=session, actor=actor, patient_id=patient_id)
        if patient is None:
            raise not_found("patient")
        return repository.patient_public(patient)


@router.patch(
    "/{patient_id}",
    summary="Correct a patient's details or operation",
    response_model=PatientPublic,
    responses=errors(400, 401, 404, 409, 413, 422, 503),
)
def update_patient(
    patient_id: PatientId, changes: PatientUpdate, actor: ActorDep, db: DatabaseDep
) -> PatientPublic:
    """Fields given replace the stored ones; `surgery` is replaced as a whole. Past
    assessments keep the case they were made with."""
    with db.transaction() as session:
        patient = repository.update_patient(
            session=session, actor=actor, patient_id=patient_id, changes=changes
        )
        if patient is None:
            raise not_found("patient")
        return repository.patient_public(patient)


# ---------------------------------------------------------------------------- pain scores


@router.post(
    "/{patient_id}/pain-scores",
    status_code=201,
    summary="Record a follow-up pain score",
    response_model=PainScorePublic,
    responses=errors(400, 401, 404, 413, 422, 503),
)
def add_pain_score(
    patient_id: PatientId, data: PainScoreCreate, actor: ActorDep, db: DatabaseDep
) -> PainScorePublic:
    """A leg-pain NRS (0–10) on a date; later assessments of the patient include it as
    `pain_scores` (days relative to the surgery date)."""
    with db.transaction() as session:
        patient = repository.get_patient(
            session=session, actor=actor, patient_id=patient_id, audit_action=None
        )
        if patient is None:
            raise not_found("patient")
        score = repository.add_pain_score(session=session, actor=actor, patient=patient, data=data)
        return repository.pain_score_public(score, patient.surgery_date)


@router.get(
    "/{patient_id}/pain-scores",
    summary="A patient's pain scores, oldest first",
    response_model=list[PainScorePublic],
    responses=FOUND,
)
def list_pain_scores(patient_id: PatientId, actor: ActorDep, db: DatabaseDep) -> list[PainScorePublic]:
    with db.transaction() as session:
        patient = repository.get_patient(
            session=session, actor=actor, patient_id=patient_id, audit_action=None
        )
        if patient is None:
            raise not_found("patient")
        scores = repository.list_pain_scores(session=session, actor=actor, patient=patient)
        return [repository.pain_score_public(s, patient.surgery_date) for s in scores]


# ---------------------------------------------------------------------------- assessments


@router.post(
    "/{patient_id}/assessments",
    status_code=201,
    summary="Assess the patient now and store the assessment",
    response_model=AssessmentPublic,
    responses={**WITH_BODY, **errors(404)},
    openapi_extra=json_body("PatientCase", description="what is new: leg pain, findings, date"),
)
def create_assessment(
    patient_id: PatientId,
    body: JsonBody,
    actor: ActorDep,
    db: DatabaseDep,
    engine: EngineDep,
    state: StateDep,
    response: Response,
) -> AssessmentPublic:
    """Builds the case from the patient record (surgery, sex, age), the stored pain scores
    and the body, assesses it, and stores the exact case, the full result and the knowledge
    base version in one transaction."""
    with db.transaction() as session:
        patient = repository.get_patient(
            session=session, actor=actor, patient_id=patient_id, audit_action=None
        )
        if patient is None:
            raise not_found("patient")
        scores = repository.list_pain_scores(session=session, actor=actor, patient=patient, audit=False)
        built = patient_case(patient=patient, pain_scores=scores, request=body, today=dt.date.today())
        case = engine.parse(built.case)
        result: dict[str, Any] = orjson.loads(
            orjson.dumps(engine.assess(case).to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
        )
        row = repository.add_assessment(
            session=session,
            actor=actor,
            patient=patient,
            case=case.to_dict(),
            result=result,
            software_version=state.software_version,
            assessed_on=built.assessed_on,
        )
        out = repository.assessment_public(row)
    response.headers["Location"] = f"/v1/patients/{patient_id}/assessments/{out.id}"
    return out


@router.get(
    "/{patient_id}/assessments",
    summary="A patient's assessments over time, oldest first",
    response_model=Page[AssessmentSummary],
    responses=FOUND,
)
def list_assessments(
    patient_id: PatientId, actor: ActorDep, db: DatabaseDep, limit: Limit = 50, offset: Offset = 0
) -> Page[AssessmentSummary]:
    with db.transaction() as session:
        patient = repository.get_patient(
            session=session, actor=actor, patient_id=patient_id, audit_action=None
        )
        if patient is None:
            raise not_found("patient")
        rows, total = repository.list_assessments(
            session=session, actor=actor, patient=patient, limit=limit, offset=offset
        )
        items = [repository.assessment_summary(r) for r in rows]
    return Page[AssessmentSummary](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{patient_id}/assessments/{assessment_id}",
    summary="One stored assessment: its case, full result and knowledge-base version",
    response_model=AssessmentPublic,
    responses=FOUND,
)
def get_assessment(
    patient_id: PatientId,
    assessment_id: Annotated[uuid.UUID, Path()],
    actor: ActorDep,
    db: DatabaseDep,
) -> AssessmentPublic:
    with db.transaction() as session:
        patient = repository.get_patient(
            session=session, actor=actor, patient_id=patient_id, audit_action=None
        )
        if patient is None:
            raise not_found("patient")
        row = repository.get_assessment(
            session=session, actor=actor, patient=patient, assessment_id=assessment_id
        )
        if row is None:
            raise not_found("assessment")
        return repository.assessment_public(row)
