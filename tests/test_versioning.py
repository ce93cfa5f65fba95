"""Versioning: publishing a changed definition makes a new version; cases keep the one they started on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from web.extensions import db
from workflow.definitions import shipped_files
from workflow.definitions.scoresheet import shipped_scoresheets
from workflow.engine import Actor, advance, open_case
from workflow.models import Case, WorkflowVersion

from .helpers import minimal_text, publish_minimal

CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))

# Version 2 replaces the manager's approval with a two-step review: a different route.
V2 = minimal_text(**{
    "  approved: {final: true, label: {en: Approved, zh: 已批准}}":
        "  approved: {final: true, label: {en: Approved, zh: 已批准}}\n"
        "  reviewed: {label: {en: Reviewed, zh: 已复核}}",
    "  - name: approve\n    from: submitted\n    to: approved":
        "  - name: review\n    from: submitted\n    to: reviewed\n    roles: [manager]\n"
        "    label: {en: Review, zh: 复核}\n  - name: approve\n    from: reviewed\n    to: approved",
})


def versions(key: str) -> list[tuple[int, str]]:
    return [(v.version, v.sha256) for v in db.session.scalars(
        sa.select(WorkflowVersion).where(WorkflowVersion.key == key).order_by(WorkflowVersion.version))]


def test_load_publishes_each_shipped_definition_once(runner):
    first = runner.invoke(args=["workflow", "load", "--by", "olga"])
    assert first.exit_code == 0, first.output
    assert sorted(first.output.split("\n")[:-1]) == sorted(
        [f"{f.stem}: version 1 published" for f in shipped_files()]
        + [f"score sheet {key}: version 1 published" for key in shipped_scoresheets()])
    again = runner.invoke(args=["workflow", "load"])
    assert again.exit_code == 0
    assert "complaint: version 1 unchanged" in again.output
    assert len(versions("complaint")) == 1
    assert db.session.scalar(sa.select(WorkflowVersion.published_by).limit(1)) == "olga"
    assert db.session.scalar(sa.select(WorkflowVersion.reason).where(WorkflowVersion.key == "complaint")) == (
        "loaded from complaint.yaml")


def test_a_changed_file_becomes_version_2_and_version_1_stays_as_it_was(runner, tmp_path: Path):
    path = tmp_path / "minimal.yaml"
    path.write_text(minimal_text(), "utf-8")
    assert runner.invoke(args=["workflow", "load", str(path)]).output == "minimal: version 1 published\n"
    v1 = db.session.scalar(sa.select(WorkflowVersion).where(WorkflowVersion.key == "minimal"))
    v1_source, v1_sha = v1.source, v1.sha256
    path.write_text(V2, "utf-8")
    assert runner.invoke(args=["workflow", "load", str(path), "--reason", "48 h → 36 h"]).output == (
        "minimal: version 2 published\n")
    db.session.expire_all()
    assert [v for v, _ in versions("minimal")] == [1, 2]
    assert db.session.scalar(sa.select(WorkflowVersion.reason).where(WorkflowVersion.version == 2)) == "48 h → 36 h"
    assert (v1.source, v1.sha256) == (v1_source, v1_sha)


def test_a_bad_file_is_never_published_nor_its_valid_neighbours(runner, tmp_path: Path):
    (tmp_path / "minimal.yaml").write_text(minimal_text(), "utf-8")
    broken = minimal_text(**{"key: minimal": "key: broken", "to: approved": "to: nowhere"})
    (tmp_path / "broken.yaml").write_text(broken, "utf-8")
    result = runner.invoke(args=["workflow", "load", str(tmp_path)])
    assert result.exit_code == 1
    assert "broken.yaml:" in result.output and "unknown_state" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkflowVersion)) == 0


def test_a_case_started_on_version_1_finishes_on_version_1(app, clock):
    publish_minimal(clock)
    old = open_case(db.session, clock, "minimal", {"amount": "10"}, CLERK)
    advance(db.session, clock, old, "submit", CLERK)
    publish_minimal(clock, V2)
    new = open_case(db.session, clock, "minimal", {"amount": "10"}, CLERK)
    advance(db.session, clock, new, "submit", CLERK)
    db.session.commit()

    assert (old.version.version, new.version.version) == (1, 2)
    advance(db.session, clock, old, "approve", MANAGER)  # version 1's route: straight to approved
    advance(db.session, clock, new, "review", MANAGER)   # version 2's route
    advance(db.session, clock, new, "approve", MANAGER)
    db.session.commit()
    db.session.expire_all()
    rows = {c.id: (c.version.version, c.state) for c in db.session.scalars(sa.select(Case))}
    assert rows == {old.id: (1, "approved"), new.id: (2, "approved")}


def test_publishing_the_same_text_again_changes_nothing(app, clock):
    first = publish_minimal(clock)
    second = publish_minimal(clock)
    assert first.id == second.id
    assert [v for v, _ in versions("minimal")] == [1]
