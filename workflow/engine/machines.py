"""One `transitions` state machine per published definition version, built once and cached.

Cases are never attached to a machine: a light proxy carrying the state is moved through
`machine.events[action].trigger(proxy)`, as the transitions FAQ recommends for many models.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from transitions import Machine, MachineError

from ..definitions import Definition, load_text


@dataclass
class _StateHolder:
    state: str


@dataclass(frozen=True)
class Workflow:
    """A parsed definition version with its state machine."""

    version_id: int
    definition: Definition
    machine: Machine

    def move(self, state: str, action: str) -> str:
        """The state `action` leads to from `state`; MachineError if the machine does not allow it."""
        holder = _StateHolder(state)
        self.machine.events[action].trigger(holder)
        return holder.state


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


@lru_cache(maxsize=256)
def workflow_for(version_id: int, source: str, key: str) -> Workflow:
    """The cached Workflow of a version. A version's source never changes, so caching by id is safe."""
    definition = load_text(source, filename=f"{key} (version {version_id})", expected_key=key)
    return Workflow(version_id, definition, build_machine(definition))


__all__ = ["MachineError", "Workflow", "build_machine", "workflow_for"]
