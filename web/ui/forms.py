"""HTML forms generated from a definition's fields and a transition's inputs, and what they send back.

The browser's checks (required, min, max, lengths) only help the person typing: the engine checks
everything again and its per-field messages are shown next to the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from workflow.definitions import Definition, FieldSpec
from workflow.definitions.schema import InputSpec

from .present import clock, label

STRUCTURED = ("scoresheet",)  # values that are objects: typed as JSON in a text area
HTML_TYPES = {"string": "text", "integer": "number", "decimal": "number", "date": "date", "datetime": "datetime-local"}


@dataclass
class FormField:
    """One input of a generated form, with what the person typed (or the current value) and its problem."""

    name: str
    id: str
    label: str
    type: str  # the field type of the definition
    required: bool
    value: str = ""
    error: str | None = None
    min: Any = None
    max: Any = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    ref_title: str | None = None  # the workflow a reference points into

    @property
    def html_type(self) -> str:
        return HTML_TYPES.get(self.type, "text")

    @property
    def attributes(self) -> dict[str, Any]:
        """The HTML attributes that let the browser help: lengths for text, bounds for numbers and dates."""
        attrs: dict[str, Any] = {}
        if self.type in ("string", "text"):
            if self.min is not None:
                attrs["minlength"] = self.min
            if self.max is not None:
                attrs["maxlength"] = self.max
        elif self.type in ("integer", "decimal", "date", "datetime"):
            if self.min is not None:
                attrs["min"] = self.min
            if self.max is not None:
                attrs["max"] = self.max
            if self.type == "integer":
                attrs["step"] = 1
            elif self.type == "decimal":
                attrs["step"] = "any"
        return attrs


def as_form_value(spec: FieldSpec, stored: Any) -> str:
    """A stored (JSON) value as an HTML input holds it."""
    if stored is None:
        return ""
    if spec.type in STRUCTURED:
        return json.dumps(stored, ensure_ascii=False, indent=1)
    if spec.type == "boolean":
        return "true" if stored is True else "false" if stored is False else str(stored)
    if spec.type == "datetime":
        try:
            return clock().local(datetime.fromisoformat(str(stored))).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return str(stored)
    return str(stored)


def build(
    inputs: list[InputSpec], prefix: str, values: dict[str, str], errors: dict[str, str],
    titles: dict[str, str] | None = None,
) -> list[FormField]:
    fields = []
    for item in inputs:
        spec = item.spec
        fields.append(FormField(
            name=item.name, id=f"{prefix}-{item.name}", label=label(spec.label, item.name), type=spec.type,
            required=item.required, value=values.get(item.name, ""), error=errors.get(item.name),
            min=spec.min, max=spec.max,
            choices=[(value, label(text, value)) for value, text in (spec.choices or {}).items()],
            ref_title=(titles or {}).get(spec.ref.workflow, spec.ref.workflow) if spec.ref else None,
        ))
    return fields


def opening_inputs(definition: Definition) -> list[InputSpec]:
    """What the new-case form asks: the required fields and those no later step asks for; never computed ones."""
    asked_later = {i.name for t in definition.transitions.values() for i in t.inputs if i.to_case}
    return [
        InputSpec(spec.name, spec, spec.required, to_case=True)
        for spec in definition.fields.values()
        if not spec.computed and (spec.required or spec.name not in asked_later)
    ]


def decode(inputs: list[InputSpec], form: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted values for the engine: blanks left out, yes/no as booleans, the rest as typed."""
    out: dict[str, Any] = {}
    for item in inputs:
        raw = form.get(item.name, "")
        if not raw.strip():
            continue
        if item.spec.type == "boolean":
            out[item.name] = {"true": True, "false": False}.get(raw, raw)
        elif item.spec.type in STRUCTURED:
            try:
                out[item.name] = json.loads(raw)
            except ValueError:
                out[item.name] = raw  # the engine says what shape it wants
        else:
            out[item.name] = raw
    return out


def typed_values(inputs: list[InputSpec], form: MultiDict[str, str]) -> dict[str, str]:
    """What the person typed, to put back into the form."""
    return {item.name: form.get(item.name, "") for item in inputs}
