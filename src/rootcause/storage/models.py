"""The database tables (SQLAlchemy 2, typed ``Mapped[]`` columns).

One schema for SQLite and PostgreSQL. Every row that holds patient data carries its
``organisation_id`` so each query can be scoped to the caller's organisation. Timestamps are
stored and returned as timezone-aware UTC. Schema changes go through an Alembic migration in
``storage/migrations/versions`` (a test checks the migrations and these models agree).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("clinician", "admin")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """An API key: the public ``id`` is the key's prefix; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("organisation_id", "external_id", name="uq_patients_org_external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(16))
    procedure: Mapped[str] = mapped_column(String(32))
    levels: Mapped[list[str] | None] = mapped_column(JSONDoc)
    approach: Mapped[str | None] = mapped_column(String(32))
    route: Mapped[str | None] = mapped_column(String(32))
    instrumented: Mapped[bool | None] = mapped_column(Boolean)
    surgery_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class PainScore(Base):
    """A follow-up numeric rating (0–10) of leg pain on a calendar date."""

    __tablename__ = "pain_scores"
    __table_args__ = (Index("ix_pain_scores_patient_recorded", "patient_id", "recorded_on"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    nrs: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class Assessment(Base):
    """One assessment: the exact case the engine saw, its full result and the KB version."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_patient_created", "patient_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    assessed_on: Mapped[dt.date | None] = mapped_column(Date)
    knowledge_base_version: Mapped[str] = mapped_column(String(64))
    software_version: Mapped[str] = mapped_column(String(64))
    triage_level: Mapped[str] = mapped_column(String(16))
    leading_condition: Mapped[str] = mapped_column(String(64))
    leading_probability: Mapped[float] = mapped_column(Float)
    case: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    result: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did what, to what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_org_at", "organisation_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class StoredSession(Base):
    """Short-lived state that must outlive a request but not the ``expires_at`` time.

    ``kind`` names the user (e.g. ``interview``, ``jwt-jti``) and namespaces the ``id``;
    ``version`` implements optimistic locking so several workers can share one database.
    """

    __tablename__ = "sessions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CdsCall(Base):
    """One CDS Hooks service call: who called (JWT issuer, tenant, jti), about which FHIR patient,
    what was answered (card uuids) and from what (FHIR basis, notes, prefetch status, RiskAssessment).

    ``patient_id``/``assessment_id`` point to the local patient record (``external_id``
    ``fhir:<id>``) and the stored assessment when a case could be made; never the JWT or the FHIR
    access token.
    """

    __tablename__ = "cds_calls"
    __table_args__ = (Index("ix_cds_calls_org_hook_instance", "organisation_id", "hook_instance"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    hook: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(128))
    issuer: Mapped[str] = mapped_column(String(255))
    tenant: Mapped[str | None] = mapped_column(String(255))
    jti: Mapped[str] = mapped_column(String(255))
    fhir_server: Mapped[str | None] = mapped_column(String(500))
    fhir_patient_id: Mapped[str] = mapped_column(String(128))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    assessment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(32))
    card_uuids: Mapped[list[str]] = mapped_column(JSONDoc)
    record: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class CdsCard(Base):
    """A card sent in a CDS Hooks response, so feedback (which names only the card uuid) finds its call."""

    __tablename__ = "cds_cards"
    __table_args__ = (Index("ix_cds_cards_org_card", "organisation_id", "card_uuid"),)

    call_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cds_calls.id", ondelete="CASCADE"), primary_key=True
    )
    card_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))


class CdsFeedback(Base):
    """One CDS Hooks feedback item, stored once per ``FeedbackItem.idempotency_key()`` per organisation.

    ``call_id`` is null and ``known_card`` false when the card uuid matches no card this organisation
    was sent (the item is kept, flagged, rather than refused).
    """

    __tablename__ = "cds_feedback"
    __table_args__ = (
        UniqueConstraint("organisation_id", "key_sha256", name="uq_cds_feedback_org_key"),
        Index("ix_cds_feedback_org_card", "organisation_id", "card_uuid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_sha256: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(128))
    call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cds_calls.id", ondelete="SET NULL"))
    known_card: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))
    override_system: Mapped[str | None] = mapped_column(String(255))
    override_code: Mapped[str | None] = mapped_column(String(128))
    override_display: Mapped[str | None] = mapped_column(String(255))
    user_comment: Mapped[str | None] = mapped_column(Text)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSONDoc)
    outcome_timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    issuer: Mapped[str] = mapped_column(String(255))
    jti: Mapped[str] = mapped_column(String(255))
