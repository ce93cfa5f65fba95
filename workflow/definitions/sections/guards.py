"""Guards (`open_guards:`, a transition's `guards:`) and a transition's `effects:`."""

from __future__ import annotations

from typing import Any

from .. import expressions
from ..formats.definition import EFFECT, GUARD, PROPOSAL
from ..reader import LList, LMap
from ..schema import DeductionProposal, GuardSpec
from .context import Known, items_of


def check_guards(k: Known, raw_guards: Any, what: str, input_names: set[str]) -> list[GuardSpec]:
    c = k.c
    if raw_guards is not None and not isinstance(raw_guards, LList):
        c.add(getattr(raw_guards, "line", 0), "bad_value", f"the guards of {what} must be a list")
        return []
    guards: list[GuardSpec] = []
    for raw_guard, gline in items_of(raw_guards):
        gm = c.mapping(raw_guard, gline, f"a guard of {what}", GUARD.allowed, GUARD.required)
        if gm is None:
            continue
        text = gm.get("when")
        if not isinstance(text, str):
            c.add(c.at(gm, "when"), "guard_syntax", f"a guard of {what} must be an expression in text")
            continue
        try:
            when = k.expression(text, set(k.fields) | input_names)
        except expressions.ExpressionError as exc:
            c.add(c.at(gm, "when"), exc.code, f"{what}: {exc}")
            continue
        gfield = gm.get("field")
        if gfield is not None and gfield not in input_names | set(k.fields):
            c.add(c.at(gm, "field"), "unknown_field", f"a guard of {what} points at unknown input {gfield!r}")
        guards.append(GuardSpec(
            when=when, field=gfield, line=c.at(gm, "when"),
            message=c.label(gm.get("message"), c.at(gm, "message"), f"a guard message of {what}"),
            uses_inputs=bool(expressions.names_used(when, k.context) & input_names),
        ))
    return guards


def check_effects(k: Known, m: LMap, what: str) -> list[DeductionProposal]:
    c = k.c
    raw = m.get("effects")
    if raw is None:
        return []
    if not isinstance(raw, LList):
        c.add(c.at(m, "effects"), "bad_value", f"{what} effects must be a list")
        return []
    proposals = []
    for item, line in items_of(raw):
        em = c.mapping(item, line, f"an effect of {what}", EFFECT.allowed, EFFECT.required)
        if em is None or "propose_deduction" not in em:
            continue
        pm = c.mapping(em["propose_deduction"], c.at(em, "propose_deduction"), f"{what} propose_deduction",
                       PROPOSAL.allowed, PROPOSAL.required)
        if pm is None or not k.field(pm.get("person"), c.at(pm, "person"), f"{what} propose_deduction person"):
            continue
        when = pm.get("when")
        if when is not None:
            try:
                when = k.expression(str(when))
            except expressions.ExpressionError as exc:
                c.add(c.at(pm, "when"), exc.code, f"{what} propose_deduction when: {exc}")
                continue
        proposals.append(DeductionProposal(
            person=pm["person"], reason=c.label(pm.get("reason"), c.at(pm, "reason"), f"{what} reason"),
            when=when,
        ))
    return proposals
