"""The arithmetic of the monthly appraisal (`001 §2–§5`, summarised in PROCESSES.md §4): pure functions, no I/O.

A score sheet is scored by the key-behaviour method: only what happened is deducted, and a section never goes
below 0. Goals give weight × achieved %. The month's rewards and penalties then move the total, which stays
within 0–100; the grade, the pay coefficient and the performance pay follow from it. Every number is a Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from workflow.definitions.scoresheet import Item, ScoreSheet

Number = Decimal | int | str

ZERO = Decimal(0)
HUNDRED = Decimal(100)

# 001 奖惩细则 第八条 (五): the month's rewards and penalties move that month's score. The yearly rules of the
# same article (three merits make a major merit, rewards offset penalties of the same rank) need no extra
# arithmetic here: 3 × 3 = 9 and +1 − 1 = 0 already.
ADJUSTMENTS: dict[str, Decimal] = {
    "commendation": Decimal(1),  # 嘉奖
    "merit": Decimal(3),  # 记功
    "major_merit": Decimal(9),  # 记大功
    "warning": Decimal(-1),  # 警告
    "demerit": Decimal(-3),  # 记过
    "major_demerit": Decimal(-9),  # 记大过
}
ADJUSTMENT_LABELS: dict[str, dict[str, str]] = {
    "commendation": {"en": "Commendation", "zh": "嘉奖"},
    "merit": {"en": "Merit", "zh": "记功"},
    "major_merit": {"en": "Major merit", "zh": "记大功"},
    "warning": {"en": "Warning", "zh": "警告"},
    "demerit": {"en": "Demerit", "zh": "记过"},
    "major_demerit": {"en": "Major demerit", "zh": "记大过"},
}

# Lowest total of each grade, best first (001 §4.1 note: A = 90–100, B = 80–90, ...; a total on a boundary
# takes the higher grade, so 90 is A and 89.5 is B).
GRADE_FLOORS: tuple[tuple[str, Decimal], ...] = (
    ("A", Decimal(90)), ("B", Decimal(80)), ("C", Decimal(70)), ("D", Decimal(60)), ("E", ZERO),
)
PAY_COEFFICIENTS: dict[str, Decimal] = {
    "A": Decimal("1.0"), "B": Decimal("0.9"), "C": Decimal("0.8"), "D": Decimal("0.7"), "E": Decimal("0.6"),
}
# Guideline share of each grade in a department, in percent. 001 §2.4 gives C 60 % and D 20 %; the pay example
# of §5.1 swaps them (C 20 %, D 60 %), which reads as a slip: we follow §2.4, as PROCESSES.md §4 does.
GRADE_GUIDELINE: dict[str, Decimal] = {
    "A": Decimal(4), "B": Decimal(6), "C": Decimal(60), "D": Decimal(20), "E": Decimal(10),
}
REPORT_BELOW = Decimal(60)  # 001 §5.5: three monthly scores in a row below 60 → performance report (述职)
REPORT_AFTER_MONTHS = 3


# (choice) How often one item may be counted in one month: a number beyond it is a slip of the keyboard, and
# the paper form of 001 §4 has room for a few strokes per item, not hundreds.
MAX_OCCURRENCES = 99


@dataclass(frozen=True)
class Problem:
    """Why one recorded entry does not fit the sheet: `key` is the item or goal it is about ("adjustments" for
    the month's rewards and penalties), the messages name it by its label."""

    key: str
    en: str
    zh: str


class ScoringError(ValueError):
    """Raised when the recorded items, goals or bands do not fit the sheet; `problems` says which, one per entry."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class BandChoice:
    """The band picked on a scale item; `points` says how many within a range band."""

    band: str
    points: Number | None = None


@dataclass(frozen=True)
class SectionResult:
    key: str
    max: Decimal
    deducted: Decimal  # everything recorded, even beyond the maximum
    score: Decimal  # max − deducted, never below 0


@dataclass(frozen=True)
class GoalResult:
    key: str
    weight: Decimal
    achieved: Decimal  # percent, 0–100
    points: Decimal  # weight × achieved / 100


@dataclass(frozen=True)
class SheetResult:
    sheet: str
    sections: tuple[SectionResult, ...]
    goals: tuple[GoalResult, ...]
    adjustment: Decimal  # net rewards and penalties of the month
    unclamped: Decimal  # sections + goals + adjustment
    total: Decimal  # unclamped, kept within 0–100
    capped: Decimal  # the points above 100 the cap cut (a reward on a full sheet): kept, not lost
    grade: str
    pay_coefficient: Decimal
    unscored: tuple[str, ...]  # goals and scale items nobody recorded: a caller may refuse an incomplete sheet


@dataclass(frozen=True)
class GradeShare:
    count: int
    share: Decimal  # percent of the people graded, to 0.01
    guideline: Decimal  # percent
    deviation: Decimal  # share − guideline, in percentage points
    expected: Decimal  # people the guideline asks for, to 0.01


def _decimal(value: Number | float, what: str) -> Decimal:
    """A finite Decimal from a Decimal, int, str or float (a float through its shortest text)."""
    if isinstance(value, bool):
        raise ScoringError(f"{what} must be a number, not {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ScoringError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise ScoringError(f"{what} must be a finite number, not {value!r}")
    return number


def _percent(value: Number | float, what: str) -> Decimal:
    """A number within 0–100."""
    number = _decimal(value, what)
    if not ZERO <= number <= HUNDRED:
        raise ScoringError(f"{what} must be within 0–100, not {value!r}")
    return number


def _band_problem(item: Item, choice: object) -> Problem | None:
    """Why the band picked on a scale item does not fit it, or None."""
    en, zh = item.text["en"], item.text["zh"]
    if isinstance(choice, str):
        choice = BandChoice(choice)
    if not isinstance(choice, BandChoice):
        return Problem(item.key, f"«{en}»: pick one of its bands", f"「{zh}」：请选择一个档次")
    band = item.band(choice.band)
    if band is None:
        known_en = "; ".join(b.text["en"] for b in item.bands)
        known_zh = "；".join(b.text["zh"] for b in item.bands)
        return Problem(item.key, f"«{en}» has no band {choice.band!r}; its bands are: {known_en}",
                       f"「{zh}」没有档次 {choice.band!r}，可选：{known_zh}")
    what_en, what_zh = f"«{en}», «{band.text['en']}»", f"「{zh}」「{band.text['zh']}」"
    if choice.points is None:
        if band.fixed:
            return None
        return Problem(item.key, f"{what_en} deducts {band.low}–{band.high} points: say how many",
                       f"{what_zh}扣 {band.low}–{band.high} 分：请填写扣几分")
    try:
        points = _decimal(choice.points, "the points")
    except ScoringError:
        return Problem(item.key, f"{what_en}: the points must be a number, not {choice.points!r}",
                       f"{what_zh}：扣分须为数字，不是 {choice.points!r}")
    if not band.low <= points <= band.high:
        return Problem(item.key, f"{what_en} deducts {band.low}–{band.high} points, not {points}",
                       f"{what_zh}扣 {band.low}–{band.high} 分，不能是 {points}")
    return None


def _band_deduction(item: Item, choice: str | BandChoice) -> Decimal:
    """The points deducted for the band picked on a scale item (checked by check_recorded)."""
    if isinstance(choice, str):
        choice = BandChoice(choice)
    band = item.band(choice.band)
    assert band is not None
    return band.low if choice.points is None else _decimal(choice.points, "the points")


def _count_problem(sheet: ScoreSheet, key: str, count: object) -> Problem | None:
    item = sheet.items().get(key)
    if item is None:
        return Problem(key, f"the sheet «{sheet.title['en']}» has no item {key!r}",
                       f"「{sheet.title['zh']}」没有项目 {key!r}")
    en, zh = item.text["en"], item.text["zh"]
    if item.banded:
        return Problem(key, f"«{en}» is a scale: pick a band instead of counting occurrences",
                       f"「{zh}」是分档项目：请选择档次，而不是填写次数")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_OCCURRENCES:
        return Problem(key, f"«{en}»: the count must be a whole number from 0 to {MAX_OCCURRENCES}, not {count!r}",
                       f"「{zh}」：次数须为 0 至 {MAX_OCCURRENCES} 的整数，不能是 {count!r}")
    return None


def _goal_problem(sheet: ScoreSheet, key: str, value: object) -> Problem | None:
    goal = next((g for g in sheet.goals if g.key == key), None)
    if goal is None:
        return Problem(key, f"the sheet «{sheet.title['en']}» has no goal {key!r}",
                       f"「{sheet.title['zh']}」没有目标 {key!r}")
    try:
        if not isinstance(value, (Decimal, int, str, float)):
            raise ScoringError("not a number")
        _percent(value, "the share achieved")
    except ScoringError:
        return Problem(key, f"«{goal.title['en']}»: the share achieved must be a number within 0–100, not {value!r}",
                       f"「{goal.title['zh']}」：完成百分比须为 0–100 之间的数字，不能是 {value!r}")
    return None


def _adjustment_problem(adjustments: object) -> Problem | None:
    if isinstance(adjustments, (str, Mapping)) or not isinstance(adjustments, Sequence):
        return Problem("adjustments", "the rewards and penalties must be a list",
                       "奖惩须为列表")
    unknown = [a for a in adjustments if not isinstance(a, str) or a not in ADJUSTMENTS]
    if unknown:
        known_en = ", ".join(names["en"] for names in ADJUSTMENT_LABELS.values())
        known_zh = "、".join(names["zh"] for names in ADJUSTMENT_LABELS.values())
        return Problem("adjustments", f"unknown reward or penalty {unknown[0]!r}; known: {known_en}",
                       f"未知的奖惩 {unknown[0]!r}；可选：{known_zh}")
    return None


def _shape_problems(recorded: Mapping[str, object]) -> list[Problem]:
    return [
        Problem(part, f"the {what_en} must be given one by one", f"{what_zh}须逐项填写")
        for part, what_en, what_zh in (("occurrences", "counts", "次数"), ("goal_scores", "goal scores", "目标得分"),
                                       ("bands", "bands", "档次"))
        if not isinstance(recorded[part], Mapping)
    ]


def check_recorded(
    sheet: ScoreSheet, occurrences: object, goal_scores: object, band_choices: object, adjustments: object,
) -> list[Problem]:
    """Every recorded entry that does not fit the sheet, one problem per item or goal, named by its label."""
    shape = _shape_problems({"occurrences": occurrences, "goal_scores": goal_scores, "bands": band_choices})
    if shape or not (isinstance(occurrences, Mapping) and isinstance(goal_scores, Mapping)
                     and isinstance(band_choices, Mapping)):
        return shape
    items = sheet.items()
    found: list[Problem | None] = [_count_problem(sheet, str(k), v) for k, v in occurrences.items()]
    for key, choice in band_choices.items():
        item = items.get(key)
        if item is None or not item.banded:
            found.append(Problem(str(key), f"the sheet «{sheet.title['en']}» has no scale item {key!r}",
                                 f"「{sheet.title['zh']}」没有分档项目 {key!r}"))
        else:
            found.append(_band_problem(item, choice))
    found += [_goal_problem(sheet, str(k), v) for k, v in goal_scores.items()]
    found.append(_adjustment_problem(adjustments))
    return [p for p in found if p is not None]


def unscored_problems(sheet: ScoreSheet, keys: Iterable[str]) -> list[Problem]:
    """What a sheet with these scale items and goals left unscored lacks, named by their labels."""
    items = sheet.items()
    goals = {g.key: g for g in sheet.goals}
    problems = []
    for key in keys:
        if key in items:
            text = items[key].text
            problems.append(Problem(key, f"«{text['en']}»: still to score: pick the band that applies",
                                    f"「{text['zh']}」尚未评分：请选择适用的档次"))
        elif key in goals:
            title = goals[key].title
            problems.append(Problem(key, f"«{title['en']}»: still to score: give the share achieved (0–100)",
                                    f"「{title['zh']}」尚未评分：请填写完成百分比（0–100）"))
    return problems


def score_sheet(
    sheet: ScoreSheet,
    occurrences: Mapping[str, int] | None = None,
    goal_scores: Mapping[str, Number | float] | None = None,
    band_choices: Mapping[str, str | BandChoice] | None = None,
    adjustments: Sequence[str] = (),
) -> SheetResult:
    """Score a sheet from what happened: item occurrences, goals' achieved %, picked bands, rewards and penalties."""
    occurrences = occurrences or {}
    goal_scores = goal_scores or {}
    band_choices = band_choices or {}
    problems = check_recorded(sheet, occurrences, goal_scores, band_choices, adjustments)
    if problems:
        raise ScoringError("; ".join(p.en for p in problems), problems)

    unscored: list[str] = []
    sections = []
    for section in sheet.sections:
        deducted = ZERO
        for item in section.items:
            if item.banded:
                if item.key in band_choices:
                    deducted += _band_deduction(item, band_choices[item.key])
                else:
                    unscored.append(item.key)  # key-behaviour method: nothing recorded, nothing deducted
            else:
                assert item.points is not None
                deducted += item.points * occurrences.get(item.key, 0)
        # Deductions stop at the section's maximum: one bad section does not eat into the others.
        sections.append(SectionResult(section.key, section.max, deducted, max(ZERO, section.max - deducted)))
    goals = []
    for goal in sheet.goals:
        if goal.key in goal_scores:
            achieved = _percent(goal_scores[goal.key], f"the score of goal {goal.key!r}")
        else:
            achieved = ZERO
            unscored.append(goal.key)
        goals.append(GoalResult(goal.key, goal.weight, achieved, goal.weight * achieved / HUNDRED))
    adjustment = sum((ADJUSTMENTS[a] for a in adjustments), ZERO)
    unclamped = sum((s.score for s in sections), ZERO) + sum((g.points for g in goals), ZERO) + adjustment
    # 001 §2.3: a month's total never exceeds the standard 100, so a reward cannot lift it above; and f = score/100
    # in the pay formula (§5.1) would make a negative total take pay from the others, so it stops at 0.
    total = min(HUNDRED, max(ZERO, unclamped))
    letter = grade(total)
    return SheetResult(
        sheet=sheet.key, sections=tuple(sections), goals=tuple(goals), adjustment=adjustment,
        unclamped=unclamped, total=total, capped=max(ZERO, unclamped - HUNDRED), grade=letter,
        pay_coefficient=pay_coefficient(letter), unscored=tuple(unscored),
    )


def grade(total: Number | float) -> str:
    """The grade A–E of a total within 0–100 (A from 90, B from 80, C from 70, D from 60, E below)."""
    number = _percent(total, "a total")
    return next(letter for letter, floor in GRADE_FLOORS if number >= floor)


def pay_coefficient(grade: str) -> Decimal:
    """The performance-pay coefficient of a grade (A 1.0 … E 0.6; lower-case letters accepted)."""
    coefficient = PAY_COEFFICIENTS.get(grade.upper()) if isinstance(grade, str) else None
    if coefficient is None:
        raise ScoringError(f"unknown grade {grade!r}; grades are {', '.join(PAY_COEFFICIENTS)}")
    return coefficient


def performance_pay(
    people: Sequence[tuple[Number | float, Number | float]], department_coefficient: Number | float
) -> list[Decimal]:
    """Each person's pay S·f / Σ(S·f) × (coefficient × ΣS), f = score/100, to whole yuan rounded half up (001 §5.1)."""
    coefficient = _decimal(department_coefficient, "the department coefficient")
    if coefficient < 0:
        raise ScoringError(f"the department coefficient must not be negative, not {department_coefficient!r}")
    standards = []
    weighted = []
    for i, (standard, score) in enumerate(people):
        s = _decimal(standard, f"the standard pay of person {i + 1}")
        if s < 0:
            raise ScoringError(f"the standard pay of person {i + 1} must not be negative, not {standard!r}")
        standards.append(s)
        weighted.append(s * _percent(score, f"the score of person {i + 1}") / HUNDRED)
    pool = coefficient * sum(standards, ZERO)
    weight_sum = sum(weighted, ZERO)
    if weight_sum == 0:
        # Nobody earned a share (every score or standard is 0): nothing to distribute.
        return [ZERO for _ in weighted]
    # Multiply before dividing so the only rounding is the final one to whole yuan.
    return [(w * pool / weight_sum).quantize(Decimal(1), rounding=ROUND_HALF_UP) for w in weighted]


def grade_distribution(
    grades: Iterable[str], guideline_shares: Mapping[str, Decimal] | None = None
) -> dict[str, GradeShare]:
    """How many people got each grade, their share and its deviation from the guideline (A 4 %, B 6 %, …;
    the definition's `grade_share` table when given, by upper-case grade)."""
    guidelines = dict(guideline_shares or GRADE_GUIDELINE)
    counts = dict.fromkeys(guidelines, 0)
    for g in grades:
        letter = g.upper() if isinstance(g, str) else g
        if letter not in counts:
            raise ScoringError(f"unknown grade {g!r}; grades are {', '.join(guidelines)}")
        counts[letter] += 1
    people = sum(counts.values())
    cent = Decimal("0.01")
    result = {}
    for letter, count in counts.items():
        share = Decimal(count) * HUNDRED / people if people else ZERO
        guideline = guidelines[letter]
        result[letter] = GradeShare(
            count=count,
            share=share.quantize(cent, rounding=ROUND_HALF_UP),
            guideline=guideline,
            deviation=(share - guideline).quantize(cent, rounding=ROUND_HALF_UP),
            expected=(guideline * people / HUNDRED).quantize(cent, rounding=ROUND_HALF_UP),
        )
    return result


def needs_performance_report(monthly_totals_in_order: Iterable[Number | float]) -> bool:
    """True when three monthly totals in a row are below 60 (001 §5.5: the employee gives a performance report)."""
    run = 0
    for i, total in enumerate(monthly_totals_in_order):
        run = run + 1 if _decimal(total, f"month {i + 1}'s total") < REPORT_BELOW else 0
        if run >= REPORT_AFTER_MONTHS:
            return True
    return False


def grade_ceiling(share: Number | float, people: int) -> int:
    """How many of `people` sheets may get a grade whose forced share is `share` percent: the share of the
    headcount rounded up (001 §2.3; a department of 4 may have one A at 4 %, three C at 60 %)."""
    percent = _percent(share, "a grade's share")
    if isinstance(people, bool) or not isinstance(people, int) or people < 0:
        raise ScoringError(f"the headcount must be a whole number 0 or more, not {people!r}")
    return int((percent * people / HUNDRED).to_integral_value(rounding=ROUND_CEILING))


def head_pay(department_coefficient: Number | float, standard_pay: Number | float) -> Decimal:
    """A department head's month: the department coefficient × the head's standard performance pay, to whole
    yuan rounded half up (001 §5.1 月度各部门负责人绩效薪资 = 部门月度绩效系数 × 部长标准绩效薪资)."""
    coefficient = _decimal(department_coefficient, "the department coefficient")
    pay = _decimal(standard_pay, "the head's standard pay")
    if coefficient < 0 or pay < 0:
        raise ScoringError("the department coefficient and the head's standard pay must not be negative")
    return (coefficient * pay).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def remainder(standard_pays: Iterable[Number | float], department_coefficient: Number | float) -> Decimal:
    """What a coefficient below 1 leaves of the staff's pool, ΣS − coefficient × ΣS, to the fen: 001 §5.1 has the
    head pay it out once a quarter as an adjustment reward. Nothing is left at a coefficient of 1 or more."""
    coefficient = _decimal(department_coefficient, "the department coefficient")
    total = sum((_decimal(s, "a standard pay") for s in standard_pays), ZERO)
    if coefficient >= 1:
        return ZERO.quantize(Decimal("0.01"))
    return (total - coefficient * total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# 001 奖惩细则 第八条: ranks that offset each other (三), and how many of a rank make one of the next (一), (二).
OFFSETS: tuple[tuple[str, str], ...] = (
    ("commendation", "warning"), ("merit", "demerit"), ("major_merit", "major_demerit"),
)


@dataclass(frozen=True)
class YearTally:
    recorded: dict[str, int]  # every reward and penalty of the year's sheets, by kind
    net: dict[str, int]  # after offsetting same ranks and turning three of a rank into one of the next
    dismissal: bool  # 第八条 (四): three major demerits in a year


def year_tally(adjustments: Iterable[str], per_major: int = 3, for_dismissal: int = 3) -> YearTally:
    """The year's rewards and penalties as 第八条 counts them. (choice) Same ranks offset first (三); then every
    `per_major` demerits left make a major demerit (二) and every `per_major` merits a major merit (一); the
    major ranks offset again, and `for_dismissal` major demerits left mean dismissal (四)."""
    if per_major < 1 or for_dismissal < 1:
        raise ScoringError("the yearly thresholds must be 1 or more")
    recorded = dict.fromkeys(ADJUSTMENTS, 0)
    for kind in adjustments:
        if kind not in recorded:
            raise ScoringError(f"unknown reward or penalty {kind!r}; known: {', '.join(ADJUSTMENTS)}")
        recorded[kind] += 1
    net = dict(recorded)

    def offset(reward: str, penalty: str) -> None:
        both = min(net[reward], net[penalty])
        net[reward] -= both
        net[penalty] -= both

    for reward, penalty in OFFSETS[:2]:
        offset(reward, penalty)
    for minor, major in (("merit", "major_merit"), ("demerit", "major_demerit")):
        net[major] += net[minor] // per_major
        net[minor] %= per_major
    offset(*OFFSETS[2])
    return YearTally(recorded=recorded, net=net, dismissal=net["major_demerit"] >= for_dismissal)


def yearly_score(monthly_totals: Iterable[Number | float]) -> Decimal | None:
    """(choice) The yearly score (年度综合评价结果, 001 §5.4) is the mean of the year's monthly totals, to 0.01;
    None for a year without a scored month."""
    totals = [_percent(t, "a monthly total") for t in monthly_totals]
    if not totals:
        return None
    return (sum(totals, ZERO) / len(totals)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
