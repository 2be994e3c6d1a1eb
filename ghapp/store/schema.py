"""Tables (SQLAlchemy Core). The migrations in ghapp/store/migrations create exactly these.

Times are stored as float seconds since the epoch: both back ends compare them numerically and
there is no time-zone conversion to get wrong.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ghapp.app.webhooks import MAX_KEY, MAX_NAME, MAX_REPOSITORY, MAX_SHA

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
_BigId = BigInteger().with_variant(Integer(), "sqlite")

# Job states. pending -> running -> done | pending (retry) | dead; pending -> superseded | skipped.
PENDING = "pending"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
SUPERSEDED = "superseded"  # a newer event for the same pull request replaced it before it ran
SKIPPED = "skipped"  # a newer head of the same pull request was already evaluated
STATUSES = (PENDING, RUNNING, DONE, DEAD, SUPERSEDED, SKIPPED)

deliveries = Table(
    "ghapp_deliveries",
    metadata,
    Column("seq", _BigId, primary_key=True, autoincrement=True),
    # Intake refuses or leaves out what does not fit (ghapp.app.webhooks.parse_delivery).
    Column("delivery_id", String(MAX_NAME), nullable=False, unique=True),
    Column("event", String(MAX_NAME), nullable=False),
    Column("action", String(MAX_NAME)),
    Column("installation_id", BigInteger),
    Column("repository", String(MAX_REPOSITORY)),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", Float(53), nullable=False),
    # Job state: one row per delivery is both the durable record and the queue entry.
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", Float(53), nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", Float(53)),
    Column("last_error", Text),
    Column("finished_at", Float(53)),
    # Coalescing: "owner/name#123" for pull-request evaluations, with the head it evaluates and
    # GitHub's time of that state (pull_request.updated_at) to order events of one PR.
    Column("coalesce_key", String(MAX_KEY)),
    Column("head_sha", String(MAX_SHA)),
    Column("event_at", Float(53)),
    Index("ix_ghapp_deliveries_claim", "status", "seq"),
    Index("ix_ghapp_deliveries_key", "coalesce_key", "status"),
)

pr_heads = Table(
    "ghapp_pr_heads",
    metadata,
    Column("coalesce_key", String(MAX_KEY), primary_key=True),
    Column("head_sha", String(MAX_SHA), nullable=False),
    Column("event_at", Float(53), nullable=False),
    Column("evaluated_at", Float(53), nullable=False),
    Column("delivery_id", String(MAX_NAME), nullable=False),
)

audit_log = Table(
    "ghapp_audit_log",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("at", Float(53), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("repository", String(300), nullable=False),
    Column("pr", Integer),
    Column("command", String(100), nullable=False),
    Column("arguments", Text, nullable=False),  # JSON list
    Column("outcome", String(20), nullable=False),
    Column("detail", Text, nullable=False),
    Column("source", String(200), nullable=False),
    Column("data", Text, nullable=False),  # JSON object
    Index("ix_ghapp_audit_repo", "repository", "pr", "at"),
)

# What publishing remembers between events (ghapp.app.memory.Memory): check-run ids, comment ids.
memory = Table(
    "ghapp_memory",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float(53), nullable=False),
)

# One report per repository, head SHA and kind (a pull request's head against its base, or a
# branch commit on its own): the details page reads it without calling GitHub, and the latest
# default-branch row per repository is the organisation dashboard's. `report` is the JSON of
# ghapp.core.model.Report (None with `error` when the evaluation failed).
evaluations = Table(
    "ghapp_evaluations",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("repository", String(300), nullable=False),
    Column("head_sha", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("ref", String(300)),
    Column("default_branch", Boolean, nullable=False, default=False),
    Column("pr_number", Integer),
    Column("base_sha", String(64)),
    Column("installation_id", BigInteger),
    Column("conclusion", String(20), nullable=False),
    Column("title", String(300), nullable=False),
    Column("report", Text),
    Column("error", Text),
    Column("evaluated_at", Float(53), nullable=False),
    UniqueConstraint("repository", "head_sha", "kind", name="uq_ghapp_evaluations_commit"),
    Index("ix_ghapp_evaluations_default", "repository", "default_branch", "evaluated_at"),
    Index("ix_ghapp_evaluations_age", "evaluated_at"),
)

# The organisation dashboard (ghapp.store.compliance): one row per service of each repository's
# latest default-branch evaluation (`row` is ServiceRow.to_json(); the other columns are what the
# page filters on: `data` is ",pci,pii," and `failing` " rule rule ", so LIKE finds one value).
compliance_services = Table(
    "ghapp_compliance_services",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("org", String(100), nullable=False),  # lower-cased owner of the repository
    Column("repository", String(300), nullable=False),
    Column("service", String(300), nullable=False),
    Column("owner", String(300)),
    Column("tier", String(100)),
    Column("data", Text, nullable=False),
    Column("compliant", Boolean, nullable=False),
    Column("failing", Text, nullable=False),
    Column("row", Text, nullable=False),
    Column("head_sha", String(64), nullable=False),
    Column("evaluated_at", Float(53), nullable=False),
    UniqueConstraint("repository", "service", name="uq_ghapp_compliance_service"),
    Index("ix_ghapp_compliance_org", "org", "repository"),
)

# One row per organisation and day: the compliance trend. `by_owner` is JSON
# {owner: [services, compliant]}, `by_rule` JSON {rule: services failing it}.
compliance_snapshots = Table(
    "ghapp_compliance_snapshots",
    metadata,
    Column("org", String(100), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("services", Integer, nullable=False),
    Column("compliant", Integer, nullable=False),
    Column("by_owner", Text, nullable=False),
    Column("by_rule", Text, nullable=False),
    Column("taken_at", Float(53), nullable=False),
)
