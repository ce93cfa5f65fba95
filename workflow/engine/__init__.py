"""The rules: opening and moving cases, publishing definitions, timers, history. No Flask here."""

from .audit import verify_all
from .cases import advance, available_actions, entered_by, get_case, load_timers, open_case, opener_roles
from .clock import Clock
from .errors import (
    DefinitionRejected,
    FourEyesRefused,
    GuardFailed,
    InvalidInputs,
    NotFound,
    RoleRefused,
    StaleCase,
    UnknownAction,
    WorkflowError,
    WrongState,
)
from .publishing import current_workflow, latest_version, latest_versions, publish_definition, workflow_of
from .users import SYSTEM, Actor, actor_of

__all__ = [
    "SYSTEM", "Actor", "Clock", "DefinitionRejected", "FourEyesRefused", "GuardFailed", "InvalidInputs",
    "NotFound", "RoleRefused", "StaleCase", "UnknownAction", "WorkflowError", "WrongState", "actor_of",
    "advance", "available_actions", "current_workflow", "entered_by", "get_case", "load_timers", "latest_version",
    "latest_versions", "open_case", "opener_roles", "publish_definition", "verify_all", "workflow_of",
]
