"""`audit verify` beyond the chain: each case's data replayed from its history, and `audit checkpoint`,
the chain heads signed under a key the database never holds.

The tampering is the owner's (`owner_engine`): the service's own role may not change history at all.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal import set_staff
from workflow.engine import Actor, advance, audit, open_case
from workflow.engine.history import compute_hash
from workflow.engine.publishing import workflow_of
from workflow.models import Case, HistoryEntry

from .helpers import minimal_text, publish_minimal
from .paths import Step, take

KEY = "a key that lives only outside the database"
CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))

# The minimal workflow with a computed field and a self-loop that sets a case field.
WITH_COMPUTED = {
    "  priority:\n": "  doubled: {type: decimal, computed: \"amount * 2\", label: {en: Doubled, zh: 双倍}}\n"
                     "  priority:\n",
    "  - name: approve\n": """  - name: revalue
    from: submitted
    to: submitted
    roles: [clerk]
    label: {en: Change the amount, zh: 更改金额}
    inputs:
      - field: amount
      - name: why
        type: text
        required: false
        label: {en: Why, zh: 原因}
  - name: approve
""",
}

EMPLOYEE, SUPERVISOR, HEAD, HR = "zhang", "li", "wang", "hr"
DEPARTMENT = "After-sales service"
BAD_MONTH = {"left_post": 1, "needed_support": 1}             # 55
LATE_REPAIRS = {"left_post": 1, "phone_off_occasionally": 1}  # 72


# ------------------------------------------------------------------------------------------ helpers


def verify(runner, *args: str):
    return runner.invoke(args=["audit", "verify", *args])


def broken(result) -> list[str]:
    return [line.removeprefix("BROKEN: ") for line in result.output.splitlines() if line.startswith("BROKEN: ")]


def set_data(owner_engine: sa.Engine, case_id: int, **changes: Any) -> None:
    """The owner edits cases.data (None removes a field): no trigger guards the case row."""
    db.session.rollback()
    with owner_engine.begin() as conn:
        data = conn.scalar(sa.select(Case.data).where(Case.id == case_id))
        data = {k: v for k, v in {**data, **changes}.items() if v is not None}
        conn.execute(sa.update(Case.__table__).where(Case.id == case_id).values(data=data))


def rewrite_with_chain(owner_engine: sa.Engine, case_id: int, seq: int, **changes: Any) -> None:
    """The owner rewrites one history row and recomputes every hash from it on: the chain holds again."""
    db.session.rollback()
    table = HistoryEntry.__table__
    with owner_engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER" if postgres
                             else "DROP TRIGGER history_no_update"))
        rows = conn.execute(sa.select(table).where(table.c.case_id == case_id).order_by(table.c.seq)).all()
        prev = None
        for row in rows:
            values = dict(row._mapping)
            if row.seq == seq:
                values.update(changes)
            if prev is not None:
                values["prev_hash"] = prev
            if row.seq >= seq:
                values["hash"] = compute_hash(values["prev_hash"], HistoryEntry(**values))
                conn.execute(sa.update(table).where(table.c.id == row.id).values(
                    {k: v for k, v in values.items() if k != "id"}))
            prev = values["hash"]
        # ... and moves the chain head kept on the case row to match, or verify would name the case.
        conn.execute(sa.update(Case.__table__).where(Case.__table__.c.id == case_id).values(last_hash=prev))
        if postgres:
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))


def checkpoint(runner, path: Path):
    return runner.invoke(args=["audit", "checkpoint", "--out", str(path)])


@pytest.fixture
def key(app):
    app.config["AUDIT_KEY"] = KEY
    return KEY


@pytest.fixture
def revalued(app, clock, frozen_clock):
    """A minimal case whose amount (and so its computed field) changed twice on the way."""
    publish_minimal(clock, minimal_text(**WITH_COMPUTED))
    case = open_case(db.session, clock, "minimal", {"amount": "100"}, CLERK)
    for action, inputs in (("submit", {"priority": "urgent"}), ("revalue", {"amount": "150", "why": "typo"}),
                           ("revalue", {"amount": "175.5"})):
        frozen_clock.advance(minutes=3)
        advance(db.session, clock, case, action, CLERK, inputs)
    frozen_clock.advance(minutes=3)
    advance(db.session, clock, case, "approve", MANAGER)
    db.session.commit()
    return case


@pytest.fixture
def appraisal(api):
    for name, role in ((EMPLOYEE, "employee"), (SUPERVISOR, "supervisor"), (HEAD, "dept_head"), (HR, "hr")):
        api.user(name, role)
    set_staff(db.session, EMPLOYEE, DEPARTMENT, "field_service", Decimal("1500"), SUPERVISOR)
    set_staff(db.session, HEAD, DEPARTMENT, "field_service", Decimal("1500"), HR)
    db.session.commit()
    return api


def scored_sheet(api, period: str, occurrences: dict[str, int]) -> dict[str, Any]:
    """zhang's sheet for `period`, taken up to the department head's review of its score."""
    case = api.open(SUPERVISOR, "appraisal", {"employee": EMPLOYEE, "supervisor": SUPERVISOR,
                                              "department": DEPARTMENT, "period": period, "template": "field_service"})
    for step in (
        Step(SUPERVISOR, "agree_goals", {"goals": "Repairs within 7 days"}, "agreement"),
        Step(EMPLOYEE, "sign_agreement", {}, "countersignature"),
        Step(SUPERVISOR, "countersign_agreement", {}, "in_progress"),
        Step(EMPLOYEE, "self_report", {"work_summary": "31 visits"}, "scoring"),
        Step(SUPERVISOR, "score", {"sheet": {"occurrences": occurrences, "adjustments": []}}, "dept_review"),
    ):
        case = take(api, case, step)
    return case


# ------------------------------------------------------------------------------------------ replay


def test_replaying_the_moves_rebuilds_the_data_inputs_and_computed_fields(revalued, clock, runner):
    assert revalued.data == {"amount": "175.5", "doubled": "351.0", "priority": "urgent"}
    moves = db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == revalued.id)
                               .order_by(HistoryEntry.seq)).all()
    definition = workflow_of(revalued.version).definition
    assert audit.replay(db.session, clock, definition, moves) == revalued.data
    # The row inputs that do not land on the case (`why`) stay out of it.
    assert moves[2].inputs == {"amount": "150", "why": "typo"}
    result = verify(runner)
    assert result.exit_code == 0 and "OK: 1 case histories verified" in result.output, result.output


@pytest.mark.parametrize("changes, field, shown", [
    ({"amount": "17.55"}, "amount", '"17.55", its history gives "175.5"'),
    ({"doubled": "1"}, "doubled", '"1", its history gives "351.0"'),
    ({"priority": None}, "priority", 'absent, its history gives "urgent"'),
    ({"approved_by": "mike"}, "approved_by", '"mike", its history gives absent'),
])
def test_an_edited_case_field_is_named_with_the_case(revalued, owner_engine, runner, changes, field, shown):
    set_data(owner_engine, revalued.id, **changes)
    result = verify(runner)
    assert result.exit_code == 1
    assert broken(result) == [f"case {revalued.id}, seq 5: cases.data field {field!r} is {shown}"]


def test_a_raised_total_score_is_caught(appraisal, owner_engine, runner):
    sheet = scored_sheet(appraisal, "2026-10", LATE_REPAIRS)
    assert (sheet["data"]["total_score"], sheet["data"]["grade"]) == ("72", "c")
    assert verify(runner).exit_code == 0
    set_data(owner_engine, sheet["id"], total_score="98")
    result = verify(runner)
    assert result.exit_code == 1
    assert broken(result) == [f"case {sheet['id']}, seq 6: cases.data field 'total_score' is \"98\", "
                              f"its history gives \"72\""]


def test_a_flag_computed_from_earlier_months_is_checked_while_those_months_are_settled(
        appraisal, owner_engine, runner, frozen_clock):
    """Three months below 60 in a row: the third sheet flags a performance report. Scored in order, with
    nothing of zhang's moving after November's score, the flag is recomputed, so a cleared one shows."""
    for period in ("2026-09", "2026-10"):
        scored_sheet(appraisal, period, BAD_MONTH)
        frozen_clock.advance(minutes=1)
    november = scored_sheet(appraisal, "2026-11", BAD_MONTH)
    assert november["data"]["performance_report_required"] is True
    assert verify(runner).exit_code == 0
    set_data(owner_engine, november["id"], performance_report_required=False)
    assert broken(verify(runner)) == [f"case {november['id']}, seq 6: cases.data field "
                                      f"'performance_report_required' is false, its history gives true"]


def test_a_flag_computed_from_earlier_months_is_taken_as_stored_once_they_moved_later(
        appraisal, owner_engine, runner, frozen_clock):
    """November is scored first, when no earlier sheet exists: no flag. September and October are scored
    later; recomputed today November would be flagged, but its history is honest: no break."""
    november = scored_sheet(appraisal, "2026-11", BAD_MONTH)
    assert "performance_report_required" not in november["data"]
    for period in ("2026-10", "2026-09"):
        frozen_clock.advance(minutes=1)
        scored_sheet(appraisal, period, BAD_MONTH)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    # What the flag is computed from is still checked: November's own total.
    set_data(owner_engine, november["id"], total_score="91")
    assert broken(verify(runner)) == [f"case {november['id']}, seq 6: cases.data field 'total_score' is \"91\", "
                                      f"its history gives \"55\""]


def test_which_computed_fields_read_other_cases(app):
    from tests.paths import definition_of

    assert audit.reads_other_cases(definition_of("appraisal")) == {"performance_report_required"}
    assert audit.series_replayable(definition_of("appraisal"))
    assert audit.reads_other_cases(definition_of("complaint")) == frozenset()


# ------------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("settings, refusal", [
    ({}, "no audit key: set AUDIT_KEY, or AUDIT_KEY_FILE"),
    ({"AUDIT_KEY": KEY, "AUDIT_KEY_FILE": "KEYFILE"}, "set AUDIT_KEY or AUDIT_KEY_FILE, not both"),
    ({"AUDIT_KEY_FILE": "missing"}, "No such file"),
    ({"AUDIT_KEY": "short"}, "at least 16 bytes"),
])
def test_checkpoint_refuses_to_run_without_one_good_key(revalued, app, runner, tmp_path, settings, refusal):
    (tmp_path / "key").write_text(KEY)
    files = {"KEYFILE": str(tmp_path / "key"), "missing": str(tmp_path / "missing")}
    app.config.update({name: files.get(value, value) for name, value in settings.items()})
    out = tmp_path / "heads.json"
    result = checkpoint(runner, out)
    assert result.exit_code == 1 and refusal in result.output, result.output
    assert not out.exists()


def test_a_checkpoint_holds_every_chain_head_signed(revalued, app, runner, tmp_path, frozen_clock):
    publish_minimal(app.extensions["workflow_clock"], minimal_text(**WITH_COMPUTED))
    other = open_case(db.session, app.extensions["workflow_clock"], "minimal", {"amount": "3"}, CLERK)
    db.session.commit()
    out = tmp_path / "heads.json"
    (tmp_path / "key").write_text(KEY + "\n")
    app.config["AUDIT_KEY_FILE"] = str(tmp_path / "key")  # the trailing newline of the file is not the key's
    result = runner.invoke(args=["audit", "checkpoint", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    heads = {case_id: (seq, digest) for case_id, seq, digest in document["heads"]}
    last = db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == revalued.id)
                              .order_by(HistoryEntry.seq.desc())).first()
    assert heads == {revalued.id: (5, last.hash), other.id: (1, heads[other.id][1])}
    assert document["at"] == frozen_clock.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    result = verify(runner, "--checkpoint", str(out))
    assert result.exit_code == 0, result.output
    assert "the 2 case chain heads of the checkpoint of" in result.output


@pytest.mark.parametrize("forge", ["edit a head", "drop a head", "another key"])
def test_a_checkpoint_altered_or_signed_with_another_key_is_refused(revalued, app, key, runner, tmp_path, forge):
    out = tmp_path / "heads.json"
    assert checkpoint(runner, out).exit_code == 0
    if forge == "another key":
        app.config["AUDIT_KEY"] = KEY + "!"
    else:
        document = json.loads(out.read_text())
        document["heads"] = [[revalued.id, 4, document["heads"][0][2]]] if forge == "edit a head" else []
        out.write_text(json.dumps(document))
    result = verify(runner, "--checkpoint", str(out))
    assert result.exit_code == 1
    assert "signature does not hold" in result.output


def test_a_row_rewritten_with_its_chain_recomputed_passes_the_chain_but_not_the_checkpoint(
        revalued, key, owner_engine, runner, tmp_path):
    out = tmp_path / "heads.json"
    assert checkpoint(runner, out).exit_code == 0
    rewrite_with_chain(owner_engine, revalued.id, 4, comment="approved by phone")
    assert verify(runner).exit_code == 0  # the chain alone cannot tell
    result = verify(runner, "--checkpoint", str(out))
    assert result.exit_code == 1
    assert broken(result) == [f"case {revalued.id}, seq 5: the history up to this row was rewritten since the "
                              f"checkpoint of {json.loads(out.read_text())['at']}"]


def test_a_case_gone_since_the_checkpoint_is_named(revalued, key, owner_engine, runner, tmp_path):
    out = tmp_path / "heads.json"
    assert checkpoint(runner, out).exit_code == 0
    db.session.rollback()
    with owner_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER history_no_delete"))
        for table in ("history", "timers", "notifications", "case_keys"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE case_id = :case"), {"case": revalued.id})
        conn.execute(sa.text("DELETE FROM cases WHERE id = :case"), {"case": revalued.id})
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
    assert verify(runner).output.startswith("OK: 0 case histories verified")  # nothing left to disagree
    result = verify(runner, "--checkpoint", str(out))
    assert result.exit_code == 1
    assert broken(result) == [f"case {revalued.id}, seq 5: the case has vanished since the checkpoint of "
                              f"{json.loads(out.read_text())['at']}"]


def test_rows_added_after_the_checkpoint_are_no_break(revalued, app, key, runner, tmp_path, frozen_clock):
    out = tmp_path / "heads.json"
    assert checkpoint(runner, out).exit_code == 0
    clock = app.extensions["workflow_clock"]
    frozen_clock.advance(hours=1)
    open_case(db.session, clock, "minimal", {"amount": "4"}, CLERK)
    db.session.commit()
    result = verify(runner, "--checkpoint", str(out))
    assert result.exit_code == 0, result.output
    assert "OK: 2 case histories verified" in result.output


def test_no_checkpoint_is_written_over_a_broken_history(revalued, key, owner_engine, runner, tmp_path):
    set_data(owner_engine, revalued.id, amount="1")
    out = tmp_path / "heads.json"
    result = checkpoint(runner, out)
    assert result.exit_code == 1 and "no checkpoint written" in result.output
    assert not out.exists() and not Path(f"{out}.partial").exists()
