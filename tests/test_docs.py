"""docs/ stays true to the code, and the code points only at documents in the repository.

- The tables in docs/ that restate declarations (stages, checks, tolerances, rules) are
  what tests/docs_tables.py makes from the code now.
- docs/checks.md describes exactly the check ids the stages declare: a new check without
  its line, or a line for a check that is gone, fails here.
- Comments, docstrings and messages in tui_timing/, tests/ and benchmarks/ cite nothing a
  newcomer cannot open: no product description or plan kept outside the repository, no
  issue tracker numbers. A pointer into docs/ names a file that exists, and a heading in
  it when it gives one (`docs/artifacts.md#checkpoint`).
"""

from __future__ import annotations

import re
from pathlib import Path

import docs_tables
import pytest

from tui_timing.stages.checks import declared_checks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCES = ("tui_timing", "tests", "benchmarks")

#: Citations of documents that are not in the repository (each pattern is written so that
#: it does not match its own source line).
OUTSIDE = {
    "the product description": re.compile(r"\bSPEC\b"),
    "the plan it came from": re.compile(r"\b[Tt]he seed's\b"),
    "an issue number": re.compile(r"\b[Ii]ssues? #?\d+"),
}
#: `docs/<file>.md` or `docs/<file>.md#<heading>` in the code. A user's own scratchpad
#: (`docs/task_scratchpad.md`, found by the `docs/*scratchpad*.md` rule) is not ours.
DOC_POINTER = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
MD_LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]+))?\)")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # no headings in code blocks
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def python_files() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py"))


def test_the_generated_tables_are_what_the_code_declares() -> None:
    stale = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for name, body in docs_tables.blocks(text).items():
            assert name in docs_tables.TABLES, f"{path.name}: no generated table {name!r}"
            if body != docs_tables.TABLES[name]():
                stale.append(f"{path.name}: {name}")
    assert not stale, f"stale tables (run `python tests/docs_tables.py`): {stale}"
    found = {n for p in DOCS.glob("*.md") for n in docs_tables.blocks(p.read_text("utf-8"))}
    assert found == set(docs_tables.TABLES), set(docs_tables.TABLES) ^ found


def test_docs_checks_describes_exactly_the_declared_checks() -> None:
    text = (DOCS / "checks.md").read_text(encoding="utf-8")
    prose = docs_tables.BLOCK.sub("", text)
    described = re.findall(r"^- `([a-z]+\.[a-z0-9_]+)`", prose, flags=re.MULTILINE)
    described += re.findall(r"^- `[a-z]+\.[a-z0-9_]+`, `([a-z]+\.[a-z0-9_]+)`", prose, re.M)
    declared = [spec.id for spec in declared_checks()]
    assert sorted(described) == sorted(declared), {
        "declared, not described": sorted(set(declared) - set(described)),
        "described, not declared": sorted(set(described) - set(declared)),
    }
    prefixes = {check_id.split(".")[0] for check_id in declared}
    named = {m for m in re.findall(r"`([a-z]+\.[a-z0-9_]+)`", text) if m.split(".")[0] in prefixes}
    assert named <= set(declared), named - set(declared)


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()[:100]}"
        for path in python_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in OUTSIDE.items()
        if pattern.search(line)
    ]
    assert not found, (
        f"{len(found)} citations of documents outside the repository; cite docs/ instead "
        "(python /work/prompts/rewrite_citations.py rewrites the known forms):\n"
        + "\n".join(found[:40])
    )


def _pointers() -> list[tuple[str, str, str | None]]:
    """(where, docs file, heading anchor or None) for every pointer into docs/."""
    out = []
    for path in [*python_files(), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in DOC_POINTER.finditer(line):
                if "scratchpad" not in m[1]:
                    out.append((f"{path.relative_to(ROOT)}:{number}", m[1], m[2]))
    for path in sorted(DOCS.glob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in MD_LINK.finditer(line):
                target = m[1] or path.name
                if "://" in target or not target.endswith(".md"):
                    continue
                resolved = (path.parent / target).resolve()
                if resolved.parent == DOCS:
                    out.append((f"docs/{path.name}:{number}", resolved.name, m[2]))
                elif not resolved.is_file():
                    out.append((f"docs/{path.name}:{number}", target, None))
    return out


def test_every_pointer_into_docs_names_a_file_and_heading_that_exist() -> None:
    pointers = _pointers()
    broken = [
        f"{where}: docs/{name}" + (f"#{anchor}" if anchor else "")
        for where, name, anchor in pointers
        if not (DOCS / name).is_file() or (anchor and anchor not in anchors(DOCS / name))
    ]
    assert not broken, broken


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [("Stage 1: cache", "stage-1-cache"), ("Plug-in contracts", "plug-in-contracts")],
)
def test_anchors_are_made_as_github_makes_them(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
