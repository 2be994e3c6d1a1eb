"""Stored evaluations: a report per repository, head SHA and kind (details page, dashboard).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ghapp_evaluations",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("repository", sa.String(300), nullable=False),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref", sa.String(300)),
        sa.Column("default_branch", sa.Boolean, nullable=False),
        sa.Column("pr_number", sa.Integer),
        sa.Column("base_sha", sa.String(64)),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("conclusion", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("report", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("evaluated_at", sa.Float(53), nullable=False),
        sa.UniqueConstraint("repository", "head_sha", "kind", name="uq_ghapp_evaluations_commit"),
    )
    op.create_index(
        "ix_ghapp_evaluations_default",
        "ghapp_evaluations",
        ["repository", "default_branch", "evaluated_at"],
    )
    op.create_index("ix_ghapp_evaluations_age", "ghapp_evaluations", ["evaluated_at"])


def downgrade() -> None:
    op.drop_table("ghapp_evaluations")
