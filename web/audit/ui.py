"""The audit area's pages: the search over every history (with its export and the last verification), the
replay of a case as of a moment with its slider, the access log, and the reports (time in state, on time and
late, cases opened and closed per week, and the way to the domain's monthly reports). Who sees each is the
policy's answer."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from workflow import diagram
from workflow.engine import WorkflowError, audit, policy, time_in_state, trail, workflow_of
from workflow.engine.replay import Replayed, moments
from workflow.reports import weekly

from .. import safe_csv
from ..extensions import clock, db_session
from ..ui import nav
from ..ui.blueprint import bp
from ..ui.errors import page
from ..ui.present import N_, label, lang, last_month, span, when
from . import common
from .views import replayed

MAX_SLIDER = 500  # moments on a replay's slider; a longer history shows its last ones


def _may_audit() -> bool:
    return bool(policy.may_audit(current_user.actor))


def _may_read_log() -> bool:
    return bool(policy.may_read_access_log(current_user.actor))


nav.add("ui.audit_search", N_("Audit"), _may_audit, prefix="ui.audit_")
nav.add("ui.audit_access_log", N_("Access log"), _may_read_log)


def _args() -> dict[str, Any]:
    """The search's query arguments as given, bounded: what the form shows again and the links carry."""
    names = (*common.FILTERS, "since", "until", "order")
    return {name: request.args.get(name, "")[:common.MAX_MOMENT * 4] for name in names if request.args.get(name)}


def _search() -> trail.Search:
    return trail.check_search(db_session(), common.search_of(request.args))


def _refused(exc: WorkflowError) -> str:
    return "; ".join(f"{name}: {label(messages)}" for name, messages in exc.fields.items()) or label(exc.messages)


def _report(read_args: Callable[[], tuple[Any, ...]]) -> Callable[[Callable[..., Any]], Callable[[], Any]]:
    """A report of the audit area: for auditors only, its query arguments read by `read_args` and given to the
    view; arguments it refuses answer a 422 page that names them."""
    def wrap(view: Callable[..., Any]) -> Callable[[], Any]:
        @functools.wraps(view)
        def answer() -> Any:
            if not _may_audit():
                abort(403)
            try:
                args = read_args()
            except WorkflowError as exc:
                return page(422, _refused(exc))
            return view(*args)
        return answer
    return wrap


@bp.get("/audit")
def audit_search() -> str | Response:
    if not _may_audit():
        abort(403)
    args = _args()
    try:
        search = _search()
        limit = common.read_limit(request.args.get("limit"))
        result = trail.search_history(db_session(), current_user.actor, search,
                                      common.read_cursor(request.args.get("cursor")), limit)
    except WorkflowError as exc:
        html = render_template("audit/search.html", rows=[], args=args, error=_refused(exc), next_url=None,
                               export={}, run=audit.last_run(db_session()), workflows=_workflows())
        return Response(html, status=422)
    cursor = common.make_cursor(result.after)
    next_url = url_for("ui.audit_search", **args, cursor=cursor) if cursor else None
    # An export and its manifest must see the same rows: both carry the same `until`.
    fixed: dict[str, Any] = {**args, "until": args.get("until") or clock().now().isoformat()}
    export = {"jsonl": url_for("ui.audit_export", fmt="jsonl", **fixed),
              "csv": url_for("ui.audit_export", fmt="csv", **fixed),
              "manifest": url_for("ui.audit_manifest", **fixed)}
    return render_template("audit/search.html", rows=result.rows, args=args, error=None, next_url=next_url,
                           export=export, run=audit.last_run(db_session()), workflows=_workflows(),
                           replay_url=_replay_url)


def _workflows() -> list[str]:
    from workflow.engine import latest_versions

    return [v.key for v in latest_versions(db_session())]


def _replay_url(row: dict[str, Any]) -> str:
    return url_for("ui.audit_replay", case_id=row["case_id"], as_of=row["at"].isoformat())


@bp.get("/audit/export.<any(csv, jsonl):fmt>")
def audit_export(fmt: str) -> Response:
    if not _may_audit():
        abort(403)
    try:
        search = _search()
    except WorkflowError as exc:
        return page(422, _refused(exc))
    return common.export(current_user.actor, search, fmt)


@bp.get("/audit/manifest.json")
def audit_manifest() -> Response:
    if not _may_audit():
        abort(403)
    key = common.audit_key()
    if key is None:
        return page(409, _("No audit key is set (AUDIT_KEY or AUDIT_KEY_FILE): a manifest cannot be signed."))
    try:
        search = _search()
    except WorkflowError as exc:
        return page(422, _refused(exc))
    manifest = trail.Manifest()
    for item in trail.export_records(db_session(), current_user.actor, search):
        manifest.add(item)
    return Response(trail.manifest_text(manifest, clock().now(), search.described(), key),
                    mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=history-export.manifest.json"})


@bp.get("/audit/cases/<id:case_id>")
def audit_replay(case_id: int) -> str | Response:
    if not _may_audit():
        abort(403)
    case = policy.visible_case(db_session(), current_user.actor, case_id)  # NotFound: the 404 page
    stops = moments(db_session(), case.id)[-MAX_SLIDER:]
    raw = request.args.get("as_of")
    step = request.args.get("step", "")
    if step.isdigit() and int(step) < len(stops):  # the slider (a form without JavaScript) gives a step
        raw = stops[int(step)].isoformat()
    if not raw:
        raw = stops[-1].isoformat() if stops else clock().now().isoformat()
    try:
        replay = replayed(case, raw, current_user.actor)
    except WorkflowError as exc:
        return page(404 if exc.code == "not_found" else 422, label(exc.messages) + " " + _refused(exc))
    definition = workflow_of(case.version).definition
    position = max((i for i, m in enumerate(stops) if m <= replay.as_of), default=0)
    return render_template(
        "audit/replay.html", case=case, replay=replay, definition=definition, stops=stops, position=position,
        timers=_timer_rows(replay), fields=_fields(definition, replay), label=label, when=when,
        state_label=lambda s: label(definition.states[s].label, s) if s in definition.states else s)


def _timer_rows(replay: Replayed) -> list[dict[str, Any]]:
    rows = []
    for t in replay.timers:
        left = t.due_at - replay.as_of
        running = t.stopped_at is None
        rows.append({"name": label(t.label, t.name), "status": t.status, "started_at": t.started_at,
                     "due_at": t.due_at, "stopped_at": t.stopped_at,
                     "left": (span(left) if left.total_seconds() > 0 else "-" + span(left)) if running else ""})
    return rows


def _fields(definition: Any, replay: Replayed) -> list[tuple[str, Any]]:
    return [(label(spec.label, name) if (spec := definition.fields.get(name)) else name, value)
            for name, value in replay.data.items()]


@bp.get("/audit/access-log")
def audit_access_log() -> str | Response:
    if not _may_read_log():
        abort(403)
    try:
        before = common.read_cursor(request.args.get("cursor"))
    except WorkflowError as exc:
        return page(422, _refused(exc))
    rows = audit.access_log(db_session(), before, 51)
    more = len(rows) > 50
    rows = rows[:50]
    cursor = common.make_cursor((rows[-1].at, rows[-1].id)) if more and rows else None
    return render_template("audit/access_log.html", rows=rows, when=when,
                           next_url=url_for("ui.audit_access_log", cursor=cursor) if cursor else None)


# -- reports: time in state, as a heatmap on the workflow's diagram --------------------------------------

REPORT_DAYS = 90  # the default period: the last 90 days


def _report_args() -> tuple[Any, str, datetime, datetime]:
    """The workflow (its definition) and the period asked for; 404 for an unknown workflow, 422 for a bad period."""
    from workflow.engine import current_workflow

    keys = _workflows()
    key = request.args.get("workflow") or (keys[0] if keys else "")
    if key not in keys:
        abort(404)
    definition = current_workflow(db_session(), key)[1].definition
    if not policy.may_read_workflow_report(current_user.actor, definition):
        abort(403)
    now = clock().now()
    raw_until = request.args.get("until", "")
    until = common.parse_moment(raw_until, "until") or now
    if len(raw_until.strip()) == 10:  # a day from the form's date input: up to the end of that day
        until += timedelta(days=1)
    since = common.parse_moment(request.args.get("since"), "since") or until - timedelta(days=REPORT_DAYS)
    if until < since:
        raise common.refuse("until", "is before since", "早于起始时间")
    return definition, key, since, until


def _final(definition: Any) -> frozenset[str]:
    return frozenset(name for name, state in definition.states.items() if state.final)


def _figures(definition: Any, key: str, since: datetime, until: datetime) -> list[time_in_state.StateTime]:
    return time_in_state.time_in_state(db_session(), current_user.actor, key, list(definition.states),
                                       _final(definition), since, until)


@bp.get("/audit/reports/time-in-state")
@_report(_report_args)
def audit_time_in_state(definition: Any, key: str, since: datetime, until: datetime) -> str | Response:
    args = {"workflow": key, "since": since.isoformat(), "until": until.isoformat()}
    return render_template(
        "audit/time_in_state.html", figures=_figures(definition, key, since, until), workflows=_workflows(),
        key=key, since=since, until=until, args=args, span=span, when=when,
        since_day=clock().local(since).date(), until_day=clock().local(until - timedelta(microseconds=1)).date(),
        state_label=lambda s: label(definition.states[s].label, s) if s in definition.states else s)


@bp.get("/audit/reports/time-in-state.svg")
@_report(_report_args)
def audit_time_in_state_svg(definition: Any, key: str, since: datetime, until: datetime) -> Response:
    figures = _figures(definition, key, since, until)
    return Response(diagram.to_svg(heatmap(definition, figures, lang())), mimetype="image/svg+xml")


@bp.get("/audit/reports/time-in-state.csv")
@_report(_report_args)
def audit_time_in_state_csv(definition: Any, key: str, since: datetime, until: datetime) -> Response:
    rows: list[list[object]] = [["state", "stays", "median_hours", "p90_hours"]]
    rows += [[f.state, f.stays, round(f.median.total_seconds() / 3600, 2), round(f.p90.total_seconds() / 3600, 2)]
             for f in _figures(definition, key, since, until)]
    return Response(safe_csv.to_text(rows, bom=True), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=time-in-state-{key}.csv"})


def _shade(share: float) -> str:
    """White for no time, through amber, to red for the state where the median stay is longest."""
    low, high = (255, 255, 255), (220, 38, 38)
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(low, high, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def heatmap(definition: Any, figures: list[time_in_state.StateTime], language: str) -> Any:
    """The workflow's diagram, each state filled by its median stay and labelled with median and p90."""
    graph = diagram.build(definition, lang=language)
    longest = max((f.median.total_seconds() for f in figures), default=0) or 1
    for f in figures:
        for node in graph.get_node(diagram._q(f.state)):
            text = label(definition.states[f.state].label, f.state)
            if f.stays:
                text += f"\n{_('Median')} {span(f.median)} · p90 {span(f.p90)} · n={f.stays}"
            node.set("label", diagram._q(text))
            node.set("fillcolor", diagram._q(_shade(f.median.total_seconds() / longest)))
    return graph


# -- reports: the SLA of a workflow's month, as a chart -------------------------------------------------


def _sla_args() -> tuple[Any, str, str]:
    from workflow.engine import current_workflow
    from workflow.engine.periods import parse_period

    keys = _workflows()
    key = request.args.get("workflow") or (keys[0] if keys else "")
    if key not in keys:
        abort(404)
    definition = current_workflow(db_session(), key)[1].definition
    if not policy.may_read_workflow_report(current_user.actor, definition):
        abort(403)
    month = request.args.get("month") or clock().local(clock().now()).strftime("%Y-%m")
    parse_period(month, "month")  # InvalidPeriod (a WorkflowError) for anything but a month of WORKFLOW_YEARS
    return definition, key, month


def _sla(key: str, month: str) -> Any:
    from workflow.engine.sla import monthly_figures

    return monthly_figures(db_session(), key, month, clock().tz)


@bp.get("/audit/reports/sla")
@_report(_sla_args)
def audit_sla(definition: Any, key: str, month: str) -> str | Response:
    args = {"workflow": key, "month": month}
    return render_template("audit/sla.html", figures=_sla(key, month), key=key, month=month, args=args,
                           workflows=_workflows(), when=when,
                           state_label=lambda s: label(definition.states[s].label, s) if s in definition.states else s)


@bp.get("/audit/reports/sla.svg")
@_report(_sla_args)
def audit_sla_svg(_definition: Any, key: str, month: str) -> Response:
    from .charts import pygal

    figures = _sla(key, month)
    # No script (js=[]): the chart is a picture, printed as it is shown, and nothing is loaded from elsewhere.
    chart = pygal.Bar(js=[], width=640, height=320, legend_at_bottom=True, title=f"{key} · {month}")
    chart.x_labels = [_("Cases"), _("Timers")]
    chart.add(_("On time"), [figures.cases_on_time, figures.timers_on_time])
    chart.add(_("Late"), [figures.cases_late, figures.timers_late])
    return Response(_picture(chart), mimetype="image/svg+xml")


@bp.get("/audit/reports/sla.csv")
@_report(_sla_args)
def audit_sla_csv(_definition: Any, key: str, month: str) -> Response:
    f = _sla(key, month)
    rows: list[list[object]] = [["what", "on_time", "late"], ["cases", f.cases_on_time, f.cases_late],
                                ["timers", f.timers_on_time, f.timers_late], [], ["late_in_state", "timers"]]
    rows += [[state, n] for state, n in sorted(f.late_by_state.items())]
    return Response(safe_csv.to_text(rows, bom=True), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=sla-{key}-{month}.csv"})


# -- reports: cases opened and closed per week, as a chart -----------------------------------------------


def _weekly_args() -> tuple[Any, str, datetime, datetime]:
    """As the time-in-state report's, and a period of at most weekly.MAX_WEEKS weeks (else the 422 page)."""
    definition, key, since, until = _report_args()
    weekly.weeks_of(since, until, clock().tz)
    return definition, key, since, until


def _weeks(definition: Any, key: str, since: datetime, until: datetime) -> list[weekly.Week]:
    return weekly.opened_closed(db_session(), current_user.actor, key, _final(definition), since, until,
                                clock().tz)


def _picture(chart: Any) -> bytes:
    """A pygal chart as a picture: pygal puts its settings in an inline <script> whatever `js` says."""
    return re.sub(rb"<script[^>]*>.*?</script>", b"", chart.render(), flags=re.DOTALL)


@bp.get("/audit/reports/weekly")
@_report(_weekly_args)
def audit_weekly(definition: Any, key: str, since: datetime, until: datetime) -> str | Response:
    args = {"workflow": key, "since": since.isoformat(), "until": until.isoformat()}
    weeks = _weeks(definition, key, since, until)
    # The period as counted, widened to whole weeks: the form asks for it again as it is shown.
    return render_template("audit/weekly.html", weeks=weeks, workflows=_workflows(), key=key, args=args,
                           since_day=weeks[0].monday, until_day=weeks[-1].monday + timedelta(days=6))


@bp.get("/audit/reports/weekly.svg")
@_report(_weekly_args)
def audit_weekly_svg(definition: Any, key: str, since: datetime, until: datetime) -> Response:
    from .charts import pygal

    weeks = _weeks(definition, key, since, until)
    chart = pygal.Bar(js=[], width=800, height=360, legend_at_bottom=True, x_label_rotation=45,
                      show_minor_x_labels=False, title=key)
    chart.x_labels = [w.monday.isoformat() for w in weeks]
    chart.x_labels_major_every = max(1, len(weeks) // 13)  # about a label a month on a long period
    top = max([1, *(w.opened for w in weeks), *(w.closed for w in weeks)])
    chart.y_labels = list(range(0, top + 1, math.ceil(top / 8)))  # whole cases only
    chart.add(_("Cases opened"), [w.opened for w in weeks])
    chart.add(_("Cases closed"), [w.closed for w in weeks])
    return Response(_picture(chart), mimetype="image/svg+xml")


@bp.get("/audit/reports/weekly.csv")
@_report(_weekly_args)
def audit_weekly_csv(definition: Any, key: str, since: datetime, until: datetime) -> Response:
    rows: list[list[object]] = [["week_starting", "cases_opened", "cases_closed"]]
    rows += [[w.monday.isoformat(), w.opened, w.closed] for w in _weeks(definition, key, since, until)]
    return Response(safe_csv.to_text(rows, bom=True), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=cases-per-week-{key}.csv"})


# -- the reports area: the audit area's own reports and the domain's monthly reports the policy lets in ---


def _monthly_reports(month: str) -> dict[str, dict[str, str] | None]:
    """Last month's complaint report and service targets, each where its own slice serves it, if the
    policy lets this reader in (the slices answer that)."""
    from ..penalties.ui import may_read_report
    from ..service.ui import may_read_targets

    return {
        "complaints": {"page": url_for("ui.complaint_report_month", period=month),
                       "csv": url_for("ui.complaint_report_csv", period=month),
                       "form": url_for("ui.complaint_report_form")} if may_read_report() else None,
        "targets": {"page": url_for("ui.service_targets_month", month=month),
                    "csv": url_for("ui.service_targets_csv", month=month),
                    "form": url_for("ui.service_targets_form")} if may_read_targets() else None,
    }


@bp.get("/audit/reports")
def audit_reports() -> str:
    if not _may_audit():
        abort(403)
    month = last_month()
    return render_template("audit/reports.html", month=month, **_monthly_reports(month))


def _case_panel(case: Any) -> dict[str, Any]:
    """The case page's word on its history: whether the chain verifies, and for auditors the replay."""
    status = audit.chain_status(db_session(), clock(), case.id)
    auditing = _may_audit()
    if auditing:
        common.log_look(current_user.actor, "case", case.id)
    return {"chain": status, "replay": url_for("ui.audit_replay", case_id=case.id) if auditing else None}


nav.add_case_panel("audit/case_panel.html", _case_panel)
