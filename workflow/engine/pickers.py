"""Who may be named in a field that names a user (`user_role:`): the pick list forms offer, and the check.

One rule for both, so a form never offers a name the engine would refuse: an active user holding the role.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import FieldSpec
from ..models import User, UserRole

# A pick list is for choosing among colleagues; a department with more is typed into (and still checked).
MAX_CHOICES = 500


def may_be_named(user: User | None, role: str) -> bool:
    return user is not None and user.disabled_at is None and role in user.roles


def user_choices(session: Session, spec: FieldSpec) -> list[tuple[str, str]]:
    """(user name, what to show beside it) for each user the field may name, by name; empty for other fields."""
    if spec.user_role is None:
        return []
    rows = session.execute(
        select(User.name, User.display_name)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == spec.user_role, User.disabled_at.is_(None))
        .order_by(User.name).limit(MAX_CHOICES)
    )
    return [(name, display or name) for name, display in rows]
