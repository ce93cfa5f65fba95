"""YAML read with the line of every mapping, key and list item, and the checker that collects problems.

Shared by every YAML format of the service (workflow definitions, score-sheet templates): a check never
stops at the first problem, and each problem names the file, the line and a reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeGuard, TypeVar

import yaml

from .schema import DURATION_UNITS, Duration

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+)\s*(h|d|wd|wh)\s*$")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.message}"


class DefinitionInvalid(ValueError):
    """Raised by `load_text` when a definition has problems; `problems` lists them all."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# --- YAML with line numbers ------------------------------------------------------------------


class LMap(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int] = {}  # noqa: RUF012 - replaced per instance by _build


class LList(list[Any]):
    line: int = 0
    item_lines: list[int] = []  # noqa: RUF012 - replaced per instance by _build


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = loader.construct_object(node)
    # Dates typed without quotes reach us as date objects; the format works on ISO text.
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# No format of the service nests deeper than a dozen levels; an alias that refers to itself would nest forever.
MAX_DEPTH = 40


class TooDeep(yaml.YAMLError):
    def __init__(self, line: int):
        super().__init__(f"nested more than {MAX_DEPTH} levels deep (or an alias refers to itself)")
        self.line = line


def _build(node: yaml.Node, loader: yaml.SafeLoader, dupes: list[tuple[int, str]], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise TooDeep(node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result = LMap()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                dupes.append((key_node.start_mark.line + 1, key))
            result[key] = _build(value_node, loader, dupes, depth + 1)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        items = LList(_build(n, loader, dupes, depth + 1) for n in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [n.start_mark.line + 1 for n in node.value]
        return items
    return _scalar(loader, node)


class Checker:
    """Collects problems for one file; its helpers check a value and report, never raise."""

    def __init__(self, filename: str):
        self.file = filename
        self.problems: list[Problem] = []

    def add(self, line: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, code, message))

    def mapping(
        self, value: Any, line: int, what: str, allowed: set[str], required: set[str] = frozenset()  # type: ignore[assignment]
    ) -> LMap | None:
        if not isinstance(value, LMap):
            self.add(line, "bad_value", f"{what} must be a mapping")
            return None
        for key, key_line in value.key_lines.items():
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add(key_line, "unknown_key", f"unknown key {key!r} in {what}; allowed: {known}")
        for key in sorted(required - set(value)):
            self.add(value.line, "missing_key", f"{what} needs {key!r}")
        return value

    def named(self, value: Any, line: int, what: str) -> LMap | None:
        """A mapping whose keys are names the file chooses (roles, fields, states …)."""
        return self.mapping(value, line, what, set(value) if isinstance(value, LMap) else set())

    def at(self, m: LMap, key: str) -> int:
        return m.key_lines.get(key, m.line)

    def name(self, value: Any, line: int, what: str) -> TypeGuard[str]:
        if isinstance(value, str) and _NAME.match(value):
            return True
        self.add(line, "bad_value", f"{what} {value!r} must be a lower-case identifier like 'service_lead'")
        return False

    def label(self, value: Any, line: int, what: str) -> dict[str, str]:
        if (
            isinstance(value, dict)
            and set(value) == {"en", "zh"}
            and all(isinstance(v, str) and v.strip() for v in value.values())
        ):
            return {"en": value["en"], "zh": value["zh"]}
        hint = ""
        if isinstance(value, dict) and set(value) - {"en", "zh"}:
            extra = ", ".join(repr(str(k)) for k in set(value) - {"en", "zh"})
            hint = f" (found {extra}: inside {{...}} a comma separates entries, so quote texts that contain one)"
        self.add(line, "bad_value", f"{what} must be a mapping with non-empty 'en' and 'zh' texts{hint}")
        return {"en": "?", "zh": "?"}

    def boolean(self, m: LMap, key: str, what: str, default: bool = False) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            self.add(self.at(m, key), "bad_value", f"{what}.{key} must be true or false")
            return default
        return value

    def names_list(self, value: Any, line: int, what: str) -> list[tuple[str, int]]:
        """A name or a list of names, with the line of each."""
        if value is None:
            return []  # absent: reported as a missing key where it is required
        if isinstance(value, str):
            return [(value, line)] if self.name(value, line, what) else []
        if isinstance(value, LList) and value:
            out = []
            for item, item_line in zip(value, value.item_lines, strict=True):
                if self.name(item, item_line, what):
                    out.append((item, item_line))
            return out
        self.add(line, "bad_value", f"{what} must be a name or a non-empty list of names")
        return []

    def duration(self, value: Any, line: int, what: str) -> Duration | None:
        match = _DURATION.match(str(value)) if isinstance(value, (str, int)) else None
        if not match or int(match.group(1)) <= 0:
            self.add(
                line, "bad_duration",
                f"{what} {value!r} is not a duration: write a whole number and a unit, "
                f"one of {', '.join(DURATION_UNITS)} (hours, days, working days, working hours), e.g. 48h",
            )
            return None
        return Duration(int(match.group(1)), match.group(2))  # type: ignore[arg-type]


def read_checked(
    text: str, filename: str, build: Callable[[Checker, Any], T | None]
) -> tuple[T | None, list[Problem]]:
    """Read YAML keeping every line number, then let `build` check and construct the object.

    Returns (object, []) or (None, problems sorted by line). Shared by every YAML format of the service.
    """
    c = Checker(filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # PyYAML composes nested collections recursively
        c.add(1, "yaml_syntax", f"not valid YAML: nested more than {MAX_DEPTH} levels deep")
        return None, c.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(filter(None, [exc.context, exc.problem]))
        c.add(mark.line + 1 if mark else 1, "yaml_syntax", f"not valid YAML: {reason}")
        return None, c.problems
    except yaml.YAMLError as exc:
        c.add(1, "yaml_syntax", f"not valid YAML: {exc}")
        return None, c.problems
    if node is None:
        c.add(1, "yaml_syntax", "the file is empty")
        return None, c.problems
    dupes: list[tuple[int, str]] = []
    try:
        doc = _build(node, yaml.SafeLoader(""), dupes)
    except TooDeep as exc:
        c.add(exc.line, "yaml_syntax", f"not valid YAML: {exc}")
        return None, c.problems
    except yaml.YAMLError as exc:
        c.add(1, "yaml_syntax", f"not valid YAML: {exc}")
        return None, c.problems
    for line, key in dupes:
        c.add(line, "duplicate_key", f"key {key!r} appears twice in the same mapping; the first would be lost")
    built = build(c, doc)
    c.problems.sort(key=lambda p: p.line)
    return (built if not c.problems else None), c.problems
