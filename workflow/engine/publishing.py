"""Publishing definitions as immutable, numbered versions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import DefinitionInvalid, load_text
from ..models import WorkflowVersion
from .errors import DefinitionRejected, NotFound
from .machines import Workflow, cached_workflow, workflow_for


def publish_definition(
    session: Session, source: str, filename: str, actor: str, now: datetime, expected_key: str | None = None,
    reason: str | None = None,
) -> tuple[WorkflowVersion, bool]:
    """Publish `source` as the next version of its workflow unless it equals the latest one.

    Returns (version, created). A definition with problems is refused whole and nothing is written.
    """
    try:
        definition = load_text(source, filename, expected_key)
    except DefinitionInvalid as exc:
        raise DefinitionRejected(str(exc), str(exc)) from None
    sha = hashlib.sha256(source.encode("utf-8")).hexdigest()
    latest = latest_version(session, definition.key)
    if latest is not None and latest.sha256 == sha:
        return latest, False
    version = WorkflowVersion(
        key=definition.key, version=(latest.version + 1) if latest else 1, source=source, sha256=sha,
        published_by=actor, published_at=now, reason=reason,
    )
    session.add(version)
    session.flush()
    return version, True


def latest_version(session: Session, key: str) -> WorkflowVersion | None:
    return session.scalars(
        select(WorkflowVersion).where(WorkflowVersion.key == key).order_by(WorkflowVersion.version.desc()).limit(1)
    ).first()


def latest_versions(session: Session) -> list[WorkflowVersion]:
    newest = (
        select(WorkflowVersion.key, func.max(WorkflowVersion.version).label("v"))
        .group_by(WorkflowVersion.key).subquery()
    )
    return list(session.scalars(
        select(WorkflowVersion)
        .join(newest, (WorkflowVersion.key == newest.c.key) & (WorkflowVersion.version == newest.c.v))
        .order_by(WorkflowVersion.key)
    ))


def workflow_of(version: WorkflowVersion) -> Workflow:
    """The version's parsed definition and machine; its (deferred) source is read only on the first call."""
    return cached_workflow(version.id, version.sha256) or workflow_for(version.id, version.source, version.key)


def current_workflow(session: Session, key: str) -> tuple[WorkflowVersion, Workflow]:
    version = latest_version(session, key)
    if version is None:
        raise NotFound(f"no published workflow {key!r}", f"没有已发布的流程 {key!r}")
    return version, workflow_of(version)
