"""`fields:`, and the same checks for a transition's own inputs (`inputs: - name: ...`)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .. import expressions, values
from ..formats.definition import FIELD
from ..reader import Checker, LMap
from ..schema import FIELD_FORMATS, FIELD_TYPES, HELP_MAX_LENGTH, FieldSpec, Label, Ref
from .context import Known

_NO_BOUNDS = ("enum", "boolean", "scoresheet")
_MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
_WHOLE_BOUNDS = ("string", "text", "integer", "file")  # a file's min/max: its size in bytes


def check_fields(k: Known) -> None:
    c, top = k.c, k.top
    raw_fields = top.get("fields", LMap())
    fields_map = c.named(raw_fields, c.at(top, "fields"), "fields")
    for fname, raw in (fields_map or {}).items():
        fline = fields_map.key_lines[fname]  # type: ignore[union-attr]
        if c.name(fname, fline, "field"):
            spec = check_field(c, fname, raw, fline, f"field {fname!r}", FIELD.allowed)
            if spec:
                k.fields[fname] = spec


def check_field_references(k: Known) -> None:
    """What fields refer to, once all fields, constants and tables are known."""
    for spec in k.fields.values():
        if spec.template_field is not None:
            k.field(spec.template_field, spec.line, f"field {spec.name!r} template_field")
        if spec.computed is not None:
            try:
                computed = k.expression(spec.computed)
            except expressions.ExpressionError as exc:
                k.c.add(spec.line, exc.code, f"field {spec.name!r} computed: {exc}")
            else:
                k.fields[spec.name] = FieldSpec(**{**spec.__dict__, "computed": computed})


def check_user_roles(k: Known) -> None:
    for spec in k.fields.values():
        if spec.user_role is not None:
            k.role(spec.user_role, spec.line, f"field {spec.name!r} user_role")


def check_field(c: Checker, name: str, raw: LMap, line: int, what: str, allowed: set[str]) -> FieldSpec | None:
    m = c.mapping(raw, line, what, allowed, FIELD.required)
    if m is None:
        return None
    ftype = m.get("type")
    if ftype not in FIELD_TYPES:
        c.add(c.at(m, "type"), "bad_value", f"{what}: type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
        return None
    label = c.label(m.get("label"), c.at(m, "label"), f"{what}.label")
    choices = _choices(c, m, ftype, what)
    if choices is False:
        return None
    ref = _ref(c, m, ftype, what)
    accept = _accept(c, m, ftype, what)
    if accept is False:
        return None
    if not _pattern_ok(c, m, ftype, what) or not _kind_ok(c, m, ftype, what) or not _format_ok(c, m, ftype, what):
        return None
    spec = FieldSpec(
        name=name, type=ftype, label=label, required=c.boolean(m, "required", what, default=False),
        min=m.get("min"), max=m.get("max"), choices=choices, ref=ref, line=line,
        template_field=m.get("template_field"), computed=m.get("computed"),
        pattern=m.get("pattern") or FIELD_FORMATS.get(m.get("format") or ""),
        user_role=m.get("user_role"), help=check_help(c, m, what), format=m.get("format"),
    )
    spec = replace(spec, accept=accept)
    if not _bounds_ok(c, m, spec, what):
        return None
    return _with_default(c, m, spec, what)


def _choices(c: Checker, m: LMap, ftype: str, what: str) -> dict[str, Label] | None | Literal[False]:
    """An enum's choices; None for other types; False when broken."""
    if ftype != "enum":
        if "choices" in m:
            c.add(c.at(m, "choices"), "bad_field", f"{what}: only an enum field has choices")
        return None
    raw_choices = m.get("choices")
    if not isinstance(raw_choices, LMap) or not raw_choices:
        c.add(c.at(m, "choices") if "choices" in m else m.line, "bad_field", f"{what}: an enum needs choices")
        return False
    choices = {}
    for choice, choice_label in raw_choices.items():
        choice_line = raw_choices.key_lines[choice]
        if c.name(choice, choice_line, f"{what} choice"):
            choices[choice] = c.label(choice_label, choice_line, f"{what} choice {choice!r}")
    return choices


def _ref(c: Checker, m: LMap, ftype: str, what: str) -> Ref | None:
    if "ref" not in m:
        return None
    ref = None
    r = c.mapping(m["ref"], c.at(m, "ref"), f"{what}.ref", {"workflow", "final"}, {"workflow"})
    if r is not None and c.name(r.get("workflow"), c.at(r, "workflow"), f"{what}.ref.workflow"):
        ref = Ref(r["workflow"], c.boolean(r, "final", f"{what}.ref"))
    if ftype != "string":
        c.add(c.at(m, "ref"), "bad_field", f"{what}: only a string field can refer to another case")
    return ref


def _accept(c: Checker, m: LMap, ftype: str, what: str) -> tuple[str, ...] | None | Literal[False]:
    """A file field's `accept:` (the types it takes, as type/subtype); None when absent; False when broken."""
    if "accept" not in m:
        return None
    raw = m["accept"]
    line = c.at(m, "accept")
    if ftype != "file":
        c.add(line, "bad_field", f"{what}: only a file field has accept")
        return False
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) and _MEDIA_TYPE.fullmatch(t) for t in raw):
        c.add(line, "bad_value", f"{what}: accept is a list of types such as image/png or application/pdf")
        return False
    return tuple(dict.fromkeys(raw))


def _pattern_ok(c: Checker, m: LMap, ftype: str, what: str) -> bool:
    pattern = m.get("pattern")
    if pattern is None:
        return True
    try:
        if ftype not in ("string", "text") or not isinstance(pattern, str):
            raise re.error("a pattern is text, on a string or text field")
        re.compile(pattern)
    except re.error as exc:
        c.add(c.at(m, "pattern"), "bad_field", f"{what}: pattern {pattern!r} is not usable: {exc}")
        return False
    return True


def check_help(c: Checker, m: LMap, what: str) -> Label | None:
    """A field's or an input's `help:`, bilingual like a label and short enough to read under an input."""
    if "help" not in m:
        return None
    line = c.at(m, "help")
    help_text = c.label(m["help"], line, f"{what}.help")
    for lang, text in help_text.items():
        if len(text) > HELP_MAX_LENGTH:
            c.add(line, "bad_value", f"{what}.help: the {lang} text has {len(text)} characters; "
                                     f"at most {HELP_MAX_LENGTH} fit under an input")
    return help_text


def _format_ok(c: Checker, m: LMap, ftype: str, what: str) -> bool:
    """`format:` names one of FIELD_FORMATS, on a string field; its pattern is the format's own."""
    fmt = m.get("format")
    if fmt is None:
        return True
    if fmt not in FIELD_FORMATS:
        c.add(c.at(m, "format"), "bad_value", f"{what}: format {fmt!r} is not one of {', '.join(FIELD_FORMATS)}")
        return False
    if ftype != "string" or m.get("pattern") not in (None, FIELD_FORMATS[fmt]):
        c.add(c.at(m, "format"), "bad_field",
              f"{what}: format {fmt} belongs to a string field, and brings its own pattern")
        return False
    return True


def _kind_ok(c: Checker, m: LMap, ftype: str, what: str) -> bool:
    """template_field, computed and user_role: each belongs to one kind of field."""
    if (ftype == "scoresheet") != ("template_field" in m):
        c.add(c.at(m, "template_field") if "template_field" in m else m.line, "bad_field",
              f"{what}: a scoresheet field, and only one, names its template_field")
        return False
    computed = m.get("computed")
    if computed is not None and (not isinstance(computed, str) or "required" in m or "default" in m):
        c.add(c.at(m, "computed"), "bad_field",
              f"{what}: computed must be an expression, and a computed field is neither required nor defaulted")
        return False
    user_role = m.get("user_role")
    if user_role is None:
        return True
    if ftype != "string":
        c.add(c.at(m, "user_role"), "bad_field", f"{what}: only a string field names a user")
        return False
    return c.name(user_role, c.at(m, "user_role"), f"{what}.user_role")


def _bounds_ok(c: Checker, m: LMap, spec: FieldSpec, what: str) -> bool:
    for bound in ("min", "max"):
        value = m.get(bound)
        if value is None:
            continue
        if spec.type in _NO_BOUNDS:
            c.add(c.at(m, bound), "bad_field", f"{what}: a {spec.type} field has no {bound}")
            return False
        if not _bound_fits(spec, value):
            c.add(c.at(m, bound), "bad_field", f"{what}: {bound} {value!r} does not fit a {spec.type} field")
            return False
    if spec.min is not None and spec.max is not None:
        if values.coerce_bound(spec, spec.min) > values.coerce_bound(spec, spec.max):
            c.add(c.at(m, "min"), "bad_field", f"{what}: min {spec.min!r} is greater than max {spec.max!r}")
            return False
    return True


def _bound_fits(spec: FieldSpec, value: Any) -> bool:
    try:
        values.coerce_bound(spec, value)
    except (ValueError, TypeError, ArithmeticError):
        return False
    return spec.type not in _WHOLE_BOUNDS or (isinstance(value, int) and not isinstance(value, bool))


def _with_default(c: Checker, m: LMap, spec: FieldSpec, what: str) -> FieldSpec | None:
    if "default" not in m:
        return spec
    try:
        default = values.coerce(spec, m["default"], ZoneInfo("UTC"))
    except values.InvalidValue as exc:
        c.add(c.at(m, "default"), "bad_field", f"{what}: default {m['default']!r} {exc.messages['en']}")
        return None
    return FieldSpec(**{**spec.__dict__, "default": values.to_json(default)})
