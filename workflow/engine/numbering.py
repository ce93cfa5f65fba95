"""Case numbers from a definition's pattern, e.g. the complaint's YYMM-NN restarting each month."""

from __future__ import annotations

import re
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..definitions.schema import Label, NumberSpec
from ..models import Case, CaseCounter
from . import driver
from .publishing import workflow_of

_COUNTERS = cast(Table, CaseCounter.__table__)
# On the driver (driver.py): through the ORM this one UPDATE costs more than the rest of the move that numbers.
_TAKE = driver.Prebuilt(
    update(_COUNTERS)
    .where(_COUNTERS.c.workflow_key == bindparam("b_key"), _COUNTERS.c.period == bindparam("b_period"))
    .values(last=_COUNTERS.c.last + 1)
    .returning(_COUNTERS.c.last)
)
_SEQ = re.compile(r"\{seq(?::(\d+))?\}")


def _period(spec: NumberSpec, local: datetime) -> str:
    if spec.reset == "monthly":
        return local.strftime("%Y%m")
    if spec.reset == "yearly":
        return local.strftime("%Y")
    return "all"


def next_serial(session: Session, key: str, period: str) -> int:
    """Take the next serial of (key, period). Safe under concurrency: the UPDATE locks the counter row."""
    for _ in range(3):
        taken = _TAKE.rows(session.connection(), {"b_key": key, "b_period": period})
        if taken:
            return int(taken[0][0])
        try:
            with session.begin_nested():
                session.execute(insert(CaseCounter).values(workflow_key=key, period=period, last=1))
            return 1
        except IntegrityError:
            continue  # another transaction created the counter first: take the UPDATE path
    raise RuntimeError(f"could not take a case number for {key} {period}")


def format_number(spec: NumberSpec, local: datetime, serial: int) -> str:
    text = _SEQ.sub(lambda m: str(serial).zfill(int(m.group(1) or 0)), spec.pattern)
    for token, fmt in (("{YYYY}", "%Y"), ("{YY}", "%y"), ("{MM}", "%m"), ("{DD}", "%d")):
        text = text.replace(token, local.strftime(fmt))
    return text


def assign(session: Session, key: str, spec: NumberSpec, local: datetime) -> str:
    return format_number(spec, local, next_serial(session, key, _period(spec, local)))


def case_name(case: Case) -> Label:
    """What people call the case, in both languages: its number once it has one.

    A definition may number its cases only at a later step (the complaint gets its number when the GM office
    registers it, 003 篇1 (八)); until then the case goes by a reference marked provisional, so that nobody
    quotes it as the official number. A case whose definition numbers nothing goes by its id alone.
    """
    if case.number:
        return {"en": case.number, "zh": case.number}
    ref = f"#{case.id}"  # what the lists' search finds the case by
    if workflow_of(case.version).definition.number is None:
        return {"en": ref, "zh": ref}
    return {"en": f"Provisional ref {ref}", "zh": f"临时编号 {ref}"}


__all__ = ["assign", "case_name", "format_number", "next_serial"]
