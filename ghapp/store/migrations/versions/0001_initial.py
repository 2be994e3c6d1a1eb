"""Deliveries queue, per-PR evaluated heads, audit log, publishing memory.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ghapp_deliveries",
        sa.Column("seq", _BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(100), nullable=False, unique=True),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100)),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repository", sa.String(300)),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.Float(53), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("available_at", sa.Float(53), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.Float(53)),
        sa.Column("last_error", sa.Text),
        sa.Column("finished_at", sa.Float(53)),
        sa.Column("coalesce_key", sa.String(320)),
        sa.Column("head_sha", sa.String(64)),
        sa.Column("event_at", sa.Float(53)),
    )
    op.create_index("ix_ghapp_deliveries_claim", "ghapp_deliveries", ["status", "seq"])
    op.create_index("ix_ghapp_deliveries_key", "ghapp_deliveries", ["coalesce_key", "status"])
    op.create_table(
        "ghapp_pr_heads",
        sa.Column("coalesce_key", sa.String(320), primary_key=True),
        sa.Column("head_sha", sa.String(64), nullable=False),
        sa.Column("event_at", sa.Float(53), nullable=False),
        sa.Column("evaluated_at", sa.Float(53), nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=False),
    )
    op.create_table(
        "ghapp_audit_log",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(53), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("repository", sa.String(300), nullable=False),
        sa.Column("pr", sa.Integer),
        sa.Column("command", sa.String(100), nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_ghapp_audit_repo", "ghapp_audit_log", ["repository", "pr", "at"])
    op.create_table(
        "ghapp_memory",
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ghapp_memory")
    op.drop_table("ghapp_audit_log")
    op.drop_table("ghapp_pr_heads")
    op.drop_table("ghapp_deliveries")
