"""Turning definitions, cases and history into the JSON shapes of API v1."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflow.definitions import Definition, FieldSpec, TimerSpec, TransitionSpec
from workflow.engine import Clock
from workflow.engine.sla import Figures
from workflow.engine.timers import timer_status
from workflow.models import Case, HistoryEntry, Notification, WorkflowVersion


def iso(clock: Clock, moment: datetime | None) -> str | None:
    """ISO 8601 in the organisation's time zone, with its offset."""
    return clock.local(moment).isoformat() if moment else None


def field(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "type": spec.type, "label": spec.label, "required": spec.required}
    for key in ("min", "max", "default"):
        if getattr(spec, key) is not None:
            out[key] = getattr(spec, key)
    if spec.choices:
        out["choices"] = [{"value": k, "label": v} for k, v in spec.choices.items()]
    if spec.ref:
        out["ref"] = {"workflow": spec.ref.workflow, "final": spec.ref.final}
    return out


def transition(t: TransitionSpec) -> dict[str, Any]:
    return {
        "name": t.name, "label": t.label, "from": list(t.sources), "to": t.dest, "roles": list(t.roles),
        "four_eyes": t.four_eyes,
        "inputs": [{**field(i.spec), "name": i.name, "required": i.required, "sets_case_field": i.to_case}
                   for i in t.inputs],
        "guards": [{"when": g.when, "message": g.message, "field": g.field} for g in t.guards],
    }


def timer_spec(t: TimerSpec) -> dict[str, Any]:
    return {
        "name": t.name, "label": t.label,
        "start": [{e.kind: e.name} for e in t.start], "stop": [{e.kind: e.name} for e in t.stop],
        "duration": str(t.duration) if t.duration else None,
        "deadline": t.deadline.__dict__ if t.deadline else None,
        "when": t.when, "warn_before": str(t.warn_before) if t.warn_before else None,
        "on_expiry": {
            "mark_overdue": t.mark_overdue, "notify": list(t.notify), "fire": t.fire,
            "repeat": str(t.repeat) if t.repeat else None,
        },
    }


def version_summary(clock: Clock, version: WorkflowVersion, definition: Definition) -> dict[str, Any]:
    return {
        "key": version.key, "version": version.version, "title": definition.title,
        "sha256": version.sha256, "published_by": version.published_by,
        "published_at": iso(clock, version.published_at),
    }


def workflow(clock: Clock, version: WorkflowVersion, d: Definition, openers: frozenset[str]) -> dict[str, Any]:
    return {
        **version_summary(clock, version, d),
        "source": d.source,
        "roles": [{"name": k, "label": v} for k, v in d.roles.items()],
        "opened_by": sorted(openers),
        "number": d.number.__dict__ if d.number else None,
        "fields": [field(f) for f in d.fields.values()],
        "states": [{"name": s.name, "label": s.label, "initial": s.initial, "final": s.final}
                   for s in d.states.values()],
        "transitions": [transition(t) for t in d.transitions.values()],
        "timers": [timer_spec(t) for t in d.timers],
    }


def case(clock: Clock, c: Case, d: Definition, actions: list[TransitionSpec]) -> dict[str, Any]:
    now = clock.now()
    specs = {s.name: s for s in d.timers}
    timers = [
        {"name": t.name, "label": specs[t.name].label if t.name in specs else None,
         "started_at": iso(clock, t.started_at), "due_at": iso(clock, t.due_at),
         "warn_at": iso(clock, t.warn_at), "stopped_at": iso(clock, t.stopped_at),
         "status": timer_status(t, specs.get(t.name), now)}
        for t in c.timers
    ]
    return {
        "id": c.id, "number": c.number, "workflow": c.workflow_key, "version": c.version.version,
        "state": c.state, "state_label": d.states[c.state].label, "final": d.is_final(c.state),
        "data": c.data, "lock_version": c.lock_version,
        "created_by": c.created_by, "created_at": iso(clock, c.created_at), "updated_at": iso(clock, c.updated_at),
        "available_actions": [{"name": t.name, "label": t.label, "to": t.dest} for t in actions],
        "timers": timers,
        "overdue": any(t["status"] == "overdue" for t in timers),
    }


def history_entry(clock: Clock, h: HistoryEntry) -> dict[str, Any]:
    return {
        "seq": h.seq, "kind": h.kind, "at": iso(clock, h.at), "actor": h.actor, "action": h.action,
        "from": h.from_state, "to": h.to_state, "inputs": h.inputs, "comment": h.comment,
        "prev_hash": h.prev_hash, "hash": h.hash,
    }


def notification(clock: Clock, n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "case_id": n.case_id, "message": n.message,
        "created_at": iso(clock, n.created_at), "read_at": iso(clock, n.read_at),
    }


def sla(clock: Clock, f: Figures) -> dict[str, Any]:
    return {
        "workflow": f.workflow, "month": f.month,
        "cases": {"on_time": f.cases_on_time, "late": f.cases_late},
        "timers": {"on_time": f.timers_on_time, "late": f.timers_late},
        "late_by_state": f.late_by_state,
        "late": [
            {"case_id": t.case_id, "number": t.number, "timer": t.timer, "due_at": iso(clock, t.due_at),
             "stopped_at": iso(clock, t.stopped_at), "held_by_state": t.held_by_state}
            for t in f.late
        ],
    }
