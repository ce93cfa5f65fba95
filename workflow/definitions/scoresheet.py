"""Score-sheet templates (考核表单) of the monthly appraisal: their schema and their loader.

A template is one YAML file in `scoresheets/`, named after its `key`, transcribed from the five sheets of
`001 §4`. Its shape::

    key: repair                               # = the file name
    title: {en: ..., zh: ...}
    source: 001 §4.3 ...                      # where it comes from
    goals_share: 60                           # only with goals: the points the goals give together
    goals:                                    # only on goal-based sheets (performance agreement)
      - {key: goal_1, title: {en: ..., zh: ...}, weight: 30}     # percent of the 100 points
    sections:
      - key: work_compliance
        title: {en: ..., zh: ...}
        max: 20                               # the section's points; deductions never take it below 0
        items:
          - key: perfunctory_work
            text: {en: ..., zh: ...}
            points: 10                        # deducted once per occurrence (key-behaviour method)
          - key: attitude
            text: {en: ..., zh: ...}
            bands:                            # a scale: the supervisor picks the one band that applies
              - {key: as_required, text: {en: ..., zh: ...}, points: 4}         # deducted
              - {key: days_2_to_3, text: {en: ..., zh: ...}, points: [2, 4]}    # a range: the supervisor says how many

The section maxima and the goals' share add up to 100; the goals' weights add up to the goals' share.

Like the workflow loader, `parse_scoresheet()` never raises on bad input: it returns every problem with the
file, the line and a reason. Codes: `yaml_syntax`, `duplicate_key` (a YAML mapping repeats a key),
`unknown_key`, `missing_key`, `bad_value` (wrong type, a title or text without both `en` and `zh`),
`key_mismatch`, `duplicate_name` (a section, item, goal or band key used twice), `bad_points` (a maximum,
weight or deduction that is not a positive number, a band range out of order), `maxima_sum` and `weights_sum`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .formats.scoresheet import BAND, GOAL, ITEM, SECTION, TOP
from .reader import Checker, DefinitionInvalid, LList, LMap, Problem, read_checked
from .schema import Label

SCORESHEETS_DIR = Path(__file__).parent / "scoresheets"
SHEET_TOTAL = Decimal(100)



@dataclass(frozen=True)
class Band:
    """One step of a scale; `low`..`high` points are deducted (equal for a fixed step)."""

    key: str
    text: Label
    low: Decimal
    high: Decimal
    line: int = 0

    @property
    def fixed(self) -> bool:
        return self.low == self.high


@dataclass(frozen=True)
class Item:
    """A behaviour deducted `points` per occurrence, or a scale of `bands` of which one applies."""

    key: str
    text: Label
    points: Decimal | None = None
    bands: tuple[Band, ...] = ()
    line: int = 0

    @property
    def banded(self) -> bool:
        return bool(self.bands)

    def band(self, key: str) -> Band | None:
        return next((b for b in self.bands if b.key == key), None)


@dataclass(frozen=True)
class Section:
    key: str
    title: Label
    max: Decimal
    items: tuple[Item, ...]
    line: int = 0


@dataclass(frozen=True)
class Goal:
    """A goal of the month's performance agreement, worth `weight` points when fully achieved."""

    key: str
    title: Label
    weight: Decimal
    line: int = 0


@dataclass(frozen=True)
class ScoreSheet:
    key: str
    title: Label
    source: str
    sections: tuple[Section, ...]
    goals: tuple[Goal, ...] = ()
    goals_share: Decimal = Decimal(0)

    def items(self) -> dict[str, Item]:
        """Every item of the sheet by key (item keys are unique across a sheet)."""
        return {item.key: item for section in self.sections for item in section.items}


# --- the checker -------------------------------------------------------------------------------


def _number(c: Checker, value: Any, line: int, what: str, *, zero_ok: bool = False) -> Decimal | None:
    """A positive number (or zero when `zero_ok`) as a Decimal, or None after reporting why not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        c.add(line, "bad_value", f"{what} must be a number, not {value!r}")
        return None
    number = Decimal(str(value))
    if not number.is_finite() or number < 0 or (number == 0 and not zero_ok):
        need = "zero or more" if zero_ok else "more than zero (write deductions without a minus sign)"
        c.add(line, "bad_points", f"{what} is {value!r}; it must be {need}")
        return None
    return number


def _text(c: Checker, m: LMap, key: str, what: str) -> Label:
    """The {en, zh} text under `key`; a missing one is reported by the mapping check already."""
    if key not in m:
        return {"en": "?", "zh": "?"}
    return c.label(m[key], c.at(m, key), what)


def _list(c: Checker, m: LMap, key: str, what: str) -> list[tuple[Any, int]]:
    """The entries of a non-empty list with their lines; reports anything else."""
    value = m.get(key)
    if isinstance(value, LList) and value:
        return list(zip(value, value.item_lines, strict=True))
    if key in m:
        c.add(c.at(m, key), "bad_value", f"{what} must be a non-empty list")
    return []


class _Names:
    """One namespace per sheet for section, item and goal keys, so a recorded key names one thing."""

    def __init__(self, c: Checker):
        self.c = c
        self.seen: dict[str, tuple[str, int]] = {}

    def add(self, m: LMap, kind: str) -> str | None:
        key = m.get("key")
        if "key" not in m or not self.c.name(key, self.c.at(m, "key"), f"{kind} key"):
            return None
        if key in self.seen:
            first_kind, first_line = self.seen[key]
            self.c.add(self.c.at(m, "key"), "duplicate_name",
                       f"{kind} key {key!r} is already used by the {first_kind} at line {first_line}; "
                       "keys must be unique within a sheet")
            return None
        self.seen[key] = (kind, self.c.at(m, "key"))
        return str(key)


def _band(c: Checker, m: LMap, what: str) -> Band | None:
    text = _text(c, m, "text", f"{what} text")
    if "points" not in m:
        return None  # reported as a missing key
    raw, line = m["points"], c.at(m, "points")
    if not isinstance(raw, LList):
        raw = [raw, raw]
    elif len(raw) != 2:
        c.add(line, "bad_value", f"{what} points must be a number or a range [low, high]")
        return None
    low = _number(c, raw[0], line, f"{what} points", zero_ok=True)
    high = _number(c, raw[1], line, f"{what} points", zero_ok=True) if raw[1] is not raw[0] else low
    if low is None or high is None:
        return None
    if isinstance(m["points"], LList) and low >= high:
        c.add(line, "bad_points", f"{what} range [{raw[0]}, {raw[1]}] must go from fewer to more points")
        return None
    return Band(key=m["key"], text=text, low=low, high=high, line=m.line)


def _item(c: Checker, m: LMap, key: str, what: str) -> Item | None:
    text = _text(c, m, "text", f"{what} text")
    if ("points" in m) == ("bands" in m):
        c.add(m.line, "missing_key" if "points" not in m else "bad_value",
              f"{what} needs exactly one of 'points' (deducted per occurrence) or 'bands' (a scale)")
        return None
    if "points" in m:
        points = _number(c, m["points"], c.at(m, "points"), f"{what} points")
        return None if points is None else Item(key=key, text=text, points=points, line=m.line)
    bands: list[Band] = []
    band_keys: set[str] = set()
    entries = _list(c, m, "bands", f"{what} bands")
    if len(entries) == 1:
        c.add(c.at(m, "bands"), "bad_value", f"{what} has a single band; a scale needs two or more")
    for raw, line in entries:
        bm = c.mapping(raw, line, f"a band of {what}", BAND.allowed, BAND.required)
        if bm is None or "key" not in bm or not c.name(bm["key"], c.at(bm, "key"), f"band key of {what}"):
            continue
        band_what = f"band {bm['key']!r} of {what}"
        if bm["key"] in band_keys:
            c.add(c.at(bm, "key"), "duplicate_name", f"{band_what} is declared twice")
            continue
        band_keys.add(bm["key"])
        band = _band(c, bm, band_what)
        if band is not None:
            bands.append(band)
    if len(bands) != len(entries) or len(bands) < 2:
        return None
    return Item(key=key, text=text, bands=tuple(bands), line=m.line)


def _sheet(c: Checker, doc: Any, expected_key: str | None) -> ScoreSheet | None:
    top = c.mapping(doc, 1, "the score sheet", TOP.allowed, TOP.required)
    if top is None:
        return None
    key = top.get("key")
    if "key" in top and c.name(key, c.at(top, "key"), "key") and expected_key and key != expected_key:
        c.add(c.at(top, "key"), "key_mismatch", f"key {key!r} differs from the file name {expected_key!r}")
    title = _text(c, top, "title", "title")
    source = top.get("source")
    if "source" in top and not (isinstance(source, str) and source.strip()):
        c.add(c.at(top, "source"), "bad_value", "source must be a text naming where the sheet comes from")
    names = _Names(c)
    goals = _goals(c, top, names)
    sections, maxima = _sections(c, top, names)
    if goals.ok and maxima and all(m.is_finite() for m in maxima):
        total = sum(maxima, Decimal(0))
        if total + goals.share != SHEET_TOTAL:
            parts = f"the section maxima add up to {total}" + (
                f" and the goals' share is {goals.share}" if goals.weights else "")
            c.add(c.at(top, "sections"), "maxima_sum", f"{parts}: together they must make {SHEET_TOTAL}")

    if c.problems or not isinstance(key, str) or not isinstance(source, str):
        return None
    return ScoreSheet(
        key=key, title=title, source=source, sections=tuple(sections), goals=tuple(goals.goals),
        goals_share=goals.share,
    )


@dataclass
class _Goals:
    goals: list[Goal]
    weights: list[Decimal]
    share: Decimal
    ok: bool  # whether the sheet's sum can be checked: the share and every weight are numbers


def _goals(c: Checker, top: LMap, names: _Names) -> _Goals:
    """The performance-agreement part of the two goal-based sheets."""
    found = _Goals([], [], Decimal(0), True)
    if ("goals" in top) != ("goals_share" in top):
        c.add(c.at(top, "goals" if "goals" in top else "goals_share"), "missing_key",
              "'goals' and 'goals_share' go together: the goals' weights add up to the goals' share")
        found.ok = False
    if "goals_share" in top:
        parsed_share = _number(c, top["goals_share"], c.at(top, "goals_share"), "goals_share")
        found.ok = found.ok and parsed_share is not None
        found.share = parsed_share or Decimal(0)
    for raw, line in _list(c, top, "goals", "goals"):
        gm = c.mapping(raw, line, "a goal", GOAL.allowed, GOAL.required)
        if gm is None:
            found.ok = False
            continue
        gkey = names.add(gm, "goal")
        gtitle = _text(c, gm, "title", f"goal {gkey!r} title")
        weight = _number(c, gm["weight"], c.at(gm, "weight"), f"goal {gkey!r} weight") if "weight" in gm else None
        if weight is None:
            found.ok = False
            continue
        found.weights.append(weight)
        if gkey is not None:
            found.goals.append(Goal(key=gkey, title=gtitle, weight=weight, line=gm.line))
    total = sum(found.weights, Decimal(0))
    if found.ok and found.weights and total != found.share:
        c.add(c.at(top, "goals"), "weights_sum",
              f"the goals' weights add up to {total}, but goals_share is {found.share}")
    return found


def _sections(c: Checker, top: LMap, names: _Names) -> tuple[list[Section], list[Decimal]]:
    """The deduction part, and each section's maximum (NaN where it is broken)."""
    sections: list[Section] = []
    maxima: list[Decimal] = []
    for raw, line in _list(c, top, "sections", "sections"):
        sm = c.mapping(raw, line, "a section", SECTION.allowed, SECTION.required)
        if sm is None:
            maxima.append(Decimal("NaN"))
            continue
        skey = names.add(sm, "section")
        what = f"section {skey!r}"
        stitle = _text(c, sm, "title", f"{what} title")
        smax = _number(c, sm["max"], c.at(sm, "max"), f"{what} max") if "max" in sm else None
        maxima.append(Decimal("NaN") if smax is None else smax)
        entries = _list(c, sm, "items", f"{what} items")
        items = _items(c, entries, names, what)
        if skey is not None and smax is not None and entries and len(items) == len(entries):
            sections.append(Section(key=skey, title=stitle, max=smax, items=tuple(items), line=sm.line))
    return sections, maxima


def _items(c: Checker, entries: list[tuple[Any, int]], names: _Names, what: str) -> list[Item]:
    items: list[Item] = []
    for raw_item, item_line in entries:
        im = c.mapping(raw_item, item_line, f"an item of {what}", ITEM.allowed, ITEM.required)
        ikey = names.add(im, "item") if im is not None else None
        if im is None or ikey is None:
            continue
        item = _item(c, im, ikey, f"item {ikey!r}")
        if item is not None:
            items.append(item)
    return items


def parse_scoresheet(
    text: str, filename: str = "<text>", expected_key: str | None = None
) -> tuple[ScoreSheet | None, list[Problem]]:
    """Parse and validate one score sheet. Returns (sheet, []) or (None, problems)."""
    return read_checked(text, filename, lambda c, doc: _sheet(c, doc, expected_key))


def validate_scoresheet(path: Path | str) -> list[Problem]:
    """Validate a score-sheet file, or every *.yaml file in a folder."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    problems: list[Problem] = []
    for f in files:
        problems += parse_scoresheet(f.read_text(encoding="utf-8"), str(f), expected_key=f.stem)[1]
    return problems


def load_scoresheet(path: Path | str) -> ScoreSheet:
    """Load one score sheet; raises DefinitionInvalid listing every problem."""
    path = Path(path)
    sheet, problems = parse_scoresheet(path.read_text(encoding="utf-8"), str(path), expected_key=path.stem)
    if problems:
        raise DefinitionInvalid(problems)
    assert sheet is not None
    return sheet


@functools.cache
def _shipped() -> tuple[tuple[str, ScoreSheet], ...]:
    return tuple((p.stem, load_scoresheet(p)) for p in sorted(SCORESHEETS_DIR.glob("*.yaml")))


def shipped_scoresheets() -> dict[str, ScoreSheet]:
    """The score sheets shipped in `scoresheets/`, by key (read once per process). What ships is not what scores:
    loading publishes them as numbered versions, and a sheet is scored with a published version
    (workflow/appraisal/templates.py); a shipped file scores only while its template has none."""
    return dict(_shipped())
