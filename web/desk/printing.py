"""The printable record of a case, for any workflow: its data as a form, then every step with who signed
it (the history's actor and time, which the chain vouches for), its comment and its inputs, then its files.
The returns inspection record (退货检验记录表) and the complaint form (客户抱怨处理表) are this record of a
returned-goods inspection and of a complaint case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine import workflow_of
from workflow.models import Case, HistoryEntry, User

from ..ui import present
from ..ui.present import label
from . import panel


@dataclass
class Signature:
    step: str
    to_state: str
    actor: str
    display: str
    at: datetime
    comment: str | None
    inputs: list[present.Shown] = field(default_factory=list)


@dataclass
class Record:
    title: str
    workflow: str
    number: str
    state: str
    version: int
    opened_by: str
    opened_at: datetime
    assignee: str | None
    data: list[present.Shown]
    signatures: list[Signature]
    notes: list[present.EntryView]
    files: list[panel.FileView]


def _display_names(session: Session, names: set[str]) -> dict[str, str]:
    if not names:
        return {}
    rows = session.execute(select(User.name, User.display_name).where(User.name.in_(names)))
    return {name: display or name for name, display in rows}


def record(session: Session, case: Case) -> Record:
    definition = workflow_of(case.version).definition
    entries = list(session.scalars(select(HistoryEntry).where(HistoryEntry.case_id == case.id)
                                   .order_by(HistoryEntry.seq)))
    names = _display_names(session, {e.actor for e in entries})
    signatures, notes = [], []
    for entry in entries:
        view = present.entry_view(definition, entry)
        if entry.kind == "transition":
            signatures.append(Signature(view.what, view.to_label, view.actor, names.get(entry.actor, view.actor),
                                        entry.at, entry.comment, view.inputs))
        elif entry.kind == "note" and entry.comment:
            notes.append(view)
    data = [present.shown(spec, name, case.data.get(name)) for name, spec in definition.fields.items()]
    return Record(
        title=label(definition.title, case.workflow_key), workflow=case.workflow_key,
        number=present.case_name(case),
        state=label(definition.states[case.state].label, case.state) if case.state in definition.states
        else case.state,
        version=case.version.version, opened_by=names.get(case.created_by, case.created_by),
        opened_at=case.created_at, assignee=case.assignee, data=data, signatures=signatures, notes=notes,
        files=panel.files(case),
    )
