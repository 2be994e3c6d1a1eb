"""The organisation dashboard: per-service compliance rows and a daily snapshot per org.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ghapp_compliance_services",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(100), nullable=False),
        sa.Column("repository", sa.String(300), nullable=False),
        sa.Column("service", sa.String(300), nullable=False),
        sa.Column("owner", sa.String(300)),
        sa.Column("tier", sa.String(100)),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.Column("failing", sa.Text, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("evaluated_at", sa.Float(53), nullable=False),
        sa.UniqueConstraint("repository", "service", name="uq_ghapp_compliance_service"),
    )
    op.create_index("ix_ghapp_compliance_org", "ghapp_compliance_services", ["org", "repository"])
    op.create_table(
        "ghapp_compliance_snapshots",
        sa.Column("org", sa.String(100), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("services", sa.Integer, nullable=False),
        sa.Column("compliant", sa.Integer, nullable=False),
        sa.Column("by_owner", sa.Text, nullable=False),
        sa.Column("by_rule", sa.Text, nullable=False),
        sa.Column("taken_at", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ghapp_compliance_snapshots")
    op.drop_table("ghapp_compliance_services")
