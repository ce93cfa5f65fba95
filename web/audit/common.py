"""What the audit area's API, pages and commands share: reading a moment, a cursor, the search's filters,
the audit key, and writing an auditor's look to the access log. Who may do what is the policy's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from flask import Response, current_app, stream_with_context
from itsdangerous import BadSignature, URLSafeSerializer

from workflow.engine import InvalidInputs, audit, policy, trail
from workflow.engine.policy import Actor
from workflow.engine.trail import MAX_PAGE, Position, Search

from .. import safe_csv
from ..extensions import clock, db_session

MAX_MOMENT = 64  # characters of an ISO 8601 moment, offset included, with room to spare
MAX_CURSOR = 300
FILTERS = ("workflow", "number", "actor", "action", "from_state", "to_state", "q")


def refuse(name: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {name}", f"请更正：{name}", {name: {"en": en, "zh": zh}})


def parse_moment(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 moment (a date alone is its local midnight; no offset is the organisation's time zone)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(text) > MAX_MOMENT:
        raise refuse(name, f"must be at most {MAX_MOMENT} characters", f"最多 {MAX_MOMENT} 个字符")
    try:
        moment = (datetime.combine(date.fromisoformat(text), time()) if len(text) == 10
                  else datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise refuse(name, "must be an ISO 8601 time, e.g. 2026-11-03T14:30+08:00",
                     "须为 ISO 8601 时间，例如 2026-11-03T14:30+08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock().tz)
    return moment.astimezone(UTC)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="audit-history-cursor")


def make_cursor(after: Position | None) -> str | None:
    if after is None:
        return None
    return str(_signer().dumps([after[0].astimezone(UTC).isoformat(), after[1]]))


def read_cursor(raw: str | None) -> Position | None:
    """Where a page starts: a cursor the service signed, never one made or changed by hand."""
    if not raw:
        return None
    try:
        if len(raw) > MAX_CURSOR:
            raise BadSignature("too long")
        at, row_id = _signer().loads(raw)
        return datetime.fromisoformat(at), int(row_id)
    except (BadSignature, ValueError, TypeError):
        raise refuse("cursor", "is not a cursor this service gave: start again from the first page",
                     "不是本服务给出的游标：请从第一页重新开始") from None


def read_limit(raw: str | None, default: int = 50) -> int:
    """A page size from a query argument: 1 to trail.MAX_PAGE."""
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise refuse("limit", f"must be a whole number from 1 to {MAX_PAGE}", f"须为 1 到 {MAX_PAGE} 的整数")
    return int(raw)


def search_of(args: Mapping[str, Any]) -> Search:
    """The search the query arguments ask for (checked by the engine's `trail.check_search`)."""
    texts = {name: (str(args.get(name)) if args.get(name) else None) for name in FILTERS}
    return Search(**texts, since=parse_moment(args.get("since"), "since"),
                  until=parse_moment(args.get("until"), "until"), newest_first=args.get("order") == "desc")


def log_look(actor: Actor, kind: str, case_id: int | None, detail: str = "") -> None:
    """Record an auditor's look (the policy says whose looks are recorded) and commit it at once: the
    request reads only, and would otherwise end on a rollback."""
    if policy.is_logged_look(actor):
        audit.record_access(db_session(), clock().now(), actor.name, kind, case_id, detail)
        db_session().commit()


def audit_key() -> bytes | None:
    """The key of `flask audit checkpoint` (AUDIT_KEY, else the file AUDIT_KEY_FILE names), or None."""
    key, path = current_app.config.get("AUDIT_KEY", ""), current_app.config.get("AUDIT_KEY_FILE", "")
    if path:
        try:
            return Path(path).read_bytes().strip() or None
        except OSError:
            return None
    return str(key).encode("utf-8") if key else None


def export(actor: Actor, search: Search, fmt: str) -> Response:
    """A search's every row streamed as CSV or JSON Lines (constant memory), the look logged first."""
    log_look(actor, "export", None, search.described())
    records = trail.export_records(db_session(), actor, search)
    lines: Iterator[str] = trail.csv_lines(records) if fmt == "csv" else trail.jsonl_lines(records)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(stream_with_context(line.encode("utf-8") for line in lines), mimetype=mimetype,
                    headers={"Content-Disposition": safe_csv.attachment(f"history-export.{fmt}")})
