"""Finding cases: text over everything a case holds, a staff member's filters, orders, and saved filters.

The text search looks in each case's search document (engine/fulltext.py: the case number, the text of
its data, the comments and inputs of its history rows — step comments, notes, attachment names), as a
substring, any letter case: "88231" finds "SO-88231", "华东" finds "华东机电". On PostgreSQL a trigram GIN
index answers it at a million cases (docs/performance.md, "Search"); SQLite scans the one column. The
case whose number is the text comes first, then the most recently changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    String,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..models import Base, Case, User, UTCDateTime
from . import fulltext
from .cases import MAX_ID
from .clock import Clock
from .errors import InvalidInputs, NotFound

MAX_TEXT = 100
MAX_FILTER_NAME = 80
MAX_QUERY = 1000
MAX_FILTERS = 30  # per user and list
SCOPES = ("inbox", "all")


class SavedFilter(Base):
    """A user's named filter of a list page: the list (`scope`) and its query string."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_FILTER_NAME))
    scope: Mapped[str] = mapped_column(String(10))
    query: Mapped[str] = mapped_column(String(MAX_QUERY))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def text_clause(text: str) -> ColumnElement[bool]:
    """Cases whose search document contains `text` (any letter case); or whose id it is (`12`, `#12`)."""
    needle = fulltext.needle_of(text, MAX_TEXT)
    bare = needle.lstrip("#")
    parts: list[ColumnElement[bool]] = [fulltext.matches(needle)]
    if bare.isascii() and bare.isdigit() and 0 < int(bare) <= MAX_ID:
        parts.append(Case.id == int(bare))
    return or_(*parts)


def relevance(text: str) -> list[ColumnElement[Any]]:
    """The ORDER BY keys that put the case numbered (or with the id) `text` before the other hits."""
    needle = fulltext.needle_of(text, MAX_TEXT)
    if not needle:
        return []
    bare = needle.lstrip("#")
    keys: list[ColumnElement[Any]] = [fulltext.exact_number_first(text, MAX_TEXT)]
    if bare.isascii() and bare.isdigit() and 0 < int(bare) <= MAX_ID:
        keys.append(case((Case.id == int(bare), 0), else_=1))
    return keys


@dataclass(frozen=True)
class DeskFilter:
    """What the desk adds to a list's filters: text, who the case is assigned to, when it was opened."""

    text: str = ""
    view: str = ""  # "" every case | mine | team (assigned to a colleague) | unassigned
    assignee: str = ""
    opened_from: date | None = None
    opened_to: date | None = None


VIEWS = ("", "mine", "team", "unassigned")


def desk_clause(filters: DeskFilter, me: str, clock: Clock) -> ColumnElement[bool]:
    """A WHERE clause over `Case` for the desk's filters; `me` is the user asking (for "mine")."""
    parts: list[ColumnElement[bool]] = []
    if filters.text.strip():
        parts.append(text_clause(filters.text))
    if filters.view == "mine":
        parts.append(Case.assignee == me)
    elif filters.view == "team":
        parts.append(and_(Case.assignee.is_not(None), Case.assignee != me))
    elif filters.view == "unassigned":
        parts.append(Case.assignee.is_(None))
    if filters.assignee:
        parts.append(Case.assignee == filters.assignee)
    if filters.opened_from is not None:
        parts.append(Case.created_at >= _local_midnight(clock, filters.opened_from))
    if filters.opened_to is not None:
        parts.append(Case.created_at < _local_midnight(clock, filters.opened_to + timedelta(days=1)))
    return and_(true(), *parts)


def _local_midnight(clock: Clock, day: date) -> datetime:
    """The start of `day` in the organisation's time zone: a date filter means the day as staff live it."""
    return datetime.combine(day, time(), tzinfo=clock.tz)


# The columns a list may be sorted by; the case id breaks ties so that paging is stable.
SORTS: dict[str, Any] = {
    "number": func.coalesce(Case.number, ""),
    "workflow": Case.workflow_key,
    "state": Case.state,
    "assignee": func.coalesce(Case.assignee, ""),
    "opened": Case.created_at,
    "changed": Case.updated_at,
}


def order(sort: str, descending: bool) -> list[ColumnElement[Any]]:
    column = SORTS[sort]
    return [column.desc() if descending else column.asc(), Case.id.desc() if descending else Case.id.asc()]


# -- saved filters -------------------------------------------------------------------------------


def _invalid(field: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {field: {"en": en, "zh": zh}})


def _user_id(session: Session, user_name: str) -> int:
    user_id = session.scalar(select(User.id).where(User.name == user_name))
    if user_id is None:
        raise NotFound(f"no user {user_name}", f"没有用户 {user_name}")
    return user_id


def saved_filters(session: Session, user_name: str, scope: str) -> list[SavedFilter]:
    return list(session.scalars(
        select(SavedFilter).join(User, User.id == SavedFilter.user_id)
        .where(User.name == user_name, SavedFilter.scope == scope).order_by(SavedFilter.name)
    ))


def save_filter(session: Session, clock: Clock, user_name: str, name: str, scope: str, query: str) -> SavedFilter:
    """Save (or replace) the user's filter `name` of list `scope`. Flushes; the caller commits."""
    name = name.strip()
    if not name or len(name) > MAX_FILTER_NAME:
        raise _invalid("name", f"Name the filter (1 to {MAX_FILTER_NAME} characters)",
                       f"请为筛选命名（1 至 {MAX_FILTER_NAME} 个字符）")
    if scope not in SCOPES or len(query) > MAX_QUERY:
        raise _invalid("query", f"The filter is not one of a list, or is longer than {MAX_QUERY} characters",
                       f"筛选不属于列表，或超过 {MAX_QUERY} 个字符")
    user_id = _user_id(session, user_name)
    existing = session.scalar(select(SavedFilter).where(SavedFilter.user_id == user_id, SavedFilter.name == name))
    if existing is None:
        count = session.scalar(select(func.count()).where(SavedFilter.user_id == user_id)) or 0
        if count >= MAX_FILTERS * len(SCOPES):
            raise _invalid("name", "You have saved as many filters as a user may; delete one first",
                           "您保存的筛选已达上限，请先删除一个")
        existing = SavedFilter(user_id=user_id, name=name, scope=scope, query=query, created_at=clock.now())
        session.add(existing)
    else:
        existing.scope, existing.query = scope, query
    session.flush()
    return existing


def delete_filter(session: Session, user_name: str, filter_id: int) -> bool:
    """Delete one of the user's saved filters; False if it is not theirs."""
    user_id = _user_id(session, user_name)
    result = session.execute(delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.user_id == user_id))
    session.flush()
    return bool(getattr(result, "rowcount", 0))
