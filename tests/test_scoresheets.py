"""Score-sheet templates: the five sheets of 001 §4 load and add up; broken ones are rejected with line and reason."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from workflow.definitions import DefinitionInvalid, load_text
from workflow.definitions.scoresheet import (
    SCORESHEETS_DIR,
    load_scoresheet,
    parse_scoresheet,
    shipped_scoresheets,
    validate_scoresheet,
)

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken_scoresheets").glob("*.yaml"))
SHEETS = sorted(SCORESHEETS_DIR.glob("*.yaml"))
FIVE = ["field_service", "regional_supervisor", "repair", "technical_improvement", "technical_support"]


def expected(path: Path) -> list[tuple[int, str]]:
    header = path.read_text("utf-8").splitlines()[0]
    assert header.startswith("# expect:"), f"{path.name} has no '# expect:' header"
    return sorted((int(line), code) for line, code in re.findall(r"(\d+) (\w+)", header))


def section_points(key: str) -> dict[str, list[int]]:
    """Each section's maximum followed by its items' deductions, as whole numbers, to compare with the source."""
    sheet = shipped_scoresheets()[key]
    return {s.key: [int(s.max)] + [int(i.points or 0) for i in s.items] for s in sheet.sections}


def test_the_five_sheets_of_001_section_4_are_shipped():
    assert [p.stem for p in SHEETS] == FIVE
    assert list(shipped_scoresheets()) == FIVE


def test_the_appraisal_workflow_offers_exactly_the_shipped_templates():
    definition = load_text((HERE.parent / "workflow" / "definitions" / "appraisal.yaml").read_text("utf-8"))
    template_fields = [f for f in definition.fields.values() if f.choices and "field_service" in f.choices]
    assert len(template_fields) == 1
    assert sorted(template_fields[0].choices or {}) == FIVE


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: p.stem)
def test_shipped_sheet_is_valid_and_adds_up_to_100(path: Path):
    assert validate_scoresheet(path) == []
    sheet = load_scoresheet(path)
    assert sheet.key == path.stem
    assert sum(s.max for s in sheet.sections) + sheet.goals_share == 100
    assert sum((g.weight for g in sheet.goals), Decimal(0)) == sheet.goals_share
    assert sheet.source.startswith("001 §4.")
    for section in sheet.sections:
        assert section.items and section.title["zh"] and section.title["en"]
        for item in section.items:
            assert (item.points is None) == item.banded
            assert item.points is None or item.points > 0
            assert all(0 <= b.low <= b.high for b in item.bands)


def test_field_service_sheet_transcribes_every_item_of_001_4_1():
    assert section_points("field_service") == {
        "work_assignment": [25, 25, 20, 10],
        "parts": [20, 5, 10, 10],
        "fault_handling": [25, 20, 15, 10],
        "customer_communication": [10, 10, 5],
        "information": [20, 15, 5, 10, 8, 5, 3, 5, 5],
    }
    left_post = shipped_scoresheets()["field_service"].items()["left_post"]
    assert left_post.text["zh"] == "未经允许,私自离开工作地点" and left_post.points == 25


def test_regional_supervisor_sheet_adds_region_management_40():
    assert section_points("regional_supervisor") == {
        "work_assignment": [15, 15, 10, 5],
        "parts": [15, 5, 10, 10],
        "fault_handling": [10, 6, 4, 4],
        "customer_communication": [10, 8, 5],
        "information": [10, 8, 5, 5, 5, 5, 3, 5],
        "region_management": [40, 40, 20, 15, 10, 10],
    }


def test_repair_sheet_has_the_7_day_and_re_repair_scales():
    sheet = shipped_scoresheets()["repair"]
    assert [(s.key, int(s.max)) for s in sheet.sections] == [
        ("work_compliance", 20), ("seven_day_repair", 30), ("re_repair", 30), ("work_attitude", 10),
        ("work_discipline", 10),
    ]
    items = sheet.items()
    assert [int(b.low) for b in items["seven_day_completion"].bands] == [0, 5, 10, 15, 35]
    assert [int(b.low) for b in items["re_repair_rate"].bands] == [0, 10, 15, 20, 25]
    assert [int(b.low) for b in items["attitude"].bands] == [8, 6, 4, 2, 0]
    assert [int(items[k].points or 0) for k in ("late_modification", "perfunctory_work", "shirked_assignment")] == [
        5, 10, 20]


def test_goal_based_sheets_carry_the_weights_of_the_source():
    improvement = shipped_scoresheets()["technical_improvement"]
    support = shipped_scoresheets()["technical_support"]
    assert [(g.key, int(g.weight)) for g in improvement.goals] == [("goal_1", 30), ("goal_2", 15), ("goal_3", 15)]
    assert [(s.key, int(s.max)) for s in improvement.sections] == [
        ("work_compliance", 20), ("work_attitude", 10), ("work_discipline", 10)]
    assert [(g.key, int(g.weight)) for g in support.goals] == [("goal_1", 30), ("goal_2", 20), ("goal_3", 20)]
    assert [int(s.max) for s in support.sections] == [10, 10, 10]


def test_complaint_response_scale_gives_10_then_6_to_8_then_0_to_4_points():
    item = shipped_scoresheets()["technical_support"].items()["complaint_response"]
    awarded = [(b.key, int(10 - b.high), int(10 - b.low)) for b in item.bands]
    assert awarded == [("within_1_day", 10, 10), ("days_2_to_3", 6, 8), ("days_3_plus", 0, 4)]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_sheet_is_rejected_with_line_and_reason(path: Path):
    problems = validate_scoresheet(path)
    assert sorted((p.line, p.code) for p in problems) == expected(path)
    for p in problems:
        assert p.file == str(path)
        assert len(p.message) > 15  # a sentence a process owner can act on, not just a code
        assert str(p).startswith(f"{path}:{p.line}: {p.code}: ")


def test_the_broken_library_covers_sums_duplicates_points_keys_and_texts():
    codes = {code for path in BROKEN for _, code in expected(path)}
    assert {"maxima_sum", "weights_sum", "duplicate_name", "bad_points", "unknown_key", "missing_key",
            "bad_value", "key_mismatch"} <= codes


def test_loading_a_broken_sheet_raises_with_every_problem():
    path = HERE / "broken_scoresheets" / "bad_items.yaml"
    with pytest.raises(DefinitionInvalid) as caught:
        load_scoresheet(path)
    assert [p.line for p in caught.value.problems] == [line for line, _ in expected(path)]


def test_a_changed_maximum_is_caught_on_a_shipped_sheet():
    text = (SCORESHEETS_DIR / "repair.yaml").read_text("utf-8").replace("max: 30", "max: 25", 1)
    sheet, problems = parse_scoresheet(text, "repair.yaml", "repair")
    assert sheet is None
    assert [p.code for p in problems] == ["maxima_sum"]
    assert "95" in problems[0].message


def test_a_missing_chinese_text_is_caught_on_a_shipped_sheet():
    text = (SCORESHEETS_DIR / "field_service.yaml").read_text("utf-8")
    text = text.replace("          zh: 偶尔手机关机\n", "")
    _, problems = parse_scoresheet(text, "field_service.yaml", "field_service")
    assert [(p.code, "'phone_off_occasionally' text" in p.message) for p in problems] == [("bad_value", True)]


def test_yaml_that_does_not_parse_and_an_empty_file_are_reported():
    _, problems = parse_scoresheet("key: x\ntitle: {en: a, zh: b\n", "x.yaml")
    assert [p.code for p in problems] == ["yaml_syntax"]
    _, problems = parse_scoresheet("", "x.yaml")
    assert [(p.line, p.code) for p in problems] == [(1, "yaml_syntax")]


def test_goals_without_their_share_are_refused():
    text = (SCORESHEETS_DIR / "technical_support.yaml").read_text("utf-8").replace("goals_share: 70\n", "")
    _, problems = parse_scoresheet(text, "technical_support.yaml", "technical_support")
    assert [p.code for p in problems] == ["missing_key"]
    assert "goals_share" in problems[0].message
