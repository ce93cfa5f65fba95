"""Files on a case: photos of damage, inspection reports, signed forms.

A file is stored once, by the SHA-256 of its content, behind a small storage interface (`Storage`: the
filesystem by default; an S3-compatible bucket would implement the same three methods). What a case holds
is a history row (kind `note`, action `attach`) that records the file's hash, name, type and size: the
chain's hash covers the record, and the record's hash covers the bytes, so a changed file is detected.

A file's type is read from its first bytes, never taken from the name or the browser's word for it; only
the types the settings allow are kept, up to the size the settings allow, after an optional virus scan.

A step's `file` input (docs/definitions.md, "File inputs") holds the same record in the step's history row,
so the chain covers that file too. Its bytes are checked against the settings narrowed by the input's own
`accept` and `max`, staged on the session, and written to the storage only when the step commits: a refused
step leaves nothing behind, neither a row nor a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..definitions.schema import FieldSpec, InputSpec
from ..models import Case, HistoryEntry
from . import notes, policy
from .clock import Clock
from .errors import InvalidInputs, NotFound

ATTACH = "attach"
FIELD = "file"
KEY = "attachment"  # the key of the record in a history row's inputs
MAX_NAME = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")

# (type, how its content begins): checked in order. Text is anything else that is UTF-8 without NUL.
SIGNATURES: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("image/gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("application/pdf", lambda b: b.startswith(b"%PDF-")),
)
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DEFAULT_TYPES = frozenset({*IMAGES, "application/pdf", "text/plain"})


class Storage(Protocol):
    """Where attachment bytes live, addressed by their SHA-256 (hex)."""

    def put(self, digest: str, data: bytes) -> None: ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...


class FileStorage:
    """Files under `root`, as root/ab/<sha256>: written to a temporary name and renamed, so a reader never
    sees half a file, and a second upload of the same bytes writes nothing."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        if not _SHA256.fullmatch(digest):
            raise NotFound("no such file", "没有此文件")
        return self.root / digest[:2] / digest

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        if not path.is_file():
            raise NotFound("the file is missing from storage", "存储中缺少此文件")
        return path.read_bytes()

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()


Scanner = Callable[[bytes], str | None]  # a reason to refuse the file, or None when it is clean


@dataclass(frozen=True)
class Rules:
    """What may be uploaded: the settings ATTACHMENT_MAX_BYTES and ATTACHMENT_TYPES, and the scan hook."""

    max_bytes: int = 5 * 1024 * 1024
    types: frozenset[str] = DEFAULT_TYPES
    scanner: Scanner | None = None


def sniff(data: bytes) -> str | None:
    """The file's type from its first bytes; None for a binary type we do not know."""
    for kind, matches in SIGNATURES:
        if matches(data[:16]):
            return kind
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain"


def _invalid(en: str, zh: str, field: str = FIELD) -> InvalidInputs:
    return InvalidInputs(en, zh, {field: {"en": en, "zh": zh}})


def clean_name(name: str) -> str:
    """The file's name as shown and offered on download: no folders, no control characters, bounded."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    return base[:MAX_NAME] or "file"


def check(name: str, data: bytes, rules: Rules, field: str = FIELD) -> dict[str, Any]:
    """The record of an acceptable file (sha256, name, type, size); InvalidInputs on `field` otherwise."""
    if not data:
        raise _invalid("Choose a file: none was sent, or it is empty", "请选择文件：未收到文件或文件为空", field)
    if len(data) > rules.max_bytes:
        raise _invalid(f"The file is {len(data):,} bytes; at most {rules.max_bytes:,} are accepted",
                       f"文件大小为 {len(data):,} 字节，最多接受 {rules.max_bytes:,} 字节", field)
    kind = sniff(data)
    if kind is None or kind not in rules.types:
        allowed = ", ".join(sorted(rules.types))
        raise _invalid(f"This type of file is not accepted ({kind or 'unknown'}); accepted: {allowed}",
                       f"不接受此类文件（{kind or '未知'}）；可接受：{allowed}", field)
    if rules.scanner is not None and (reason := rules.scanner(data)) is not None:
        raise _invalid(f"The virus scan refused the file: {reason}", f"病毒扫描拒绝了此文件：{reason}", field)
    return {"sha256": hashlib.sha256(data).hexdigest(), "name": clean_name(name), "type": kind, "size": len(data)}


def attach(
    session: Session, clock: Clock, case: Case, actor: policy.Actor, name: str, data: bytes,
    storage: Storage, rules: Rules, note: str = "",
) -> HistoryEntry:
    """Store the file and record it on the case (with an optional note). Flushes; the caller commits.

    The bytes are written before the row: a file without a row is harmless (and reused by the next upload
    of the same content); a row without its file would not be.
    """
    notes.refuse_unless_writer(session, actor, case)
    notes.check_text(note, required=False)
    record = check(name, data, rules)
    storage.put(record["sha256"], data)
    return notes.add_note(session, clock, case, actor, note, action=ATTACH, extra={KEY: record}, required=False)


def is_record(value: Any) -> bool:
    """Whether a stored value is a file's record (sha256, name, type, size)."""
    return (isinstance(value, dict) and set(value) == RECORD_KEYS
            and _SHA256.fullmatch(str(value.get("sha256", ""))) is not None)


def record_of(entry: HistoryEntry) -> dict[str, Any] | None:
    """The attachment a history row records, if it records one."""
    value = entry.inputs.get(KEY) if isinstance(entry.inputs, dict) else None
    return value if isinstance(value, dict) and _SHA256.fullmatch(str(value.get("sha256", ""))) else None


def records_of(entry: HistoryEntry) -> list[dict[str, Any]]:
    """Every file a history row records: an attachment, or the `file` inputs of a step."""
    if entry.action == ATTACH:
        return [record] if (record := record_of(entry)) is not None else []
    inputs = entry.inputs if isinstance(entry.inputs, dict) else {}
    return [value for value in inputs.values() if is_record(value)]


def attachments_of(session: Session, case: Case) -> list[tuple[HistoryEntry, dict[str, Any]]]:
    """The files recorded on the case (attached, or sent with a step), oldest first, each with its row."""
    rows = session.scalars(select(HistoryEntry).where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq))
    return [(entry, record) for entry in rows for record in records_of(entry)]


def find(session: Session, case: Case, digest: str) -> dict[str, Any]:
    """The record of the case's file with this hash; NotFound if the case records none (whatever exists)."""
    for _entry, record in attachments_of(session, case):
        if record["sha256"] == digest:
            return record
    raise NotFound("no such file on this case", "此案件没有该文件")


# -- a step's `file` inputs -------------------------------------------------------------------------

RECORD_KEYS = frozenset({"sha256", "name", "type", "size"})
_STAGED = "attachments.staged"  # session.info: the bytes of files whose rows are not committed yet


def input_rules(spec: FieldSpec, rules: Rules) -> Rules:
    """The settings narrowed by the input's own `accept` and `max` (never widened by them)."""
    types = rules.types & frozenset(spec.accept) if spec.accept is not None else rules.types
    most = min(rules.max_bytes, spec.max) if isinstance(spec.max, int) else rules.max_bytes
    return Rules(max_bytes=most, types=types, scanner=rules.scanner)


def take_uploads(
    session: Session, inputs: list[InputSpec], uploads: dict[str, tuple[str, bytes]], storage: Storage,
    rules: Rules,
) -> dict[str, dict[str, Any]]:
    """The records of the files sent for a step's `file` inputs, by input name; their bytes are staged on the
    session and written when it commits. InvalidInputs naming every refused file, and nothing staged."""
    records: dict[str, dict[str, Any]] = {}
    problems: dict[str, dict[str, str]] = {}
    for item in inputs:
        if item.spec.type != FIELD or item.name not in uploads:
            continue
        name, data = uploads[item.name]
        try:
            records[item.name] = check(name, data, input_rules(item.spec, rules), item.name)
        except InvalidInputs as exc:
            problems.update(exc.fields)
    if problems:
        first = next(iter(problems.values()))
        raise InvalidInputs(first["en"], first["zh"], problems)
    for item_name, record in records.items():
        stage(session, storage, record["sha256"], uploads[item_name][1])
    return records


def resolve(session: Session, case: Case, inputs: list[InputSpec], given: dict[str, Any]) -> dict[str, Any]:
    """`given` with each `file` input checked to name a file this step may cite: one sent with it in this
    transaction (the UI's way: `take_uploads` staged its bytes and made its record), or one the case records
    already (the API's way: upload it to the case first, then name its hash), replaced by the case's own record
    of it. InvalidInputs for any other. `advance` asks this, so that no caller can cite another case's file."""
    wanted = {i.name for i in inputs if i.spec.type == FIELD and given.get(i.name) is not None}
    if not wanted:
        return given
    staged = session.info.get(_STAGED, {})
    known: dict[str, dict[str, Any]] | None = None
    out, problems = dict(given), {}
    for name in sorted(wanted):
        value = given[name]
        digest = value.get("sha256") if isinstance(value, dict) else value
        if isinstance(value, dict) and isinstance(digest, str) and digest in staged:
            continue  # made by take_uploads from the bytes sent with this step
        if known is None:
            known = {record["sha256"]: record for _entry, record in attachments_of(session, case)}
        if isinstance(digest, str) and digest in known:
            out[name] = dict(known[digest])
        else:
            problems[name] = {"en": "names no file of this case: upload it to the case first, then give its sha256",
                              "zh": "不是此案件的文件：请先将文件上传到案件，再提供其 sha256"}
    if problems:
        raise InvalidInputs(f"Please correct: {', '.join(problems)}", f"请更正：{'、'.join(problems)}", problems)
    return out


def stage(session: Session, storage: Storage, digest: str, data: bytes) -> None:
    """Keep the bytes until the session commits (then they are written) or rolls back (then forgotten)."""
    session.info.setdefault(_STAGED, {})[digest] = (storage, data)


@event.listens_for(Session, "before_commit")
def _write_staged(session: Session) -> None:
    # Written before the rows commit: a file without its row is harmless (the next upload of the same bytes
    # reuses it); a committed row without its file would not be.
    for digest, (storage, data) in session.info.pop(_STAGED, {}).items():
        storage.put(digest, data)


@event.listens_for(Session, "after_transaction_end")
def _forget_staged(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # rolled back or closed: the rows are gone, so are their files
        session.info.pop(_STAGED, None)


def read(session: Session, case: Case, digest: str, storage: Storage) -> tuple[dict[str, Any], bytes]:
    """The record and the bytes of one of the case's files, checked against the hash the chain holds."""
    record = find(session, case, digest)
    data = storage.get(digest)
    if hashlib.sha256(data).hexdigest() != digest:
        raise NotFound("the stored file does not match its record", "存储的文件与记录不符")
    return record, data
