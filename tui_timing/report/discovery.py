"""What discovery found and passed over, as text (`check` prints it;
docs/artifacts.md#your-own-repo)."""

from __future__ import annotations

from pathlib import Path

from tui_timing.artifacts.discovery import Discovered
from tui_timing.report.text import printable_name

#: Passed-over entries listed before "… and N more".
SHOWN = 15


def discovery_text(found: Discovered, cwd: Path | None = None) -> str:
    """The runs, caches and eval dumps found, then what was passed over and why."""
    here = (cwd or Path.cwd()).resolve()

    def show(path: Path | None) -> str:
        if path is None:
            return "none"
        for base in (here, found.root):
            if path.is_relative_to(base):
                return printable_name(path.relative_to(base))
        return printable_name(path)

    where = "the bundled sample data" if found.is_sample else printable_name(found.root)
    lines = [f"Discovery in {where}:"]
    details = {f.path: f.detail for f in found.found}
    for item in found.found:  # an HF-style folder is one checkpoint: its weights file says what
        details.setdefault(item.path.parent, f"{item.path.name}: {item.detail}")

    def ignored(*paths: Path | None) -> str:
        return (
            " (git-ignored: listed after what the repository keeps)"
            if (set(paths) & found.ignored)
            else ""
        )

    for run in found.runs:
        parts = [f"checkpoint {show(run.checkpoint)}", f"log {show(run.log)}"]
        if run.eval is not None:
            parts.append(f"eval {show(run.eval)}")
        lines.append(
            f"  run {printable_name(run.name)}: "
            + ", ".join(parts)
            + ignored(run.checkpoint, run.log)
        )
        for path in (run.checkpoint, run.log):
            if path is not None:
                lines.append(f"      {show(path)}: {details.get(path, '')}")
        if run.others:
            lines.append(f"      also in this run: {', '.join(show(p) for p in run.others)}")
    for path in found.caches:
        lines.append(f"  cache {show(path)}: {details.get(path, '')}{ignored(path)}")
    for path in found.evals:
        lines.append(f"  eval {show(path)}: {details.get(path, '')}{ignored(path)}")
    if found.empty:
        lines.append("  nothing found")
    lines.extend(f"  note: {printable_name(note)}" for note in found.notes)
    if found.passed_over:
        lines.append("  passed over:")
        lines.extend(
            f"    {show(p.path)}: {printable_name(p.reason)}" for p in found.passed_over[:SHOWN]
        )
        if len(found.passed_over) > SHOWN:
            lines.append(f"    … and {len(found.passed_over) - SHOWN} more")
    return "\n".join(lines) + "\n"
