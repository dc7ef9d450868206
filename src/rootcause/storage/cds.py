"""CDS Hooks storage: the JWT replay cache, local records of FHIR patients, calls, cards and feedback.

Same conventions as ``repository``: keyword-only arguments, the caller's unit of work, every row
scoped to the actor's organisation and an ``audit_log`` row in the same transaction. Storing a call
(``sync_fhir_patient`` + ``add_call``, once per CDS Hooks call) uses SQLAlchemy Core on the
connection of ``Database.connection()``, one statement per table, with the same rows and audit
entries the ORM functions of ``repository`` would write.

A CDS Hooks call names the patient by its FHIR id in the EHR, which has no local record. When a case
can be made, the patient is kept as an ordinary local patient of the calling organisation with
``external_id`` ``fhir:<FHIR id>`` (``fhir:sha256:<first 40 hex>`` when the id is too long or has other
characters), so the assessment is stored as ``repository.add_assessment`` stores one and is readable
through the same scoped routes and pages as any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rootcause.storage import repository, sessions
from rootcause.storage.db import Inserts
from rootcause.storage.models import (
    Assessment,
    AuditEvent,
    CdsCall,
    CdsCard,
    CdsFeedback,
    Organisation,
    Patient,
    utcnow,
)
from rootcause.storage.schemas import Actor, PatientCreate, PatientSurgery

JTI_KIND = "cds-jti"
FHIR_PREFIX = "fhir:"
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,58}$")


# ---------------------------------------------------------------------------- replay cache


def claim_jti(*, session: Session | Connection, issuer: str, jti: str, expires_at: dt.datetime) -> bool:
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


@dataclass(frozen=True)
class FhirPatient:
    """A FHIR patient's local record as read from the EHR, validated (no database needed)."""

    data: PatientCreate
    surgery: PatientSurgery


def fhir_patient(*, fhir_patient_id: str, case: dict[str, Any], birth_year: int | None) -> FhirPatient | None:
    """The local record a case makes for a FHIR patient (operation, sex, birth year); ``None`` if the
    case does not fit a patient record. Validated before any transaction starts."""
    fields = _patient_fields(case, birth_year)
    try:
        surgery = PatientSurgery.model_validate(fields["surgery"])
        data = PatientCreate.model_validate({"external_id": fhir_external_id(fhir_patient_id), **fields})
    except ValidationError:
        return None
    return FhirPatient(data, surgery)


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.external_id,
    Patient.birth_year,
    Patient.sex,
    Patient.procedure,
    Patient.levels,
    Patient.approach,
    Patient.route,
    Patient.instrumented,
    Patient.surgery_date,
)
"""What ``StoredPatient.of`` reads from a row."""
_FIND_PATIENT = select(*_PATIENT_COLUMNS).where(
    Patient.organisation_id == bindparam("org"), Patient.external_id == bindparam("external_id")
)
_FIND_PATIENTS = select(*_PATIENT_COLUMNS).where(
    Patient.organisation_id == bindparam("org"),
    Patient.external_id.in_(bindparam("external_ids", expanding=True)),
)


# built once (statements are cached by SQLAlchemy, but building one costs a little every call)
_INSERT_PATIENT = insert(Patient)
_INSERT_ASSESSMENT = insert(Assessment)
_INSERT_CALL = insert(CdsCall)
_INSERT_CARDS = insert(CdsCard)
_INSERT_AUDIT = insert(AuditEvent)
CALL_INSERTS = (_INSERT_ASSESSMENT, _INSERT_CALL, _INSERT_CARDS, _INSERT_AUDIT)
"""``add_call``'s statements, parents first: the order in which deferred ``Inserts`` write them."""


PatientKey = tuple[uuid.UUID, str]
"""A FHIR patient's local record by organisation and ``external_id``."""


@dataclass(frozen=True)
class StoredPatient:
    """A FHIR patient's local record as stored: its id and what ``sync_fhir_patient`` compares."""

    id: uuid.UUID
    state: tuple[PatientSurgery, str | None, int | None]

    @classmethod
    def of(cls, row: Any) -> StoredPatient:
        return cls(row.id, (repository.stored_surgery(row), row.sex, row.birth_year))


def find_fhir_patients(
    *, conn: Connection, keys: Iterable[PatientKey]
) -> dict[PatientKey, StoredPatient | None]:
    """The local records of FHIR patients (``None`` for those with none), one statement per organisation:
    read before a write transaction, so that it holds the write lock for less time."""
    wanted: dict[uuid.UUID, set[str]] = {}
    for org, external_id in keys:
        wanted.setdefault(org, set()).add(external_id)
    found: dict[PatientKey, StoredPatient | None] = {}
    for org, external_ids in wanted.items():
        found |= dict.fromkeys(((org, e) for e in external_ids), None)
        for row in conn.execute(_FIND_PATIENTS, {"org": org, "external_ids": sorted(external_ids)}):
            found[(org, row.external_id)] = StoredPatient.of(row)
    return found


def _find_patient(conn: Connection, actor: Actor, external_id: str) -> StoredPatient | None:
    row = conn.execute(_FIND_PATIENT, {"org": actor.organisation_id, "external_id": external_id}).first()
    return StoredPatient.of(row) if row is not None else None


def sync_fhir_patient(
    *,
    conn: Connection,
    actor: Actor,
    patient: FhirPatient,
    audit: list[dict[str, Any]],
    known: MutableMapping[PatientKey, StoredPatient | None] | None = None,
) -> uuid.UUID:
    """The id of the local record of a FHIR patient, created or brought up to date; the audit rows
    (``patient.create`` / ``patient.update``) are appended to ``audit`` for ``add_call`` to write.

    ``known``: the records this transaction knows already (read before it with ``find_fhir_patients``
    and kept up to date here, so a second call for the same patient sees the first); a patient not
    in it is read. A record read before the transaction may be out of date: a patient created
    meanwhile makes the insert fail and is read then; one changed meanwhile is compared with what
    was read, and the later of two calls for one patient wins either way."""
    data = patient.data
    key = (actor.organisation_id, data.external_id)
    state = (patient.surgery, data.sex, data.birth_year)
    current = (
        known[key] if known is not None and key in known else _find_patient(conn, actor, data.external_id)
    )
    if current is None:
        values = repository.patient_values(actor=actor, data=data)
        try:
            with conn.begin_nested():
                conn.execute(_INSERT_PATIENT, values)
        except IntegrityError:  # another worker created it first
            current = _find_patient(conn, actor, data.external_id)
            if current is None:  # pragma: no cover - a conflict means the row exists
                raise
        else:
            audit.append(
                repository.audit_values(
                    actor=actor, action="patient.create", resource_type="patient", resource_id=values["id"]
                )
            )
            current = StoredPatient(values["id"], state)
    elif current.state != state:
        conn.execute(
            update(Patient)
            .where(Patient.id == current.id, Patient.organisation_id == actor.organisation_id)
            .values(
                birth_year=data.birth_year,
                sex=data.sex,
                updated_at=utcnow(),
                **repository.surgery_values(patient.surgery),
            )
        )
        audit.append(
            repository.audit_values(
                actor=actor, action="patient.update", resource_type="patient", resource_id=current.id
            )
        )
        current = StoredPatient(current.id, state)
    if known is not None:
        known[key] = current
    return current.id


# ---------------------------------------------------------------------------- calls and cards


def add_call(
    *,
    inserts: Inserts,
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
    assessment: dict[str, Any] | None = None,
    audit: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    """Store one call, its cards (``(uuid, kind)`` pairs) and the assessment made in it (the columns
    from ``repository.assessment_values``), audited as ``assessment.create`` and ``cds.<hook>``
    after the rows already in ``audit``. Core inserts, one statement per table (deferred ``inserts``:
    one per table for all the calls of the transaction, written in ``CALL_INSERTS`` order)."""
    audit = list(audit or [])
    if assessment is not None:
        inserts.add(_INSERT_ASSESSMENT, assessment)
        audit.append(
            repository.audit_values(
                actor=actor,
                action="assessment.create",
                resource_type="assessment",
                resource_id=assessment["id"],
            )
        )
    call_id = uuid.uuid4()
    inserts.add(
        _INSERT_CALL,
        {
            "id": call_id,
            "organisation_id": actor.organisation_id,
            "created_at": utcnow(),
            "hook": hook,
            "hook_instance": hook_instance,
            "issuer": issuer,
            "tenant": tenant[:255] if tenant else None,
            "jti": jti[:255],
            "fhir_server": fhir_server[:500] if fhir_server else None,
            "fhir_patient_id": fhir_patient_id,
            "patient_id": patient_id,
            "assessment_id": assessment["id"] if assessment is not None else None,
            "outcome": "assessment" if assessment is not None else "insufficient-data",
            "card_uuids": [u for u, _ in cards],
            "record": record,
        },
    )
    rows = [
        {"call_id": call_id, "card_uuid": card_uuid, "organisation_id": actor.organisation_id, "kind": kind}
        for card_uuid, kind in dict(cards).items()
    ]
    if rows:
        inserts.add(_INSERT_CARDS, rows)
    audit.append(
        repository.audit_values(
            actor=actor, action=f"cds.{hook.replace('-', '_')}", resource_type="cds_call", resource_id=call_id
        )
    )
    inserts.add(_INSERT_AUDIT, audit)
    return call_id


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
