"""Judging guards: every one that does not hold, so that a person corrects them all in one go.

Refusing on the first failing guard made people fix one thing, submit, and hear of the next (issue 15).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..definitions import expressions
from ..definitions.schema import GuardSpec
from .errors import GuardFailed, InvalidInputs

Messages = dict[str, str]
LANGUAGES = ("en", "zh")
_JOIN = {"en": "; ", "zh": "；"}


def failing(
    guards: Iterable[GuardSpec], names: Mapping[str, Any], functions: dict[str, Any],
    unknown: set[str] | frozenset[str] = frozenset(),
) -> list[GuardSpec]:
    """The guards that do not hold, in their order; one that reads a name in `unknown` (an input that was
    refused, so its value is not known yet) is left out rather than judged on a value nobody gave."""
    return [g for g in guards
            if not _reads(g, unknown, functions) and not expressions.evaluate(g.when, names, functions)]


def _reads(guard: GuardSpec, unknown: set[str] | frozenset[str], functions: dict[str, Any]) -> bool:
    if not unknown:
        return False
    try:
        return bool(expressions.names_used(guard.when, tuple(functions)) & unknown)
    except expressions.ExpressionError:  # a function bound only in some contexts: judge it another time
        return True


def _joined(messages: list[Messages]) -> Messages:
    return {lang: _JOIN[lang].join(m[lang] for m in messages) for lang in LANGUAGES}


def by_field(failed: list[GuardSpec]) -> dict[str, Messages]:
    """Each failing guard's message at the input it names; two on one input read as one."""
    grouped: dict[str, list[Messages]] = {}
    for guard in failed:
        if guard.field:
            grouped.setdefault(guard.field, []).append(guard.message)
    return {name: _joined(messages) for name, messages in grouped.items()}


def summary(failed: list[GuardSpec]) -> Messages:
    """One guard: its own message. Several: how many, then each."""
    if len(failed) == 1:
        return dict(failed[0].message)
    listed = _joined([g.message for g in failed])
    return {"en": f"{len(failed)} conditions are not met: {listed['en']}",
            "zh": f"有 {len(failed)} 项条件不满足：{listed['zh']}"}


def refused(failed: list[GuardSpec]) -> GuardFailed:
    """The refusal for the failing guards (at least one)."""
    said = summary(failed)
    return GuardFailed(said["en"], said["zh"], by_field(failed))


def with_problems(problems: dict[str, Messages], failed: list[GuardSpec]) -> InvalidInputs:
    """The inputs' own problems and the guards that fail besides them, as one refusal."""
    fields = dict(problems)
    for name, messages in by_field(failed).items():
        fields[name] = _joined([fields[name], messages]) if name in fields else messages
    names = ", ".join(sorted(problems))
    en, zh = f"Please correct: {names}", f"请更正：{names}"
    if failed:
        listed = _joined([g.message for g in failed])
        en, zh = f"{en}; and {listed['en']}", f"{zh}；另外：{listed['zh']}"
    refusal = InvalidInputs(en, zh, fields)
    general = [g.message for g in failed if not g.field]
    refusal.unplaced = _joined(general) if general else None
    return refusal
