"""The whole text of a check, a figure or an action, for the clipboard and the detail view.

The panes cut values to fit (a measured dict of quantiles costs one line); these never
cut: every value is written out as JSON, the way `check --format json` has it, so what
is copied can be pasted into a note or a script as is.
"""

from __future__ import annotations

import json
from typing import Any

from tui_timing.findings import Action, Check, json_ready


def full_value(value: Any) -> str:
    """A measured or expected value in full: JSON (indented when it is a dict or list)."""
    ready = json_ready(value)
    if isinstance(ready, (dict, list)):
        return json.dumps(ready, indent=2, ensure_ascii=False)
    if isinstance(ready, str):
        return ready
    return json.dumps(ready, ensure_ascii=False)


def check_text(check: Check) -> str:
    """`<id>: <status>`, its sentence, then what was measured and what was expected."""
    return (
        f"{check.id}: {check.status}\n{check.message}\n"
        f"measured: {full_value(check.measured)}\n"
        f"expected: {full_value(check.expected)}\n"
    )


def action_text(action: Action) -> str:
    """An action's title, why, evidence and command, one per line."""
    lines = [action.title, action.why]
    if action.evidence:
        lines.append("evidence: " + ", ".join(action.evidence))
    lines.append(action.command or "(no command: a change to make by hand)")
    return "\n".join(lines) + "\n"
