"""Repository functions: every read and write of stored data, scoped and audited.

Conventions (after full-stack-fastapi-template's ``crud.py``):
- every argument is keyword-only; the first is the ``session`` of a ``Database.transaction()``;
- functions that touch patient data take the ``actor``, only ever see the actor's
  organisation's rows (another organisation's id behaves exactly like a missing one) and write
  an ``audit_log`` row in the same transaction, reads included;
- nothing commits here: the caller's unit of work commits everything or nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rootcause.storage import keys
from rootcause.storage.db import JsonText
from rootcause.storage.errors import Conflict
from rootcause.storage.models import (
    ApiKey,
    Assessment,
    AuditEvent,
    Organisation,
    PainScore,
    Patient,
    utcnow,
)
from rootcause.storage.schemas import (
    Actor,
    ApiKeyPublic,
    AssessmentPublic,
    AssessmentSummary,
    AuditEventPublic,
    PainScoreCreate,
    PainScorePublic,
    PatientCreate,
    PatientPublic,
    PatientSurgery,
    PatientUpdate,
    Role,
)

CLI_ACTOR = "cli"

# ---------------------------------------------------------------------------- audit


def audit_values(
    *,
    actor: Actor | None,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The columns of one audit row (who, what, when), for an ORM object or a Core insert."""
    return {
        "at": utcnow(),
        "actor": actor.key_id if actor else CLI_ACTOR,
        "organisation_id": actor.organisation_id if actor else organisation_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else None,
        "request_id": actor.request_id if actor else None,
    }


def record_audit(
    *,
    session: Session,
    actor: Actor | None,
    action: str,
    resource_type: str,
    resource_id: str | uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
) -> None:
    """Append one audit row (who, what, when) to the current transaction."""
    session.add(
        AuditEvent(
            **audit_values(
                actor=actor,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                organisation_id=organisation_id,
            )
        )
    )


def list_audit(
    *, session: Session, actor: Actor, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEventPublic], int]:
    """The actor's organisation's audit events, newest first (itself audited)."""
    where = AuditEvent.organisation_id == actor.organisation_id
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(where)) or 0
    rows = session.scalars(
        select(AuditEvent).where(where).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    record_audit(session=session, actor=actor, action="audit.list", resource_type="audit_log")
    return [AuditEventPublic.model_validate(r, from_attributes=True) for r in rows], total


# ---------------------------------------------------------------------------- organisations, keys


def get_organisation_by_name(*, session: Session, name: str) -> Organisation | None:
    return session.scalars(select(Organisation).where(Organisation.name == name)).first()


def get_organisation(*, session: Session, organisation_id: uuid.UUID) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def create_organisation(*, session: Session, name: str, actor: Actor | None = None) -> Organisation:
    if get_organisation_by_name(session=session, name=name) is not None:
        raise Conflict("name", "an organisation with this name already exists")
    org = Organisation(id=uuid.uuid4(), name=name, created_at=utcnow())
    _flush_unique(session, org, "name", "an organisation with this name already exists")
    record_audit(
        session=session,
        actor=actor,
        action="organisation.create",
        resource_type="organisation",
        resource_id=org.id,
        organisation_id=org.id,
    )
    return org


def create_api_key(
    *,
    session: Session,
    organisation_id: uuid.UUID,
    role: Role,
    name: str | None = None,
    actor: Actor | None = None,
    fixed_key: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return the row and the full secret key (shown once, never stored)."""
    if fixed_key is not None:
        parts = keys.split_key(fixed_key)
        if parts is None:
            raise ValueError("fixed_key is not a well-formed key")
        key_id, secret = parts
        digest, full = keys.hash_secret(secret), fixed_key
    else:
        key_id, digest, full = keys.new_key()
    row = ApiKey(
        id=key_id,
        organisation_id=organisation_id,
        role=role,
        name=name,
        secret_sha256=digest,
        created_at=utcnow(),
        created_by=actor.key_id if actor else CLI_ACTOR,
    )
    _flush_unique(session, row, "id", "this key id already exists")
    record_audit(
        session=session,
        actor=actor,
        action="api_key.create",
        resource_type="api_key",
        resource_id=key_id,
        organisation_id=organisation_id,
    )
    return row, full


def get_api_key(*, session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def authenticate(*, session: Session, presented: str) -> Actor | None:
    """The actor for a presented key, or ``None`` if it is malformed, unknown, revoked or wrong."""
    parts = keys.split_key(presented)
    if parts is None:
        return None
    key_id, secret = parts
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None or not keys.secret_matches(secret, row.secret_sha256):
        return None
    role: Role = "admin" if row.role == "admin" else "clinician"
    return Actor(key_id=row.id, organisation_id=row.organisation_id, role=role)


def api_key_public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(row, from_attributes=True)


def list_api_keys(*, session: Session, actor: Actor) -> list[ApiKey]:
    rows = session.scalars(
        select(ApiKey).where(ApiKey.organisation_id == actor.organisation_id).order_by(ApiKey.created_at)
    ).all()
    record_audit(session=session, actor=actor, action="api_key.list", resource_type="api_key")
    return list(rows)


def revoke_api_key(*, session: Session, actor: Actor, key_id: str) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is None or row.organisation_id != actor.organisation_id:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    record_audit(
        session=session, actor=actor, action="api_key.revoke", resource_type="api_key", resource_id=key_id
    )
    return row


# ---------------------------------------------------------------------------- patients


def surgery_values(surgery: PatientSurgery) -> dict[str, Any]:
    """The surgery columns of a patient row."""
    return {
        "procedure": surgery.procedure,
        "levels": surgery.levels,
        "approach": surgery.approach,
        "route": surgery.route,
        "instrumented": surgery.instrumented,
        "surgery_date": surgery.date,
    }


def stored_surgery(patient: Any) -> PatientSurgery:
    """The operation stored on a patient row (an ORM ``Patient`` or a Core row with its columns)."""
    return PatientSurgery.model_validate(
        {
            "procedure": patient.procedure,
            "levels": patient.levels,
            "approach": patient.approach,
            "route": patient.route,
            "instrumented": patient.instrumented,
            "date": patient.surgery_date,
        }
    )


def patient_public(patient: Patient) -> PatientPublic:
    return PatientPublic(
        id=patient.id,
        external_id=patient.external_id,
        birth_year=patient.birth_year,
        sex=patient.sex,  # validated on the way in
        surgery=stored_surgery(patient),
        created_at=patient.created_at,
        updated_at=patient.updated_at,
    )


def patient_values(*, actor: Actor, data: PatientCreate) -> dict[str, Any]:
    """The columns of a new patient row, for an ORM object or a Core insert."""
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "organisation_id": actor.organisation_id,
        "external_id": data.external_id,
        "birth_year": data.resolved_birth_year(),
        "sex": data.sex,
        "created_at": now,
        "updated_at": now,
        "created_by": actor.key_id,
        **surgery_values(data.surgery),
    }


def create_patient(*, session: Session, actor: Actor, data: PatientCreate) -> Patient:
    message = "a patient with this external_id already exists in your organisation"
    if _patient_by_external_id(session, actor, data.external_id) is not None:
        raise Conflict("external_id", message)
    patient = Patient(**patient_values(actor=actor, data=data))
    _flush_unique(session, patient, "external_id", message)
    record_audit(
        session=session, actor=actor, action="patient.create", resource_type="patient", resource_id=patient.id
    )
    return patient


def _patient_by_external_id(session: Session, actor: Actor, external_id: str) -> Patient | None:
    return session.scalars(
        select(Patient).where(
            Patient.organisation_id == actor.organisation_id, Patient.external_id == external_id
        )
    ).first()


def get_patient(
    *, session: Session, actor: Actor, patient_id: uuid.UUID, audit_action: str | None = "patient.read"
) -> Patient | None:
    """The patient if it belongs to the actor's organisation, else ``None`` (also for other orgs)."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.organisation_id != actor.organisation_id:
        return None
    if audit_action:
        record_audit(
            session=session, actor=actor, action=audit_action, resource_type="patient", resource_id=patient.id
        )
    return patient


def list_patients(
    *,
    session: Session,
    actor: Actor,
    limit: int = 50,
    offset: int = 0,
    external_id: str | None = None,
) -> tuple[list[Patient], int]:
    where = [Patient.organisation_id == actor.organisation_id]
    if external_id is not None:
        where.append(Patient.external_id == external_id)
    total = session.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    rows = session.scalars(
        select(Patient).where(*where).order_by(Patient.created_at, Patient.id).limit(limit).offset(offset)
    ).all()
    record_audit(session=session, actor=actor, action="patient.list", resource_type="patient")
    return list(rows), total


def update_patient(
    *, session: Session, actor: Actor, patient_id: uuid.UUID, changes: PatientUpdate
) -> Patient | None:
    patient = get_patient(session=session, actor=actor, patient_id=patient_id, audit_action=None)
    if patient is None:
        return None
    given = changes.model_fields_set
    if "external_id" in given and changes.external_id and changes.external_id != patient.external_id:
        if _patient_by_external_id(session, actor, changes.external_id) is not None:
            raise Conflict(
                "external_id", "a patient with this external_id already exists in your organisation"
            )
        patient.external_id = changes.external_id
    if "birth_year" in given:
        patient.birth_year = changes.birth_year
    if "sex" in given:
        patient.sex = changes.sex
    if "surgery" in given and changes.surgery is not None:
        for name, value in surgery_values(changes.surgery).items():
            setattr(patient, name, value)
    patient.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session, actor=actor, action="patient.update", resource_type="patient", resource_id=patient.id
    )
    return patient


# ---------------------------------------------------------------------------- pain scores


def pain_score_public(score: PainScore, surgery_date: dt.date | None) -> PainScorePublic:
    day = (score.recorded_on - surgery_date).days if surgery_date is not None else None
    return PainScorePublic(
        id=score.id, recorded_on=score.recorded_on, nrs=score.nrs, day=day, created_at=score.created_at
    )


def add_pain_score(*, session: Session, actor: Actor, patient: Patient, data: PainScoreCreate) -> PainScore:
    score = PainScore(
        id=uuid.uuid4(),
        patient_id=patient.id,
        organisation_id=patient.organisation_id,
        recorded_on=data.recorded_on,
        nrs=data.nrs,
        created_at=utcnow(),
        created_by=actor.key_id,
    )
    session.add(score)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="pain_score.create",
        resource_type="patient",
        resource_id=patient.id,
    )
    return score


def list_pain_scores(
    *, session: Session, actor: Actor, patient: Patient, audit: bool = True
) -> list[PainScore]:
    rows = session.scalars(
        select(PainScore)
        .where(PainScore.patient_id == patient.id, PainScore.organisation_id == actor.organisation_id)
        .order_by(PainScore.recorded_on, PainScore.created_at)
    ).all()
    if audit:
        record_audit(
            session=session,
            actor=actor,
            action="pain_score.list",
            resource_type="patient",
            resource_id=patient.id,
        )
    return list(rows)


# ---------------------------------------------------------------------------- assessments


@dataclass(frozen=True)
class ResultHeadline:
    """The columns of an assessment row that summarise its result (for lists and filters)."""

    knowledge_base_version: str
    triage_level: str
    leading_condition: str
    leading_probability: float

    @classmethod
    def of(cls, result: dict[str, Any]) -> ResultHeadline:
        leading = result["differential"][0]
        return cls(
            knowledge_base_version=result["knowledge_base_version"],
            triage_level=result["triage"]["level"],
            leading_condition=leading["condition"],
            leading_probability=float(leading["probability"]),
        )


def assessment_values(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    organisation_id: uuid.UUID,
    case: dict[str, Any],
    result: dict[str, Any] | JsonText,
    software_version: str,
    assessed_on: dt.date | None = None,
    headline: ResultHeadline | None = None,
) -> dict[str, Any]:
    """The columns of a new assessment row (the exact case, the full result, the knowledge-base
    version), for an ORM object or a Core insert. A result given as ``JsonText`` (serialized once,
    stored as it is) needs its ``headline``."""
    if headline is None:
        if isinstance(result, JsonText):
            raise TypeError("a result given as JsonText needs its headline")
        headline = ResultHeadline.of(result)
    return {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "organisation_id": organisation_id,
        "created_at": utcnow(),
        "created_by": actor.key_id,
        "assessed_on": assessed_on,
        "knowledge_base_version": headline.knowledge_base_version,
        "software_version": software_version,
        "triage_level": headline.triage_level,
        "leading_condition": headline.leading_condition,
        "leading_probability": headline.leading_probability,
        "case": case,
        "result": result,
    }


def add_assessment(
    *,
    session: Session,
    actor: Actor,
    patient: Patient,
    case: dict[str, Any],
    result: dict[str, Any],
    software_version: str,
    assessed_on: dt.date | None = None,
) -> Assessment:
    """Store the exact input case, the full result and the knowledge-base version together."""
    row = Assessment(
        **assessment_values(
            actor=actor,
            patient_id=patient.id,
            organisation_id=patient.organisation_id,
            case=case,
            result=result,
            software_version=software_version,
            assessed_on=assessed_on,
        )
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="assessment.create",
        resource_type="assessment",
        resource_id=row.id,
    )
    return row


def assessment_summary(row: Assessment) -> AssessmentSummary:
    return AssessmentSummary.model_validate(row, from_attributes=True)


def assessment_public(row: Assessment) -> AssessmentPublic:
    return AssessmentPublic.model_validate(row, from_attributes=True)


def list_assessments(
    *, session: Session, actor: Actor, patient: Patient, limit: int = 50, offset: int = 0
) -> tuple[list[Assessment], int]:
    """A patient's assessments, oldest first (the course over time)."""
    where = (Assessment.patient_id == patient.id, Assessment.organisation_id == actor.organisation_id)
    total = session.scalar(select(func.count()).select_from(Assessment).where(*where)) or 0
    rows = session.scalars(
        select(Assessment)
        .where(*where)
        .order_by(Assessment.created_at, Assessment.id)
        .limit(limit)
        .offset(offset)
    ).all()
    record_audit(
        session=session,
        actor=actor,
        action="assessment.list",
        resource_type="patient",
        resource_id=patient.id,
    )
    return list(rows), total


def get_assessment(
    *, session: Session, actor: Actor, patient: Patient, assessment_id: uuid.UUID
) -> Assessment | None:
    row = session.get(Assessment, assessment_id)
    if row is None or row.patient_id != patient.id or row.organisation_id != actor.organisation_id:
        return None
    record_audit(
        session=session, actor=actor, action="assessment.read", resource_type="assessment", resource_id=row.id
    )
    return row


# ---------------------------------------------------------------------------- helpers


def _flush_unique(session: Session, row: Any, field: str, message: str) -> None:
    """Insert ``row`` inside a savepoint; a unique-constraint race becomes ``Conflict``."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(field, message) from None
