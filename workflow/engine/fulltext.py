"""The case's search document: one lower-cased text column that the desk's text search looks in.

The document holds the case number, the text of every value of the case data, and the comment and input
values of each history row written through the engine's text-bearing paths (opening, a move, a note or an
attachment), one piece per line. A piece already in the document (a value that every step repeats, say)
is not added again. It only grows: a value replaced in the case data stays findable, as it stays in the
history. Opening a case writes it with the case's INSERT and a move with its compare-and-set UPDATE
(engine/cases.py), so neither costs a statement more; a note adds one UPDATE (`index_case`).

Why one text column and a substring match rather than the databases' word search: a part number such as
"XJ-200" or an order "SO-88231" must be found by any part of it ("88231"), and Chinese has no spaces
between words, which neither PostgreSQL's text search parsers (`simple` included) nor SQLite's FTS5
default tokenizer segment. On PostgreSQL a trigram GIN index (pg_trgm, `gin_trgm_ops`) on the column
answers `LIKE '%…%'` for any needle of three characters or more, Chinese included (the database's
C.UTF-8 character type counts CJK characters as word characters); shorter needles still work, by a scan.
SQLite scans the column: the demo and development databases are small (see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, update
from sqlalchemy import case as when
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import Case
from . import driver

MAX_PIECE = 4000  # characters of one value kept in the document (a note's limit; a longer value is cut)
SEPARATOR = "\n"  # no needle holds one (a search box is a single line), so no match spans two pieces

_CASES = cast(Table, Case.__table__)
_WRITE = driver.Prebuilt(
    update(_CASES).where(_CASES.c.id == bindparam("b_id")).values(search_text=bindparam("search_text"))
)


def _texts(value: Any) -> Iterator[str]:
    """The text of every string and number in a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def pieces(*values: Any) -> list[str]:
    """The document's pieces for these values, lower-cased, each once, in order."""
    found: list[str] = []
    for text in _texts(list(values)):
        piece = " ".join(text.split())[:MAX_PIECE].lower()
        if piece and piece not in found:
            found.append(piece)
    return found


def extend(document: str, *values: Any) -> str:
    """`document` with the pieces of `values` that it does not hold yet."""
    new: list[str] = []
    for piece in pieces(*values):
        if piece not in document and all(piece not in earlier for earlier in new):
            new.append(piece)
    if not new:
        return document
    return SEPARATOR.join([document, *new]) if document else SEPARATOR.join(new)


def document(number: str | None, data: dict[str, Any], rows: list[tuple[str | None, Any]]) -> str:
    """The whole document of a case: its number, data and history rows' (comment, inputs)."""
    return extend("", number, data, *(value for row in rows for value in row))


def index_case(session: Session, case: Case, *, comment: str | None = None, inputs: Any = None) -> None:
    """Add to the case's document what its number, data and the row just written (`comment`, `inputs`)
    bring that it lacks. One UPDATE when there is something new, none otherwise; the Case is told."""
    before = case.search_text or ""
    after = extend(before, case.number, case.data, comment, inputs)
    if after == before:
        return
    _WRITE.rowcount(session.connection(), {"b_id": case.id, "search_text": after})
    set_committed_value(case, "search_text", after)


def needle_of(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit].lower()


def matches(needle: str) -> ColumnElement[bool]:
    """Cases whose document contains `needle` (already `needle_of`), the LIKE wildcards taken literally."""
    return Case.search_text.contains(needle, autoescape=True)


def exact_number_first(text: str, limit: int) -> ColumnElement[int]:
    """0 for the case numbered `text` (as typed, upper- or lower-cased), 1 for the rest: an ORDER BY key.
    Plain comparisons, not lower(number): the key is worked out for every hit before the page is cut."""
    typed = " ".join(text.split())[:limit]
    return when((Case.number.in_(sorted({typed, typed.upper(), typed.lower()})), 0), else_=1)
