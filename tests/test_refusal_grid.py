"""The refusal grid, generated from every shipped definition and its golden paths.

One case per workflow walks the main golden path (workflow/definitions/paths/<key>.yaml). At each state it
passes, before it moves on, it is asked for every step the definition has:

- a step that does not leave that state → 409 wrong_state, asked by a user who holds the step's role
  (the one named after it, whom the case names where a step is assigned to a person);
- a step that does leave it → 403 role_refused for each role of the definition that may not take it.

Every refusal leaves the case's stored rows (case, history, timers) as they were, byte for byte. The
path suites cover what a holder of the right role meets (four-eyes, inputs, guards); the grid makes a
step, role or state added to a definition without its refusals impossible to miss.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from web.extensions import db
from workflow import golden_paths
from workflow.appraisal import set_staff
from workflow.definitions import Definition, load_text, shipped_files

from .conftest import ROOT, snapshot

DEFINITIONS: dict[str, Definition] = {
    f.stem: load_text(f.read_text("utf-8"), str(f), f.stem) for f in shipped_files()
}
GOLDEN = golden_paths.load_all()


def test_every_shipped_definition_has_golden_paths_and_no_paths_file_is_taken_for_a_definition():
    assert set(GOLDEN) == set(DEFINITIONS)
    folder = ROOT / "workflow" / "definitions"
    assert {f.parent for f in shipped_files()} == {folder}
    assert not {f.resolve() for f in shipped_files()} & {f.resolve() for f in (folder / "paths").glob("*.yaml")}


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_each_golden_path_takes_its_definitions_steps_from_their_states(key):
    """A path file that has drifted from its definition fails here, before any walk."""
    definition = DEFINITIONS[key]
    assert not definition.open_roles or GOLDEN[key].opener in definition.open_roles  # none: any role opens
    for path in GOLDEN[key].paths.values():
        state = definition.initial_state
        for step in path.steps:
            transition = definition.transitions[step.action]
            assert state in transition.sources and transition.dest == step.to, (path.name, step)
            assert step.role in transition.roles, (path.name, step)
            state = step.to
        assert definition.states[state].final, path.name


def ask(api, user: str, case: dict[str, Any], action: str) -> tuple[int, str]:
    response = api.post(user, f"/api/v1/cases/{case['id']}/actions/{action}",
                        {"inputs": {}, "comment": None, "expected_version": case["lock_version"]})
    return response.status_code, response.get_json()["error"]["code"]


def refusals_at(api, definition: Definition, case: dict[str, Any]) -> list[tuple[str, str, str, int, str]]:
    """Every refusal at the case's state that did not come as it should, or changed a stored byte:
    (state, user, action, status, code) rows, none when all is well."""
    state, before = case["state"], snapshot(case["id"])
    leaving = {t.name for t in definition.transitions_from(state)}
    wrong: list[tuple[str, str, str, int, str]] = []
    for transition in definition.transitions.values():
        if transition.name in leaving:
            asked = [(role, (403, "role_refused")) for role in sorted(set(definition.roles) - set(transition.roles))]
        else:
            # The system's own steps (a timer's) have no person's role to ask with: any role will do.
            role = min(definition.roles) if transition.system_only else min(transition.roles)
            asked = [(role, (409, "wrong_state"))]
        for user, expected in asked:
            answer = ask(api, user, case, transition.name)
            if answer != expected or snapshot(case["id"]) != before:
                wrong.append((state, user, transition.name, *answer))
    return wrong


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_every_refusal_at_every_state_of_the_golden_path_changes_nothing(api, key):
    definition, paths = DEFINITIONS[key], GOLDEN[key]
    for role in definition.roles:
        api.user(role)
    for row in paths.staff:
        set_staff(db.session, row.name, row.department, row.template, Decimal(row.standard_pay), row.supervisor)
    db.session.commit()
    case = api.open(paths.opener, key, paths.opening(0))
    wrong, seen = [], set()
    for step in (None, *paths.main.steps):
        if step is not None:
            case = api.act(step.role, case, step.action, step.inputs)
            assert case["state"] == step.to, step
        if case["state"] not in seen:  # a state met again is refused the same things
            seen.add(case["state"])
            wrong += refusals_at(api, definition, case)
    assert wrong == []
    # the path passes most states: a grid over one or two would prove little
    assert len(seen) >= len(definition.states) // 2, seen
