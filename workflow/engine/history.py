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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, HistoryEntry

GENESIS = "0" * 64
TRANSITION = "transition"
NOTICE = "notice"


def canonical(entry: HistoryEntry) -> str:
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    row = {
        "case_id": entry.case_id, "seq": entry.seq, "at": at, "actor": entry.actor,
        "action": entry.action, "from": entry.from_state, "to": entry.to_state,
        "inputs": entry.inputs, "comment": entry.comment,
    }
    if entry.kind != TRANSITION:  # transitions hash as they always have: old chains stay valid
        row["kind"] = entry.kind
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash: str, entry: HistoryEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()


def last_entry(session: Session, case_id: int, kind: str | None = None) -> HistoryEntry | None:
    """The case's last history row, or its last row of `kind`."""
    query = select(HistoryEntry).where(HistoryEntry.case_id == case_id)
    if kind:
        query = query.where(HistoryEntry.kind == kind)
    return session.scalars(query.order_by(HistoryEntry.seq.desc()).limit(1)).first()


def append(
    session: Session, case: Case, *, at: datetime, actor: str, action: str, from_state: str | None,
    to_state: str, inputs: dict[str, Any], comment: str | None, kind: str = TRANSITION,
) -> HistoryEntry:
    """Add the next history row of `case` (flushed so that its id and chain are fixed).

    The caller holds the case's row lock (the compare-and-set UPDATE of a move, or SELECT … FOR
    UPDATE for a notice), so no one else can take the same seq meanwhile.
    """
    previous = last_entry(session, case.id)
    # The chain is hashed with microsecond precision, the finest both databases keep.
    entry = HistoryEntry(
        case_id=case.id, seq=(previous.seq + 1) if previous else 1, kind=kind, at=at.astimezone(UTC),
        actor=actor, action=action, from_state=from_state, to_state=to_state,
        inputs=inputs, comment=comment or None, prev_hash=previous.hash if previous else GENESIS,
    )
    entry.hash = compute_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


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
