"""The persistent model: plain SQLAlchemy 2 classes that `web/` hands to Flask-SQLAlchemy.

One truth per fact: a case's state lives only in `cases.state`; who entered it and when are read
from the last history row (its seq, hash and mover are copied onto the case row as the chain's head,
written in the same statement as the move and checked by `audit verify`); the definition text lives
only in `workflow_versions`.

A workflow's own tables live in its package on this same `Base` (workflow/appraisal/models.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def one_of(*values: str, name: str, length: int) -> Enum:
    """A column that holds one of a fixed set of values: a plain string column with a CHECK constraint
    (ck_<table>_<name>) rather than a native enum type, so that a value added later is a new constraint
    on both databases, never an ALTER TYPE on PostgreSQL."""
    return Enum(*values, name=name, length=length, native_enum=False, create_constraint=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A disabled user can neither sign in nor use an API token; the row stays, as history names them.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)


class ApiToken(Base):
    """A named API token of a user. Only the SHA-256 digest of the secret is kept.

    At most one live (unrevoked) token per user and name: issuing a token under a name in use revokes the old one.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("uq_api_tokens_user_id_name_live", "user_id", "name", unique=True,
              postgresql_where=text("revoked_at IS NULL"), sqlite_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(Base):
    """One sign-in to the web UI. The cookie carries a random id; only its SHA-256 digest is kept here.

    A session counts only while `ended_at` is NULL: signing out, a new password or disabling the user
    sets it, and the cookie that names the session stops working at once.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(80), primary_key=True)
    user: Mapped[User] = relationship(back_populates="role_rows")


class WorkflowVersion(Base):
    """A published definition. Never updated: a change is a new row with the next version number."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    # Deferred: a case loads its version row with it, and the 7–16 KB text is needed only to parse a
    # version not yet in the process's cache (publishing.workflow_of).
    source: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was published (the workbench asks for one)


class ScoresheetVersion(Base):
    """A published score-sheet template (考核表单), numbered per template like a workflow version and, like
    it, never updated: a scored sheet names the version it was scored with (workflow/appraisal/templates.py)."""

    __tablename__ = "scoresheet_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class ScoresheetProposal(Base):
    """A template version one process owner proposed and a second must approve (the four-eyes setting): approved,
    it is published as a ScoresheetVersion and names both; rejected, it stays with why. Its status changes, so
    unlike the versions it is a working table."""

    __tablename__ = "scoresheet_proposals"
    __table_args__ = (Index("ix_scoresheet_proposals_key", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the latest when proposed: later, it is stale
    source: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(one_of("pending", "published", "rejected", name="status", length=10))
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(80))
    rejected_by: Mapped[str | None] = mapped_column(String(80))
    rejection: Mapped[str | None] = mapped_column(Text)  # why it was rejected
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_version: Mapped[int | None] = mapped_column(Integer)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_workflow_state", "workflow_key", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    workflow_key: Mapped[str] = mapped_column(String(80))
    version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    state: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    lock_version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The head of the case's history chain, kept with every append (history.append, cases.advance) as
    # a compare-and-set on last_seq: the next row's seq and prev_hash without reading history, and who
    # made the last move (the four-eyes rule). 0 and GENESIS before the opening row; `audit verify`
    # checks them against the last history row.
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_hash: Mapped[str] = mapped_column(String(64), default="0" * 64, server_default="0" * 64)
    last_mover: Mapped[str | None] = mapped_column(String(80))
    # The person working the case (NULL: the role's queue); each change is an `assignment` history row.
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
    # What the desk's text search looks in (engine/fulltext.py): trigram-indexed on PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    version: Mapped[WorkflowVersion] = relationship(lazy="joined")
    # Loaded when asked for: a move stops and starts timers with statements of its own (timers.py).
    timers: Mapped[list[Timer]] = relationship(
        back_populates="case", order_by="Timer.id", lazy="select", cascade="all, delete-orphan"
    )

    # The ORM turns every UPDATE into a compare-and-set on lock_version: a concurrent change
    # makes the loser's flush fail instead of silently overwriting the winner.
    __mapper_args__ = {"version_id_col": lock_version}


# Substrings of any language (part numbers, Chinese words) at a million cases; a plain index on SQLite.
Index("ix_cases_search_text", Case.search_text, postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})


class HistoryEntry(Base):
    """One row per transition or notice, append-only (database triggers refuse UPDATE and DELETE).

    `kind` is "transition" for a move (case creation included) and "notice" for a record such as a
    reminder 催办单 or an inquiry 洽办单, which leaves the state as it is.
    """

    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(
        one_of("transition", "notice", "note", "migration", "assignment", name="kind", length=20),
        default="transition", server_default="transition",
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    from_state: Mapped[str | None] = mapped_column(String(80))
    to_state: Mapped[str] = mapped_column(String(80))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Timer(Base):
    """A running or finished clock of a case.

    `next_action_at` is the one moment the timer worker must look at it next (the warning, the
    expiry, the next reminder), or NULL when nothing more is due; the sweep reads only rows whose
    moment has come, through a partial index.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index(
            "ix_timers_next_action_at", "next_action_at",
            postgresql_where=text("status = 'running' AND next_action_at IS NOT NULL"),
            sqlite_where=text("status = 'running' AND next_action_at IS NOT NULL"),
        ),
        # The inbox walks running timers in due order and stops after one page (docs/performance.md).
        Index(
            "ix_timers_running_due_at", "due_at", "id",
            postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(one_of("running", "stopped", name="status", length=20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_state: Mapped[str | None] = mapped_column(String(80))  # the state that held the case at expiry
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    case: Mapped[Case] = relationship(back_populates="timers")


class Notification(Base):
    """An in-app message to one user; e-mailed too when SMTP is configured and the user has an address."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_email_pending", "email_status",
              postgresql_where=text("email_status = 'pending'"), sqlite_where=text("email_status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    timer_id: Mapped[int | None] = mapped_column(ForeignKey("timers.id"))
    # A clock's warning or expiry, or the notice a timer leaves (schema.NOTICES, or "late" on a late stop).
    kind: Mapped[str] = mapped_column(
        one_of("warning", "overdue", "reminder", "inquiry", "late", "mention", "assignment", "chain_break", "report",
               "escalation", name="kind", length=20)
    )
    message: Mapped[dict[str, str]] = mapped_column(JSON)  # {"en": ..., "zh": ...}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_status: Mapped[str] = mapped_column(
        one_of("none", "pending", "sent", "failed", name="email_status", length=10), default="none"
    )
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Closure(Base):
    """A company-specific day off, on top of the public holidays of the calendar."""

    __tablename__ = "closures"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseKey(Base):
    """The values of a definition's `unique` fields, one row per case: the database refuses a second one."""

    __tablename__ = "case_keys"

    workflow_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))


class CaseCounter(Base):
    """The last serial used for a workflow's case numbers in one period (e.g. complaint, 2611)."""

    __tablename__ = "case_counters"

    workflow_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
