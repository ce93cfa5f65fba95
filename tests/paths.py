"""Helpers shared by the tests/test_paths_*.py files: a path is the list of steps people take through a
workflow over the JSON API, each step checked against the answer and the history row it leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from workflow import golden_paths
from workflow.definitions import load_text

from .conftest import ROOT, snapshot


class Step(NamedTuple):
    user: str
    action: str
    inputs: dict[str, Any]
    to: str  # the state the step leads to


class CasePath(NamedTuple):
    steps: list[Step]
    final: str
    data: dict[str, Any] | None = None  # what the case is opened with


def golden(key: str, users: Mapping[str, str] | None = None) -> dict[str, CasePath]:
    """The golden paths of workflow `key` (workflow/definitions/paths/<key>.yaml), by name, as the path tests
    walk them: each step taken by the user `users` names for its role, else by the user named after the role."""
    paths = {}
    for name, path in golden_paths.load(key).paths.items():
        path = path.as_users(users or {})
        paths[name] = CasePath([Step(s.role, s.action, dict(s.inputs), s.to) for s in path.steps], path.final,
                               dict(path.data))
    return paths


def inputs_of(path: CasePath, action: str, nth: int = 0) -> dict[str, Any]:
    """The inputs of the `nth` step (from 0) of `path` that takes `action`."""
    return dict([s for s in path.steps if s.action == action][nth].inputs)


def definition_of(key: str):
    """The shipped definition workflow/definitions/<key>.yaml, loaded."""
    path = ROOT / "workflow" / "definitions" / f"{key}.yaml"
    return load_text(path.read_text("utf-8"), str(path), key)


def history(api, case_id: int) -> list[dict[str, Any]]:
    return api.get("auditor", f"/api/v1/cases/{case_id}/history").get_json()["items"]


def show(api, case_id: int, user: str = "auditor") -> dict[str, Any]:
    return api.get(user, f"/api/v1/cases/{case_id}").get_json()


def offered(api, case_id: int, user: str) -> list[str]:
    return [a["name"] for a in show(api, case_id, user)["available_actions"]]


def timers(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The case's timers that have not stopped, by name."""
    return {t["name"]: t for t in case["timers"] if t["status"] != "stopped"}


def take(api, case: dict[str, Any], step: Step) -> dict[str, Any]:
    """Take one step and check the answer and the history row it leaves."""
    before = case["state"]
    case = api.act(step.user, case, step.action, step.inputs)
    assert case["state"] == step.to, step
    last = history(api, case["id"])[-1]
    assert (last["action"], last["from"], last["to"], last["actor"]) == (step.action, before, step.to, step.user)
    return case


def walk(api, case: dict[str, Any], steps: list[Step], until: str | None = None, *,
         as_taken: Callable[[dict[str, Any], Step], Step] | None = None) -> dict[str, Any]:
    """Take `steps` in turn, stopping early when the case stands in `until`.

    `as_taken(case, step)`, if given, is the step as actually taken on that case (e.g. by the person it names).
    """
    for step in steps:
        if case["state"] == until:
            break
        case = take(api, case, step if as_taken is None else as_taken(case, step))
    return case


def reach(api, open_fn: Callable[[Any], dict[str, Any]], steps: list[Step], state: str, *,
          as_taken: Callable[[dict[str, Any], Step], Step] | None = None) -> dict[str, Any]:
    """A new case, `open_fn(api)`, walked along `steps` until it first stands in `state`."""
    case = walk(api, open_fn(api), steps, until=state, as_taken=as_taken)
    assert case["state"] == state
    return case


def refused(api, user: str, case: dict[str, Any], action: str, inputs: dict[str, Any] | None = None, *,
            status: int, code: str, expected_version: int | None = None) -> dict[str, Any]:
    """Try an action that must be refused; the case's stored rows must not change by a byte."""
    before = snapshot(case["id"])
    body = {"inputs": inputs or {}, "comment": None,
            "expected_version": case["lock_version"] if expected_version is None else expected_version}
    response = api.post(user, f"/api/v1/cases/{case['id']}/actions/{action}", body)
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (status, code), error
    assert snapshot(case["id"]) == before
    return error


def assert_paths_cover(definition, paths: Mapping[str, CasePath], system_only: set[str], *,
                       role_of: Mapping[str, str] | None = None) -> None:
    """The paths take every transition people take and end in every final state, each step leaving the state
    the previous one reached. `system_only` names the transitions only the system takes (which no path may
    take); with `role_of` (user -> role), each step's user must also hold a role the transition allows.
    """
    d = definition
    by_people = {t.name for t in d.transitions.values() if not t.system_only}
    assert {t.name for t in d.transitions.values() if t.system_only} == system_only
    assert {step.action for path in paths.values() for step in path.steps} == by_people
    assert {path.final for path in paths.values()} == {s.name for s in d.states.values() if s.final}
    for name, path in paths.items():  # each step leaves the state the previous one reached
        state = d.initial_state
        for step in path.steps:
            transition = d.transitions[step.action]
            assert state in transition.sources and transition.dest == step.to, (name, step)
            if role_of is not None:
                assert role_of[step.user] in transition.roles, (name, step)
            state = step.to
        assert state == path.final, name


def assert_lock_version_counts_moves(api, case: dict[str, Any], steps: list[Step]) -> None:
    """Walk `steps` from a new case: each accepted move steps lock_version by one, each refusal by none.

    All in the same instant (the frozen clock does not move), so no timestamp can hide a missed step.
    """
    assert (case["version"], case["lock_version"]) == (1, 1)
    for step in steps:
        refused(api, "auditor", case, step.action, step.inputs, status=403, code="role_refused")
        refused(api, step.user, case, step.action, step.inputs, status=409, code="stale_version",
                expected_version=case["lock_version"] - 1)
        assert show(api, case["id"])["lock_version"] == case["lock_version"]
        before = case["lock_version"]
        case = take(api, case, step)
        assert (case["version"], case["lock_version"]) == (1, before + 1), step
    assert show(api, case["id"])["lock_version"] == 1 + len(steps)


def walk_to_the_end(api, case: dict[str, Any], path: CasePath) -> dict[str, Any]:
    """Walk a new case along `path` and check where it ends: the final state, nothing left for anyone to
    do (the user "everyone" holds every role), and a history of exactly the path's actions after 'create'."""
    for step in path.steps:
        case = take(api, case, step)
    assert case["state"] == path.final and case["final"] is True
    assert case["available_actions"] == []
    assert show(api, case["id"], "everyone")["available_actions"] == []
    rows = history(api, case["id"])
    assert rows[0]["action"] == "create"
    assert [r["action"] for r in rows[1:]] == [s.action for s in path.steps]
    return case
