"""CDS Hooks storage: the JWT replay cache, local records of FHIR patients, calls, cards and feedback.

Same conventions as ``repository``: keyword-only arguments, the caller's unit of work, every row
scoped to the actor's organisation and an ``audit_log`` row in the same transaction.

A CDS Hooks call names the patient by its FHIR id in the EHR, which has no local record. When a case
can be made, the patient is kept as an ordinary local patient of the calling organisation with
``external_id`` ``fhir:<FHIR id>`` (``fhir:sha256:<first 40 hex>`` when the id is too long or has other
characters), so the assessment is stored with ``repository.add_assessment`` and is readable through
the same scoped routes and pages as any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rootcause.storage import repository, sessions
from rootcause.storage.errors import Conflict
from rootcause.storage.models import CdsCall, CdsCard, CdsFeedback, Organisation, Patient, utcnow
from rootcause.storage.schemas import Actor, PatientCreate, PatientSurgery, PatientUpdate

JTI_KIND = "cds-jti"
FHIR_PREFIX = "fhir:"
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,58}$")


# ---------------------------------------------------------------------------- replay cache


def claim_jti(*, session: Session, issuer: str, jti: str, expires_at: dt.datetime) -> bool:
    """True the first time (issuer, jti) is seen until ``expires_at``; atomic across workers.

    The row id is a SHA-256 of issuer and jti (both may be long); a concurrent second claim hits
    the primary key and is refused.
    """
    key = hashlib.sha256(f"{issuer}\x00{jti}".encode()).hexdigest()
    ttl = max(expires_at - utcnow(), dt.timedelta(seconds=1))
    return sessions.claim_once(session=session, kind=JTI_KIND, id=key, ttl=ttl)


# ---------------------------------------------------------------------------- organisations


def find_organisation(*, session: Session, name_or_id: str) -> Organisation | None:
    """An organisation by id (a UUID string) or else by name."""
    try:
        org = repository.get_organisation(session=session, organisation_id=uuid.UUID(name_or_id))
    except ValueError:
        org = None
    return org or repository.get_organisation_by_name(session=session, name=name_or_id)


# ---------------------------------------------------------------------------- patients


def fhir_external_id(fhir_patient_id: str) -> str:
    """The local ``external_id`` for a FHIR patient id (unique within the organisation)."""
    if _PLAIN_ID.match(fhir_patient_id):
        return FHIR_PREFIX + fhir_patient_id
    return FHIR_PREFIX + "sha256:" + hashlib.sha256(fhir_patient_id.encode()).hexdigest()[:40]


def _patient_fields(case: dict[str, Any], birth_year: int | None) -> dict[str, Any]:
    surgery = case["surgery"]
    return {
        "birth_year": birth_year,
        "sex": case.get("sex"),
        "surgery": {
            k: surgery.get(k)
            for k in ("procedure", "levels", "approach", "route", "instrumented", "date")
            if surgery.get(k) is not None
        },
    }


def _by_external_id(session: Session, actor: Actor, external_id: str) -> Patient | None:
    return session.scalars(
        select(Patient).where(
            Patient.organisation_id == actor.organisation_id, Patient.external_id == external_id
        )
    ).first()


def sync_fhir_patient(
    *, session: Session, actor: Actor, fhir_patient_id: str, case: dict[str, Any], birth_year: int | None
) -> Patient | None:
    """The local record of a FHIR patient, created or brought up to date from the case read from
    the EHR (operation, sex, birth year). ``None`` if the case does not fit a patient record."""
    external_id = fhir_external_id(fhir_patient_id)
    fields = _patient_fields(case, birth_year)
    try:
        surgery = PatientSurgery.model_validate(fields["surgery"])
        create = PatientCreate.model_validate({"external_id": external_id, **fields})
    except ValidationError:
        return None
    patient = _by_external_id(session, actor, external_id)
    if patient is None:
        try:
            return repository.create_patient(session=session, actor=actor, data=create)
        except Conflict:  # another worker created it first
            patient = _by_external_id(session, actor, external_id)
            if patient is None:  # pragma: no cover - a conflict means the row exists
                raise
    stored = repository.patient_public(patient)
    if (stored.surgery, stored.sex, stored.birth_year) == (surgery, create.sex, create.birth_year):
        return patient
    changes = PatientUpdate(birth_year=create.birth_year, sex=create.sex, surgery=surgery)
    return repository.update_patient(session=session, actor=actor, patient_id=patient.id, changes=changes)


# ---------------------------------------------------------------------------- calls and cards


def add_call(
    *,
    session: Session,
    actor: Actor,
    hook: str,
    hook_instance: str,
    issuer: str,
    tenant: str | None,
    jti: str,
    fhir_server: str | None,
    fhir_patient_id: str,
    cards: list[tuple[str, str]],
    record: dict[str, Any],
    patient_id: uuid.UUID | None = None,
    assessment_id: uuid.UUID | None = None,
) -> CdsCall:
    """Store one call and its cards (``(uuid, kind)`` pairs); audited as ``cds.patient_view``."""
    call = CdsCall(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        created_at=utcnow(),
        hook=hook,
        hook_instance=hook_instance,
        issuer=issuer,
        tenant=tenant[:255] if tenant else None,
        jti=jti[:255],
        fhir_server=fhir_server[:500] if fhir_server else None,
        fhir_patient_id=fhir_patient_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
        outcome="assessment" if assessment_id else "insufficient-data",
        card_uuids=[u for u, _ in cards],
        record=record,
    )
    session.add(call)
    session.flush()
    for card_uuid, kind in dict(cards).items():
        session.add(
            CdsCard(call_id=call.id, card_uuid=card_uuid, organisation_id=actor.organisation_id, kind=kind)
        )
    session.flush()
    repository.record_audit(
        session=session,
        actor=actor,
        action=f"cds.{hook.replace('-', '_')}",
        resource_type="cds_call",
        resource_id=call.id,
    )
    return call


def find_call_for_card(*, session: Session, actor: Actor, card_uuid: str) -> CdsCall | None:
    """The latest call of the actor's organisation that sent this card."""
    return session.scalars(
        select(CdsCall)
        .join(CdsCard, CdsCard.call_id == CdsCall.id)
        .where(CdsCard.organisation_id == actor.organisation_id, CdsCard.card_uuid == card_uuid)
        .order_by(CdsCall.created_at.desc())
        .limit(1)
    ).first()


# ---------------------------------------------------------------------------- feedback


def add_feedback(
    *,
    session: Session,
    actor: Actor,
    idempotency_key: str,
    card_uuid: str,
    outcome: str,
    outcome_timestamp: dt.datetime,
    accepted_suggestions: list[str],
    override: dict[str, str | None],
    issuer: str,
    jti: str,
) -> tuple[CdsFeedback | None, bool]:
    """Store one feedback item unless its idempotency key was stored before for this organisation.

    Returns ``(row, known_card)``; ``row`` is ``None`` for a repeat. Feedback on a card this
    organisation was never sent is stored with ``known_card`` false and no call.
    """
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    call = find_call_for_card(session=session, actor=actor, card_uuid=card_uuid)
    existing = session.scalars(
        select(CdsFeedback.id).where(
            CdsFeedback.organisation_id == actor.organisation_id, CdsFeedback.key_sha256 == digest
        )
    ).first()
    if existing is not None:
        return None, call is not None
    row = CdsFeedback(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        created_at=utcnow(),
        key_sha256=digest,
        card_uuid=card_uuid,
        call_id=call.id if call else None,
        known_card=call is not None,
        outcome=outcome,
        override_system=override.get("system"),
        override_code=override.get("code"),
        override_display=override.get("display"),
        user_comment=override.get("comment"),
        accepted_suggestions=accepted_suggestions,
        outcome_timestamp=outcome_timestamp,
        issuer=issuer,
        jti=jti[:255],
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same item from a concurrent request
        return None, call is not None
    repository.record_audit(
        session=session, actor=actor, action="cds.feedback", resource_type="cds_feedback", resource_id=row.id
    )
    return row, call is not None
