"""Score-sheet templates (考核表单) published as immutable, numbered versions, like definitions.

The YAML files in workflow/definitions/scoresheets/ are what ships; what scores a sheet is a published version
(`scoresheet_versions`). Loading the shipped files publishes a version only when a file's text changed, and a
process owner may publish an edited template from the workbench with a reason. A scored sheet records the
version it was scored with, and is scored and shown with that version again when it comes back: changing a
template never changes a month already scored.

Before any version of a template is published (a fresh database, most tests) the shipped file scores sheets,
recorded as version None, so the appraisal works without the extra step.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..definitions.scoresheet import SCORESHEETS_DIR, ScoreSheet, parse_scoresheet, shipped_scoresheets
from ..engine.errors import FourEyesRefused, InvalidInputs, NotFound, StaleCase, WrongState
from ..engine.policy import Actor, is_process_owner, may_view_workflow, refuse_unless_process_owner
from ..engine.publishing import latest_version
from ..models import ScoresheetProposal, ScoresheetVersion

MAX_SOURCE = 100_000  # characters: the longest shipped template is under 8 000
MAX_REASON = 2000  # as a definition's publishing reason (engine/drafts.py)
VERSION_KEY = "template_version"  # beside "template" in a scored sheet's value
NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
MAX_PENDING = 50  # proposals waiting per template: they are kept, so their number needs a bound like any input
PENDING, PUBLISHED, REJECTED = "pending", "published", "rejected"


def _refuse(field: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {field}", f"请更正：{field}", {field: {"en": en, "zh": zh}})


def _sha(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# -- reading ---------------------------------------------------------------------------------------


def versions_of(session: Session, key: str) -> list[ScoresheetVersion]:
    """Every published version of a template, newest first."""
    return list(session.scalars(
        select(ScoresheetVersion).where(ScoresheetVersion.key == key).order_by(ScoresheetVersion.version.desc())
    ))


def latest(session: Session, key: str) -> ScoresheetVersion | None:
    return session.scalars(
        select(ScoresheetVersion).where(ScoresheetVersion.key == key)
        .order_by(ScoresheetVersion.version.desc()).limit(1)
    ).first()


def version_of(session: Session, key: str, number: int) -> ScoresheetVersion | None:
    return session.scalars(
        select(ScoresheetVersion).where(ScoresheetVersion.key == key, ScoresheetVersion.version == number)
    ).first()


def template_keys(session: Session) -> list[str]:
    """The templates one may name: the shipped ones and any published."""
    published = set(session.scalars(select(ScoresheetVersion.key).distinct()))
    return sorted(published | set(shipped_scoresheets()))


@functools.lru_cache(maxsize=256)
def _parsed(version_id: int, sha256: str, source: str, key: str) -> ScoreSheet:
    sheet, problems = parse_scoresheet(source, f"{key}.yaml", expected_key=key)
    if sheet is None:  # only valid text is ever published
        raise AssertionError(f"published template {key} is invalid: {problems}")
    return sheet


def sheet_of(version: ScoresheetVersion) -> ScoreSheet:
    """The parsed template of a published version (parsed once per process)."""
    return _parsed(version.id, version.sha256, version.source, version.key)


def resolve(session: Session, key: str, number: int | None = None) -> tuple[ScoreSheet | None, int | None]:
    """The template `key` at version `number` (default: the latest), and the version it is; (None, None) if
    there is no such template or version. The shipped file, as version None, while none is published."""
    if number is not None:
        found = version_of(session, key, number)
        return (sheet_of(found), found.version) if found is not None else (None, None)
    newest = latest(session, key)
    if newest is not None:
        return sheet_of(newest), newest.version
    return shipped_scoresheets().get(key), None


def recorded_version(value: Any, key: str) -> int | None:
    """The template version a scored sheet's value records, if it was scored with template `key`."""
    if isinstance(value, dict) and value.get("template") == key and isinstance(value.get(VERSION_KEY), int):
        return int(value[VERSION_KEY])
    return None


def for_sheet(session: Session, key: str, scored: Any) -> tuple[ScoreSheet | None, int | None]:
    """The template a sheet is scored and shown with: the version it was scored with before, else the latest."""
    return resolve(session, key, recorded_version(scored, key))


# -- checking and publishing -----------------------------------------------------------------------


def check(key: str, source: Any) -> list[dict[str, Any]]:
    """Every problem of `source` as template `key`, each with its line, code and reason."""
    if not isinstance(source, str):
        return [{"line": 1, "code": "bad_text", "message": "the template must be text"}]
    if len(source) > MAX_SOURCE:
        return [{"line": 1, "code": "too_long", "message": f"at most {MAX_SOURCE} characters"}]
    if "\x00" in source:
        return [{"line": 1, "code": "bad_text", "message": "the text holds a NUL character"}]
    problems = parse_scoresheet(source, f"{key}.yaml", expected_key=key)[1]
    return [{"line": p.line, "code": p.code, "message": p.message} for p in problems]


def _publish(
    session: Session, key: str, source: str, actor: str, now: datetime, reason: str | None
) -> tuple[ScoresheetVersion, bool]:
    newest = latest(session, key)
    if newest is not None and newest.sha256 == _sha(source):
        return newest, False
    version = ScoresheetVersion(key=key, version=(newest.version + 1) if newest else 1, source=source,
                                sha256=_sha(source), published_by=actor, published_at=now, reason=reason)
    try:
        # Two publications on the same latest version: the unique (key, version) lets one in; the other
        # is told to look again, never a 500.
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        raise StaleCase(f"score sheet {key}: version {version.version} was published meanwhile; reload and retry",
                        f"考核表单 {key}：第 {version.version} 版刚被他人发布，请刷新后重试") from None
    return version, True


def publish_shipped(
    session: Session, actor: str, now: datetime, reason: str = "the shipped template"
) -> list[tuple[ScoresheetVersion, bool]]:
    """Publish each shipped template whose text differs from its latest version; (version, created) each.

    The shipped files are valid (tests/test_scoresheets.py); an invalid one raises before anything is written."""
    sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SCORESHEETS_DIR.glob("*.yaml"))}
    for key, source in sources.items():
        problems = check(key, source)
        if problems:
            listed = "; ".join(f"{key}.yaml line {p['line']}: {p['message']}" for p in problems[:5])
            raise _refuse("source", listed, listed)
    return [_publish(session, key, source, actor, now, reason[:MAX_REASON]) for key, source in sources.items()]


def owning_definition(session: Session) -> Any:
    """The definition whose process owners own the templates: the appraisal's, None before it is published."""
    from ..engine.publishing import workflow_of
    from .operations import WORKFLOW  # operations imports extensions, which imports this module

    version = latest_version(session, WORKFLOW)
    return workflow_of(version).definition if version is not None else None


def refuse_unless_owner(session: Session, actor: Actor) -> None:
    """The question that allows publishing the appraisal's definition allows publishing its templates."""
    refuse_unless_process_owner(actor, owning_definition(session))


def may_read(session: Session, actor: Actor) -> bool:
    """Whoever reads the appraisal's rules reads its templates (before it is published: its process owners)."""
    definition = owning_definition(session)
    if definition is None:
        return is_process_owner(actor, None)
    return may_view_workflow(actor, definition)


def may_publish(session: Session, actor: Actor) -> bool:
    return is_process_owner(actor, owning_definition(session))


def refuse_unless_reader(session: Session, actor: Actor) -> None:
    if not may_read(session, actor):
        raise NotFound("no score-sheet templates", "没有考核表模板")  # as a workflow one may not see: not there


def known(session: Session, key: str) -> None:
    if not isinstance(key, str) or not NAME.match(key) or key not in template_keys(session):
        raise NotFound(f"no score-sheet template {key!r}", f"没有考核表模板 {key!r}")


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise _refuse("reason", "a reason is required to publish", "发布须填写原因")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise _refuse("reason", f"at most {MAX_REASON} characters of text", f"最多 {MAX_REASON} 个字符")
    return reason.strip()


def _publishable(session: Session, key: str, source: Any) -> str:
    """`source`, once it is a valid template of `key` that differs from the latest version."""
    problems = check(key, source)
    if problems:
        listed = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:5])
        raise InvalidInputs(f"The template has {len(problems)} problem(s): {listed}",
                            f"模板有 {len(problems)} 个问题：{listed}", {"source": {"en": listed, "zh": listed}})
    assert isinstance(source, str)
    newest = latest(session, key)
    if newest is not None and newest.sha256 == _sha(source):
        raise WrongState(f"the text is the same as version {newest.version}: nothing to publish",
                         f"内容与版本 {newest.version} 相同，无需发布")
    return source


def publish_edited(
    session: Session, actor: Actor, key: str, source: Any, reason: Any, now: datetime, four_eyes: bool = False
) -> ScoresheetVersion:
    """A process owner publishes an edited template as its next version. Refused whole, nothing written, when
    the text has problems (each with its line), the reason is missing, or nothing changed; with `four_eyes`
    always (propose() instead)."""
    refuse_unless_owner(session, actor)
    known(session, key)
    if four_eyes:
        refuse_direct_publishing()
    why = _check_reason(reason)
    return _publish(session, key, _publishable(session, key, source), actor.name, now, why)[0]


# -- four-eyes: one process owner proposes, another approves -----------------------------------------


def refuse_direct_publishing() -> None:
    """With the four-eyes setting, as for a definition, no one process owner publishes alone."""
    raise FourEyesRefused("A second process owner must approve the publication: propose the version instead",
                          "发布须由另一位流程负责人批准：请提交版本提案")


def proposals_of(session: Session, key: str) -> list[ScoresheetProposal]:
    """Every proposal of a template, newest first."""
    return list(session.scalars(
        select(ScoresheetProposal).where(ScoresheetProposal.key == key).order_by(ScoresheetProposal.id.desc())
    ))


def propose(session: Session, actor: Actor, key: str, source: Any, reason: Any, now: datetime) -> ScoresheetProposal:
    """A process owner proposes an edited template as the next version; nothing is published until a second
    process owner approves. Refused, nothing written, as publishing it would be."""
    refuse_unless_owner(session, actor)
    known(session, key)
    why = _check_reason(reason)
    text = _publishable(session, key, source)
    waiting = session.scalar(select(func.count()).select_from(ScoresheetProposal).where(
        ScoresheetProposal.key == key, ScoresheetProposal.status == PENDING)) or 0
    if waiting >= MAX_PENDING:
        raise WrongState(f"{key} has {waiting} proposals waiting already; approve or reject them first",
                         f"{key} 已有 {waiting} 个待审批的提案，请先批准或驳回")
    newest = latest(session, key)
    proposal = ScoresheetProposal(key=key, base_version=newest.version if newest is not None else None, source=text,
                                  sha256=_sha(text), reason=why, status=PENDING, proposed_by=actor.name,
                                  proposed_at=now)
    session.add(proposal)
    session.flush()
    return proposal


def proposal_of(session: Session, actor: Actor, key: str, proposal_id: int) -> ScoresheetProposal:
    refuse_unless_reader(session, actor)
    known(session, key)
    found = session.get(ScoresheetProposal, proposal_id) if 0 < proposal_id <= 2**31 - 1 else None
    if found is None or found.key != key:
        raise NotFound(f"no proposal {proposal_id} of template {key!r}", f"考核表模板 {key!r} 没有提案 {proposal_id}")
    return found


def _pending(session: Session, actor: Actor, key: str, proposal_id: int) -> ScoresheetProposal:
    refuse_unless_owner(session, actor)
    proposal = proposal_of(session, actor, key, proposal_id)
    if proposal.status != PENDING:
        raise WrongState(f"proposal {proposal.id} is {proposal.status}, no longer waiting for approval",
                         f"提案 {proposal.id} 已{'发布' if proposal.status == PUBLISHED else '驳回'}，不再待审批")
    return proposal


def _decide(session: Session, proposal: ScoresheetProposal, now: datetime, **values: Any) -> None:
    """Settle a pending proposal once: of two owners deciding at the same moment, the second finds it settled."""
    done = session.execute(
        update(ScoresheetProposal)
        .where(ScoresheetProposal.id == proposal.id, ScoresheetProposal.status == PENDING)
        .values(decided_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        raise WrongState(f"proposal {proposal.id} was decided a moment ago", f"提案 {proposal.id} 刚刚已被处理")
    session.refresh(proposal)


def approve(session: Session, actor: Actor, key: str, proposal_id: int, now: datetime) -> ScoresheetProposal:
    """A second process owner approves a proposal: its text is published as the next version, by its proposer,
    and the proposal names both. Refused for the proposer, and when another version was published since
    (the proposal was checked against a version that is no longer the latest: stale)."""
    proposal = _pending(session, actor, key, proposal_id)
    if proposal.proposed_by == actor.name:
        raise FourEyesRefused("A second process owner must approve the publication: not the one who proposed it",
                              "发布须由另一位流程负责人批准，提案人不能批准自己的提案")
    newest = latest(session, key)
    if newest is not None and newest.version != proposal.base_version:
        raise StaleCase(f"proposal {proposal.id} was made on version {proposal.base_version or '(shipped file)'}, "
                        f"but version {newest.version} is the latest now: propose it again",
                        f"提案 {proposal.id} 基于版本 {proposal.base_version or '（出厂文件）'}，当前最新为版本 "
                        f"{newest.version}：请重新提交")
    text = _publishable(session, key, proposal.source)  # the parser may have grown stricter since
    # Settled before the version is written: a second approval waits on the row, then finds it decided.
    _decide(session, proposal, now, status=PUBLISHED, approved_by=actor.name)
    proposal.published_version = _publish(session, key, text, proposal.proposed_by, now, proposal.reason)[0].version
    session.flush()
    return proposal


def reject(
    session: Session, actor: Actor, key: str, proposal_id: int, reason: Any, now: datetime
) -> ScoresheetProposal:
    """A process owner rejects a proposal, with why; nothing is published. The proposer may withdraw their own
    this way: four eyes guard what is published, not what is not."""
    proposal = _pending(session, actor, key, proposal_id)
    if not isinstance(reason, str) or not reason.strip():
        raise _refuse("reason", "a reason is required to reject", "驳回须填写原因")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise _refuse("reason", f"at most {MAX_REASON} characters of text", f"最多 {MAX_REASON} 个字符")
    _decide(session, proposal, now, status=REJECTED, rejected_by=actor.name, rejection=reason.strip())
    return proposal


def current_source(session: Session, key: str) -> str:
    """The text to start editing from: the latest version's, else the shipped file's."""
    newest = latest(session, key)
    if newest is not None:
        return newest.source
    path = SCORESHEETS_DIR / f"{key}.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def text_of(session: Session, key: str, number: int | None = None) -> tuple[int | None, str]:
    """The YAML of a template at version `number` (default: the latest, else the shipped file) and its version."""
    known(session, key)
    if number is None:
        newest = latest(session, key)
        return (newest.version if newest is not None else None), current_source(session, key)
    found = version_of(session, key, number)
    if found is None:
        raise NotFound(f"template {key!r} has no version {number}", f"考核表模板 {key!r} 没有版本 {number}")
    return found.version, found.source
