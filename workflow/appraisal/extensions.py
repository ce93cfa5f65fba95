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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec, expressions, values
from ..definitions.scoresheet import ScoreSheet
from ..engine import extensions
from ..engine.clock import Clock
from ..engine.errors import InvalidInputs
from ..models import Case
from . import distribution, scoring
from . import templates as sheet_templates
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


def template_of(
    session: Session, definition: Definition, name: str, values: dict[str, Any]
) -> tuple[ScoreSheet | None, int | None]:
    """The template (and its published version) the scoresheet field `name` is scored against: named by its
    template field in `values`, at the version the sheet was scored with before (templates.for_sheet)."""
    spec = definition.fields.get(name)
    if spec is None or spec.type != SCORESHEET or spec.template_field is None:
        return None, None
    return sheet_templates.for_sheet(session, str(values.get(spec.template_field)), values.get(name))


@dataclass(frozen=True)
class Scored:
    """A recorded sheet as the engine scores it: what would be stored, the result, and each entry's problem."""

    recorded: dict[str, Any]  # with the occurrences accepted from evidence, under `from_evidence`
    result: scoring.SheetResult | None  # None when something recorded does not fit the sheet
    problems: tuple[scoring.Problem, ...]  # named by the items' and goals' labels; unscored ones too

    @property
    def unscored(self) -> tuple[str, ...]:
        return self.result.unscored if self.result is not None else ()


def score_recorded(
    session: Session, definition: Definition, sheet: ScoreSheet, recorded: Any, data: dict[str, Any]
) -> Scored:
    """Score what the supervisor recorded on `sheet` for the case whose data is `data`, storing nothing: the one
    scoring both the step and the scoring form's live preview use. Accepted evidence counts as occurrences."""
    if not isinstance(recorded, dict):
        problem = scoring.Problem("", "the score sheet must list what was recorded item by item",
                                  "考核表须逐项填写")
        return Scored({}, None, (problem,))
    occurrences = recorded.get("occurrences") or {}
    person, month = sheet_owner(definition, data)
    if person is not None and isinstance(occurrences, dict):
        occurrences = dict(occurrences)
        from_evidence = accepted_occurrences(session, person, month)
        for item, count in from_evidence.items():
            mine = occurrences.get(item, 0)
            occurrences[item] = mine + count if isinstance(mine, int) and not isinstance(mine, bool) else mine
        if from_evidence:
            recorded = {**recorded, "from_evidence": from_evidence}
    try:
        result = scoring.score_sheet(
            sheet, occurrences=occurrences, goal_scores=recorded.get("goal_scores"),
            band_choices=_bands(recorded.get("bands")), adjustments=recorded.get("adjustments") or (),
        )
    except scoring.ScoringError as exc:
        return Scored(recorded, None, exc.problems or (scoring.Problem("", str(exc), f"考核表有误：{exc}"),))
    except (TypeError, AttributeError, KeyError) as exc:
        return Scored(recorded, None, (scoring.Problem("", str(exc), f"考核表有误：{exc}"),))
    return Scored(recorded, result, tuple(scoring.unscored_problems(sheet, result.unscored)))


def _field_problem(sheet: ScoreSheet, scored: Scored) -> dict[str, str]:
    """The field's message: what does not fit, or which items and goals are still to score, by their labels."""
    if scored.result is not None:
        names = {**{k: i.text for k, i in sheet.items().items()}, **{g.key: g.title for g in sheet.goals}}
        missing = [names[k] for k in scored.unscored if k in names]
        return {"en": "still to score: " + ", ".join(f"«{n['en']}»" for n in missing),
                "zh": "尚未评分：" + "、".join(f"「{n['zh']}」" for n in missing)}
    return {"en": "; ".join(p.en for p in scored.problems), "zh": "；".join(p.zh for p in scored.problems)}


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
        sheet, version = template_of(session, definition, name, {**data, spec.template_field: typed_inputs.get(
            spec.template_field, data.get(spec.template_field))})
        if sheet is None:
            template = typed_inputs.get(spec.template_field, data.get(spec.template_field))
            problems[name] = {"en": f"no score-sheet template {template!r}", "zh": f"没有考核表模板 {template!r}"}
            continue
        scored = score_recorded(session, definition, sheet, recorded, data)
        if scored.problems or scored.result is None:
            problems[name] = _field_problem(sheet, scored)
            continue
        result = scored.result
        refused, deviation = distribution.enforce(session, definition, data, result.grade, typed_inputs)
        if refused:
            problems.update(refused)
            continue
        stored = {**scored.recorded, "template": sheet.key, sheet_templates.VERSION_KEY: version}
        typed_inputs[name] = {**stored, "result": {
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
    return {k: scoring.BandChoice(str(v.get("band")), v.get("points")) if isinstance(v, dict) else v
            for k, v in raw.items()}


def propose_deductions(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime
) -> list[Evidence]:
    """Carry out a transition's propose_deduction effects: one proposal per person it names, for the month of
    the move."""
    if not transition.proposals:  # most moves: nothing to type the case data for, nothing to flush
        return []
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
