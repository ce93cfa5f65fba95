"""Appraisal arithmetic: deductions, goals, rewards and penalties, grades, pay, distribution, three-month rule."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from workflow.appraisal import scoring
from workflow.appraisal.scoring import (
    BandChoice,
    ScoringError,
    grade,
    grade_distribution,
    needs_performance_report,
    pay_coefficient,
    performance_pay,
    score_sheet,
)
from workflow.definitions.scoresheet import ScoreSheet, shipped_scoresheets

D = Decimal


def sheet(key: str) -> ScoreSheet:
    return shipped_scoresheets()[key]


# --- performance pay (001 §5.1) -----------------------------------------------------------------


def test_the_worked_pay_example_of_001_5_1():
    pay = performance_pay([(1500, 100), (1000, 98), (1250, 96), (1000, 90)], 1)
    assert pay == [D(1556), D(1016), D(1245), D(933)]
    assert all(isinstance(p, Decimal) for p in pay)
    assert sum(pay) == 4750  # the department's whole pool, coefficient 1.0 × ΣS


def test_a_department_coefficient_of_0_9_shrinks_the_pool():
    pay = performance_pay([(D(1500), D(100)), (D(1000), D(98)), (D(1250), D(96)), (D(1000), D(90))], D("0.9"))
    assert pay == [D(1400), D(915), D(1120), D(840)]


def test_pay_rounds_half_a_yuan_up():
    # Each gets exactly 500.5 yuan; banker's rounding would give 500.
    assert performance_pay([(1001, 100), (1001, 100)], D("0.5")) == [D(501), D(501)]


def test_pay_with_nothing_earned_is_zero_and_bad_input_is_refused():
    assert performance_pay([(1000, 0), (2000, 0)], 1) == [D(0), D(0)]
    assert performance_pay([], 1) == []
    with pytest.raises(ScoringError):
        performance_pay([(1000, 101)], 1)
    with pytest.raises(ScoringError):
        performance_pay([(-1000, 90)], 1)


# --- grades -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "letter"),
    [(100, "A"), (90, "A"), (D("89.5"), "B"), (D("89.99"), "B"), (80, "B"), (D("79.9"), "C"), (70, "C"),
     (60, "D"), (D("59.9"), "E"), (0, "E")],
)
def test_boundary_grades(total, letter):
    assert grade(total) == letter


def test_a_total_outside_0_to_100_has_no_grade():
    with pytest.raises(ScoringError):
        grade(D("100.5"))
    with pytest.raises(ScoringError):
        grade(-1)


def test_pay_coefficients():
    assert [pay_coefficient(g) for g in "ABCDE"] == [D("1.0"), D("0.9"), D("0.8"), D("0.7"), D("0.6")]
    assert pay_coefficient("b") == D("0.9")  # the appraisal definition's enum values are lower case
    with pytest.raises(ScoringError):
        pay_coefficient("F")


# --- scoring a sheet ----------------------------------------------------------------------------


def test_nothing_happened_means_nothing_deducted():
    result = score_sheet(sheet("field_service"), {}, {}, {}, [])
    assert result.total == 100 and result.grade == "A" and result.pay_coefficient == D("1.0")
    assert [s.score for s in result.sections] == [25, 20, 25, 10, 20]


def test_deductions_are_per_occurrence():
    result = score_sheet(sheet("field_service"), {"phone_off_occasionally": 2, "routine_reports_late": 1})
    information = next(s for s in result.sections if s.key == "information")
    assert (information.deducted, information.score) == (D(16), D(4))
    assert result.total == 84 and result.grade == "B"


def test_a_sections_deductions_beyond_its_maximum_stop_at_0():
    # Leaving the post twice deducts 50 from a section worth 25: the section gives 0, the others keep theirs.
    result = score_sheet(sheet("field_service"), {"left_post": 2, "shirked_assignment": 1})
    work = result.sections[0]
    assert (work.key, work.deducted, work.score) == ("work_assignment", D(70), D(0))
    assert result.total == 75 and result.grade == "C"


def test_a_scale_band_beyond_the_section_maximum_stops_at_0():
    result = score_sheet(sheet("repair"), band_choices={"seven_day_completion": "under_70", "attitude": "as_required"})
    by_key = {s.key: s.score for s in result.sections}
    assert by_key == {"work_compliance": 20, "seven_day_repair": 0, "re_repair": 30, "work_attitude": 6,
                      "work_discipline": 10}
    assert result.total == 66 and result.grade == "D"
    assert result.unscored == ("re_repair_rate",)


def test_a_range_band_needs_the_points_within_its_range():
    support = sheet("technical_support")
    choice = {"complaint_response": BandChoice("days_2_to_3", 3)}  # 7 of 10 points
    result = score_sheet(support, {}, {"goal_1": 100, "goal_2": 100, "goal_3": 100}, choice)
    assert result.sections[0].score == 7 and result.total == 97
    with pytest.raises(ScoringError, match="say how many"):
        score_sheet(support, band_choices={"complaint_response": "days_2_to_3"})
    with pytest.raises(ScoringError, match="2–4"):
        score_sheet(support, band_choices={"complaint_response": BandChoice("days_2_to_3", 5)})
    with pytest.raises(ScoringError, match="no band"):
        score_sheet(support, band_choices={"complaint_response": "next_week"})


def test_goals_give_weight_times_achieved_percent():
    result = score_sheet(sheet("technical_improvement"), {"perfunctory_work": 1},
                         {"goal_1": 100, "goal_2": 50, "goal_3": D("33.3")}, {"attitude": "prevented_problems"})
    assert [g.points for g in result.goals] == [D(30), D("7.5"), D("4.995")]
    # goals 42.495 + compliance 10 + attitude 10 + discipline 10
    assert result.total == D("72.495") and result.grade == "C"
    assert result.unscored == ()


def test_an_unscored_goal_gives_nothing_and_is_reported():
    result = score_sheet(sheet("technical_support"), {}, {"goal_1": 100})
    assert result.total == 60  # 30 from goal 1, 30 from the daily work with nothing recorded
    assert result.unscored == ("complaint_response", "website_k3_response", "records_upkeep", "goal_2", "goal_3")


def test_rewards_and_penalties_of_the_month_move_the_total():
    base = {"left_post": 1}  # 75
    assert score_sheet(sheet("field_service"), base, adjustments=["commendation"]).total == 76
    assert score_sheet(sheet("field_service"), base, adjustments=["merit"]).total == 78
    assert score_sheet(sheet("field_service"), base, adjustments=["major_merit", "commendation"]).total == 85
    assert score_sheet(sheet("field_service"), base, adjustments=["warning"]).total == 74
    assert score_sheet(sheet("field_service"), base, adjustments=["demerit"]).total == 72
    penalised = score_sheet(sheet("field_service"), base, adjustments=["major_demerit", "demerit", "warning"])
    assert (penalised.adjustment, penalised.total, penalised.grade) == (D(-13), D(62), "D")
    # A merit lifts a sheet over a grade boundary: 87 + 3 = 90.
    reports_late = {"routine_reports_late": 1, "phone_off_occasionally": 1}
    assert score_sheet(sheet("field_service"), reports_late).grade == "B"
    assert score_sheet(sheet("field_service"), reports_late, adjustments=["merit"]).grade == "A"


def test_the_total_stays_within_0_and_100():
    top = score_sheet(sheet("field_service"), {}, adjustments=["major_merit"])
    assert (top.unclamped, top.total) == (D(109), D(100))
    everything = {k: 3 for k in sheet("field_service").items()}
    bottom = score_sheet(sheet("field_service"), everything, adjustments=["major_demerit"])
    assert (bottom.unclamped, bottom.total, bottom.grade) == (D(-9), D(0), "E")


def test_what_does_not_fit_the_sheet_is_refused():
    with pytest.raises(ScoringError, match="no item"):
        score_sheet(sheet("field_service"), {"region_in_disorder": 1})
    with pytest.raises(ScoringError, match="whole number"):
        score_sheet(sheet("field_service"), {"left_post": -1})
    with pytest.raises(ScoringError, match="scale"):
        score_sheet(sheet("repair"), {"attitude": 1})
    with pytest.raises(ScoringError, match="no goal"):
        score_sheet(sheet("field_service"), goal_scores={"goal_1": 50})
    with pytest.raises(ScoringError, match="0–100"):
        score_sheet(sheet("technical_support"), goal_scores={"goal_1": 120})
    with pytest.raises(ScoringError, match="unknown reward"):
        score_sheet(sheet("field_service"), adjustments=["bonus"])


# --- the department view ------------------------------------------------------------------------


def test_a_distribution_that_matches_the_guideline_has_no_deviation():
    grades = ["A"] * 2 + ["B"] * 3 + ["C"] * 30 + ["D"] * 10 + ["E"] * 5
    distribution = grade_distribution(grades)
    assert {g: (s.count, s.share, s.deviation) for g, s in distribution.items()} == {
        "A": (2, D(4), D(0)), "B": (3, D(6), D(0)), "C": (30, D(60), D(0)), "D": (10, D(20), D(0)),
        "E": (5, D(10), D(0)),
    }


def test_the_distribution_shows_the_deviation_from_the_guideline():
    distribution = grade_distribution(["A", "b", "C", "C"])
    assert {g: (s.count, s.share, s.deviation, s.expected) for g, s in distribution.items()} == {
        "A": (1, D(25), D(21), D("0.16")),
        "B": (1, D(25), D(19), D("0.24")),
        "C": (2, D(50), D(-10), D("2.40")),
        "D": (0, D(0), D(-20), D("0.80")),
        "E": (0, D(0), D(-10), D("0.40")),
    }
    assert grade_distribution(["A", "B", "C"])["A"].share == D("33.33")
    with pytest.raises(ScoringError):
        grade_distribution(["A", "F"])


# --- across months (001 §5.5) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("totals", "flag"),
    [
        ([59, 58, D("59.9")], True),
        ([75, 50, 40, 30], True),
        ([59, 59, 60], False),
        ([59, 60, 59, 59], False),
        ([50, 50], False),
        ([], False),
    ],
)
def test_three_months_below_60_in_a_row_call_for_a_performance_report(totals, flag):
    assert needs_performance_report(totals) is flag


# --- purity -------------------------------------------------------------------------------------


def test_scoring_imports_no_database_web_or_io_module():
    tree = ast.parse(Path(scoring.__file__).read_text("utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "collections.abc", "dataclasses", "decimal",
                        "workflow.definitions.scoresheet"}


# ---------------------------------------------------------------------------------------------- issue 12, item 9


def test_a_reward_on_a_full_sheet_is_kept_as_capped_points():
    """001 §2.3 caps the month at 100; (choice) the merit's 3 points are kept beside it, not lost."""
    result = score_sheet(sheet("field_service"), adjustments=["merit", "commendation"])
    assert (result.unclamped, result.total, result.capped, result.grade) == (D(104), D(100), D(4), "A")
    below = score_sheet(sheet("field_service"), {"light_workload": 1}, adjustments=["merit"])
    assert (below.total, below.capped) == (D(93), D(0))


@pytest.mark.parametrize("coefficient, standard, pay", [
    ("1.0", "1500", 1500), ("0.9", "1500", 1350), ("0.8", "2000", 1600), ("0.95", "1250", 1188),
])
def test_the_head_is_paid_the_department_coefficient_times_their_standard_pay(coefficient, standard, pay):
    assert scoring.head_pay(coefficient, standard) == pay


def test_a_coefficient_below_1_leaves_a_remainder_for_the_quarter():
    """001 §5.1: the example's 4750 at 0.9 is a pool of 4275 and 475 left over; at 1.0 nothing is left."""
    pays = ["1500", "1000", "1250", "1000"]
    assert scoring.remainder(pays, "0.9") == D("475.00")
    assert scoring.remainder(pays, "1.0") == scoring.remainder(pays, "1.2") == D("0.00")
    assert sum(performance_pay([(1500, 100), (1000, 98), (1250, 96), (1000, 90)], "0.9")) + 475 == 4750
    with pytest.raises(ScoringError):
        scoring.head_pay("-0.1", "1500")


@pytest.mark.parametrize("share, people, allowed", [
    (4, 4, 1), (6, 4, 1), (60, 4, 3), (20, 4, 1), (10, 4, 1),
    (4, 25, 1), (4, 26, 2), (60, 10, 6), (10, 10, 1), (10, 11, 2), (20, 0, 0),
])
def test_a_grade_s_share_of_the_month_rounds_up(share, people, allowed):
    assert scoring.grade_ceiling(share, people) == allowed


@pytest.mark.parametrize("bad", [-1, 1.5, True, "4"])
def test_a_headcount_that_is_no_count_is_refused(bad):
    with pytest.raises(ScoringError):
        scoring.grade_ceiling(4, bad)


def test_the_distribution_takes_the_definition_s_shares():
    shares = {"A": D(10), "B": D(20), "C": D(40), "D": D(20), "E": D(10)}
    found = grade_distribution(["A", "C"], shares)
    assert (found["A"].guideline, found["A"].deviation, found["C"].expected) == (D(10), D("40.00"), D("0.80"))


@pytest.mark.parametrize("adjustments, net, dismissal", [
    # 第八条 (二): three demerits in a year are one major demerit
    (["demerit"] * 3, {"demerit": 0, "major_demerit": 1}, False),
    # (三): a merit offsets a demerit first, so two are left and no major demerit
    (["demerit"] * 3 + ["merit"], {"demerit": 2, "major_demerit": 0}, False),
    # (四): three major demerits, one of them from three demerits, mean dismissal
    (["major_demerit"] * 2 + ["demerit"] * 3, {"demerit": 0, "major_demerit": 3}, True),
    # a major merit offsets one of them
    (["major_demerit"] * 3 + ["major_merit"], {"major_demerit": 2, "major_merit": 0}, False),
    # (一): three merits make a major merit; a commendation offsets a warning
    (["merit"] * 3 + ["commendation", "warning"], {"major_merit": 1, "commendation": 0, "warning": 0}, False),
])
def test_the_year_s_rewards_and_penalties_count_as_article_8_says(adjustments, net, dismissal):
    tally = scoring.year_tally(adjustments)
    assert {k: tally.net[k] for k in net} == net
    assert tally.dismissal is dismissal
    assert sum(tally.recorded.values()) == len(adjustments)


def test_an_unknown_reward_in_a_year_is_refused():
    with pytest.raises(ScoringError, match="unknown reward or penalty 'bonus'"):
        scoring.year_tally(["merit", "bonus"])


def test_the_yearly_score_is_the_mean_of_the_months_scored():
    assert scoring.yearly_score([52, 52, 52, 100]) == D("64.00")
    assert scoring.yearly_score([59.5, 60]) == D("59.75")
    assert scoring.yearly_score([]) is None
    with pytest.raises(ScoringError):
        scoring.yearly_score([101])
