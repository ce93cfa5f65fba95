"""Why the engine refused something. Each refusal is its own type, with a message in en and zh.

The web layer maps `code` to an HTTP status; the engine knows nothing of HTTP.
"""

from __future__ import annotations


class WorkflowError(Exception):
    code = "error"

    def __init__(self, en: str, zh: str, fields: dict[str, dict[str, str]] | None = None):
        super().__init__(en)
        self.messages = {"en": en, "zh": zh}
        self.fields = fields or {}  # field name -> {"en": ..., "zh": ...}


class NotFound(WorkflowError):
    code = "not_found"


class UnknownAction(NotFound):
    code = "unknown_action"


class WrongState(WorkflowError):
    code = "wrong_state"


class RoleRefused(WorkflowError):
    code = "role_refused"


class FourEyesRefused(WorkflowError):
    code = "four_eyes"


class InvalidInputs(WorkflowError):
    code = "invalid_inputs"

    # The failing rules that belong to no one field, said beside the field problems (a form shows them
    # above its fields; the API's message already ends with them).
    unplaced: dict[str, str] | None = None


class GuardFailed(WorkflowError):
    code = "guard_failed"


class DuplicateCase(WorkflowError):
    code = "duplicate_case"


class StaleCase(WorkflowError):
    code = "stale_version"


class DefinitionRejected(WorkflowError):
    code = "definition_invalid"
