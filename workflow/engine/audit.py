"""`audit verify`: every case's history checked against itself, against the case row, and against a
signed checkpoint of the chain heads kept outside the database.

The hash chain (history.verify_case) proves that no row of a case was changed, removed or
reordered, short of someone recomputing every hash after the row they changed; the case row then
has to agree with its history:

- `lock_version` counts the case's moves: 1 at opening (SQLAlchemy's first version), one more per
  move (cases.advance), while notices (reminders, inquiries, evidence decisions) add history rows
  without touching the case row. So it equals the number of transition rows, and a deleted last
  move is caught even when it was a self-loop, which leaves the state as it was.
- `state` is where the last move went.
- `last_seq`, `last_hash` and `last_mover`, the chain head a move reads instead of the history, are
  the last row's seq and hash and the actor of the last move.
- `data` is what replaying the moves gives: row 1 stores the full opening data (defaults and
  computed fields included); each later move's typed inputs marked `to_case` land on the case,
  then the computed fields are evaluated again, exactly as cases.advance does.

What the chain cannot prove — that nobody rewrote a row and recomputed every hash after it — a
checkpoint does: the chain heads signed with HMAC-SHA256 under a key the database never holds.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from ..definitions import Definition, expressions
from ..models import Case, HistoryEntry, WorkflowVersion
from . import audit_models, derived  # audit_models: its tables and history indexes join the metadata
from .clock import Clock
from .errors import NotFound, WorkflowError
from .history import MIGRATION, TRANSITION, Break, verify_case
from .publishing import workflow_of

CHECKPOINT_FORMAT = "aftersales-workflow audit checkpoint 1"
MIN_KEY_BYTES = 16


# --- the case row against its history ----------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    id: int
    version_id: int
    state: str
    lock_version: int
    data: dict[str, Any]
    last_seq: int | None = None  # the chain head; None: not checked
    last_hash: str | None = None
    last_mover: str | None = None


def verify_all(session: Session, clock: Clock, batch: int = 500) -> tuple[int, list[Break]]:
    """Verify every case: its chain, then its state, lock_version and data against that chain.

    Returns (cases checked, breaks sorted by case and seq). Run it in one snapshot (REPEATABLE READ
    on PostgreSQL): a case moved between reading its row and reading its history would look broken.
    """
    breaks: list[Break] = []
    checked, after = 0, 0
    definitions = _Definitions(session)
    while True:
        cases = [CaseRow(*row) for row in session.execute(
            select(Case.id, Case.version_id, Case.state, Case.lock_version, Case.data,
                   Case.last_seq, Case.last_hash, Case.last_mover)
            .where(Case.id > after).order_by(Case.id).limit(batch)
        )]
        if not cases:
            break
        entries: dict[int, list[HistoryEntry]] = {case.id: [] for case in cases}
        # populate_existing: an audit reads what the database holds, not what this session remembers.
        for entry in session.scalars(
            select(HistoryEntry).where(HistoryEntry.case_id.between(cases[0].id, cases[-1].id))
            .order_by(HistoryEntry.case_id, HistoryEntry.seq).execution_options(populate_existing=True)
        ):
            entries[entry.case_id].append(entry)
        for case in cases:
            breaks += verify_case_row(session, clock, definitions(case.version_id), case, entries[case.id])
        checked += len(cases)
        after = cases[-1].id
    return checked, sorted(breaks, key=lambda b: (b.case_id, b.seq))


def verify_case_row(
    session: Session, clock: Clock, workflow: Audited, case: CaseRow, entries: list[HistoryEntry]
) -> list[Break]:
    if not entries:
        return [Break(case.id, 1, "the case has no history")]
    if chain_break := verify_case(entries):
        return [chain_break]  # replaying rows that are known to be altered would only add noise
    moves = [e for e in entries if e.kind == TRANSITION]
    found = []
    if case.lock_version != len(moves):
        # More versions than moves: a move is gone (seq: the row after the last one). Fewer: the case
        # row was put back, and the first move it does not count is named.
        missing = entries[-1].seq + 1 if case.lock_version > len(moves) else moves[max(case.lock_version, 0)].seq
        found.append(Break(case.id, missing, f"the case's lock_version is {case.lock_version} "
                                             f"but its history holds {len(moves)} moves"))
    # A migration to a later version may map the state: the last move or migration names the state now.
    placed = [e for e in entries if e.kind in (TRANSITION, MIGRATION)]
    if placed and placed[-1].to_state != case.state:
        found.append(Break(case.id, placed[-1].seq, "the case's state differs from its last history row"))
    if not found:  # a head that disagrees with a row already shown missing would only add noise
        found += _head_breaks(case, entries[-1], moves[-1].actor if moves else None)
    if moves:
        found += compare_data(session, clock, workflow, case, moves, _versions_along(session, case, entries))
    return found


def _versions_along(session: Session, case: CaseRow, entries: list[HistoryEntry]) -> dict[int, Definition]:
    """For a case migrated to later versions, the definition each move was made under (by seq): the
    `from_version` of the first migration before the first one, then each migration's `to_version`."""
    migrations = [e for e in entries if e.kind == MIGRATION]
    if not migrations:
        return {}
    key = session.scalar(select(WorkflowVersion.key).where(WorkflowVersion.id == case.version_id))
    numbers = [migrations[0].inputs.get("from_version")] + [m.inputs.get("to_version") for m in migrations]
    rows = session.scalars(select(WorkflowVersion).where(WorkflowVersion.key == key,
                                                       WorkflowVersion.version.in_(numbers)))
    by_number = {v.version: workflow_of(v).definition for v in rows}
    under, boundaries = {}, [(m.seq, m.inputs.get("to_version")) for m in migrations]
    current = numbers[0]
    for e in entries:
        while boundaries and e.seq >= boundaries[0][0]:
            current = boundaries.pop(0)[1]
        if e.kind == TRANSITION and current in by_number:
            under[e.seq] = by_number[current]
    return under


def _head_breaks(case: CaseRow, last: HistoryEntry, mover: str | None) -> list[Break]:
    """A break if the chain head kept on the case row is not its last history row (and last mover)."""
    if case.last_seq is None:
        return []
    if (case.last_seq, case.last_hash) != (last.seq, last.hash):
        return [Break(case.id, last.seq, f"the case's chain head (last_seq {case.last_seq}) differs from its "
                                         f"last history row (seq {last.seq})" if case.last_seq != last.seq
                      else "the case's chain head (last_hash) differs from its last history row's hash")]
    if case.last_mover != mover:
        return [Break(case.id, last.seq, "the case's last_mover differs from the actor of its last move")]
    return []


# --- replaying the data --------------------------------------------------------------------------


class ReplayFailed(Exception):
    def __init__(self, seq: int, reason: str):
        super().__init__(reason)
        self.seq = seq


def replay(
    session: Session, clock: Clock, definition: Definition, moves: Sequence[HistoryEntry],
    under: dict[int, Definition] | None = None,
) -> dict[str, Any]:
    """The case data that `moves` (the case's transition rows, in order) produce; `under`: the definition a
    move was made under by its seq, where it is not `definition` (a case migrated to a later version)."""
    if moves[0].seq != 1 or moves[0].from_state is not None:
        raise ReplayFailed(moves[0].seq, "the history does not begin with the case's opening")
    data = dict(moves[0].inputs)  # the opening stored everything the case started with
    for move in moves[1:]:
        definition = (under or {}).get(move.seq, definition)
        transition = definition.transitions.get(move.action)
        if transition is None:
            raise ReplayFailed(move.seq, f"{move.action!r} is not a transition of the case's workflow version")
        to_case = {i.name for i in transition.inputs if i.to_case}
        merged = {**data, **{name: value for name, value in move.inputs.items() if name in to_case}}
        data = derived.recompute(session, definition, merged, {"now": move.at, "today": clock.local(move.at).date()})
    return data


def compare_data(
    session: Session, clock: Clock, workflow: Audited, case: CaseRow, moves: Sequence[HistoryEntry],
    under: dict[int, Definition] | None = None,
) -> list[Break]:
    """A break per field of `cases.data` that differs from what the case's history gives."""
    last = moves[-1]
    try:
        replayed = _as_stored(replay(session, clock, workflow.definition, moves, under))
    except ReplayFailed as exc:
        return [Break(case.id, exc.seq, str(exc))]
    unverifiable = set() if _series_still_since(session, workflow, case.id, replayed, last.at) \
        else workflow.reads_other_cases
    return [
        Break(case.id, last.seq, f"cases.data field {name!r} is {_shown(case.data, name)}, "
                                 f"its history gives {_shown(replayed, name)}")
        for name in sorted(set(case.data) | set(replayed))
        if name not in unverifiable and case.data.get(name, _ABSENT) != replayed.get(name, _ABSENT)
    ]


# A computed field that reads another case (previous(): the same person's case of last month, directly
# or through another computed field) was evaluated against that case's data as it stood at the
# move, which no row of this case records. Recomputed against the other cases as they are now, it is
# what was stored only if none of them has moved since: otherwise an honest earlier sheet corrected
# later would be reported as tampering here. So such a field is compared when no case of the series
# (same key fields, any period) moved at or after this case's last move, and the definition lets
# neither the series key change after opening nor a computed field read one declared after it (whose
# value would come from an earlier move's evaluation). Otherwise it is taken as stored; what it is
# computed from — this case's fields, and the other cases' — is still verified by each one's replay.


@dataclass(frozen=True)
class Audited:
    """A workflow version's definition, with what its audit needs to know of it."""

    definition: Definition
    reads_other_cases: frozenset[str]  # computed fields that read another case
    series_replayable: bool  # whether those can be recomputed at all (see above)

    @classmethod
    def of(cls, definition: Definition) -> Audited:
        return cls(definition, reads_other_cases(definition), series_replayable(definition))


def reads_other_cases(definition: Definition) -> frozenset[str]:
    """Computed fields that call a context function (previous()), directly or through another computed field."""
    computed = {name: spec.computed for name, spec in definition.fields.items() if spec.computed}
    found = {name for name, expr in computed.items() if _calls_context_function(expr)}
    while more := {
        name for name, expr in computed.items()
        if name not in found and expressions.names_used(expr, expressions.CONTEXT_FUNCTIONS) & found
    }:
        found |= more
    return frozenset(found)


def series_replayable(definition: Definition) -> bool:
    """Whether other-case computed fields can be recomputed at all (see the comment above)."""
    series = definition.series
    if series is None:
        return False
    fixed = set(series.key) | {series.period}
    if any(i.to_case and i.name in fixed for t in definition.transitions.values() for i in t.inputs):
        return False
    order = {name: i for i, name in enumerate(definition.fields)}
    computed = {name: spec.computed for name, spec in definition.fields.items() if spec.computed}
    return not any(
        order[used] >= order[name]
        for name, expr in computed.items()
        for used in expressions.names_used(expr, expressions.CONTEXT_FUNCTIONS) & set(computed)
    )


def _series_still_since(
    session: Session, workflow: Audited, case_id: int, data: dict[str, Any], since: datetime
) -> bool:
    """Whether no other case of this case's series moved at or after `since` (and that can be known)."""
    if not workflow.reads_other_cases:
        return True
    definition = workflow.definition
    series = definition.series
    if series is None or not workflow.series_replayable or any(data.get(k) is None for k in series.key):
        return False
    others = select(Case.id).where(
        Case.workflow_key == definition.key, Case.id != case_id,
        *[Case.data[k].as_string() == str(data[k]) for k in series.key],
    )
    latest = session.scalar(
        select(func.max(HistoryEntry.at)).where(HistoryEntry.case_id.in_(others), HistoryEntry.kind == TRANSITION)
    )
    return latest is None or latest < since


def _calls_context_function(expr: str) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id in expressions.CONTEXT_FUNCTIONS
        for node in ast.walk(ast.parse(expr.strip(), mode="eval"))
    )


_ABSENT = object()


def _as_stored(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as it reads back from a JSON column (tuples become lists, and so on)."""
    return dict(json.loads(json.dumps(data)))


def _shown(data: dict[str, Any], name: str) -> str:
    if name not in data:
        return "absent"
    text = json.dumps(data[name], ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


class _Definitions:
    """The definition of each workflow version, loaded once per audit."""

    def __init__(self, session: Session):
        self.session = session
        self.known: dict[int, Audited] = {}

    def __call__(self, version_id: int) -> Audited:
        if version_id not in self.known:
            version = self.session.get(WorkflowVersion, version_id)
            assert version is not None  # a foreign key
            self.known[version_id] = Audited.of(workflow_of(version).definition)
        return self.known[version_id]


# --- checkpoints -----------------------------------------------------------------------------------


class CheckpointInvalid(WorkflowError):
    code = "checkpoint_invalid"


@dataclass(frozen=True)
class Head:
    """A case's last history row: its seq and hash stand for every row up to it."""

    case_id: int
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    at: str
    heads: tuple[Head, ...]


def chain_heads(session: Session) -> list[Head]:
    last = (
        select(HistoryEntry.case_id, func.max(HistoryEntry.seq).label("seq"))
        .group_by(HistoryEntry.case_id).subquery()
    )
    rows = session.execute(
        select(HistoryEntry.case_id, HistoryEntry.seq, HistoryEntry.hash)
        .join(last, (HistoryEntry.case_id == last.c.case_id) & (HistoryEntry.seq == last.c.seq))
        .order_by(HistoryEntry.case_id)
    )
    return [Head(*row) for row in rows]


def checkpoint_text(session: Session, at: datetime, key: bytes) -> str:
    """Every case's chain head and the moment, signed under `key`: the checkpoint file's text."""
    check_key(key)
    body = {
        "format": CHECKPOINT_FORMAT,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "heads": [[h.case_id, h.seq, h.hash] for h in chain_heads(session)],
    }
    return json.dumps({**body, "hmac_sha256": _signature(body, key)}, indent=1) + "\n"


def read_checkpoint(text: str, key: bytes) -> Checkpoint:
    """The checkpoint in `text`, once its signature under `key` holds; CheckpointInvalid otherwise."""
    check_key(key)
    try:
        document = json.loads(text)
    except ValueError:
        raise CheckpointInvalid("not a checkpoint: the file is not JSON", "不是检查点文件：不是 JSON") from None
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointInvalid(f"not a checkpoint: its format is not {CHECKPOINT_FORMAT!r}",
                                f"不是检查点文件：格式不是 {CHECKPOINT_FORMAT!r}")
    body = {k: v for k, v in document.items() if k != "hmac_sha256"}
    signature = document.get("hmac_sha256")
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _signature(body, key)):
        raise CheckpointInvalid("the checkpoint's signature does not hold: the file was altered or signed "
                                "with another key", "检查点签名不符：文件被改动，或以其他密钥签名")
    try:
        heads = tuple(Head(int(case_id), int(seq), str(digest)) for case_id, seq, digest in body["heads"])
        return Checkpoint(str(body["at"]), heads)
    except (KeyError, TypeError, ValueError):
        raise CheckpointInvalid("the checkpoint is signed but malformed", "检查点已签名但格式有误") from None


def verify_checkpoint(session: Session, checkpoint: Checkpoint, batch: int = 500) -> list[Break]:
    """A break for each checkpointed head whose row is gone or differs, and for each case that vanished.

    A head's hash covers every row of the case up to it, so a row rewritten with every hash after
    it recomputed shows here even though the chain itself holds.
    """
    breaks = []
    for chunk in _chunks(checkpoint.heads, batch):
        present = set(session.scalars(select(Case.id).where(Case.id.in_([h.case_id for h in chunk]))))
        now = {(case_id, seq): digest for case_id, seq, digest in session.execute(
            select(HistoryEntry.case_id, HistoryEntry.seq, HistoryEntry.hash)
            .where(tuple_(HistoryEntry.case_id, HistoryEntry.seq).in_([(h.case_id, h.seq) for h in chunk]))
        )}
        for head in chunk:
            stored = now.get((head.case_id, head.seq))
            if head.case_id not in present:
                reason = f"the case has vanished since the checkpoint of {checkpoint.at}"
            elif stored is None:
                reason = f"the row is gone since the checkpoint of {checkpoint.at}"
            elif stored != head.hash:
                reason = f"the history up to this row was rewritten since the checkpoint of {checkpoint.at}"
            else:
                continue
            breaks.append(Break(head.case_id, head.seq, reason))
    return breaks


def check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise CheckpointInvalid(f"the audit key must be at least {MIN_KEY_BYTES} bytes long",
                                f"审计密钥至少须 {MIN_KEY_BYTES} 字节")


def _signature(body: dict[str, Any], key: bytes) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _chunks(items: Sequence[Head], size: int) -> Iterable[Sequence[Head]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- the runs of `audit verify`, and one case's chain ------------------------------------------------


def record_run(
    session: Session, started_at: datetime, finished_at: datetime, run_by: str, checked: int, breaks: list[Break]
) -> audit_models.AuditRun:
    """Keep the outcome of a full verification, for the audit area (`last_run`)."""
    first = breaks[0] if breaks else None
    run = audit_models.AuditRun(
        started_at=started_at, finished_at=finished_at, run_by=run_by[:80], cases_checked=checked,
        breaks=len(breaks), first_case_id=first.case_id if first else None, first_seq=first.seq if first else None,
        first_reason=first.reason[:500] if first else None,
    )
    session.add(run)
    session.flush()
    return run


def last_run(session: Session) -> audit_models.AuditRun | None:
    return session.scalars(select(audit_models.AuditRun)
                           .order_by(audit_models.AuditRun.finished_at.desc(), audit_models.AuditRun.id.desc())
                           .limit(1)).first()


def verify_and_record(session: Session, clock: Clock, run_by: str, auditors: frozenset[str]) -> audit_models.AuditRun:
    """A full verification, kept as a run; on a break, a `chain_break` notification to the `auditors` roles.

    For a periodic job (the timer worker): it writes, so run it in a session of its own, not in a snapshot.
    """
    from .notifications import notify  # a job's need only: the audit itself writes nothing

    started = clock.now()
    checked, breaks = verify_all(session, clock)
    run = record_run(session, started, clock.now(), run_by, checked, breaks)
    if breaks:
        first = breaks[0]
        notify(session, auditors, case=None, kind="chain_break", at=clock.now(), message={
            "en": f"History verification found {len(breaks)} break(s); first: case {first.case_id}, "
                  f"row {first.seq}: {first.reason}"[:1000],
            "zh": f"历史校验发现 {len(breaks)} 处断裂；首处：案件 {first.case_id} 第 {first.seq} 行"})
    return run


@dataclass(frozen=True)
class ChainStatus:
    """Whether one case's history verifies (its chain, and the case row against it)."""

    case_id: int
    rows: int
    holds: bool
    first_break: Break | None


def chain_status(session: Session, clock: Clock, case_id: int) -> ChainStatus:
    """One case checked as `audit verify` checks it, for the case page."""
    case = session.execute(
        select(Case.id, Case.version_id, Case.state, Case.lock_version, Case.data, Case.last_seq, Case.last_hash,
               Case.last_mover).where(Case.id == case_id)).one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} does not exist", f"案件 {case_id} 不存在")
    row = CaseRow(*case)
    entries = list(session.scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case_id).order_by(HistoryEntry.seq)
        .execution_options(populate_existing=True)))
    breaks = verify_case_row(session, clock, _Definitions(session)(row.version_id), row, entries)
    return ChainStatus(case_id, len(entries), not breaks, breaks[0] if breaks else None)


# --- the access log: every auditor's look --------------------------------------------------------------


def record_access(session: Session, at: datetime, actor: str, kind: str, case_id: int | None, detail: str) -> None:
    """Append one look to the access log (append-only: the database refuses to change or remove a row)."""
    if kind not in audit_models.ACCESS_KINDS:
        raise ValueError(f"unknown access kind {kind!r}")
    session.add(audit_models.AuditAccess(at=at, actor=actor[:80], kind=kind, case_id=case_id, detail=detail[:1000]))
    session.flush()


def access_log(
    session: Session, before: tuple[datetime, int] | None = None, limit: int = 50
) -> list[audit_models.AuditAccess]:
    """The newest looks first, `limit` of them, those before (at, id) when given (keyset pagination)."""
    model = audit_models.AuditAccess
    query = select(model)
    if before is not None:
        query = query.where(tuple_(model.at, model.id) < tuple_(*before))
    return list(session.scalars(query.order_by(model.at.desc(), model.id.desc()).limit(max(1, min(limit, 500)))))
