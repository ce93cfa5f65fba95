"""The boundaries between the layers and slices (docs/architecture.md), checked on the source itself.

The generic engine (workflow/engine/) knows no workflow: the appraisal (workflow/appraisal/) plugs into it
through its extension points, and the engine never imports it nor names its words. The web side asks the
policy and the slice, and names no role or state of the appraisal.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "workflow" / "engine"
# What only the appraisal knows: its key, the person it appraises, its month field, its managing role.
APPRAISAL_WORDS = ("appraisal", "employee", "period", "hr")
# These two are never generic, so they may not appear at all, not even in a comment.
NEVER_IN_ENGINE = re.compile(r"\b(appraisal|employees?)\b", re.IGNORECASE)


def _imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [module] + [f"{module}.{a.name}" for a in node.names]
    return found


def _strings(path: Path) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_the_engine_imports_nothing_of_the_appraisal():
    offenders = [
        f"{path.name}: {module}" for path in sorted(ENGINE.rglob("*.py")) for module in _imported_modules(path)
        if module.startswith("workflow.appraisal") or module.startswith("workflow.definitions.scoresheet")
    ]
    assert offenders == []


def test_the_engine_names_none_of_the_appraisal_words():
    literals = [f"{path.name}: {text!r}" for path in sorted(ENGINE.rglob("*.py")) for text in _strings(path)
                if text.strip().lower() in APPRAISAL_WORDS]
    mentions = [f"{path.name}:{number}: {line.strip()}" for path in sorted(ENGINE.rglob("*.py"))
                for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if NEVER_IN_ENGINE.search(line)]
    assert literals == []
    assert mentions == []


def test_loading_the_engine_loads_no_appraisal():
    """Import for real, in a fresh interpreter: no module of the engine pulls the slice in on the way."""
    script = "import sys, workflow.engine, workflow.engine.cases; print(sorted(m for m in sys.modules " \
             "if m.startswith('workflow.appraisal')))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_appraisal_pages_and_commands_name_no_role_or_state():
    definition = yaml.safe_load((ROOT / "workflow" / "definitions" / "appraisal.yaml").read_text("utf-8"))
    # A field may share a role's name (the employee is named in the field `employee`): field names are data keys.
    names = (set(definition["roles"]) | set(definition["states"])) - set(definition["fields"])
    assert {"hr", "dept_head", "scoring", "archived"} <= names  # the check below has something to find
    offenders = [f"{path.name}: {text!r}" for path in sorted((ROOT / "web" / "appraisal").glob("*.py"))
                 for text in _strings(path) if text in names]
    templates = (ROOT / "web" / "templates" / "appraisal.html").read_text("utf-8")
    offenders += [f"appraisal.html: {n}" for n in sorted(names) if re.search(rf"['\"]{n}['\"]", templates)]
    assert offenders == []


def _role_and_state_names() -> dict[str, str]:
    """Every role and state key of the shipped definitions, except those that are also a field's name."""
    names: dict[str, str] = {}
    for path in sorted((ROOT / "workflow" / "definitions").glob("*.yaml")):
        definition = yaml.safe_load(path.read_text("utf-8"))
        fields = set(definition.get("fields") or ())
        names |= {n: f"{path.stem} role" for n in set(definition["roles"]) - fields}
        names |= {n: f"{path.stem} state" for n in set(definition["states"]) - fields}
    return names


def test_no_web_module_names_a_role_or_a_state():
    """Who may do what, and what a state means, are answered by the engine from the definitions (one policy):
    a role or state name written in web/ would be a second answer that can disagree."""
    names = _role_and_state_names()
    assert {"service_lead", "auditor", "closed", "awaiting_archive"} & set(names)  # something to find
    offenders = [f"{path.relative_to(ROOT)}: {text!r} ({names[text]})"
                 for path in sorted((ROOT / "web").rglob("*.py")) for text in _strings(path) if text in names]
    assert offenders == []
