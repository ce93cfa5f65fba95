"""Drill 1, the fight: many clients send conflicting actions at the same 20 cases against
`gunicorn --workers 2` on PostgreSQL; afterwards every answer must match the history exactly."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from .harness import (
    SECONDS,
    Load,
    audit_verify,
    check_answers,
    check_cases,
    check_ledger,
    drill_definition,
    load_history,
    report,
    setting,
    summary,
)

pytestmark = pytest.mark.drill
CLIENTS = setting("DRILL_CLIENTS", 32, 16)
CASES = 20


def test_clients_fighting_over_twenty_cases_lose_nothing(pg, tokens, open_drill_cases, spawn, seed):
    definition = drill_definition()
    cases = open_drill_cases(CASES)
    server = spawn.server()
    server.start()
    load = Load(server.port, tokens, cases, definition, CLIENTS, seed)
    started = time.monotonic()
    load.run(SECONDS)
    elapsed = time.monotonic() - started
    server.stop()
    sent = load.all()
    print(summary(sent, elapsed))

    history = load_history(pg)
    problems = (check_answers(sent, answers_may_be_lost=False) + check_ledger(sent, history)
                + check_cases(pg, history, definition) + audit_verify(pg) + server.tracebacks())
    assert not problems, report(problems)

    # The drill drilled: actions were taken, and both kinds of conflict happened.
    outcomes = Counter(s.code or s.status for s in sent if s.kind == "act")
    assert outcomes[200] >= CASES and outcomes["wrong_state"] and outcomes["stale_version"], outcomes
