"""Definitions: the shipped ones are valid, and each broken one is rejected with its line and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.definitions import parse, shipped_files, validate_path

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
