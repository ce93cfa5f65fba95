"""One route with its inputs through each shipped workflow: what the benchmarks walk.

A workflow's route is the main (`golden`) path of its golden paths, workflow/definitions/paths/<key>.yaml:
the steps and inputs the path tests walk, read from the same file, so that a definition that changes its
fields or steps changes its route with its tests. Each step is taken by a user named after its role, so
the four-eyes rule holds as it does in the tests; where a definition names the person who acts (an
assignee field), the path's data names that same user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow import golden_paths
from workflow.golden_paths import GoldenPaths, Step

__all__ = ["ROLES", "ROUTES", "STAFF", "Route", "Step"]


@dataclass(frozen=True)
class Route:
    workflow: str
    opener: str  # the acting user is named after the role
    steps: tuple[Step, ...]
    paths: GoldenPaths

    def opening(self, n: int) -> dict[str, Any]:
        """The data to open case number `n` of this route with (some fields must differ from case to case)."""
        return self.paths.opening(n)


def _route(paths: GoldenPaths) -> Route:
    return Route(paths.workflow, paths.opener, paths.main.steps, paths)


_GOLDEN = golden_paths.load_all()
ROUTES: dict[str, Route] = {key: _route(paths) for key, paths in _GOLDEN.items()}
REPLACEMENT_PART, RETURN_INSPECTION, COMPLAINT, APPRAISAL, REPAIR_DISPATCH = (
    ROUTES[k] for k in ("replacement_part", "return_inspection", "complaint", "appraisal", "repair_dispatch")
)

# The staff register the routes need (name, department, template, standard pay, supervisor): sheets are
# opened only for people on it, and a department head reviews only their own department's.
STAFF: list[tuple[str, str, str, str, str]] = [
    (s.name, s.department, s.template, s.standard_pay, s.supervisor) for p in _GOLDEN.values() for s in p.staff
]

# Every user the routes need, one per role.
ROLES: set[str] = {role for p in _GOLDEN.values() for role in p.roles()}
