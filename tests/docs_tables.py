"""The tables of docs/ that restate declarations of the code, generated from them.

docs/ is read by people; the stage table, each stage's checks, the tolerances and the
decision rules are declared once in the code. The tables in docs/ that list them sit
between marker lines and are written by this module, so they cannot drift:
tests/test_docs.py fails when a table differs from what this module makes, and

    python tests/docs_tables.py

rewrites every table in place (the prose around them is left as it is).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from pathlib import Path

from tui_timing.config import Tolerances
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID, STAGES, Stage
from tui_timing.stages.checks import checks_of, declared_checks
from tui_timing.stages.decision.rules import RULES

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: `<!-- generated: NAME -->` ... `<!-- end generated -->`: a table this module writes.
BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) .*?-->\n)(?P<body>.*?)(<!-- end generated -->)",
    re.DOTALL,
)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = [_row(*header), _row(*("---" for _ in header)), *(_row(*r) for r in rows)]
    return "\n".join(lines) + "\n"


def stages_table() -> str:
    """The stage table: number, report name, title and the artifacts each stage reads."""
    return _table(
        ("#", "stage", "title", "reads"),
        [
            (
                str(int(s.id)),
                f"`{s.name}`",
                s.title,
                ", ".join(f"`{kind}`" for kind in s.reads) or "the other stages' results",
            )
            for s in STAGES
        ],
    )


def _default(name: str) -> str:
    return f"{getattr(Tolerances, name):g}"


def checks_table(stage: Stage) -> str:
    """One stage's checks in report order: kind, roles and tolerances with defaults."""
    return _table(
        ("check", "kind", "roles", "tolerances (default)"),
        [
            (
                f"`{spec.id}`",
                spec.kind,
                ", ".join(sorted(spec.roles)) or "-",
                ", ".join(f"`{t}` {_default(t)}" for t in spec.tolerances) or "-",
            )
            for spec in checks_of(stage).specs
        ],
    )


def tolerances_table() -> str:
    """Every tolerance, its default and the checks that read it."""
    readers: dict[str, list[str]] = {}
    for spec in declared_checks():
        for name in spec.tolerances:
            readers.setdefault(name, []).append(f"`{spec.id}`")
    return _table(
        ("tolerance", "default", "read by"),
        [
            (f"`{f.name}`", _default(f.name), ", ".join(readers.get(f.name, [])))
            for f in dataclasses.fields(Tolerances)
        ],
    )


def rules_table() -> str:
    """The decision rules in the order they are asked, with the question each asks."""
    return _table(("rule", "question"), [(str(r.number), r.question) for r in RULES])


#: Every generated table by its marker name.
TABLES: dict[str, Callable[[], str]] = {
    "stages": stages_table,
    "tolerances": tolerances_table,
    "rules": rules_table,
    **{
        f"checks-{STAGE_BY_ID[stage].name}": (lambda stage=stage: checks_table(stage))
        for stage in DIAGNOSTIC
    },
}


def blocks(text: str) -> dict[str, str]:
    """The generated tables of a document, by name, as they are written there."""
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def regenerate(text: str) -> str:
    """The document with every generated table made anew (an unknown name is an error)."""

    def fill(match: re.Match[str]) -> str:
        return match[1] + TABLES[match["name"]]() + match[4]

    return BLOCK.sub(fill, text)


def main() -> int:
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = regenerate(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote the tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
