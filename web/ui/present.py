"""Showing definitions, values, timers and history to a person: labels in their language, local times."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from workflow import diagram
from workflow.definitions import Definition, FieldSpec
from workflow.definitions.schema import NOTICES
from workflow.engine import Clock, numbering
from workflow.engine.timers import timer_status
from workflow.models import Case, HistoryEntry, Timer, WorkflowVersion

Label = dict[str, str]
SYSTEM_ACTOR = "system"


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; it is translated where it is shown."""
    return message


def clock() -> Clock:
    app_clock: Clock = current_app.extensions["workflow_clock"]
    return app_clock


def last_month() -> str:
    """The month a monthly report's form offers first: the last one that has ended, as YYYY-MM."""
    first = clock().local(clock().now()).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def lang() -> str:
    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"


def label(text: Label | None, fallback: str = "") -> str:
    """A definition's {en, zh} label in the reader's language."""
    if not text:
        return fallback
    return text.get(lang()) or text.get("en") or fallback


def when(moment: datetime | None) -> str:
    """A moment as the organisation's local wall-clock time."""
    return clock().local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def span(delta: timedelta) -> str:
    """A length of time, rounded to what a person needs: 2 d 3 h, 5 h 10 min, 12 min."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)d d", n=days))
    if hours:
        parts.append(_("%(n)d h", n=hours))
    if mins and not days:
        parts.append(_("%(n)d min", n=mins))
    return " ".join(parts) or _("%(n)d min", n=0)


def actor_name(name: str) -> str:
    return _("System (timer)") if name == SYSTEM_ACTOR else name


def as_case_id(text: str) -> int | None:
    """`text` as a case id if it is one: ASCII digits that fit the id column, else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def case_name(case: Case) -> str:
    """The engine's name for the case (its number, or a provisional reference), in the reader's language."""
    return label(numbering.case_name(case))


def value_text(spec: FieldSpec | None, value: Any) -> str:
    """A stored (JSON) value as text for people."""
    if value is None or value == "":
        return "—"
    if spec is None:
        return str(value)
    if spec.type == "boolean":
        return _("Yes") if value is True else _("No") if value is False else str(value)
    if spec.type == "enum" and spec.choices and value in spec.choices:
        return label(spec.choices[value], str(value))
    if spec.type == "datetime":
        try:
            return when(datetime.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if spec.type == "decimal":
        try:
            return f"{Decimal(str(value)):,}"
        except InvalidOperation:
            return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def headline(definition: Definition, data: dict[str, Any]) -> str:
    """What names a case in a list beside its number: the fields the definition's `summary:` lists."""
    shown = [value_text(definition.fields.get(name), data.get(name)) for name in definition.summary
             if data.get(name) not in (None, "")]
    return " · ".join(shown)


# -- timers ---------------------------------------------------------------------------------------


@dataclass
class TimerView:
    name: str
    label: str
    status: str  # running | warning | overdue | due (expired, not lateness) | stopped | stopped_late
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    remaining: str = ""  # "in 5 h" or "5 h overdue", for running ones

    @property
    def running(self) -> bool:
        return self.status in ("running", "warning", "overdue", "due")


def timer_views(definition: Definition, timers: list[Timer], now: datetime) -> list[TimerView]:
    """The case's timers, running ones first (earliest due first), then the stopped ones, latest first."""
    specs = {t.name: t for t in definition.timers}
    views = []
    for timer in timers:
        spec = specs.get(timer.name)
        view = TimerView(
            timer.name, label(spec.label if spec else None, timer.name), timer_status(clock(), timer, spec),
            timer.started_at, timer.due_at, timer.stopped_at,
        )
        if view.running:
            gap = span(timer.due_at - now)
            view.remaining = _("%(time)s overdue", time=gap) if timer.due_at <= now else _("in %(time)s", time=gap)
        views.append(view)
    running = sorted((v for v in views if v.running), key=lambda v: v.due_at)
    stopped = sorted((v for v in views if not v.running), key=lambda v: v.stopped_at or v.due_at, reverse=True)
    return running + stopped


def overdue(definition: Definition, timers: list[Timer], now: datetime) -> bool:
    return any(v.status == "overdue" for v in timer_views(definition, timers, now))


def next_due(timers: list[Timer]) -> datetime | None:
    due = [t.due_at for t in timers if t.status == "running"]
    return min(due) if due else None


# -- history --------------------------------------------------------------------------------------


@dataclass
class Shown:
    """One labelled value, with the case it refers to when the field is a reference."""

    name: str
    label: str
    text: str
    multiline: bool = False
    ref: str | None = None  # the referenced case's number, for a link


@dataclass
class EntryView:
    seq: int
    at: datetime
    actor: str
    what: str
    notice: bool
    from_label: str | None
    to_label: str
    comment: str | None
    inputs: list[Shown] = field(default_factory=list)
    kind: str = "transition"
    attachment: dict[str, Any] | None = None  # the file a note row records (workflow/engine/attachments.py)


def shown(spec: FieldSpec | None, name: str, value: Any) -> Shown:
    return Shown(
        name, label(spec.label if spec else None, name), value_text(spec, value),
        multiline=bool(spec and spec.type == "text") or isinstance(value, (dict, list)),
        ref=str(value) if spec is not None and spec.ref is not None and value not in (None, "") else None,
    )


NOTICE_DETAILS = {"timer": N_("Timer"), "due_at": N_("Due"), "addressed_to": N_("Sent to"), "number": N_("No.")}


def _notice_details(definition: Definition, inputs: dict[str, Any]) -> list[Shown]:
    """The details a timer's notice records (which timer, when due, to whom), for people."""
    timers = {t.name: t.label for t in definition.timers}
    out = []
    for key, value in inputs.items():
        if value in (None, "", []):
            continue
        if key == "timer":
            text = label(timers.get(str(value)), str(value))
        elif key == "due_at":
            try:
                text = when(datetime.fromisoformat(str(value)))
            except ValueError:
                text = str(value)
        elif key == "addressed_to" and isinstance(value, list):
            text = ", ".join(label(definition.roles.get(r), r) for r in value)
        else:
            text = value_text(None, value)
        out.append(Shown(key, _(NOTICE_DETAILS[key]) if key in NOTICE_DETAILS else key, text))
    return out


def _desk_entry(entry: HistoryEntry) -> EntryView:
    """A note, an attached file or an assignment: what it says, without the state it leaves as it is."""
    inputs = entry.inputs if isinstance(entry.inputs, dict) else {}
    attachment = inputs.get("attachment") if isinstance(inputs.get("attachment"), dict) else None
    if entry.kind == "assignment":
        who = inputs.get("assignee")
        what = _("Assigned to %(who)s", who=who) if who else _("Unassigned the case")
    else:
        what = _("Attached a file") if attachment else _("Note")
    mentioned = inputs.get("mentions") if isinstance(inputs.get("mentions"), list) else []
    details = [Shown("mentions", _("Mentioned"), ", ".join(str(m) for m in mentioned))] if mentioned else []
    return EntryView(seq=entry.seq, at=entry.at, actor=actor_name(entry.actor), what=what, notice=True,
                     from_label=None, to_label="", comment=entry.comment, inputs=details, kind=entry.kind,
                     attachment=attachment)


def entry_view(definition: Definition, entry: HistoryEntry) -> EntryView:
    if getattr(entry, "kind", "transition") in ("note", "assignment"):
        return _desk_entry(entry)
    transition = definition.transitions.get(entry.action)
    specs: dict[str, FieldSpec] = dict(definition.fields)
    if transition is not None:
        specs.update({i.name: i.spec for i in transition.inputs})
    if transition is not None:
        what = label(transition.label, entry.action)
    elif entry.action == "create":
        what = _("Opened the case")
    elif entry.action in NOTICES:
        what = label(NOTICES[entry.action], entry.action)
    else:
        what = entry.action.replace("_", " ")
    def state_label(s: str) -> str:
        return label(definition.states[s].label, s) if s in definition.states else s

    notice = getattr(entry, "kind", "transition") != "transition"
    inputs = entry.inputs if isinstance(entry.inputs, dict) else {}
    details = (
        _notice_details(definition, inputs) if notice
        else [shown(specs.get(k), k, v) for k, v in inputs.items() if v not in (None, "")]
    )
    return EntryView(
        seq=entry.seq, at=entry.at, actor=actor_name(entry.actor), what=what, notice=notice,
        from_label=state_label(entry.from_state) if entry.from_state else None,
        to_label=state_label(entry.to_state), comment=entry.comment, inputs=details,
    )


# -- diagrams -------------------------------------------------------------------------------------

_svg_cache: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
_svg_lock = threading.Lock()


def diagram_svg(
    version: WorkflowVersion, definition: Definition, current: str, path: list[tuple[str | None, str, str]]
) -> Markup:
    """The case's diagram as inline SVG: Graphviz escapes every label, so the markup is safe to embed."""
    key = (version.sha256, lang(), current, tuple(path))
    with _svg_lock:
        if key in _svg_cache:
            _svg_cache.move_to_end(key)
            return _svg_cache[key]
    graph = diagram.build(definition, lang=lang(), current=current, path=path)
    svg = diagram.to_svg(graph).decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog, doctype and comments before the element
    markup = Markup(svg)  # noqa: S704 - Graphviz output, every label escaped by Graphviz
    with _svg_lock:
        _svg_cache[key] = markup
        while len(_svg_cache) > 256:
            _svg_cache.popitem(last=False)
    return markup


NOTIFICATION_KINDS = {
    "warning": N_("Due soon"), "overdue": N_("Overdue"), "reminder": N_("Reminder"), "inquiry": N_("Inquiry"),
    "fired": N_("Done by the timer"), "late": N_("Late"), "mention": N_("Mention"),
    "assignment": N_("Assignment"),
}


def kind_label(kind: str) -> str:
    return _(NOTIFICATION_KINDS[kind]) if kind in NOTIFICATION_KINDS else kind


def role_labels() -> dict[str, str]:
    """Every role's label in the reader's language: from the latest definition that declares it, else the
    engine's own (auditor, process owner, administrator)."""
    from flask import g

    from workflow.engine import latest_versions, policy, workflow_of

    from ..extensions import db_session

    # Asked by the header of every page: the versions are read once per request.
    if "role_labels" not in g:
        labels = {name: label(text, name) for name, text in policy.ENGINE_ROLE_LABELS.items()}
        for version in latest_versions(db_session()):
            for name, text in workflow_of(version).definition.roles.items():
                labels.setdefault(name, label(text, name))
        g.role_labels = labels
    return dict(g.role_labels)


def role_names(roles: Any) -> str:
    """A user's roles as people call them, for the header (never the keys)."""
    labels = role_labels()
    return ", ".join(sorted(labels.get(r, r) for r in roles))


JINJA_GLOBALS = {"label": label, "when": when, "lang": lang, "case_name": case_name, "kind_label": kind_label,
                 "role_names": role_names}
JINJA_FILTERS = {"when": when}
