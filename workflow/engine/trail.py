"""The auditors' trail: one search over every case's history, and its export with a signed manifest.

The search reads history joined to its case, only the cases the actor may see (`policy.visible`), in
(at, id) order with keyset pagination: a page is "the next `limit` rows after (at, id)", so page 1,000
costs what page 1 does (indexes ix_history_*_at_id). Text (`q`) is a case-insensitive substring of the
comment or of the inputs' JSON: LIKE/ILIKE on both databases, no full-text index (our choice: one meaning
on SQLite and PostgreSQL, and the actor/time filters keep the scanned rows few).

An export is the search's every row, read batch after batch by the same keyset (constant memory), each
with its prev_hash and hash. Its manifest, signed with the key of `audit checkpoint`, holds the number of
rows, a SHA-256 over the rows' canonical records and each case's last exported row (its chain head in the
export): `verify_export` checks a file against it without the database (docs/audit.md).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, cast, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from ..models import Case, HistoryEntry, WorkflowVersion
from . import policy
from .audit import _signature, check_key
from .errors import InvalidInputs
from .history import GENESIS, canonical_row
from .policy import Actor

MAX_NAME = 80  # actor, action and state columns are VARCHAR(80)
MAX_NUMBER = 40
MAX_Q = 200
MAX_PAGE = 500
DEFAULT_PAGE = 50
EXPORT_BATCH = 1000
MANIFEST_FORMAT = "aftersales-workflow audit export manifest 1"
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
COLUMNS = ("workflow", "number", "case_id", "seq", "kind", "at", "actor", "action", "from", "to", "inputs",
           "comment", "prev_hash", "hash")


@dataclass(frozen=True)
class Search:
    """What to look for; every field optional. `since` is inclusive, `until` exclusive."""

    workflow: str | None = None
    number: str | None = None
    actor: str | None = None
    action: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    newest_first: bool = False

    def described(self) -> str:
        """The filters as one short line (the access log, the manifest)."""
        parts = {name: getattr(self, name) for name in ("workflow", "number", "actor", "action", "from_state",
                                                        "to_state", "q")}
        text = {k: v for k, v in parts.items() if v}
        for name in ("since", "until"):
            if (moment := getattr(self, name)) is not None:
                text[name] = moment.astimezone(UTC).strftime(AT_FORMAT)
        return json.dumps(text, ensure_ascii=False, sort_keys=True)


Position = tuple[datetime, int]  # (at, id) of the last row of a page


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    after: Position | None  # where the next page starts; None on the last page


def _refuse(name: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {name}", f"请更正：{name}", {name: {"en": en, "zh": zh}})


def check_search(session: Session, search: Search) -> Search:
    """The search with its text trimmed, or InvalidInputs naming the field that cannot be searched for."""
    limits = {"workflow": MAX_NAME, "number": MAX_NUMBER, "actor": MAX_NAME, "action": MAX_NAME,
              "from_state": MAX_NAME, "to_state": MAX_NAME, "q": MAX_Q}
    trimmed: dict[str, Any] = {}
    for name, limit in limits.items():
        value = getattr(search, name)
        value = value.strip() if isinstance(value, str) else None
        if value and (len(value) > limit or "\x00" in value):
            raise _refuse(name, f"must be at most {limit} characters of text", f"最多 {limit} 个字符")
        trimmed[name] = value or None
    search = replace(search, **trimmed)
    for name in ("since", "until"):
        moment = getattr(search, name)
        if moment is not None and moment.tzinfo is None:
            raise _refuse(name, "must carry a time zone", "须带时区")
    if search.since is not None and search.until is not None and search.until < search.since:
        raise _refuse("until", "is before since", "早于起始时间")
    if search.workflow is not None and session.scalar(
            select(WorkflowVersion.id).where(WorkflowVersion.key == search.workflow).limit(1)) is None:
        raise _refuse("workflow", f"there is no workflow {search.workflow!r}", f"没有流程 {search.workflow!r}")
    return search


def _like(text: str) -> str:
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _text_clause(q: str) -> ColumnElement[bool]:
    inputs = cast(HistoryEntry.inputs, Text)
    # The JSON column keeps non-ASCII text as \\uXXXX escapes: look for the text as written and as escaped.
    escaped = json.dumps(q)[1:-1]
    ways = [HistoryEntry.comment.ilike(_like(q), escape="/"), inputs.ilike(_like(q), escape="/")]
    if escaped != q:
        ways.append(inputs.ilike(_like(escaped), escape="/"))
    return or_(*ways)


def _filters(search: Search) -> list[ColumnElement[bool]]:
    equal = [(search.workflow, Case.workflow_key), (search.number, Case.number), (search.actor, HistoryEntry.actor),
             (search.action, HistoryEntry.action), (search.from_state, HistoryEntry.from_state),
             (search.to_state, HistoryEntry.to_state)]
    found: list[ColumnElement[bool]] = [column == value for value, column in equal if value is not None]
    if search.since is not None:
        found.append(HistoryEntry.at >= search.since)
    if search.until is not None:
        found.append(HistoryEntry.at < search.until)
    if search.q:
        found.append(_text_clause(search.q))
    return found


_COLUMNS = (HistoryEntry.id, HistoryEntry.case_id, HistoryEntry.seq, HistoryEntry.kind, HistoryEntry.at,
            HistoryEntry.actor, HistoryEntry.action, HistoryEntry.from_state, HistoryEntry.to_state,
            HistoryEntry.inputs, HistoryEntry.comment, HistoryEntry.prev_hash, HistoryEntry.hash,
            Case.workflow_key, Case.number)


def _query(session: Session, actor: Actor, search: Search, after: Position | None, limit: int) -> Select[Any]:
    key = tuple_(HistoryEntry.at, HistoryEntry.id)
    query = (select(*_COLUMNS).join(Case, Case.id == HistoryEntry.case_id)
             .where(policy.visible(session, actor), *_filters(search)))
    if after is not None:
        query = query.where(key < tuple_(*after) if search.newest_first else key > tuple_(*after))
    order = (HistoryEntry.at.desc(), HistoryEntry.id.desc()) if search.newest_first else (HistoryEntry.at,
                                                                                          HistoryEntry.id)
    return query.order_by(*order).limit(limit)


def search_history(session: Session, actor: Actor, search: Search, after: Position | None = None,
                   limit: int = DEFAULT_PAGE) -> Page:
    """One page of the history rows that match `search`, of the cases `actor` may see."""
    if not 1 <= limit <= MAX_PAGE:
        raise _refuse("limit", f"must be between 1 and {MAX_PAGE}", f"须在 1 到 {MAX_PAGE} 之间")
    found = [dict(row._mapping) for row in session.execute(_query(session, actor, search, after, limit + 1))]
    more = len(found) > limit
    rows = found[:limit]
    return Page(rows, (rows[-1]["at"], rows[-1]["id"]) if more else None)


# --- export ----------------------------------------------------------------------------------------


def record(row: dict[str, Any]) -> dict[str, Any]:
    """A search row as exported: the hashed columns, the case's workflow and number, prev_hash and hash."""
    return {
        "workflow": row["workflow_key"], "number": row["number"], "case_id": row["case_id"], "seq": row["seq"],
        "kind": row["kind"], "at": row["at"].astimezone(UTC).strftime(AT_FORMAT), "actor": row["actor"],
        "action": row["action"], "from": row["from_state"], "to": row["to_state"], "inputs": row["inputs"],
        "comment": row["comment"], "prev_hash": row["prev_hash"], "hash": row["hash"],
    }


def export_records(
    session: Session, actor: Actor, search: Search, batch: int = EXPORT_BATCH
) -> Iterator[dict[str, Any]]:
    """Every row of the search as an export record, oldest first, read `batch` rows at a time."""
    search = replace(search, newest_first=False)
    after: Position | None = None
    while True:
        page = search_history(session, actor, search, after, min(batch, MAX_PAGE))
        yield from (record(row) for row in page.rows)
        if page.after is None:
            return
        after = page.after  # Core rows: nothing of a batch stays in the session


def canonical_record(item: dict[str, Any]) -> str:
    return json.dumps({name: item.get(name) for name in COLUMNS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def jsonl_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for item in records:
        yield json.dumps(item, ensure_ascii=False, sort_keys=False) + "\n"


def _csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run, and that reads back as written: text beginning with a formula
    character or with a quote gets one quote in front, which the verifier takes off again."""
    if value is None or isinstance(value, int):
        return "" if value is None else value
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else str(value)
    return "'" + text if text.startswith(("'", "=", "+", "-", "@", "\t", "\r")) else text


def csv_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for item in records:
        writer.writerow([_csv_cell(item[name]) for name in COLUMNS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.getvalue():  # the header of an export without rows
        yield out.getvalue()


@dataclass
class Manifest:
    """What an export held, gathered as its records stream past."""

    rows: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)

    def add(self, item: dict[str, Any]) -> None:
        self.rows += 1
        self.digest.update((canonical_record(item) + "\n").encode("utf-8"))
        case_id, seq = int(item["case_id"]), int(item["seq"])
        if case_id not in self.heads or self.heads[case_id][0] < seq:
            self.heads[case_id] = (seq, str(item["hash"]))

    def body(self, at: datetime, search: str) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT, "at": at.astimezone(UTC).strftime(AT_FORMAT), "search": search,
            "rows": self.rows, "sha256": self.digest.hexdigest(),
            "heads": [[case_id, seq, digest] for case_id, (seq, digest) in sorted(self.heads.items())],
        }


def manifest_text(manifest: Manifest, at: datetime, search: str, key: bytes) -> str:
    """The manifest, signed like a checkpoint (HMAC-SHA256 under the audit key)."""
    check_key(key)
    body = manifest.body(at, search)
    return json.dumps({**body, "hmac_sha256": _signature(body, key)}, indent=1, ensure_ascii=False) + "\n"


def tee(records: Iterable[dict[str, Any]], manifest: Manifest) -> Iterator[dict[str, Any]]:
    for item in records:
        manifest.add(item)
        yield item


# --- verifying an export, without the database -------------------------------------------------------


@dataclass
class Verified:
    rows: int = 0
    cases: int = 0
    problems: list[str] = field(default_factory=list)


def read_export(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The records of an export file, CSV or JSON Lines (told apart by the first character)."""
    iterator = iter(lines)
    first = next(iterator, "")
    if first.lstrip("\ufeff").startswith("{"):
        yield _json_record(first, 1)
        for number, line in enumerate(iterator, start=2):
            if line.strip():
                yield _json_record(line, number)
        return
    reader = csv.reader(_chain(first.lstrip("\ufeff"), iterator))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ValueError("not an export: the CSV header is not " + ",".join(COLUMNS))
    for row in reader:
        yield _csv_record(row)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _json_record(line: str, number: int) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        raise ValueError(f"line {number} is not JSON") from None
    if not isinstance(item, dict):
        raise ValueError(f"line {number} is not a JSON object")
    return item


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _csv_record(row: list[str]) -> dict[str, Any]:
    if len(row) != len(COLUMNS):
        raise ValueError(f"a CSV row has {len(row)} cells, not {len(COLUMNS)}")
    raw = dict(zip(COLUMNS, row, strict=True))
    item: dict[str, Any] = {name: (_uncell(value) if value != "" else None) for name, value in raw.items()}
    try:
        item["case_id"], item["seq"] = int(raw["case_id"]), int(raw["seq"])
        item["inputs"] = json.loads(item["inputs"] or "{}")
    except ValueError:
        raise ValueError("a CSV row's case_id, seq or inputs cannot be read") from None
    return item


def _row_hash(item: dict[str, Any]) -> str:
    at = datetime.strptime(str(item["at"]), AT_FORMAT).replace(tzinfo=UTC)
    text = canonical_row(int(item["case_id"]), int(item["seq"]), str(item["kind"]), at, str(item["actor"]),
                         str(item["action"]), item["from"], str(item["to"]), item["inputs"], item["comment"])
    return hashlib.sha256((str(item["prev_hash"]) + text).encode("utf-8")).hexdigest()


def _check_row(item: dict[str, Any], seen: dict[int, tuple[int, str]]) -> str | None:
    where = f"case {item.get('case_id')}, seq {item.get('seq')}"
    try:
        if _row_hash(item) != item["hash"]:
            return f"{where}: the row's content does not match its hash"
    except (KeyError, TypeError, ValueError):
        return f"{where}: the row cannot be read"
    case_id, seq = int(item["case_id"]), int(item["seq"])
    last = seen.get(case_id)
    if seq == 1 and item["prev_hash"] != GENESIS:
        return f"{where}: the first row of a case does not follow the genesis hash"
    if last is not None and last[0] >= seq:
        return f"{where}: rows of the case are out of order or repeated"
    if last is not None and last[0] == seq - 1 and item["prev_hash"] != last[1]:
        return f"{where}: prev_hash is not the hash of the row before it"
    seen[case_id] = (seq, str(item["hash"]))
    return None


def verify_export(lines: Iterable[str], manifest: str | None = None, key: bytes | None = None) -> Verified:
    """Check every row's hash and the chain between consecutive rows; with a manifest (and its key), its
    signature, the number of rows, their digest and each case's last row."""
    result = Verified()
    totals = Manifest()
    seen: dict[int, tuple[int, str]] = {}
    try:
        for item in read_export(lines):
            result.rows += 1
            if problem := _check_row(item, seen):
                result.problems.append(problem)
            totals.add(item)
    except (ValueError, KeyError, TypeError) as exc:
        result.problems.append(str(exc))
        return result
    result.cases = len(seen)
    if manifest is not None:
        result.problems += _manifest_problems(manifest, key or b"", totals)
    return result


def _manifest_problems(text: str, key: bytes, totals: Manifest) -> list[str]:
    check_key(key)
    try:
        document = json.loads(text)
    except ValueError:
        return ["the manifest is not JSON"]
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        return [f"the manifest's format is not {MANIFEST_FORMAT!r}"]
    body = {k: v for k, v in document.items() if k != "hmac_sha256"}
    signature = document.get("hmac_sha256")
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _signature(body, key)):
        return ["the manifest's signature does not hold: it was altered or signed with another key"]
    problems = []
    if body.get("rows") != totals.rows:
        problems.append(f"the manifest counts {body.get('rows')} rows, the file holds {totals.rows}")
    if body.get("sha256") != totals.digest.hexdigest():
        problems.append("the rows' digest differs from the manifest's: a row was changed, added or removed")
    heads = [[case_id, seq, digest] for case_id, (seq, digest) in sorted(totals.heads.items())]
    if body.get("heads") != heads:
        problems.append("the cases' last rows differ from the manifest's chain heads")
    return problems
