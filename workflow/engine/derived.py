"""What the engine works out rather than anyone typing it: scored sheets, computed fields, the case
before this one in a series, and the uniqueness of cases.

All of it is declared in the definition (`scoresheet` fields, `computed`, `series`, `unique`); this
module only carries those declarations out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec, expressions, values
from ..definitions.scoresheet import shipped_scoresheets
from ..models import Case, CaseKey, Evidence, StaffMember
from . import scoring
from .clock import Clock
from .errors import DuplicateCase, InvalidInputs

STAFF_COLUMNS = ("department", "supervisor", "template")


def score_sheets(
    session: Session, definition: Definition, typed_inputs: dict[str, Any], data: dict[str, Any]
) -> None:
    """Score every scoresheet among `typed_inputs` against its template, in place; refuse incomplete sheets.

    Deductions accepted from evidence for the sheet's person and month count as occurrences too.
    """
    problems: dict[str, dict[str, str]] = {}
    for name, recorded in list(typed_inputs.items()):
        spec = definition.fields.get(name)
        if spec is None or spec.type != "scoresheet":
            continue
        assert spec.template_field is not None
        template = typed_inputs.get(spec.template_field, data.get(spec.template_field))
        sheet = shipped_scoresheets().get(str(template))
        if sheet is None:
            problems[name] = {"en": f"no score-sheet template {template!r}", "zh": f"没有考核表模板 {template!r}"}
            continue
        occurrences = dict(recorded.get("occurrences") or {})
        if definition.series is not None:
            person, period = data.get(definition.series.key[0]), data.get(definition.series.period)
            from_evidence = accepted_occurrences(session, person, period)
            for item, count in from_evidence.items():
                occurrences[item] = int(occurrences.get(item, 0)) + count
            if from_evidence:
                recorded = {**recorded, "from_evidence": from_evidence}
        try:
            result = scoring.score_sheet(
                sheet, occurrences=occurrences, goal_scores=recorded.get("goal_scores"),
                band_choices=_bands(recorded.get("bands")), adjustments=recorded.get("adjustments") or (),
            )
        except (scoring.ScoringError, TypeError, AttributeError) as exc:
            problems[name] = {"en": str(exc), "zh": f"考核表有误：{exc}"}
            continue
        if result.unscored:
            missing = ", ".join(result.unscored)
            problems[name] = {"en": f"still to score: {missing}", "zh": f"尚未评分：{missing}"}
            continue
        typed_inputs[name] = {**recorded, "template": sheet.key, "result": {
            "total": str(result.total), "grade": result.grade, "pay_coefficient": str(result.pay_coefficient),
            "adjustment": str(result.adjustment),
            "sections": {s.key: str(s.score) for s in result.sections},
            "goals": {g.key: str(g.points) for g in result.goals},
        }}
    if problems:
        raise InvalidInputs("Please correct the score sheet", "请更正考核表", problems)


def _bands(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    return {k: scoring.BandChoice(v["band"], v.get("points")) if isinstance(v, dict) else v for k, v in raw.items()}


def _shift(period: str, months: int) -> str:
    year, month = (int(p) for p in period[:7].split("-"))
    index = year * 12 + (month - 1) - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def series_functions(session: Session, definition: Definition, data: dict[str, Any]) -> dict[str, Callable]:
    """`previous(field, n=1)`: that field of the case n periods back in this case's series, or None."""
    series = definition.series
    if series is None:
        return {}

    def previous(field: str, n: int = 1) -> Any:
        period = data.get(series.period)
        if not period or field not in definition.fields or any(data.get(k) is None for k in series.key):
            return None
        query = select(Case.data).where(
            Case.workflow_key == definition.key,
            Case.data[series.period].as_string() == _shift(str(period), n),
            *[Case.data[k].as_string() == str(data[k]) for k in series.key],
        )
        found = session.scalars(query.limit(1)).first()
        return values.from_json(definition.fields[field], found.get(field)) if found else None

    return {"previous": previous}


def actor_functions(session: Session, actor: Any) -> dict[str, Callable[..., Any]]:
    """`staff(person, column)`: the staff register's department, supervisor or template of a person (None
    for someone not on it); `actor_has(role)`: whether the acting user holds that role."""

    def staff(person: Any, column: str) -> Any:
        if column not in STAFF_COLUMNS or not isinstance(person, str):
            return None
        member = session.get(StaffMember, person)
        return getattr(member, column) if member is not None and member.active else None

    return {"staff": staff, "actor_has": lambda role: role in actor.roles}


def recompute(session: Session, definition: Definition, data: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    """`data` with every computed field evaluated again, in the order the definition declares them."""
    result = dict(data)
    functions = series_functions(session, definition, result)
    for spec in definition.fields.values():
        if spec.computed is None:
            continue
        typed = {n: values.from_json(s, result.get(n)) for n, s in definition.fields.items()}
        value = expressions.value_of(spec.computed, {**names, **typed}, functions)
        if value is None:
            result.pop(spec.name, None)
        else:
            result[spec.name] = values.to_json(value)
    return result


def claim_unique(session: Session, definition: Definition, case: Case) -> None:
    """Record the case's unique key; refuse a second case with the same one (safe under concurrency)."""
    if not definition.unique:
        return
    key = json.dumps([case.data.get(f) for f in definition.unique], ensure_ascii=False)
    existing = session.scalar(
        select(CaseKey.case_id).where(CaseKey.workflow_key == definition.key, CaseKey.value == key)
    )
    shown = ", ".join(f"{f} {case.data.get(f)}" for f in definition.unique)
    error = DuplicateCase(
        f"There is already a {definition.title['en']} case for {shown} (case {existing})",
        f"{shown} 已有{definition.title['zh']}案件（{existing}）",
    )
    if existing is not None:
        raise error
    try:
        with session.begin_nested():
            session.add(CaseKey(workflow_key=definition.key, value=key, case_id=case.id))
    except IntegrityError:
        raise error from None


def propose_deductions(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime
) -> list[Evidence]:
    """Carry out a transition's propose_deduction effects: one proposal per person it names."""
    made = []
    names: dict[str, Any] = {n: values.from_json(f, case.data.get(n)) for n, f in definition.fields.items()}
    for proposal in transition.proposals:
        person = case.data.get(proposal.person)
        if not person or (proposal.when and not expressions.evaluate(proposal.when, names)):
            continue
        evidence = Evidence(
            person=person, period=clock.local(at).strftime("%Y-%m"), source_case_id=case.id,
            source_action=transition.name, reason=proposal.reason, created_at=at,
        )
        session.add(evidence)
        made.append(evidence)
    session.flush()
    return made


def accepted_occurrences(session: Session, person: str | None, period: str | None) -> dict[str, int]:
    """How often each sheet item was accepted from evidence for that person and month."""
    counts: dict[str, int] = {}
    for item in session.scalars(select(Evidence.item).where(
            Evidence.person == person, Evidence.period == period, Evidence.status == "accepted")):
        if item:
            counts[item] = counts.get(item, 0) + 1
    return counts
