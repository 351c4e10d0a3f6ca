"""A checkpoint's config under the contract's names: `[tool.timing-tui.keys.config]` maps
the user's field names (`cond_dim = "d_cond"`), and the conditioning width is also found
under its common other names.

The user's own fields stay as they are (their factory takes their names); the contract's
name is added beside them, and each reading is an assumption with its source, so a field
read as the conditioning width that is not one is seen and corrected with one table line.
"""

from __future__ import annotations

from typing import Any

from tui_timing.artifacts.checkpoint import CheckpointArtifact
from tui_timing.errors import UsageError
from tui_timing.findings import Assumption

#: Other names of the conditioning width (`cond_dim`) in research configs, tried in order.
COND_DIM_ALIASES = (
    "d_cond",
    "n_cond",
    "cond_features",
    "input_dim",
    "in_features",
    "in_dim",
    "d_in",
)

#: Contract names whose value is a count or a width: a mapped field must hold one.
WIDTHS = ("cond_dim", "hidden", "max_len", "n_templates", "diffusion_cond_dim")

#: Why a check that needs the model's conditioning width skips when nothing tells it.
WIDTH_QUESTION = (
    "how many features does the model take? No config names its width and the model could "
    "not be run to find it; name the config field with [tool.timing-tui.keys.config] "
    'cond_dim = "<your field>" (or --key config.cond_dim=<your field>)'
)


def apply_config_names(artifact: CheckpointArtifact, key_map: dict[str, str]) -> None:
    """Add the contract's names to the config: those `keys.config` maps, then cond_dim
    from its aliases. UsageError for a mapped field the config does not have."""
    config = artifact.config
    origin = artifact.config_origin or "the checkpoint's config"
    for contract, theirs in key_map.items():
        found, value = _field(config, theirs)
        if not found:
            fields = ", ".join(map(str, config)) or "none: the checkpoint has no config"
            raise UsageError(
                f"[tool.timing-tui.keys.config] (or --key config.{contract}=...) maps "
                f"{contract} to {theirs!r}, which {origin} does not have; its fields: {fields} "
                f'(write {contract} = "<one of them>"; a field inside a group is named with '
                'dots: "model.in_dim")'
            )
        if contract in WIDTHS and _width(value) is None:
            raise UsageError(
                f"[tool.timing-tui.keys.config] (or --key config.{contract}=...) maps "
                f"{contract} to {theirs!r}, whose value in {origin} is {value!r}, not a whole "
                f'number above 0 (write {contract} = "<the field that holds it>")'
            )
        config[contract] = value
        artifact.read_as.append(
            Assumption(
                "checkpoint",
                f"config {contract}",
                repr(value),
                f"field {theirs!r} of {origin}, as [tool.timing-tui.keys.config] maps it",
            )
        )
    if "cond_dim" in config or "cond_dim" in key_map:
        return
    alias = next((a for a in COND_DIM_ALIASES if _width(config.get(a)) is not None), None)
    if alias is not None:
        config["cond_dim"] = config[alias]
        artifact.read_as.append(
            Assumption(
                "checkpoint",
                "conditioning width",
                str(config[alias]),
                f"field {alias!r} of {origin}; if another field is the width, write "
                '[tool.timing-tui.keys.config] cond_dim = "<that field>"',
            )
        )


def _field(config: dict[str, Any], name: str) -> tuple[bool, Any]:
    """(found, value) of a config field: `name` itself, else a dotted path into its groups
    (`model.in_dim`: a Hydra config's model group)."""
    if name in config:
        return True, config[name]
    value: Any = config
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _width(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
