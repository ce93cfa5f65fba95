"""The score-sheet template format (workflow/definitions/scoresheet.py) as data: one `Shape` per mapping."""

from __future__ import annotations

from . import NAME, TEXT, Json, Key, Shape, ref, schema_document

LABEL = ref("label")
POSITIVE: Json = {"type": "number", "exclusiveMinimum": 0}
POINTS: Json = {"oneOf": [
    {"type": "number", "minimum": 0},
    {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 2, "maxItems": 2},
], "description": "a number, or a range [low, high] the supervisor picks from"}


def _non_empty(shape: str) -> Json:
    return {"type": "array", "items": ref(shape), "minItems": 1}


GOAL = Shape("goal", "a goal of the month's performance agreement", (
    Key("key", NAME, "unique within the sheet", required=True),
    Key("title", LABEL, "the goal", required=True),
    Key("weight", POSITIVE, "its points when fully achieved", required=True),
))
BAND = Shape("band", "one step of a scale", (
    Key("key", NAME, "unique within the item", required=True),
    Key("text", LABEL, "what the step says", required=True),
    Key("points", POINTS, "deducted", required=True),
))
ITEM = Shape("item", "a behaviour deducted per occurrence, or a scale of bands", (
    Key("key", NAME, "unique within the sheet", required=True),
    Key("text", LABEL, "what the item says", required=True),
    Key("points", POSITIVE, "deducted once per occurrence"),
    Key("bands", {"type": "array", "items": ref("band"), "minItems": 2}, "a scale: one band applies"),
), {"oneOf": [{"required": ["points"]}, {"required": ["bands"]}]})
SECTION = Shape("section", "a part of the sheet with its maximum", (
    Key("key", NAME, "unique within the sheet", required=True),
    Key("title", LABEL, "the section's title", required=True),
    Key("max", POSITIVE, "the section's points; deductions never take it below 0", required=True),
    Key("items", _non_empty("item"), "what is deducted", required=True),
))
TOP = Shape("scoresheet", "a score-sheet template (考核表单) of the monthly appraisal", (
    Key("key", NAME, "equals the file name without .yaml", required=True),
    Key("title", LABEL, "the sheet's title", required=True),
    Key("source", TEXT, "where the sheet comes from", required=True),
    Key("goals_share", POSITIVE, "with goals: the points the goals give together"),
    Key("goals", _non_empty("goal"), "the performance-agreement goals"),
    Key("sections", _non_empty("section"), "the deduction part", required=True),
), {"dependentRequired": {"goals": ["goals_share"], "goals_share": ["goals"]}})
SHAPES = (GOAL, BAND, ITEM, SECTION)
SCHEMA_ID = "https://aftersales.invalid/schemas/scoresheet.schema.json"


def json_schema() -> Json:
    return schema_document(SCHEMA_ID, "Score-sheet template", TOP, SHAPES, {})
