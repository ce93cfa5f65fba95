"""The monthly appraisal as one slice beside the generic engine: its tables (models.py), its arithmetic
(scoring.py), its operations (operations.py) and what it adds to the engine (extensions.py).

The engine never imports this package; importing it registers the appraisal's handlers with the engine's
extension points. The score-sheet templates are definition data and stay in workflow/definitions/.
"""

from __future__ import annotations

from . import extensions, models, operations, scoring
from .operations import (
    WORKFLOW,
    MonthView,
    OpenedMonth,
    SheetRow,
    decide_evidence,
    department_month,
    evidence_for,
    open_month,
    parse_month,
    set_coefficient,
    set_staff,
)

extensions.register()

__all__ = [
    "WORKFLOW", "MonthView", "OpenedMonth", "SheetRow", "decide_evidence", "department_month", "evidence_for",
    "extensions", "models", "open_month", "operations", "parse_month", "scoring", "set_coefficient", "set_staff",
]
