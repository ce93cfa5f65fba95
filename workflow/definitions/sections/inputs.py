"""A transition's `inputs:`: case fields it asks for, or inputs of its own kept only in the history."""

from __future__ import annotations

from dataclasses import replace

from ..formats.definition import CASE_FIELD_INPUT_KEYS, INPUT
from ..reader import LList, LMap
from ..schema import InputSpec
from .context import Known, items_of
from .fields import check_field, check_help


def check_inputs(k: Known, m: LMap, what: str) -> list[InputSpec]:
    c = k.c
    raw_inputs = m.get("inputs", LList())
    if not isinstance(raw_inputs, LList):
        c.add(c.at(m, "inputs"), "bad_value", f"{what} inputs must be a list")
        return []
    inputs: list[InputSpec] = []
    for raw_input, iline in items_of(raw_inputs):
        im = c.mapping(raw_input, iline, f"an input of {what}", INPUT.allowed)
        if im is None:
            continue
        if ("field" in im) == ("name" in im):
            c.add(im.line, "bad_value", f"an input of {what} needs exactly one of 'field' (a case field) or 'name'")
            continue
        required = c.boolean(im, "required", f"input of {what}", default=True)
        spec = _case_field(k, im, what, required) if "field" in im else _own_input(k, im, what, required)
        if spec is not None:
            inputs.append(spec)
    return inputs


def _case_field(k: Known, im: LMap, what: str, required: bool) -> InputSpec | None:
    c = k.c
    fname = im["field"]
    unexpected = set(im) - CASE_FIELD_INPUT_KEYS
    if unexpected:
        c.add(c.at(im, sorted(unexpected)[0]), "bad_field",
              f"input {fname!r} of {what} is a case field: its type and limits come from the field")
    if fname not in k.fields:
        if fname not in k.raw_fields:
            c.add(c.at(im, "field"), "unknown_field", f"{what} asks for unknown field {fname!r}")
        return None
    if k.fields[fname].computed is not None:
        c.add(c.at(im, "field"), "bad_field", f"{what}: {fname!r} is computed, so nobody enters it")
        return None
    spec = k.fields[fname]
    step_help = check_help(c, im, f"input {fname!r} of {what}")
    return InputSpec(fname, replace(spec, help=step_help) if step_help else spec, required, to_case=True)


def _own_input(k: Known, im: LMap, what: str, required: bool) -> InputSpec | None:
    c = k.c
    iname = im["name"]
    if not c.name(iname, c.at(im, "name"), f"input of {what}"):
        return None
    if iname in k.raw_fields:
        c.add(c.at(im, "name"), "bad_field",
              f"input {iname!r} of {what} shadows the case field of that name: write 'field: {iname}'")
        return None
    if iname in k.constants or iname in k.tables:
        c.add(c.at(im, "name"), "duplicate_name", f"input {iname!r} of {what} takes the name of a constant or table")
        return None
    body = LMap({key: v for key, v in im.items() if key not in ("name", "required")})
    body.line, body.key_lines = im.line, im.key_lines
    spec = check_field(c, iname, body, c.at(im, "name"), f"input {iname!r} of {what}", INPUT.allowed)
    return InputSpec(iname, spec, required, to_case=False) if spec else None
