"""How the decision words its findings: check ids with their key figures, and the
architecture changes rule 4 names (in the terms of this checkpoint's configuration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tui_timing.findings import Check
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import Stage
from tui_timing.stages.decision.evidence import Evidence

#: What each probe candidate is, in the words of step 7 of docs/README.md#the-plan.
HEAD_REMEDIES = {
    "increments": "logit increments + cumulative normalization",
    "templates": "low-rank logit templates",
    "monotonic": "a monotonic parameterization (non-increasing logits)",
    "linear": "per-step logits with no logit bound, masked over padding",
}
#: How many checks an action's `why` names with their key figure (the rest are counted).
NAMED = 3


def ids(checks: Sequence[Check | None]) -> str:
    """`a.b, c.d`: the checks' ids."""
    return ", ".join(c.id for c in checks if c is not None)


def brief(checks: list[Check]) -> str:
    """`id (key figure), id (key figure)`: the first few checks with their key figure (their
    full sentences are in their stages' panes and reports), the rest counted."""
    named = []
    for check in checks[:NAMED]:
        figure = check.key_figure
        named.append(f"{check.id} ({figure})" if figure else check.id)
    rest = len(checks) - NAMED
    return ", ".join(named) + (f" and {rest} more" if rest > 0 else "")


def dataset_fault(failing: list[Check]) -> str:
    """Stage 2's failures in the user's terms: what the batches serve wrong, and how much."""
    parts: list[str] = []
    for check in failing:
        m = check.measured if isinstance(check.measured, dict) else {}
        what = check.id.split(".", 1)[1].replace("_", " ")
        if check.id == "dataset.batch_rows" and (m.get("drifted") or m.get("shifted_one_step")):
            if m.get("shifted_one_step"):
                parts.append(
                    f"batches serve each row's profile shifted by one step against its steps "
                    f"(Δt of one step at the next or previous one; {m['shifted_one_step']:,} of "
                    f"{m['rows']:,} rows)"
                )
            if m.get("drifted"):
                parts.append(
                    f"batches put another row's {', '.join(m['drifted'])} beside a row's own "
                    f"({m['off']:,} of {m['rows']:,} rows)"
                )
        elif check.id == "dataset.log_duration" and m.get("rows_off"):
            parts.append(
                f"log duration: batches serve log_duration ≠ log(duration) on {m['rows_off']:,} "
                f"rows (largest gap {fmt(float(m['max_abs_dev']))})"
            )
        elif check.id == "dataset.coverage" and "missed" in m:
            parts.append(
                f"coverage: one epoch never visits {m['missed']:,} rows and repeats "
                f"{m['repeated']:,}"
            )
        elif check.id == "dataset.mask_padding" and m.get("rows_with_padding_mass"):
            parts.append(
                f"mask padding: profile mass where the mask is 0 on "
                f"{m['rows_with_padding_mass']:,} rows"
            )
        elif check.id == "dataset.batch_profile_mean" and m.get("bins_off"):
            parts.append(
                f"batch profile mean: the epoch's mean profile differs from the cache's in "
                f"{m['bins_off']:,} bins (bin {m['worst_bin']}: {fmt(float(m['epoch_mean']))} vs "
                f"{fmt(float(m['cache_mean']))})"
            )
        else:
            figure = check.key_figure
            parts.append(f"{what} ({figure})" if figure else what)
    return "; ".join(parts)


def drift_figures(checks: list[Check]) -> str:
    """'integration.dt_median fake/real 0.75, ...': each stage-6 check's key figure."""
    parts = []
    for check in checks:
        measured = check.measured if isinstance(check.measured, dict) else {}
        factor = measured.get("dt_factor")
        if measured.get("ratio") is not None:
            parts.append(f"{check.id} fake/real {fmt(measured['ratio'])}")
        elif isinstance(factor, dict) and factor.get("factor") is not None:
            parts.append(f"{check.id}: fake Δt ≈ {fmt(factor['factor'])} × real")
        else:
            parts.append(check.id)
    return ", ".join(parts)


def unique(checks: Sequence[Check | None]) -> list[Check]:
    """The checks without repeats or Nones, in first-seen order."""
    seen: dict[str, Check] = {}
    for check in checks:
        if check is not None:
            seen.setdefault(check.id, check)
    return list(seen.values())


def divergence_text(trend: Check) -> str:
    """Where the loss went wrong: its first non-finite epoch (or step, for a log read over
    steps), or after the val loss's best."""
    measured = trend.measured if isinstance(trend.measured, dict) else {}
    axis = measured.get("x_axis", "epoch")
    if measured.get(axis) is not None:
        return f" from {axis} {measured[axis]}"
    val = measured.get("val")
    if isinstance(val, dict) and val.get(f"best_{axis}") is not None:
        return f" after {axis} {val[f'best_{axis}']}"
    return ""


def architecture_changes(config: dict[str, Any], best: Any, padding: bool) -> str:
    """The concrete changes: the best parameterization, and the knobs that were wrong."""
    changes: list[str] = []
    if best in HEAD_REMEDIES and best != config.get("profile_head"):
        changes.append(f"use {HEAD_REMEDIES[best]} ({best})")
    if config.get("logit_bound") is not None:
        changes.append(f"remove the logit bound (b = {config['logit_bound']})")
    if padding or config.get("mask_padding") is False:
        changes.append("mask the softmax over padded steps")
    if config.get("length_input") is False:
        changes.append("tell the head each row's length")
    if not changes:
        changes.append(
            "logit increments + cumulative normalization, low-rank templates or a monotonic "
            "parameterization"
        )
    return "; ".join(changes)


def architecture_why(
    ev: Evidence, capacity: Check | None, flat_untested: bool, padding: list[Check | None]
) -> str:
    """Rule 4's finding in one sentence: what the probe found, and the mass on padding."""
    parts: list[str] = []
    if capacity is not None and capacity.status == "fail":
        stats = ev.stats(Stage.MODEL)
        configs = stats.get("configs") or {}
        mine = stats.get("checkpoint_config")
        best = stats.get("best")
        kl_mine = (configs.get(mine) or {}).get("profile_kl")
        kl_best = (configs.get(best) or {}).get("profile_kl")
        if (
            isinstance(kl_mine, (int, float))
            and isinstance(kl_best, (int, float))
            and mine
            and best
        ):
            parts.append(
                f"the checkpoint's head ({mine}) cannot fit the cache where {best} can "
                f"(held-out KL {fmt(kl_mine)} vs {fmt(kl_best)})"
            )
        else:
            parts.append(f"the checkpoint's head cannot fit the cache ({capacity.key_figure})")
    if flat_untested:
        flat = ev.get("sampler.flat")
        figure = f" ({flat.key_figure})" if flat is not None else ""
        parts.append(f"the sampler is flat{figure} and the probe could not test the head")
    masses = [c for c in padding if c is not None]
    if masses:
        parts.append(masses[0].key_figure + f" ({ids(list(masses))})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."
