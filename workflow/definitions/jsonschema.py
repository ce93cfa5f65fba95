"""The JSON Schemas of the definition and score-sheet formats, generated from the shapes the checkers use.

`python -m workflow.definitions.jsonschema` writes docs/definition.schema.json and
docs/scoresheet.schema.json; `--check` only tells whether the shipped files are current (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .formats import Json
from .formats import definition as definition_format
from .formats import scoresheet as scoresheet_format

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMAS: dict[str, Callable[[], Json]] = {
    "definition.schema.json": definition_format.json_schema,
    "scoresheet.schema.json": scoresheet_format.json_schema,
}


def render(schema: Json) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check that the shipped schemas are current")
    parser.add_argument("--out", type=Path, default=DOCS, help="the folder to write to (default: docs/)")
    args = parser.parse_args(argv)
    stale = []
    for name, build in SCHEMAS.items():
        path = args.out / name
        text = render(build())
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, "utf-8")
            print(f"wrote {path}")
    for name in stale:
        print(f"{args.out / name} is out of date: run python -m workflow.definitions.jsonschema", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
