"""The golden paths of the shipped workflows, read from workflow/definitions/paths/<key>.yaml.

A golden path is a named route through one workflow: the data a case is opened with, then each step (the
role of whoever acts, the action, its inputs and the state it leads to) up to a final state. The path
tests walk every path over the API, the refusal grid tries every refusal at each state of the main
(`golden`) path, the benchmarks time that path and the demo opens its cases along it: one description,
read by all of them. The files sit in a folder of their own so that the definition loader, which reads
workflow/definitions/*.yaml, never takes one for a definition.

Whoever acts is named after their role (the user `service_lead` holds the role service_lead), so the
four-eyes rule holds along a path as long as its consecutive checks are taken by different roles;
whoever needs other names (the appraisal tests' zhang and li) renames the roles with `Path.as_users`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path as FilePath
from typing import Any

import yaml

FOLDER = FilePath(__file__).resolve().parent / "definitions" / "paths"


class GoldenPathError(ValueError):
    """A paths file that does not say what a path needs; the message names the file and the place."""


@dataclass(frozen=True)
class Step:
    role: str  # the acting user holds this role and, unless renamed, is named after it
    action: str
    inputs: dict[str, Any]
    to: str  # the state the step leads to


@dataclass(frozen=True)
class Path:
    name: str
    data: dict[str, Any]  # what a case of this path is opened with
    steps: tuple[Step, ...]
    final: str

    def as_users(self, users: Mapping[str, str]) -> Path:
        """The same path with each role's steps taken by the user `users` names for it (others as they are)."""
        steps = tuple(replace(s, role=users.get(s.role, s.role)) for s in self.steps)
        return replace(self, steps=steps)

    def moved_by(self, days: int) -> Path:
        """The same path with every date in its data and inputs `days` later: the gaps between them, which
        guards check, stay as they are."""
        return replace(self, data=_moved(self.data, days),
                       steps=tuple(replace(s, inputs=_moved(s.inputs, days)) for s in self.steps))

    def first_date(self) -> date | None:
        """The earliest date in the opening data, if it holds one."""
        found = [d for d in (_as_date(v) for v in self.data.values()) if d is not None]
        return min(found) if found else None


@dataclass(frozen=True)
class StaffRow:
    """A person on the staff register that a path needs (the appraisal opens sheets only for people on it)."""

    name: str
    department: str
    template: str
    standard_pay: str
    supervisor: str


@dataclass(frozen=True)
class Demo:
    """The demo's case of this workflow: opened with the path's data and `data` on top, walked until `until`."""

    until: str
    data: dict[str, Any]


@dataclass(frozen=True)
class GoldenPaths:
    workflow: str
    opener: str  # the role that opens the cases of every path
    golden: str  # the main path: the one the refusal grid, the benchmarks and the demo walk
    paths: Mapping[str, Path]
    per_case: Mapping[str, str] = field(default_factory=dict)  # field -> first month, see `opening`
    staff: tuple[StaffRow, ...] = ()
    demo: Demo | None = None

    @property
    def main(self) -> Path:
        return self.paths[self.golden]

    def opening(self, n: int, path: str | None = None) -> dict[str, Any]:
        """The data to open case number `n` (from 0) of `path` (the main one by default) with.

        Fields under `per_case` must differ from case to case (one appraisal sheet per person and month):
        case n gets the n-th month after the month named there, so that many cases can be opened.
        """
        data = dict(self.paths[path or self.golden].data)
        for name, first in self.per_case.items():
            year, month = (int(p) for p in first.split("-"))
            months = year * 12 + month - 1 + n
            data[name] = f"{months // 12:04d}-{months % 12 + 1:02d}"
        return data

    def roles(self) -> set[str]:
        """Every role that opens or acts along a path."""
        return {self.opener} | {s.role for p in self.paths.values() for s in p.steps}


def load(key: str, folder: FilePath = FOLDER) -> GoldenPaths:
    """The golden paths of the workflow `key`."""
    where = folder / f"{key}.yaml"
    raw = yaml.safe_load(where.read_text("utf-8"))
    try:
        return _read(raw, key)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise GoldenPathError(f"{where}: {e}") from e


def load_all(folder: FilePath = FOLDER) -> dict[str, GoldenPaths]:
    """The golden paths of every workflow that has a paths file, by workflow key."""
    return {f.stem: load(f.stem, folder) for f in sorted(folder.glob("*.yaml"))}


def _read(raw: Mapping[str, Any], key: str) -> GoldenPaths:
    if raw["workflow"] != key:
        raise ValueError(f"workflow is {raw['workflow']!r}, but the file is named for {key!r}")
    base = _plain(raw["data"])
    paths = {name: _path(name, body, base) for name, body in raw["paths"].items()}
    if raw["golden"] not in paths:
        raise ValueError(f"golden names {raw['golden']!r}, which is not among paths")
    demo = raw.get("demo")
    staff = tuple(StaffRow(**{k: str(v) for k, v in row.items()}) for row in raw.get("staff") or ())
    return GoldenPaths(
        workflow=key, opener=str(raw["opener"]), golden=str(raw["golden"]), paths=paths,
        per_case={str(k): str(v) for k, v in (raw.get("per_case") or {}).items()}, staff=staff,
        demo=Demo(str(demo["until"]), _plain(demo.get("data") or {})) if demo else None,
    )


def _path(name: str, body: Mapping[str, Any], base: Mapping[str, Any]) -> Path:
    steps = []
    for i, s in enumerate(body["steps"]):
        unknown = set(s) - {"role", "action", "inputs", "to"}
        if unknown:
            raise ValueError(f"path {name}, step {i + 1}: unknown keys {sorted(unknown)}")
        steps.append(Step(str(s["role"]), str(s["action"]), _plain(s.get("inputs") or {}), str(s["to"])))
    final = str(body["final"])
    if steps and steps[-1].to != final:
        raise ValueError(f"path {name} ends in {steps[-1].to}, not in its final state {final}")
    return Path(name, {**base, **_plain(body.get("data") or {})}, tuple(steps), final)


def _plain(value: Any) -> Any:
    """YAML's values as the API takes them: a date written plainly becomes its ISO text. Every mapping is
    a fresh dict, so that no two steps share one through a YAML alias."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _as_date(value: Any) -> date | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _moved(value: Any, days: int) -> Any:
    moved = _as_date(value)
    if moved is not None:
        return (moved + timedelta(days=days)).isoformat()
    if isinstance(value, Mapping):
        return {k: _moved(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, days) for v in value]
    return value
