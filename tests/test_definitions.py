"""Definitions: the shipped ones are valid, and each broken one is rejected with its line and reason."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from workflow.definitions import expressions, parse, shipped_files, validate_path
from workflow.definitions.loader import SHIPPED_DIR as SHIPPED

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken_definitions").glob("*.yaml"))
MINIMAL = HERE / "valid_definitions" / "minimal.yaml"


def expected(path: Path) -> list[tuple[int, str]]:
    header = path.read_text("utf-8").splitlines()[0]
    assert header.startswith("# expect:"), f"{path.name} has no '# expect:' header"
    return sorted((int(line), code) for line, code in re.findall(r"(\d+) (\w+)", header))


def test_the_shipped_workflows_are_those_of_processes_md_and_repair_dispatch():
    assert [f.stem for f in shipped_files()] == [
        "appraisal", "complaint", "repair_dispatch", "replacement_part", "return_inspection"]


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_shipped_definition_is_valid(path: Path):
    assert validate_path(path) == []


def test_the_broken_library_covers_every_validation_code():
    codes = {code for path in BROKEN for _, code in expected(path)}
    documented = set(re.findall(r"^\| `(\w+)` \|", (HERE.parent / "docs" / "definitions.md").read_text("utf-8"), re.M))
    assert len(BROKEN) >= 15
    assert documented and documented <= codes, f"no broken example for {sorted(documented - codes)}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_definition_is_rejected_with_line_and_reason(path: Path):
    problems = validate_path(path)
    assert sorted((p.line, p.code) for p in problems) == expected(path)
    for p in problems:
        assert p.file == str(path)
        assert len(p.message) > 15  # a sentence a process owner can act on, not just a code
        assert str(p).startswith(f"{path}:{p.line}: {p.code}: ")


def test_yaml_flow_mapping_comma_trap_is_explained():
    text = MINIMAL.read_text("utf-8").replace("zh: 超时驳回}", "zh: 超时,驳回}")
    _, problems = parse(text, "m.yaml", "minimal")
    assert [(p.code, p.line) for p in problems] == [("bad_value", 58)]
    assert "quote" in problems[0].message


def test_guard_cannot_call_python():
    text = MINIMAL.read_text("utf-8").replace('"amount <= 50000"', '"__import__(\'os\').system(\'true\')"')
    _, problems = parse(text, "m.yaml", "minimal")
    assert [p.code for p in problems] == ["guard_name"]


def test_guard_attribute_access_is_refused():
    text = MINIMAL.read_text("utf-8").replace('"amount <= 50000"', '"amount.__class__ is None"')
    _, problems = parse(text, "m.yaml", "minimal")
    assert [p.code for p in problems] == ["guard_syntax"]


def test_minimal_definition_parses_into_its_parts():
    definition, problems = parse(MINIMAL.read_text("utf-8"), str(MINIMAL), "minimal")
    assert problems == [] and definition is not None
    assert definition.initial_state == "draft"
    assert [t.name for t in definition.transitions_from("submitted")] == ["approve", "reject", "expire"]
    assert definition.transitions["expire"].system_only
    timer = definition.timers[0]
    assert (str(timer.duration), str(timer.warn_before), timer.fire) == ("2wd", "4h", "expire")
    assert definition.fields["priority"].default == "normal"


def test_validate_command_prints_file_line_reason_and_fails(runner):
    bad = BROKEN[0]
    result = runner.invoke(args=["workflow", "validate", str(bad), str(MINIMAL)])
    assert result.exit_code == 1
    line, code = expected(bad)[0]
    assert f"{bad}:{line}: {code}: " in result.output


def test_validate_command_accepts_the_shipped_definitions(runner):
    result = runner.invoke(args=["workflow", "validate"])
    assert result.exit_code == 0, result.output
    assert "5 definition(s) valid" in result.output


VALID = sorted((HERE / "valid_definitions").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_definition_parses_without_problems(path: Path):
    assert validate_path(path) == []


@pytest.mark.parametrize(("natural", "spelled_out"), [
    ("flag", "flag == True"),
    ("not flag", "flag != True"),
    ("note is set", "note != None"),
    ("note is not set", "note == None"),
    ("note is None", "note == None"),
    ("kind in ('a', 'b')", "kind == 'a' or kind == 'b'"),
    ("kind not in ['a']", "kind != 'a'"),
])
def test_natural_guard_forms_decide_as_the_spelled_out_ones(natural: str, spelled_out: str):
    expressions.check(natural, {"flag", "note", "kind"})
    for flag, note, kind in [(True, "x", "a"), (False, None, "b"), (None, "", "c"), (True, None, None)]:
        names = {"flag": flag, "note": note, "kind": kind}
        assert expressions.evaluate(natural, names) == expressions.evaluate(spelled_out, names), names


def test_set_is_only_a_word_after_is():
    with pytest.raises(expressions.ExpressionError) as refused:
        expressions.check("note == set", {"note"})
    assert refused.value.code == "guard_name"


def test_constants_and_tables_are_read_by_name_in_guards_and_computed_fields():
    path = HERE / "valid_definitions" / "constants_and_tables.yaml"
    definition, problems = parse(path.read_text("utf-8"), str(path), path.stem)
    assert problems == [] and definition is not None
    assert definition.constants == {"small_amount": 500, "vat_rate": Decimal("0.13"), "house_supplier": "acme"}
    approver = definition.tables["approver_for_amount"]
    assert [approver(v) for v in (Decimal(0), Decimal("9999.99"), 10000, 10**6, -1, None)] == [
        "manager", "manager", "director", "director", None, None]
    assert definition.tables["route_for_kind"]("equipment") == "full"

    def passes(transition: str, **data: object) -> list[bool]:
        return [expressions.evaluate(g.when, data) for g in definition.transitions[transition].guards]

    # The engine passes only the case's data: the expressions bring their constants and tables along.
    assert passes("approve_by_manager", amount=Decimal(9999)) == [True]
    assert passes("approve_by_director", amount=Decimal(9999), supplier="x") == [False]
    assert passes("approve_by_director", amount=Decimal(10000), supplier="x") == [True]
    assert passes("submit", kind="equipment", route="quick", receipt_attached=False, amount=Decimal(499),
                  supplier=None) == [False, True, True]
    assert passes("submit", kind="travel", route="quick", receipt_attached=True, amount=Decimal(800),
                  supplier="acme") == [True, True, False]
    computed = definition.fields["with_vat"].computed
    assert computed is not None and expressions.value_of(computed, {"amount": Decimal(100)}) == Decimal("113.00")


def test_the_complaint_approval_tiers_are_one_table():
    path = SHIPPED / "complaint.yaml"
    definition, _ = parse(path.read_text("utf-8"), str(path), "complaint")
    assert definition is not None
    tiers = {t: definition.transitions[f"approve_by_{t}"].guards[0].when for t in ("sales_manager", "deputy_gm", "gm")}
    for loss, approver in [(0, "sales_manager"), (9999, "sales_manager"), (10000, "deputy_gm"),
                           (49999.99, "deputy_gm"), (50000, "gm")]:
        taken = [t for t, when in tiers.items() if expressions.evaluate(when, {"loss_amount": Decimal(str(loss))})]
        assert taken == [approver], loss
    assert "10000" not in "".join(tiers.values())


def test_an_input_may_not_take_the_name_of_a_constant():
    text = MINIMAL.read_text("utf-8").replace("fields:\n", "constants:\n  reason: 1\nfields:\n", 1)
    _, problems = parse(text, "m.yaml", "minimal")
    assert [(p.line, p.code) for p in problems] == [(52, "duplicate_name")]
