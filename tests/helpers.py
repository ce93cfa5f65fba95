"""Small builders shared by the engine tests: the minimal definition, published under a given text."""

from __future__ import annotations

from pathlib import Path

from web.extensions import db
from workflow.engine import Actor, advance, open_case, publish_definition

MINIMAL = Path(__file__).parent / "valid_definitions" / "minimal.yaml"
# Transitions to put before the minimal workflow's `approve`: a self-loop, where a clerk re-sets the
# priority of a submitted request. Deleting its last history row leaves the state as it was, which is
# what the history checks must still catch.
SELF_LOOP = """  - name: reprioritise
    from: submitted
    to: submitted
    roles: [clerk]
    label: {en: Change the priority, zh: 更改优先级}
    inputs:
      - field: priority
  - name: approve
"""


def minimal_text(**replacements: str) -> str:
    text = MINIMAL.read_text("utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def publish_minimal(clock, text: str | None = None):
    version, _ = publish_definition(db.session, text or minimal_text(), "minimal.yaml", "tests", clock.now(), "minimal")
    db.session.commit()
    return version


MINIMAL_CLERK = Actor("carol", frozenset({"clerk"}))


def submit_minimal(clock, count: int) -> list[int]:
    """`count` minimal cases in 'submitted', their review timers running from now (committed)."""
    ids, session = [], db.session()
    for _ in range(count):
        case = open_case(session, clock, "minimal", {"amount": "1"}, MINIMAL_CLERK)
        advance(session, clock, case, "submit", MINIMAL_CLERK)
        ids.append(case.id)
    session.commit()
    return ids
