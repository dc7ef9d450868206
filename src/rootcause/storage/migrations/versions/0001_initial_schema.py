"""Initial schema: organisations, API keys, patients, pain scores, assessments, audit log, sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Migrations are frozen copies of the schema: they do not import ``rootcause.storage.models``.
The audit log is append-only: triggers refuse UPDATE and DELETE on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organisation_id"],
        ["organisations.id"],
        name=f"fk_{table}_organisation_id_organisations",
        ondelete="CASCADE",
    )


def _patient_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["patient_id"], ["patients.id"], name=f"fk_{table}_patient_id_patients", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("name", name="uq_organisations_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        _org_fk("api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_organisation_id", "api_keys", ["organisation_id"])
    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(16), nullable=True),
        sa.Column("procedure", sa.String(32), nullable=False),
        sa.Column("levels", JSONDoc, nullable=True),
        sa.Column("approach", sa.String(32), nullable=True),
        sa.Column("route", sa.String(32), nullable=True),
        sa.Column("instrumented", sa.Boolean(), nullable=True),
        sa.Column("surgery_date", sa.Date(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        _org_fk("patients"),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        sa.UniqueConstraint("organisation_id", "external_id", name="uq_patients_org_external_id"),
    )
    op.create_index("ix_patients_organisation_id", "patients", ["organisation_id"])
    op.create_table(
        "pain_scores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("nrs", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        _org_fk("pain_scores"),
        _patient_fk("pain_scores"),
        sa.PrimaryKeyConstraint("id", name="pk_pain_scores"),
    )
    op.create_index("ix_pain_scores_organisation_id", "pain_scores", ["organisation_id"])
    op.create_index("ix_pain_scores_patient_recorded", "pain_scores", ["patient_id", "recorded_on"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("assessed_on", sa.Date(), nullable=True),
        sa.Column("knowledge_base_version", sa.String(64), nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("triage_level", sa.String(16), nullable=False),
        sa.Column("leading_condition", sa.String(64), nullable=False),
        sa.Column("leading_probability", sa.Float(), nullable=False),
        sa.Column("case", JSONDoc, nullable=False),
        sa.Column("result", JSONDoc, nullable=False),
        _org_fk("assessments"),
        _patient_fk("assessments"),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_organisation_id", "assessments", ["organisation_id"])
    op.create_index("ix_assessments_patient_created", "assessments", ["patient_id", "created_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_org_at", "audit_log", ["organisation_id", "at"])
    op.create_table(
        "sessions",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("payload", JSONDoc, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _org_fk("sessions"),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_sessions_organisation_id", "sessions", ["organisation_id"])
    _append_only_audit()


def _append_only_audit() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("sessions", "audit_log", "assessments", "pain_scores", "patients", "api_keys"):
        op.drop_table(table)
    op.drop_table("organisations")
