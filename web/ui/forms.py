"""HTML forms generated from a definition's fields and a transition's inputs, and what they send back.

The browser's checks (required, min, max, lengths) only help the person typing: the engine checks
everything again and its per-field messages are shown next to the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from workflow.definitions import Definition, FieldSpec
from workflow.definitions.schema import FIELD_FORMATS, InputSpec
from workflow.engine import attachments
from workflow.engine.pickers import user_choices

from ..desk import files
from ..extensions import db_session
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
    help: str | None = None  # the definition's help text, shown under the input
    format: str | None = None  # a string's format (month)
    people: list[tuple[str, str]] = field(default_factory=list)  # a user field: whom the engine lets it name
    accept: tuple[str, ...] | None = None  # a file input: the types it takes

    @property
    def html_type(self) -> str:
        return "month" if self.format == "month" else HTML_TYPES.get(self.type, "text")

    @property
    def help_id(self) -> str:
        return self.id + "-help"

    @property
    def people_id(self) -> str:
        return self.id + "-people"

    @property
    def described_by(self) -> str:
        """The ids of what is said under the input: its help, then the engine's message."""
        return " ".join(([self.help_id] if self.help else []) + ([self.id + "-msg"] if self.error else []))

    @property
    def attributes(self) -> dict[str, Any]:
        """The HTML attributes that let the browser help: lengths for text, bounds for numbers and dates."""
        attrs: dict[str, Any] = {}
        if self.format in FIELD_FORMATS:  # where a browser has no month picker it shows a text box: say how
            attrs.update(pattern=FIELD_FORMATS[self.format], placeholder="YYYY-MM")
        elif self.people:
            attrs.update(list=self.people_id, autocomplete="off")
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
        elif self.type == attachments.FIELD and self.accept:
            attrs["accept"] = ",".join(self.accept)
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
    people: dict[str, list[tuple[str, str]]] = {}  # by role: one query per role and form
    for item in inputs:
        spec = item.spec
        if spec.user_role is not None and spec.user_role not in people:
            people[spec.user_role] = user_choices(db_session(), spec)
        fields.append(FormField(
            name=item.name, id=f"{prefix}-{item.name}", label=label(spec.label, item.name), type=spec.type,
            required=item.required, value=values.get(item.name, ""), error=errors.get(item.name),
            min=spec.min, max=spec.max,
            choices=[(value, label(text, value)) for value, text in (spec.choices or {}).items()],
            ref_title=(titles or {}).get(spec.ref.workflow, spec.ref.workflow) if spec.ref else None,
            accept=spec.accept,
            help=label(spec.help) if spec.help else None, format=spec.format,
            people=people.get(spec.user_role or "", []),
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
        if item.spec.type == attachments.FIELD:
            continue  # sent as files: below
        if item.spec.type in STRUCTURED and has_sheet_inputs(item.name, form):
            out[item.name] = sheet_from_form(item.name, form)
            continue
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
    out.update(_uploads(inputs))
    return out


def _uploads(inputs: list[InputSpec]) -> dict[str, Any]:
    """The files sent for the form's `file` inputs, checked and staged until the step commits (web/desk)."""
    wanted = [item for item in inputs if item.spec.type == attachments.FIELD]
    if not wanted:
        return {}
    rules = files.rules()
    sent = {}
    for item in wanted:
        upload = request.files.get(item.name)
        if upload is not None and upload.filename:
            # One byte beyond the limit is enough to refuse it: the rest is never read into memory.
            sent[item.name] = (upload.filename, upload.stream.read(rules.max_bytes + 1))
    return dict(attachments.take_uploads(db_session(), wanted, sent, files.storage(), rules))


def typed_values(inputs: list[InputSpec], form: MultiDict[str, str]) -> dict[str, str]:
    """What the person typed, to put back into the form (a scoring form's inputs as the sheet they make)."""
    return {
        item.name: json.dumps(sheet_from_form(item.name, form), ensure_ascii=False)
        if item.spec.type in STRUCTURED and has_sheet_inputs(item.name, form) else form.get(item.name, "")
        for item in inputs
    }


# -- the scoring form (web/templates/appraisal/scoring_form.html) --------------------------------------
# Its inputs are named `<field>.<part>.<key>`: occurrences.<item> and adjustments.<kind> are counts,
# bands.<item> the band picked, points.<item>.<band> the points within a range band, goal_scores.<goal> a
# percent. Whatever does not read as a number is passed on as typed: the engine says what is wrong with it.


def has_sheet_inputs(name: str, form: MultiDict[str, str]) -> bool:
    return any(key.startswith(name + ".") for key in form)


def _number(raw: str) -> Any:
    text = raw.strip()
    if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 20:
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


def sheet_from_form(name: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The sheet a scoring form's inputs make, in the shape the engine scores: counts of 0 left out."""
    sheet: dict[str, Any] = {"occurrences": {}, "bands": {}, "goal_scores": {}, "adjustments": []}
    points: dict[tuple[str, str], Any] = {}
    for key in form:
        part, _, entry = key[len(name) + 1:].partition(".") if key.startswith(name + ".") else ("", "", "")
        raw = form.get(key, "").strip()
        if not entry or not raw:
            continue
        if part == "occurrences" and (count := _number(raw)) != 0:
            sheet["occurrences"][entry] = count
        elif part == "bands":
            sheet["bands"][entry] = raw
        elif part == "points" and "." in entry:
            item, _, band = entry.partition(".")
            points[(item, band)] = _number(raw)
        elif part == "goal_scores":
            sheet["goal_scores"][entry] = _number(raw)
        elif part == "adjustments":
            count = _number(raw)
            sheet["adjustments"] += [entry] * count if isinstance(count, int) and 0 < count <= 99 else \
                [] if count == 0 else [f"{entry} × {raw}"]  # a count beyond any month: the engine refuses it
    for item, band in list(sheet["bands"].items()):
        if (item, band) in points:
            sheet["bands"][item] = {"band": band, "points": points[(item, band)]}
    return sheet
