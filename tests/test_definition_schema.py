"""The JSON Schemas in docs/ are generated from the loaders' own shapes, and agree with the loaders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from workflow.definitions import parse, shipped_files, validate_path
from workflow.definitions.jsonschema import SCHEMAS, main, render
from workflow.definitions.reader import read_checked
from workflow.definitions.scoresheet import SCORESHEETS_DIR

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs"
VALID = sorted((HERE / "valid_definitions").glob("*.yaml"))
BROKEN = HERE / "broken_definitions"
# Broken definitions whose flaw is one of shape, which a schema can state (the others need the loader:
# a state nobody reaches, a guard naming an unknown field, a table without a row for a choice …).
SHAPE_FLAWS = [
    "bad_duration_3x", "bad_duration_hrs", "bad_field_enum_without_choices", "bad_number_pattern_no_seq",
    "bad_value_bad_identifier", "bad_value_constant_not_a_value", "bad_value_label_without_zh",
    "missing_key_transition_to", "unknown_key_in_timer", "unknown_key_in_transition", "unknown_key_top_level",
]


def document(path: Path) -> Any:
    """The file as an editor's YAML extension sees it: plain data, dates as text."""
    doc, problems = read_checked(path.read_text("utf-8"), str(path), lambda c, d: d)
    assert problems == []
    return doc


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((DOCS / name).read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_shipped_schema_is_the_generated_one(name: str):
    assert (DOCS / name).read_text("utf-8") == render(SCHEMAS[name]()), "run python -m workflow.definitions.jsonschema"


def test_the_check_command_tells_a_stale_schema(tmp_path: Path):
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "definition.schema.json").write_text("{}", "utf-8")
    assert main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("path", shipped_files() + VALID, ids=lambda p: p.stem)
def test_every_valid_definition_validates_against_the_schema(path: Path):
    assert validate_path(path) == []
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator("definition.schema.json").iter_errors(
        document(path))]
    assert errors == []


@pytest.mark.parametrize("path", sorted(SCORESHEETS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_score_sheet_validates_against_the_schema(path: Path):
    assert list(validator("scoresheet.schema.json").iter_errors(document(path))) == []


@pytest.mark.parametrize("name", SHAPE_FLAWS)
def test_a_definition_with_a_flaw_of_shape_fails_the_schema_too(name: str):
    path = BROKEN / f"{name}.yaml"
    assert validate_path(path) != []
    assert list(validator("definition.schema.json").iter_errors(document(path))) != []


def test_a_score_sheet_with_negative_points_fails_the_schema():
    doc = document(SCORESHEETS_DIR / "repair.yaml")
    doc["sections"][0]["items"][0]["points"] = -5
    assert list(validator("scoresheet.schema.json").iter_errors(doc)) != []


@pytest.mark.parametrize(("where", "shape"), [
    ("title: {en: Minimal request, zh: 最小申请}\n", "definition"),
    ("    label: {en: Submit, zh: 提交}\n", "transition"),
    ("    duration: 2wd\n", "timer"),
])
def test_the_loader_allows_exactly_the_keys_the_schema_lists(where: str, shape: str):
    """One declaration: what the loader calls allowed is what the schema lists, key for key."""
    text = (HERE / "valid_definitions" / "minimal.yaml").read_text("utf-8")
    indent = where[: len(where) - len(where.lstrip())]
    _, problems = parse(text.replace(where, f"{where}{indent}bogus_key: 1\n", 1), "m.yaml", "minimal")
    assert [p.code for p in problems] == ["unknown_key"]
    allowed = problems[0].message.split("allowed: ")[1].split(", ")
    schema = json.loads((DOCS / "definition.schema.json").read_text("utf-8"))
    node = schema if shape == "definition" else schema["$defs"][shape]
    assert allowed == sorted(node["properties"])
