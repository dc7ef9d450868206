"""CDS Hooks: service calls, the cards they sent, and feedback on those cards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

The JWT replay cache needs no table of its own: it is rows of kind ``cds-jti`` in ``sessions``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision: str | None = "0001"
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


def upgrade() -> None:
    op.create_table(
        "cds_calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("hook", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(255), nullable=True),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("fhir_server", sa.String(500), nullable=True),
        sa.Column("fhir_patient_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("assessment_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("card_uuids", JSONDoc, nullable=False),
        sa.Column("record", JSONDoc, nullable=False),
        _org_fk("cds_calls"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_cds_calls_patient_id_patients", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name="fk_cds_calls_assessment_id_assessments",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cds_calls"),
    )
    op.create_index("ix_cds_calls_organisation_id", "cds_calls", ["organisation_id"])
    op.create_index("ix_cds_calls_org_hook_instance", "cds_calls", ["organisation_id", "hook_instance"])
    op.create_table(
        "cds_cards",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["cds_calls.id"], name="fk_cds_cards_call_id_cds_calls", ondelete="CASCADE"
        ),
        _org_fk("cds_cards"),
        sa.PrimaryKeyConstraint("call_id", "card_uuid", name="pk_cds_cards"),
    )
    op.create_index("ix_cds_cards_org_card", "cds_cards", ["organisation_id", "card_uuid"])
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("known_card", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("override_system", sa.String(255), nullable=True),
        sa.Column("override_code", sa.String(128), nullable=True),
        sa.Column("override_display", sa.String(255), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("accepted_suggestions", JSONDoc, nullable=False),
        sa.Column("outcome_timestamp", TS, nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        _org_fk("cds_feedback"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["cds_calls.id"], name="fk_cds_feedback_call_id_cds_calls", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cds_feedback"),
        sa.UniqueConstraint("organisation_id", "key_sha256", name="uq_cds_feedback_org_key"),
    )
    op.create_index("ix_cds_feedback_org_card", "cds_feedback", ["organisation_id", "card_uuid"])


def downgrade() -> None:
    for table in ("cds_feedback", "cds_cards", "cds_calls"):
        op.drop_table(table)
