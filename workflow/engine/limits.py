"""Bounds on the free text that enters the engine outside a definition's fields: comments and department
names. Checked here, in the engine, so that the API, the UI and the CLI refuse the same things."""

from __future__ import annotations

from typing import Any

from ..definitions.values import InvalidValue, check_text
from .errors import InvalidInputs

# A comment lands in the append-only history, kept (and hashed) forever: a few paragraphs at most.
MAX_COMMENT = 4000
# The department columns (staff register, department coefficients) are VARCHAR(100).
MAX_DEPARTMENT = 100


def _refuse(field: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {field}", f"请更正：{field}", {field: {"en": en, "zh": zh}})


def check_comment(comment: Any) -> None:
    """A comment is absent (None) or text of at most MAX_COMMENT characters; InvalidInputs otherwise."""
    if comment is None:
        return
    if not isinstance(comment, str):
        raise _refuse("comment", "must be text", "必须是文本")
    try:
        check_text(comment, MAX_COMMENT)
    except InvalidValue as exc:
        raise _refuse("comment", exc.messages["en"], exc.messages["zh"]) from None


def check_department(department: Any) -> str:
    """A department name as stored: non-empty text of at most MAX_DEPARTMENT characters."""
    if not isinstance(department, str) or not department.strip():
        raise _refuse("department", "must be the name of a department", "须为部门名称")
    try:
        check_text(department, MAX_DEPARTMENT)
    except InvalidValue as exc:
        raise _refuse("department", exc.messages["en"], exc.messages["zh"]) from None
    return department
