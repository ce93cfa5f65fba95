"""The engine: the order of its checks, what a refusal leaves behind, locking, and the machine cache."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine import (
    Actor,
    FourEyesRefused,
    GuardFailed,
    InvalidInputs,
    RoleRefused,
    StaleCase,
    UnknownAction,
    WrongState,
    advance,
    available_actions,
    open_case,
    workflow_of,
)
from workflow.engine.machines import workflow_for
from workflow.models import Case

from .conftest import snapshot
from .helpers import minimal_text, publish_minimal

CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))
MANAGER2 = Actor("mary", frozenset({"manager"}))
BOTH = Actor("bob", frozenset({"clerk", "manager"}))


@pytest.fixture
def submitted(app, clock):
    approve = "    label: {en: Approve, zh: 批准}"
    publish_minimal(clock, minimal_text(**{approve: "    four_eyes: true\n" + approve}))
    case = open_case(db.session, clock, "minimal", {"amount": "60000"}, BOTH)
    advance(db.session, clock, case, "submit", BOTH)
    db.session.commit()
    return case


@pytest.mark.parametrize("actor, action, inputs, error", [
    (MANAGER, "submit", {}, WrongState),            # state is checked before roles
    (CLERK, "approve", {}, RoleRefused),            # roles before four-eyes
    (BOTH, "approve", {}, FourEyesRefused),         # four-eyes before the guard (amount is too high too)
    (MANAGER, "reject", {}, InvalidInputs),         # inputs before guards
    (MANAGER, "approve", {}, GuardFailed),          # amount 60000 > 50000
    (MANAGER, "expire", {}, RoleRefused),           # only a timer may expire a request
    (MANAGER, "fly", {}, UnknownAction),
])
def test_refusals_come_in_the_documented_order_and_change_nothing(submitted, clock, actor, action, inputs, error):
    before = snapshot(submitted.id)
    with pytest.raises(error) as caught:
        advance(db.session, clock, submitted, action, actor, inputs)
    db.session.rollback()
    assert snapshot(submitted.id) == before
    assert caught.value.messages["en"] and caught.value.messages["zh"]


def test_invalid_inputs_name_each_field(submitted, clock):
    with pytest.raises(InvalidInputs) as caught:
        advance(db.session, clock, submitted, "reject", MANAGER, {"reason": "", "colour": "red"})
    assert set(caught.value.fields) == {"reason", "colour"}
    assert caught.value.fields["reason"]["en"] == "is required"


def test_a_guard_failure_points_at_its_message(app, clock):
    publish_minimal(clock)
    case = open_case(db.session, clock, "minimal", {"amount": "50000.01"}, CLERK)
    advance(db.session, clock, case, "submit", CLERK)
    with pytest.raises(GuardFailed, match="Amounts over 50000"):
        advance(db.session, clock, case, "approve", MANAGER)


def test_four_eyes_lets_another_person_approve(submitted, clock):
    submitted.data = {**submitted.data, "amount": "100"}  # fixture data only; the engine never does this
    db.session.flush()
    advance(db.session, clock, submitted, "approve", MANAGER2)
    assert submitted.state == "approved"


def test_stale_expected_version_is_refused(submitted, clock):
    before = snapshot(submitted.id)
    with pytest.raises(StaleCase, match="has changed since you loaded it"):
        advance(db.session, clock, submitted, "reject", MANAGER, {"reason": "no"}, expected_version=1)
    db.session.rollback()
    assert snapshot(submitted.id) == before


def test_concurrent_moves_of_one_case_let_exactly_one_win(submitted, clock):
    """Two sessions load version n; the first commits; the second's compare-and-set finds nothing."""
    first, second = Session(db.engine), Session(db.engine)
    case_a, case_b = first.get(Case, submitted.id), second.get(Case, submitted.id)
    assert case_a.lock_version == case_b.lock_version == 2
    advance(first, clock, case_a, "reject", MANAGER, {"reason": "first"})
    first.commit()
    with pytest.raises(StaleCase):
        advance(second, clock, case_b, "reject", MANAGER2, {"reason": "second"})
    second.rollback()
    first.close(), second.close()
    db.session.expire_all()
    case = db.session.get(Case, submitted.id)
    assert (case.state, case.lock_version) == ("rejected", 3)


def test_available_actions_follow_state_roles_four_eyes_and_data_guards(submitted, clock):
    # 60000 fails approve's guard, which reads only case data, so approve is not offered
    assert [t.name for t in available_actions(db.session, clock, submitted, MANAGER)] == ["reject"]
    assert available_actions(db.session, clock, submitted, BOTH) == [] or \
        [t.name for t in available_actions(db.session, clock, submitted, BOTH)] == ["reject"]
    assert available_actions(db.session, clock, submitted, CLERK) == []


def test_one_machine_per_version_whatever_the_number_of_cases(app, clock):
    version = publish_minimal(clock)
    for _ in range(20):
        case = open_case(db.session, clock, "minimal", {"amount": "1"}, CLERK)
        advance(db.session, clock, case, "submit", CLERK)
    machines = {id(workflow_of(c.version).machine) for c in db.session.query(Case)}
    assert len(machines) == 1
    assert workflow_of(version) is workflow_for(version.id, version.source, version.key)
    assert workflow_of(version).machine.models == []  # no case is ever attached to the machine


def test_case_numbers_follow_the_pattern_and_restart(app, clock, frozen_clock):
    publish_minimal(clock)
    numbers = []
    for _ in range(3):
        case = open_case(db.session, clock, "minimal", {"amount": "1"}, CLERK)
        assert case.number is None  # assigned on submit
        advance(db.session, clock, case, "submit", CLERK)
        numbers.append(case.number)
    assert numbers == ["MIN2026-0001", "MIN2026-0002", "MIN2026-0003"]
    frozen_clock.set(frozen_clock.now.replace(year=2027, month=1, day=5))
    case = open_case(db.session, clock, "minimal", {"amount": "1"}, CLERK)
    advance(db.session, clock, case, "submit", CLERK)
    assert case.number == "MIN2027-0001"


def test_opening_needs_a_role_that_acts_first(app, clock):
    publish_minimal(clock)
    with pytest.raises(RoleRefused):
        open_case(db.session, clock, "minimal", {"amount": "1"}, MANAGER)


@pytest.mark.parametrize("data, field", [
    ({}, "amount"), ({"amount": "-1"}, "amount"), ({"amount": "abc"}, "amount"),
    ({"amount": "1", "priority": "low"}, "priority"), ({"amount": "1", "extra": 1}, "extra"),
])
def test_opening_validates_the_data(app, clock, data, field):
    publish_minimal(clock)
    with pytest.raises(InvalidInputs) as caught:
        open_case(db.session, clock, "minimal", data, CLERK)
    assert list(caught.value.fields) == [field]
    db.session.rollback()
    assert db.session.query(Case).count() == 0


def test_lower_layers_never_import_flask_or_web():
    root = Path(__file__).resolve().parent.parent / "workflow"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("flask", "web", "flask_sqlalchemy")]
    assert offenders == []


def test_an_auditor_changes_nothing_even_holding_another_role(app, clock):
    publish_minimal(clock)
    nosy = Actor("ada", frozenset({"auditor", "clerk"}))
    with pytest.raises(RoleRefused, match="Auditors"):
        open_case(db.session, clock, "minimal", {"amount": "1"}, nosy)
    case = open_case(db.session, clock, "minimal", {"amount": "1"}, CLERK)
    assert available_actions(db.session, clock, case, nosy) == []
    with pytest.raises(RoleRefused, match="Auditors"):
        advance(db.session, clock, case, "submit", nosy)
