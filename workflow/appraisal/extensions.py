"""What the appraisal adds to the generic engine, through its named extension points (engine/extensions.py):

- `scoresheet` fields are scored against their template, counting the deductions accepted from evidence, and
  held to the department's forced grade distribution as HR has it (distribution.py);
- the `propose_deduction` effect of another workflow's step files a proposal for a person's month;
- guards may call `staff(person, column)`, which reads the staff register;
- a user's department, for every workflow's `department_roles`, is the one the staff register gives them.

`register()` runs once, when workflow.appraisal is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec, expressions, values
from ..definitions.scoresheet import shipped_scoresheets
from ..engine import extensions
from ..engine.clock import Clock
from ..engine.errors import InvalidInputs
from ..models import Case
from . import distribution, scoring
from .models import Evidence, StaffMember

SCORESHEET = "scoresheet"  # the field type (docs/definitions.md)
PROPOSE_DEDUCTION = "propose_deduction"  # the effect
STAFF_COLUMNS = ("department", "supervisor", "template")


def sheet_owner(definition: Definition, data: dict[str, Any]) -> tuple[Any, Any]:
    """The person and the month a sheet is for, read from its definition's `series:` (one key field: the person;
    its month field), as evidence is filed by person and month. (None, None) for a definition without one."""
    series = definition.series
    if series is None or len(series.key) != 1:
        return None, None
    return data.get(series.key[0]), data.get(series.period)


def accepted_occurrences(session: Session, person: Any, month: Any) -> dict[str, int]:
    """How often each sheet item was accepted from evidence for that person and month."""
    counts: dict[str, int] = {}
    for item in session.scalars(select(Evidence.item).where(
            Evidence.person == person, Evidence.period == month, Evidence.status == "accepted")):
        if item:
            counts[item] = counts.get(item, 0) + 1
    return counts


def score_sheets(
    session: Session, definition: Definition, typed_inputs: dict[str, Any], data: dict[str, Any]
) -> None:
    """Score every scoresheet among `typed_inputs` against its template, in place; refuse incomplete sheets.

    Deductions accepted from evidence for the sheet's person and month count as occurrences too.
    """
    problems: dict[str, dict[str, str]] = {}
    for name, recorded in list(typed_inputs.items()):
        spec = definition.fields.get(name)
        if spec is None or spec.type != SCORESHEET:
            continue
        assert spec.template_field is not None
        template = typed_inputs.get(spec.template_field, data.get(spec.template_field))
        sheet = shipped_scoresheets().get(str(template))
        if sheet is None:
            problems[name] = {"en": f"no score-sheet template {template!r}", "zh": f"没有考核表模板 {template!r}"}
            continue
        occurrences = dict(recorded.get("occurrences") or {})
        person, month = sheet_owner(definition, data)
        if person is not None:
            from_evidence = accepted_occurrences(session, person, month)
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
        refused, deviation = distribution.enforce(session, definition, data, result.grade, typed_inputs)
        if refused:
            problems.update(refused)
            continue
        typed_inputs[name] = {**recorded, "template": sheet.key, "result": {
            "total": str(result.total), "grade": result.grade, "pay_coefficient": str(result.pay_coefficient),
            "adjustment": str(result.adjustment), "capped": str(result.capped),
            "sections": {s.key: str(s.score) for s in result.sections},
            "goals": {g.key: str(g.points) for g in result.goals},
            **({"beyond_distribution": deviation} if deviation else {}),
        }}
    if problems:
        raise InvalidInputs("Please correct the score sheet", "请更正考核表", problems)


def _bands(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    return {k: scoring.BandChoice(v["band"], v.get("points")) if isinstance(v, dict) else v for k, v in raw.items()}


def propose_deductions(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime
) -> list[Evidence]:
    """Carry out a transition's propose_deduction effects: one proposal per person it names, for the month of
    the move."""
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


def _propose(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime
) -> None:
    propose_deductions(session, clock, definition, transition, case, at)


def staff_functions(session: Session) -> dict[str, Callable[..., Any]]:
    """`staff(person, column)`: the staff register's department, supervisor or template of a person (None for
    someone not on it, or no longer active)."""

    def staff(person: Any, column: str) -> Any:
        if column not in STAFF_COLUMNS or not isinstance(person, str):
            return None
        member = session.get(StaffMember, person)
        return getattr(member, column) if member is not None and member.active else None

    return {"staff": staff}


def department_query(name: str) -> Select[Any]:
    return select(StaffMember.department).where(StaffMember.user_name == name)


def register() -> None:
    extensions.register_field_type(SCORESHEET, score_sheets)
    extensions.register_effect(PROPOSE_DEDUCTION, _propose)
    extensions.register_functions("staff", staff_functions)
    extensions.register_departments(department_query)
