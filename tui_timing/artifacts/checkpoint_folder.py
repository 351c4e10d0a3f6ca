"""HuggingFace-style checkpoint folders: `checkpoint-N/`, `step_N/` or any folder holding
`model.safetensors` or `pytorch_model.bin` (or their shards with the index that names
them) and usually a `config.json` is one checkpoint.

`checkpoint_folder` is the recogniser (discovery groups runs with it: such a folder is one
checkpoint, not several files); `checkpoint_files` resolves what `--checkpoint` names (the
folder, or a weights file inside it) to the weights to read and the config beside them.
A `config.json` beside the weights is always read: a model built from its class's
defaults instead would be checked against settings it was never trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_timing.artifacts.files import open_artifact
from tui_timing.errors import ArtifactError

#: The weights file of an unsharded folder, safetensors first.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: The index of a sharded folder (`weight_map`: parameter name -> shard file).
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
#: The config file beside the weights.
CONFIG_FILE = "config.json"
#: A config or an index is a few kB (an index of a large model a few MB); more is not one.
JSON_MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class CheckpointFiles:
    """What one checkpoint is made of: its weights (one file, or the shards an index
    names) and the config beside them (None when there is none)."""

    weights: tuple[Path, ...]
    config: Path | None = None

    @property
    def folder(self) -> Path:
        """The folder holding the weights (what `from_pretrained` is given)."""
        return self.weights[0].parent


def checkpoint_folder(folder: Path) -> CheckpointFiles | None:
    """The checkpoint a folder is, when it holds HF-style weights (an index and its shards,
    `model.safetensors` or `pytorch_model.bin`); None for any other folder, and for one
    whose index cannot be used (loading it says why). Never raises: discovery asks it of
    every folder.

    Reads nothing but the folder's names and, for a sharded one, its index.
    """
    try:
        return _folder_files(folder) if folder.is_dir() else None
    except (OSError, ArtifactError):
        return None


def checkpoint_files(path: Path) -> CheckpointFiles:
    """The checkpoint `path` names: an HF-style folder, or one weights file (any layout)
    with the `config.json` beside it, if any. ArtifactError for a folder that holds no
    weights, naming the files it should hold, or whose index is unusable."""
    if path.is_dir():
        found = _folder_files(path)
        if found is None:
            raise ArtifactError(
                str(path),
                None,
                f"a folder given as a checkpoint must hold {' or '.join(WEIGHT_FILES)} (or "
                f"sharded weights with {INDEX_FILES[0]}); name the weights file instead",
            )
        return found
    folder = path.parent
    index = next((folder / n for n in INDEX_FILES if (folder / n).is_file()), None)
    shards = _shards(index) if index is not None else ()
    config = folder / CONFIG_FILE
    found_config = config if config.is_file() and config != path else None
    if path in shards:  # one shard names its whole checkpoint
        return CheckpointFiles(shards, found_config)
    return CheckpointFiles((path,), found_config)


def _folder_files(folder: Path) -> CheckpointFiles | None:
    """A folder's HF-style weights and config, or None when it holds no weights."""
    config = folder / CONFIG_FILE
    found_config = config if config.is_file() else None
    for name in INDEX_FILES:
        index = folder / name
        if index.is_file():
            return CheckpointFiles(_shards(index), found_config)
    for name in WEIGHT_FILES:
        weights = folder / name
        if weights.is_file():
            return CheckpointFiles((weights,), found_config)
    return None


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object file (a config, an index), bounded in size; ArtifactError naming the
    file and what is wrong otherwise."""
    try:
        with open_artifact(path) as handle:
            raw = handle.read(JSON_MAX_BYTES + 1)
        if len(raw) > JSON_MAX_BYTES:
            raise ArtifactError(
                str(path), None, f"larger than {JSON_MAX_BYTES >> 20} MB, which no {what} is"
            )
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc})") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise ArtifactError(str(path), None, f"not valid JSON{where}") from None
    if not isinstance(data, dict):
        raise ArtifactError(
            str(path), None, f"a {what} must be a JSON object, found {type(data).__name__}"
        )
    return data


def _shards(index: Path) -> tuple[Path, ...]:
    """The shard files an index names, in their order of first mention; ArtifactError for
    an index without a weight_map or one naming a file that is not beside it."""
    weight_map = read_json_object(index, "weights index").get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ArtifactError(
            str(index), "weight_map", "an index must map each parameter name to its shard file"
        )
    names = list(dict.fromkeys(str(v) for v in weight_map.values()))
    shards = []
    for name in names:
        shard = index.parent / name
        if Path(name).name != name or not shard.is_file():
            raise ArtifactError(
                str(index), "weight_map", f"names the shard {name!r}, which is not beside it"
            )
        shards.append(shard)
    return tuple(shards)
