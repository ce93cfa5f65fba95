"""The YAML formats of the service declared once, as data: every mapping's keys, which are required, what each holds.

The checkers take each mapping's allowed and required keys from its `Shape`, and `schema_document` turns
the same shapes into a JSON Schema (`python -m workflow.definitions.jsonschema`), so the schema an editor
checks a file against cannot drift from what the loader accepts. The checkers stay the authority: they
also check what a JSON Schema cannot say (a state that no transition reaches, a guard's names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]  # a JSON Schema fragment

NAME: Json = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "a lower-case identifier"}
TEXT: Json = {"type": "string", "minLength": 1}
BOOLEAN: Json = {"type": "boolean"}
NUMBER: Json = {"type": "number"}
SCALAR: Json = {"type": ["string", "number", "boolean"]}
EXPRESSION: Json = {"type": "string", "minLength": 1, "description": "an expression (docs/definitions.md, Guards)"}


def ref(shape: str) -> Json:
    return {"$ref": f"#/$defs/{shape}"}


def names() -> Json:
    """A name or a non-empty list of names."""
    return {"oneOf": [NAME, {"type": "array", "items": NAME, "minItems": 1}]}


def named(value: Json, reserved: tuple[str, ...] = ()) -> Json:
    """A mapping from names the file chooses (roles, fields, states …) to `value`."""
    keys: Json = dict(NAME)
    if reserved:
        keys = {"allOf": [NAME, {"not": {"enum": list(reserved)}}]}
    return {"type": "object", "propertyNames": keys, "additionalProperties": value}


def listed(item: Json) -> Json:
    return {"type": "array", "items": item}


LABEL_SCHEMA: Json = {
    "type": "object", "description": "a text in English and Chinese",
    "properties": {"en": TEXT, "zh": TEXT}, "required": ["en", "zh"], "additionalProperties": False,
}


@dataclass(frozen=True)
class Key:
    name: str
    value: Json
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Shape:
    """One mapping of a format: its keys, and rules over several keys that only a schema states."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    rules: Json = field(default_factory=dict)  # e.g. oneOf / if-then over the keys

    @property
    def allowed(self) -> set[str]:
        return {k.name for k in self.keys}

    @property
    def required(self) -> set[str]:
        return {k.name for k in self.keys if k.required}

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)

    def schema(self) -> Json:
        out: Json = {
            "type": "object", "description": self.doc,
            "properties": {k.name: {**k.value, "description": k.doc} for k in self.keys},
            "additionalProperties": False,
        }
        if self.required:
            out["required"] = sorted(self.required)
        return {**out, **self.rules}


def schema_document(schema_id: str, title: str, top: Shape, shapes: tuple[Shape, ...], defs: Json) -> Json:
    """A JSON Schema (draft 2020-12) whose root is `top`, with each shape and fragment under $defs."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "title": title,
        **top.schema(),
        "$defs": {**{s.name: s.schema() for s in shapes}, "label": LABEL_SCHEMA, **defs},
    }
