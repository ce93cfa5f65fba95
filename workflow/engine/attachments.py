"""Files on a case: photos of damage, inspection reports, signed forms.

A file is stored once, by the SHA-256 of its content, behind a small storage interface (`Storage`: the
filesystem by default; an S3-compatible bucket would implement the same three methods). What a case holds
is a history row (kind `note`, action `attach`) that records the file's hash, name, type and size: the
chain's hash covers the record, and the record's hash covers the bytes, so a changed file is detected.

A file's type is read from its first bytes, never taken from the name or the browser's word for it; only
the types the settings allow are kept, up to the size the settings allow, after an optional virus scan.
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

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def _invalid(en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {FIELD: {"en": en, "zh": zh}})


def clean_name(name: str) -> str:
    """The file's name as shown and offered on download: no folders, no control characters, bounded."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    return base[:MAX_NAME] or "file"


def check(name: str, data: bytes, rules: Rules) -> dict[str, Any]:
    """The record of an acceptable file (sha256, name, type, size); InvalidInputs on the file field otherwise."""
    if not data:
        raise _invalid("Choose a file: none was sent, or it is empty", "请选择文件：未收到文件或文件为空")
    if len(data) > rules.max_bytes:
        raise _invalid(f"The file is {len(data):,} bytes; at most {rules.max_bytes:,} are accepted",
                       f"文件大小为 {len(data):,} 字节，最多接受 {rules.max_bytes:,} 字节")
    kind = sniff(data)
    if kind is None or kind not in rules.types:
        allowed = ", ".join(sorted(rules.types))
        raise _invalid(f"This type of file is not accepted ({kind or 'unknown'}); accepted: {allowed}",
                       f"不接受此类文件（{kind or '未知'}）；可接受：{allowed}")
    if rules.scanner is not None and (reason := rules.scanner(data)) is not None:
        raise _invalid(f"The virus scan refused the file: {reason}", f"病毒扫描拒绝了此文件：{reason}")
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


def record_of(entry: HistoryEntry) -> dict[str, Any] | None:
    """The attachment a history row records, if it records one."""
    value = entry.inputs.get(KEY) if isinstance(entry.inputs, dict) else None
    return value if isinstance(value, dict) and _SHA256.fullmatch(str(value.get("sha256", ""))) else None


def attachments_of(session: Session, case: Case) -> list[tuple[HistoryEntry, dict[str, Any]]]:
    """The files recorded on the case, oldest first, each with the history row that records it."""
    rows = session.scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case.id, HistoryEntry.action == ATTACH)
        .order_by(HistoryEntry.seq)
    )
    return [(entry, record) for entry in rows if (record := record_of(entry)) is not None]


def find(session: Session, case: Case, digest: str) -> dict[str, Any]:
    """The record of the case's file with this hash; NotFound if the case records none (whatever exists)."""
    for _entry, record in attachments_of(session, case):
        if record["sha256"] == digest:
            return record
    raise NotFound("no such file on this case", "此案件没有该文件")


def read(session: Session, case: Case, digest: str, storage: Storage) -> tuple[dict[str, Any], bytes]:
    """The record and the bytes of one of the case's files, checked against the hash the chain holds."""
    record = find(session, case, digest)
    data = storage.get(digest)
    if hashlib.sha256(data).hexdigest() != digest:
        raise NotFound("the stored file does not match its record", "存储的文件与记录不符")
    return record, data
