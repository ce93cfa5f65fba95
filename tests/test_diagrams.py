"""The rendered diagrams in diagrams/ are those of the shipped definitions as they are now."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow import diagram
from workflow.definitions import load_text, shipped_files

DIAGRAMS = Path(__file__).resolve().parent.parent / "diagrams"


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_committed_diagram_matches_the_definition(path: Path):
    graph = diagram.build(load_text(path.read_text("utf-8"), str(path), path.stem))
    committed = DIAGRAMS / f"{path.stem}.dot"
    assert committed.read_text("utf-8") == graph.to_string(), (
        f"{committed} is out of date: run `flask --app web workflow diagrams`"
    )
    svg = (DIAGRAMS / f"{path.stem}.svg").read_text("utf-8")
    for state in load_text(path.read_text("utf-8"), str(path), path.stem).states.values():
        assert f"<title>{state.name}</title>" in svg
