"""One `transitions` state machine per published definition version, built once and cached.

Cases are never attached to a machine. The machine stays the state model (states, transitions, the
initial state); what a move asks of it, (state, action) → destination, is read from a table built
once from the machine's own transitions, rather than triggering an event on a proxy per move.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from transitions import Machine, MachineError

from ..definitions import Definition, load_text


@dataclass(frozen=True)
class Workflow:
    """A parsed definition version with its state machine."""

    version_id: int
    definition: Definition
    machine: Machine
    moves: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "moves", move_table(self.machine))

    def move(self, state: str, action: str) -> str:
        """The state `action` leads to from `state`; MachineError if the machine does not allow it."""
        dest = self.moves.get((state, action))
        if dest is None:
            raise MachineError(f"{action!r} cannot be taken from state {state!r}")
        return dest


def move_table(machine: Machine) -> dict[tuple[str, str], str]:
    """(state, action) → destination, from the machine's own events (the first one wins, as trigger does)."""
    table: dict[tuple[str, str], str] = {}
    for action, event in machine.events.items():
        for source, transitions in event.transitions.items():
            if transitions and transitions[0].dest is not None:
                table.setdefault((source, action), transitions[0].dest)
    return table


def build_machine(definition: Definition) -> Machine:
    return Machine(
        model=None,
        states=list(definition.states),
        transitions=[
            {"trigger": t.name, "source": list(t.sources), "dest": t.dest}
            for t in definition.transitions.values()
        ],
        initial=definition.initial_state,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


# A version's source never changes. Its id alone is not enough of a key for the life of a process that
# talks to more than one database (tests, benchmarks): the id with the source's SHA-256 is.
_by_id: dict[tuple[int, str], Workflow] = {}


@lru_cache(maxsize=256)
def workflow_for(version_id: int, source: str, key: str) -> Workflow:
    """The cached Workflow of a version. A version's source never changes, so caching by id is safe."""
    definition = load_text(source, filename=f"{key} (version {version_id})", expected_key=key)
    workflow = Workflow(version_id, definition, build_machine(definition))
    if len(_by_id) >= 1024:  # as bounded as workflow_for's own cache, give or take
        _by_id.clear()
    _by_id[version_id, hashlib.sha256(source.encode("utf-8")).hexdigest()] = workflow
    return workflow


def cached_workflow(version_id: int, sha256: str) -> Workflow | None:
    """The Workflow of a version already parsed in this process, without its source; None if not yet."""
    return _by_id.get((version_id, sha256))


__all__ = ["MachineError", "Workflow", "build_machine", "cached_workflow", "workflow_for"]
