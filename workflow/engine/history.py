"""The append-only, hash-chained history of a case.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON of the row itself,
so changing, removing or reordering any row breaks every hash after it. `audit verify`
(workflow/engine/audit.py) checks the chains, and the cases against them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class, set_committed_value

from ..models import Case, HistoryEntry
from . import driver
from .errors import StaleCase
from .numbering import case_name

GENESIS = "0" * 64
TRANSITION = "transition"
NOTICE = "notice"
MIGRATION = "migration"  # the case moved to a later version of its workflow (workflow/engine/migration.py)


def canonical_row(
    case_id: int, seq: int, kind: str, at: datetime, actor: str, action: str, from_state: str | None,
    to_state: str, inputs: dict[str, Any], comment: str | None,
) -> str:
    row = {
        "case_id": case_id, "seq": seq, "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor, "action": action, "from": from_state, "to": to_state, "inputs": inputs, "comment": comment,
    }
    if kind != TRANSITION:  # transitions hash as they always have: old chains stay valid
        row["kind"] = kind
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entry: HistoryEntry) -> str:
    return canonical_row(entry.case_id, entry.seq, entry.kind, entry.at, entry.actor, entry.action,
                         entry.from_state, entry.to_state, entry.inputs, entry.comment)


def _chain_hash(prev_hash: str, canonical_text: str) -> str:
    return hashlib.sha256((prev_hash + canonical_text).encode("utf-8")).hexdigest()


def compute_hash(prev_hash: str, entry: HistoryEntry) -> str:
    return _chain_hash(prev_hash, canonical(entry))


def last_entry(session: Session, case_id: int, kind: str | None = None) -> HistoryEntry | None:
    """The case's last history row, or its last row of `kind`."""
    query = select(HistoryEntry).where(HistoryEntry.case_id == case_id)
    if kind:
        query = query.where(HistoryEntry.kind == kind)
    return session.scalars(query.order_by(HistoryEntry.seq.desc()).limit(1)).first()


def next_row(
    case: Case, *, at: datetime, actor: str, action: str, from_state: str | None, to_state: str,
    inputs: dict[str, Any], comment: str | None, kind: str = TRANSITION,
) -> dict[str, Any]:
    """The column values of the row that follows the case's chain head (cases.last_seq, last_hash)."""
    seq, prev_hash = case.last_seq + 1, case.last_hash
    # The chain is hashed with microsecond precision, the finest both databases keep.
    at = at.astimezone(UTC)
    comment = comment or None
    text = canonical_row(case.id, seq, kind, at, actor, action, from_state, to_state, inputs, comment)
    return {
        "case_id": case.id, "seq": seq, "kind": kind, "at": at, "actor": actor, "action": action,
        "from_state": from_state, "to_state": to_state, "inputs": inputs, "comment": comment,
        "prev_hash": prev_hash, "hash": _chain_hash(prev_hash, text),
    }


def head_of(row: dict[str, Any]) -> dict[str, Any]:
    """The chain head columns of the case once `row` is written (last_mover moves with transitions only)."""
    head = {"last_seq": row["seq"], "last_hash": row["hash"]}
    if row["kind"] == TRANSITION:
        head["last_mover"] = row["actor"]
    return head


def insert_row(session: Session, row: dict[str, Any]) -> HistoryEntry:
    """INSERT `row` (from next_row) and hand it back as a persistent, unmodified HistoryEntry of the session."""
    return inserted(session, row, send_row(session.connection(), row))


def send_row(conn: Connection, row: dict[str, Any]) -> driver.Sent:
    """Send the INSERT of `row` (from next_row) on the session's connection; `inserted` reads its answer."""
    return _INSERT.send(conn, row)


def inserted(session: Session, row: dict[str, Any], sent: driver.Sent) -> HistoryEntry:
    """`row` as a persistent, unmodified HistoryEntry of the session, with the id its INSERT (`sent`) gave."""
    ((entry_id,),) = sent.rows()
    # Built as the ORM builds a loaded row (values straight into __dict__), not through __init__'s
    # attribute events, which would cost more than the INSERT itself.
    entry: HistoryEntry = _ENTRY_MANAGER.new_instance()
    entry.__dict__.update(row, id=entry_id)
    make_transient_to_detached(entry)
    session.add(entry)
    return entry


def set_head(case: Case, head: dict[str, Any]) -> None:
    """Tell the session's Case what the statement just wrote, as committed state (no second UPDATE)."""
    state = inspect(case)
    if not (state.modified or state.expired or state.expired_attributes or state.callables):
        # Nothing pending, expired or left to load on the Case: committing a value is then only storing it,
        # which set_committed_value does at ten times the cost, attribute by attribute.
        case.__dict__.update(head)
        return
    for name, value in head.items():
        set_committed_value(case, name, value)


def stale(case: Case) -> StaleCase:
    name = case_name(case)  # provisional until numbered, as everywhere people read it
    return StaleCase(
        f"Case {name['en']} was changed by someone else at the same moment; reload it and try again",
        f"案件 {name['zh']} 同时被他人修改，请刷新后重试",
    )


_CASES = cast(Table, Case.__table__)
_HISTORY = cast(Table, HistoryEntry.__table__)
# The columns next_row gives, in its order; the INSERT hands back the new row's id.
_ROW_KEYS = ("case_id", "seq", "kind", "at", "actor", "action", "from_state", "to_state", "inputs", "comment",
             "prev_hash", "hash")
_INSERT = driver.Prebuilt(insert(_HISTORY).returning(_HISTORY.c.id), keys=_ROW_KEYS)
_ENTRY_MANAGER = manager_of_class(HistoryEntry)
# The chain head moves by compare-and-set on last_seq: of two appends on the same head, one loses.
_HEAD = {
    mover: driver.Prebuilt(
        update(_CASES)
        .where(_CASES.c.id == bindparam("b_id"), _CASES.c.last_seq == bindparam("b_seq"))
        .values(last_seq=bindparam("last_seq"), last_hash=bindparam("last_hash"),
                **({"last_mover": bindparam("last_mover")} if mover else {}))
    )
    for mover in (True, False)
}


def append(
    session: Session, case: Case, *, at: datetime, actor: str, action: str, from_state: str | None,
    to_state: str, inputs: dict[str, Any], comment: str | None, kind: str = TRANSITION,
) -> HistoryEntry:
    """Add the next history row of `case`, moving the chain head on the case row with it.

    The head moves by a compare-and-set on `cases.last_seq`: if another transaction appended to the
    case since this session read it, nothing is written and StaleCase (a 409) says so. Callers that
    hold the case's row lock (a move's UPDATE, SELECT … FOR UPDATE for a notice) never lose it.
    """
    row = next_row(case, at=at, actor=actor, action=action, from_state=from_state, to_state=to_state,
                   inputs=inputs, comment=comment, kind=kind)
    head = head_of(row)
    params = {"b_id": case.id, "b_seq": case.last_seq, **head}
    moved = _HEAD["last_mover" in head].rowcount(session.connection(), params)
    if moved != 1:
        raise stale(case)
    entry = insert_row(session, row)
    set_head(case, head)
    return entry


def append_chained(session: Session, heads: dict[int, tuple[Case, int]], rows: list[dict[str, Any]]) -> None:
    """Write history rows of several cases that next_row chained in memory (set_head moving each Case's head
    as it went), each statement once for all of them: `heads` maps a case id to the Case and its `last_seq`
    as stored. Every head moves by the same compare-and-set as `append`'s; StaleCase if one was taken."""
    conn = session.connection()
    params = [{"b_id": case_id, "b_seq": stored, "last_seq": case.last_seq, "last_hash": case.last_hash}
              for case_id, (case, stored) in heads.items()]
    if conn.execute(_HEAD[False].statement, params).rowcount != len(params):
        raise stale(next(iter(heads.values()))[0])
    conn.execute(insert(_HISTORY), rows)


@dataclass(frozen=True)
class Break:
    case_id: int
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"case {self.case_id}, seq {self.seq}: {self.reason}"


def verify_case(entries: list[HistoryEntry]) -> Break | None:
    """Re-compute one case's chain; return the first break, or None if it holds."""
    prev = GENESIS
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            return Break(entry.case_id, expected_seq, f"row seq {expected_seq} is missing (found {entry.seq})")
        if entry.prev_hash != prev:
            return Break(entry.case_id, entry.seq, "prev_hash does not match the previous row's hash")
        if compute_hash(prev, entry) != entry.hash:
            return Break(entry.case_id, entry.seq, "the row's content does not match its hash")
        prev = entry.hash
    return None
