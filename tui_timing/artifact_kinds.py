"""The artifact kinds, one declaration each: everything the package knows about a kind of
file that is not how to read it.

The command line's options, the project table's keys, the report's artifact names, the
runner's loaders, discovery's recognisers and the suffixes it opens, what `compare` takes
from each run, and what the verdict tells a user to give for a stage that could not run
are all read from here, so that a new kind (or a new form of one) is one declaration, its
loader and its recogniser. This module imports nothing heavy: the command line and the
TUI's start read it before torch. Loaders and recognisers are named by module path and
imported when first called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

#: Where a kind's file comes from when two runs are compared: each run's own ("run"), one
#: file for both ("shared"), or the run's own when one lies in the run's folder and else
#: one for both ("either").
Scope = Literal["run", "shared", "either"]


@dataclass(frozen=True)
class ArtifactKind:
    """One kind of artifact.

    `name` is at once the report's and the JSON's name, the `[tool.timing-tui]` key and the
    field of `ArtifactPaths`. `loader` is `"module:function"`, called `(path, settings)`,
    returning the loaded value or raising ArtifactError. `recogniser` (None for a kind that
    discovery does not look for) is `"module:function"`, called `(path, settings)` on a
    file whose name matches `suffixes` or `prefixes`, returning a classify.Verdict: of this
    kind, a refusal that ends the classification, or None (not this kind).
    """

    name: str
    #: The command-line option and click's name for its value.
    option: str
    param: str
    #: What the option's value is, in `--help` and in "give --log STATS_LOG".
    metavar: str
    help: str
    loader: str
    recogniser: str | None
    #: Lower-case file suffixes discovery opens for this kind.
    suffixes: tuple[str, ...]
    scope: Scope
    #: File-name prefixes discovery opens for this kind whatever their suffix.
    prefixes: tuple[str, ...] = ()
    #: Whole file names discovery opens for this kind.
    names: tuple[str, ...] = ()
    #: How to make one, said when a path given for this kind does not exist.
    make_one: str = ""

    @property
    def give(self) -> str:
        """What a user gives for this kind: `--log STATS_LOG`."""
        return f"{self.option} {self.metavar}"

    def load(self) -> Callable[..., Any]:
        """The loader function (imported now)."""
        return _resolve(self.loader)

    def recognise(self) -> Callable[..., Any] | None:
        """The recogniser function (imported now), or None when discovery skips the kind."""
        return _resolve(self.recogniser) if self.recogniser else None

    def matches(self, file_name: str) -> bool:
        """Whether discovery opens a file of this name as a possible artifact of this kind."""
        lower = file_name.lower()
        return (
            lower.endswith(self.suffixes)
            or file_name.startswith(self.prefixes)
            or file_name in self.names
        )


_TENSOR_SUFFIXES = (".pt", ".pth", ".ckpt", ".npz", ".safetensors")
_CLASSIFY = "tui_timing.artifacts.classify"

#: In the order reports list them.
KINDS: tuple[ArtifactKind, ...] = (
    ArtifactKind(
        name="cache",
        option="--cache",
        param="cache",
        metavar="CACHE",
        help="Timing cache (.pt/.npz/.safetensors).",
        loader="tui_timing.artifacts.cache:load_cache_for",
        recogniser=f"{_CLASSIFY}:cache_verdict",
        suffixes=_TENSOR_SUFFIXES,
        scope="shared",
        make_one="or build one: timing-tui build-cache RAW_DIR --out DIR --id ID --split SPLIT",
    ),
    ArtifactKind(
        name="raw_summary",
        option="--raw-summary",
        param="raw_summary",
        metavar="RAW_SUMMARY",
        help="Raw summary JSON (default: beside the cache).",
        loader="tui_timing.artifacts.raw_summary:load_raw_summary_for",
        recogniser=None,
        suffixes=(),
        scope="shared",
        make_one="or leave the option out (build-cache writes one beside the cache)",
    ),
    ArtifactKind(
        name="checkpoint",
        option="--checkpoint",
        param="checkpoint",
        metavar="CHECKPOINT",
        help="Timing-head checkpoint (.pt/.ckpt/.safetensors, or an HF-style folder with "
        "config.json).",
        loader="tui_timing.model.checkpoint:load_checkpoint",
        recogniser=f"{_CLASSIFY}:checkpoint_verdict",
        suffixes=_TENSOR_SUFFIXES,
        scope="run",
        make_one="or train one: timing-tui train --cache CACHE --out RUN_DIR",
    ),
    ArtifactKind(
        name="log",
        option="--log",
        param="log",
        metavar="STATS_LOG",
        help="Training stats log (JSONL, CSV, TensorBoard events, trainer_state.json, text).",
        loader="tui_timing.artifacts.stats_log:load_stats_log",
        recogniser=f"{_CLASSIFY}:log_verdict",
        suffixes=(".jsonl", ".csv", ".log"),
        scope="either",
        prefixes=("events.out.tfevents",),
        names=("trainer_state.json",),
    ),
    ArtifactKind(
        name="eval",
        option="--eval",
        param="eval_dump",
        metavar="EVAL_DUMP",
        help="Diffusion eval dump (.pt/.npz).",
        loader="tui_timing.artifacts.eval_dump:load_eval_dump",
        recogniser=f"{_CLASSIFY}:eval_verdict",
        suffixes=_TENSOR_SUFFIXES,
        scope="either",
    ),
)

KIND: dict[str, ArtifactKind] = {kind.name: kind for kind in KINDS}
#: The kinds' names in report order.
KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in KINDS)
#: The order discovery tries the recognisers in: the most specific contents first (an eval
#: dump has two groups, a cache a duration and a profile of one length; anything holding a
#: state dict would pass for a checkpoint).
RECOGNITION_ORDER: tuple[str, ...] = ("eval", "cache", "checkpoint", "log")


def discovered_kinds(file_name: str) -> list[ArtifactKind]:
    """The kinds discovery tries on a file of this name, in recognition order."""
    return [KIND[name] for name in RECOGNITION_ORDER if KIND[name].matches(file_name)]


def _resolve(spec: str) -> Callable[..., Any]:
    module, _, attribute = spec.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return function
