"""The scoring form of an appraisal sheet, generated from its template, and the scored sheet as the filled form.

Everything here is presentation: which template, which evidence, what the total is and what is wrong with an
entry all come from the appraisal slice (workflow/appraisal), which scores the same way for the live preview
as for the step itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import url_for
from werkzeug.datastructures import MultiDict

from workflow.appraisal import extensions as appraisal
from workflow.appraisal import operations, scoring
from workflow.appraisal.models import Evidence
from workflow.definitions import Definition, TransitionSpec
from workflow.definitions.scoresheet import ScoreSheet
from workflow.engine import workflow_of
from workflow.models import Case

from ..extensions import db_session
from ..ui import forms
from ..ui.present import label

MAX_ADJUSTMENTS = 9  # of one kind in one month, as the form offers it


@dataclass
class Band:
    key: str
    text: str
    low: Decimal
    high: Decimal
    points: str = ""  # what was typed for a range band

    @property
    def fixed(self) -> bool:
        return self.low == self.high


@dataclass
class EvidenceView:
    id: int
    reason: str
    source: str
    source_id: int
    status: str


@dataclass
class ItemRow:
    key: str
    text: str
    points: Decimal | None  # per occurrence; None on a scale
    bands: list[Band] = field(default_factory=list)
    count: str = ""
    chosen: str = ""
    error: str | None = None
    evidence: list[EvidenceView] = field(default_factory=list)  # accepted for this item: counted by the engine

    @property
    def banded(self) -> bool:
        return bool(self.bands)


@dataclass
class SectionRow:
    key: str
    title: str
    max: Decimal
    items: list[ItemRow]
    score: str = ""


@dataclass
class GoalRow:
    key: str
    title: str
    weight: Decimal
    value: str = ""
    error: str | None = None
    points: str = ""


@dataclass
class AdjustmentRow:
    kind: str
    text: str
    points: Decimal
    count: int = 0


@dataclass
class SheetForm:
    name: str
    id: str
    title: str
    sections: list[SectionRow]
    goals: list[GoalRow]
    adjustments: list[AdjustmentRow]
    proposed: list[EvidenceView]  # proposals still to decide: they name no item yet
    countable: list[tuple[str, str]]  # the items a proposal may be accepted for: key, words
    case_id: int
    action: str | None
    result: dict[str, str] | None  # the engine's total, grade and coefficient of what the form holds now
    problem: str | None  # about the sheet as a whole (the adjustments, its shape)
    preview_url: str | None
    max_count: int = scoring.MAX_OCCURRENCES
    max_adjustments: int = MAX_ADJUSTMENTS


def _evidence(rows: list[Evidence]) -> list[EvidenceView]:
    out = []
    for e in rows:
        source = db_session().get(Case, e.source_case_id)
        out.append(EvidenceView(e.id, label(e.reason), (source.number or f"#{source.id}") if source else "",
                                e.source_case_id, e.status))
    return out


def _recorded(value: str) -> dict[str, Any]:
    try:
        recorded = json.loads(value) if value else {}
    except ValueError:
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _mapping(recorded: dict[str, Any], part: str) -> dict[str, Any]:
    value = recorded.get(part)
    return value if isinstance(value, dict) else {}


def _result(result: scoring.SheetResult | None) -> dict[str, str] | None:
    if result is None:
        return None
    return {"total": str(result.total), "grade": result.grade, "pay_coefficient": str(result.pay_coefficient)}


def _sections(sheet: ScoreSheet, recorded: dict[str, Any], errors: dict[str, str],
              evidence: list[Evidence]) -> list[SectionRow]:
    counts, bands = _mapping(recorded, "occurrences"), _mapping(recorded, "bands")
    sections = []
    for section in sheet.sections:
        rows = []
        for item in section.items:
            chosen = bands.get(item.key)
            band_key = chosen.get("band") if isinstance(chosen, dict) else chosen
            typed = chosen.get("points") if isinstance(chosen, dict) else None
            rows.append(ItemRow(
                item.key, label(item.text), item.points,
                [Band(b.key, label(b.text), b.low, b.high, str(typed) if typed is not None and b.key == band_key
                      else "") for b in item.bands],
                count=str(counts.get(item.key, "")), chosen=str(band_key or ""), error=errors.get(item.key),
                evidence=_evidence([e for e in evidence if e.status == "accepted" and e.item == item.key]),
            ))
        sections.append(SectionRow(section.key, label(section.title), section.max, rows))
    return sections


def _adjustments(recorded: dict[str, Any]) -> list[AdjustmentRow]:
    given = recorded.get("adjustments")
    given = given if isinstance(given, list) else []
    return [AdjustmentRow(kind, label(scoring.ADJUSTMENT_LABELS[kind]), points, given.count(kind))
            for kind, points in scoring.ADJUSTMENTS.items()]


def form_view(f: forms.FormField, case: Case, action: str | None, disabled: bool = False) -> SheetForm | None:
    """The scoring form of the scoresheet input `f` on `case`; None when its template cannot be found (the
    JSON text box stays then). The engine's problems with what was typed go to their items."""
    definition = workflow_of(case.version).definition
    sheet, _version = appraisal.template_of(db_session(), definition, f.name, case.data)
    if sheet is None:
        return None
    recorded = _recorded(f.value)
    errors: dict[str, str] = {}
    result = None
    problem = None
    if recorded:
        scored = appraisal.score_recorded(db_session(), definition, sheet, recorded, case.data)
        result = _result(scored.result)
        if f.error:  # after a refused step: each problem beside its entry
            for p in scored.problems:
                errors[p.key] = label({"en": p.en, "zh": p.zh})
            keyed = set(sheet.items()) | {g.key for g in sheet.goals}
            problem = "; ".join(text for key, text in errors.items() if key not in keyed) or None
    evidence = operations.evidence_for(db_session(), case)
    goal_scores = _mapping(recorded, "goal_scores")
    return SheetForm(
        name=f.name, id=f.id, title=label(sheet.title),
        sections=_sections(sheet, recorded, errors, evidence),
        goals=[GoalRow(g.key, label(g.title), g.weight, str(goal_scores.get(g.key, "")), errors.get(g.key))
               for g in sheet.goals],
        adjustments=_adjustments(recorded),
        proposed=_evidence([e for e in evidence if e.status == "proposed"]),
        countable=[(i.key, label(i.text)) for s in sheet.sections for i in s.items if not i.banded],
        case_id=case.id, action=action,
        result=result, problem=problem,
        preview_url=None if disabled or action is None else url_for(
            "ui.preview_sheet", case_id=case.id, action=action, field=f.name),
    )


# -- the live preview --------------------------------------------------------------------------------


def sheet_input(definition: Definition, transition: TransitionSpec, name: str) -> bool:
    return any(i.name == name and i.spec.type == appraisal.SCORESHEET for i in transition.inputs) \
        and name in definition.fields


def preview(case: Case, name: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The engine's scoring of the form's values, nothing stored: total, grade, coefficient, each section's and
    goal's points, and each entry's problem by its input's name."""
    definition = workflow_of(case.version).definition
    sheet, _version = appraisal.template_of(db_session(), definition, name, case.data)
    if sheet is None:
        return {"result": None, "sections": {}, "goals": {}, "problems": {}}
    recorded = forms.sheet_from_form(name, form)
    scored = appraisal.score_recorded(db_session(), definition, sheet, recorded, case.data)
    inputs = {key: f"{name}.{'occurrences' if not item.banded else 'bands'}.{key}"
              for key, item in sheet.items().items()}
    inputs.update({g.key: f"{name}.goal_scores.{g.key}" for g in sheet.goals})
    inputs["adjustments"] = f"{name}.adjustments"
    result = scored.result
    return {
        "result": _result(result),
        "sections": {s.key: str(s.score) for s in result.sections} if result else {},
        "goals": {g.key: str(g.points) for g in result.goals} if result else {},
        "problems": {inputs.get(p.key, name): label({"en": p.en, "zh": p.zh}) for p in scored.problems
                     if p.key not in (result.unscored if result else ())},
        "unscored": [inputs[k] for k in (result.unscored if result else ()) if k in inputs],
    }


# -- the scored sheet --------------------------------------------------------------------------------


@dataclass
class FilledItem:
    text: str
    points: Decimal | None
    count: int
    deducted: Decimal
    band: str = ""
    from_evidence: int = 0


@dataclass
class FilledSection:
    title: str
    max: Decimal
    score: str
    items: list[FilledItem]


@dataclass
class FilledSheet:
    title: str
    source: str
    sections: list[FilledSection]
    goals: list[tuple[str, Decimal, str, str]]  # title, weight, achieved %, points
    adjustments: list[tuple[str, int, Decimal]]  # text, count, points
    result: dict[str, Any]


def _filled_item(item: Any, recorded: dict[str, Any]) -> FilledItem:
    text = label(item.text)
    if item.banded:
        chosen = _mapping(recorded, "bands").get(item.key)
        key = chosen.get("band") if isinstance(chosen, dict) else chosen
        band = item.band(str(key)) if key is not None else None
        typed = chosen.get("points") if isinstance(chosen, dict) else None
        deducted = Decimal(str(typed)) if typed is not None else (band.low if band else Decimal(0))
        return FilledItem(text, None, 0, deducted, label(band.text) if band else "—")
    own = _mapping(recorded, "occurrences").get(item.key, 0)
    evidence = _mapping(recorded, "from_evidence").get(item.key, 0)
    count = (own if isinstance(own, int) else 0) + (evidence if isinstance(evidence, int) else 0)
    return FilledItem(text, item.points, count, item.points * count, from_evidence=evidence)


def filled_view(case: Case, name: str) -> FilledSheet | None:
    """A scored sheet as the paper form shows it (001 §4): every item with its count or band and the points it
    took, each section's score, the goals, rewards and penalties, total, grade and coefficient."""
    definition = workflow_of(case.version).definition
    spec = definition.fields.get(name)
    recorded = case.data.get(name)
    if spec is None or spec.type != appraisal.SCORESHEET or not isinstance(recorded, dict) \
            or not isinstance(recorded.get("result"), dict):
        return None
    sheet, _version = appraisal.template_of(db_session(), definition, name, case.data)
    if sheet is None:
        return None
    result = recorded["result"]
    scores = result.get("sections") or {}
    achieved = _mapping(recorded, "goal_scores")
    goal_points = result.get("goals") or {}
    adjustments = recorded.get("adjustments")
    given: list[Any] = adjustments if isinstance(adjustments, list) else []
    return FilledSheet(
        title=label(sheet.title), source=sheet.source,
        sections=[FilledSection(label(s.title), s.max, str(scores.get(s.key, "")),
                                [_filled_item(i, recorded) for i in s.items]) for s in sheet.sections],
        goals=[(label(g.title), g.weight, str(achieved.get(g.key, "")), str(goal_points.get(g.key, "")))
               for g in sheet.goals],
        adjustments=[(label(scoring.ADJUSTMENT_LABELS[k]), given.count(k), p) for k, p in scoring.ADJUSTMENTS.items()
                     if given.count(k)],
        result=result,
    )


def scored_result(text: str) -> dict[str, Any] | None:
    """The result of a scored sheet shown as JSON text (a history row's input), or None for anything else."""
    if not isinstance(text, str) or not text.startswith("{") or '"result"' not in text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    result = value.get("result") if isinstance(value, dict) and "template" in value else None
    return result if isinstance(result, dict) and "total" in result else None
