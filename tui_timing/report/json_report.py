"""The JSON object (docs/cli.md#json-report) of `timing-tui check --format json`."""

from __future__ import annotations

import json

from tui_timing.findings import Report


def render_json(report: Report) -> str:
    """The report as strict JSON (non-finite numbers were already turned into strings)."""
    return json.dumps(report.as_dict(), indent=2, allow_nan=False, ensure_ascii=False)
