"""CSV that is safe to open in a spreadsheet. Every export writes through here.

Excel and LibreOffice read a cell that begins with =, +, -, @, a tab or a carriage return as a formula, so
a name like `=HYPERLINK("http://evil", "click")` typed into a case would run on the reader's machine. As
OWASP advises (CSV Injection), such a cell is written with a single quote in front: the spreadsheet then
shows the text as it was typed. (The `defusedcsv` package does the same but leaves tab and carriage return
unescaped, and rewrites "|" inside cells; these dozen lines do exactly OWASP's rule.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` as written: None blank, numbers as they are, text quoted when a spreadsheet would run it."""
    if value is None:
        return ""
    # Our choice: a number (int, Decimal, float) is written as it is, so that a penalty of -5 stays a number
    # that the spreadsheet can add up. A number cannot carry a formula; only text can, and text starting
    # with "-" is escaped like the rest, even when it looks like a number.
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Writer:
    """csv.writer with every cell passed through `cell`."""

    def __init__(self, out: io.TextIOBase | Any, dialect: str = "excel", **fmtparams: Any):
        self._writer = csv.writer(out, dialect, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def to_text(rows: Iterable[Sequence[Any]], *, bom: bool = False, dialect: str = "excel", **fmtparams: Any) -> str:
    """The rows as CSV text; `bom` puts a byte-order mark first, so that Excel opens Chinese text as UTF-8."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    Writer(out, dialect, **fmtparams).writerows(rows)
    return out.getvalue()


def download(rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """Rows as a spreadsheet-safe CSV file to save, its name kept whatever its script (RFC 6266)."""
    return Response(to_text(rows, bom=True), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(filename)})


def attachment(filename: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(filename)}"
