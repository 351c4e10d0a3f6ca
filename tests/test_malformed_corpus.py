"""A corpus of malformed artifacts through the real `timing-tui check`.

Every file here is one way a cache, a checkpoint, a stats log or an eval dump arrives
broken: empty, text, cut off, the wrong container, keys missing, wrong ranks and dtypes,
N or L that disagree between keys, no rows, no steps, NaN/Inf, absurd magnitudes, masks
that are not 0/1, lengths beyond L, configs of the wrong type, weights that do not fit,
strings for numbers, real/fake that disagree. Each is derived from a real artifact (the
Balabit test cache, the bundled sample run and eval dump) with one thing broken, and for
each `check --format json` must exit 2 (unusable: the top-level `error` names file, key
and problem) or 1 (usable, a check fails: its message names the key and the problem),
print exactly one JSON object, and never a traceback nor an internal error of a stage.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tui_timing.cli import main
from tui_timing.resources import sample_data_dir

SAMPLE = sample_data_dir()
SAMPLE_RUN = SAMPLE / "runs" / "increments"
Obj = dict[str, Any]
#: A builder gets the base artifact (a private copy) and the target path, and writes the file.
Builder = Callable[[Any, Path], None]


@dataclass(frozen=True)
class Case:
    """One malformed file and what `check` must say about it.

    exit 2: `key` is the `error.key` (None: the whole file; a more specific key below it
    also counts) and `problem` a phrase of `error.problem`. exit 1: `check` is the failing
    check, and `key` and `problem` are phrases its message must contain.
    """

    kind: str
    name: str
    build: Builder
    exit: int
    key: str | None
    problem: str
    check: str | None = None
    #: Also give the sample cache and run stage 3 only (a checkpoint fault that shows
    #: only when the model runs on data).
    with_cache: bool = False
    #: A known defect in a module this test does not own: the case is a strict xfail.
    defect: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.name}"


# --- writers ----------------------------------------------------------------------------


def _save(obj: object) -> Builder:
    return lambda _, path: torch.save(obj, path)


def _bytes(data: bytes) -> Builder:
    return lambda _, path: path.write_bytes(data)


def _cut(fraction: float) -> Builder:
    """The base file's bytes, cut off (a copy interrupted, a disk that filled)."""

    def build(base: Any, path: Path) -> None:
        raw = io.BytesIO()
        torch.save(base, raw)
        data = raw.getvalue()
        path.write_bytes(data[: int(len(data) * fraction)])

    return build


def _edit(change: Callable[[Any], Any]) -> Builder:
    """torch.save of the base after `change` (which edits in place or returns a new one)."""

    def build(base: Any, path: Path) -> None:
        changed = change(base)
        torch.save(base if changed is None else changed, path)

    return build


def _npz(arrays: dict[str, np.ndarray]) -> Builder:
    def build(_: Any, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, **arrays)

    return build


def _object_npz(_: Any, path: Path) -> None:
    member = io.BytesIO()
    np.save(member, np.array([{"duration": 1.0}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("duration.npy", member.getvalue())


def _set(obj: Obj, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        obj = obj[part]
    obj[last] = value


def _assign(dotted: str, value: Any) -> Callable[[Obj], None]:
    return lambda obj: _set(obj, dotted, value)


def _delete(*keys: str) -> Callable[[Obj], Obj]:
    return lambda obj: {k: v for k, v in obj.items() if k not in keys}


# --- caches (base: the Balabit test cache) ------------------------------------------------


def _profile_rank1(c: Obj) -> None:
    c["profile"] = c["profile"].sum(dim=1)


def _rows_mismatch(c: Obj) -> None:
    c["features"] = c["features"][:-3]


def _steps_mismatch(c: Obj) -> None:
    c["mask"] = c["mask"][:, :-1]


def _zero_rows(c: Obj) -> Obj:
    return {k: (v[:0] if isinstance(v, torch.Tensor) else v) for k, v in c.items()}


def _zero_steps(c: Obj) -> None:
    c["profile"], c["mask"] = c["profile"][:, :0], c["mask"][:, :0]


def _nan_profile(c: Obj) -> None:
    c["profile"][10, 0] = float("nan")


def _inf_duration(c: Obj) -> None:
    c["duration"][4] = float("inf")


def _absurd_durations(c: Obj) -> None:
    """Durations in nanoseconds times 1e21: finite in float32, wildly off the raw data."""
    c["duration"] = c["duration"] * 1e30
    c["log_duration"] = torch.log(c["duration"].double()).float()


def _mask_twos(c: Obj) -> None:
    c["mask"] = c["mask"].float() * 2


def _length_beyond_l(c: Obj) -> None:
    c["length"][0] = c["profile"].shape[1] + 7


def _negative_profile(c: Obj) -> None:
    c["profile"][2, 0] = -c["profile"][2, 0]


def _complex_mask(c: Obj) -> None:
    c["mask"] = c["mask"].to(torch.complex64)


def _complex_lengths(c: Obj) -> None:
    c["length"] = c["length"].to(torch.complex64)


def _no_feature_columns(c: Obj) -> None:
    c["features"] = c["features"][:, :0]
    c["meta"]["feature_names"] = []


def _feature_name_count(c: Obj) -> None:
    c["meta"]["feature_names"] = c["meta"]["feature_names"][:3]


def _meta_device(c: Obj) -> None:
    """Tensors without data: a cache built on torch's meta device and saved as is."""
    for key in ("duration", "profile"):
        c[key] = c[key].to("meta")


def _sparse_profile(c: Obj) -> None:
    c["profile"] = c["profile"].to_sparse()


def _nested_features(c: Obj) -> None:
    c["features"] = torch.nested.nested_tensor([row for row in c["features"][:3]])


def _int_durations(c: Obj) -> None:
    c["duration"] = c["duration"].long()


def _float_lengths(c: Obj) -> None:
    c["length"] = c["length"].double()


CACHES = [
    Case("cache", "empty", _bytes(b""), 2, None, "empty"),
    Case("cache", "text", _bytes(b"duration,profile\n1.0,0.5\n"), 2, None, "not a torch"),
    Case("cache", "json", _bytes(b'{"duration": [1.0], "profile": [[1.0]]}'), 2, None, "not a"),
    Case("cache", "cut_half", _cut(0.5), 2, None, "truncated"),
    Case("cache", "cut_head", _cut(0.001), 2, None, "truncated"),
    Case("cache", "zip_garbage", _bytes(b"PK\x03\x04" + bytes(range(256)) * 4), 2, None, "not"),
    Case("cache", "list", _edit(lambda c: [c["duration"], c["profile"]]), 2, None, "a list"),
    Case("cache", "bare_tensor", _edit(lambda c: c["profile"]), 2, None, "bare tensor"),
    Case("cache", "no_profile", _edit(_delete("profile")), 2, "profile", "required key missing"),
    Case("cache", "no_features", _edit(_delete("features")), 2, "features", "required key"),
    Case("cache", "zero_rows", _edit(_zero_rows), 2, "duration", "no rows"),
    Case("cache", "zero_steps", _edit(_zero_steps), 2, "profile", "no steps"),
    Case("cache", "npz_objects", _object_npz, 2, "duration", "unsafe"),
    Case("cache", "meta_device", _edit(_meta_device), 2, "duration", "holds no data"),
    Case("cache", "sparse_profile", _edit(_sparse_profile), 2, "profile", "sparse"),
    Case("cache", "nested_features", _edit(_nested_features), 2, "features", "nested"),
    Case(
        "cache",
        "npz_strings",
        _npz(
            {
                "duration": np.array(["1.0", "2.0"]),
                "profile": np.full((2, 3), 1 / 3),
                "features": np.ones((2, 4)),
            }
        ),
        1,
        "duration",
        "expected a tensor",
        check="cache.shapes",
    ),
    Case("cache", "profile_rank1", _edit(_profile_rank1), 1, "profile", "rank 2", "cache.shapes"),
    Case("cache", "int_durations", _edit(_int_durations), 1, "duration", "float", "cache.shapes"),
    Case("cache", "float_lengths", _edit(_float_lengths), 1, "length", "integer", "cache.shapes"),
    Case("cache", "n_mismatch", _edit(_rows_mismatch), 1, "features", "rows", "cache.shapes"),
    Case("cache", "l_mismatch", _edit(_steps_mismatch), 1, "mask", "steps", "cache.shapes"),
    Case(
        "cache", "meta_text", _edit(_assign("meta", "balabit")), 1, "meta", "dict", "cache.shapes"
    ),
    Case(
        "cache",
        "max_len_text",
        _edit(_assign("meta.max_len", "128")),
        1,
        "meta.max_len",
        "integer",
        "cache.shapes",
    ),
    Case("cache", "complex_mask", _edit(_complex_mask), 1, "mask", "complex", "cache.shapes"),
    Case(
        "cache", "complex_lengths", _edit(_complex_lengths), 1, "length", "integer", "cache.shapes"
    ),
    Case(
        "cache",
        "no_feature_columns",
        _edit(_no_feature_columns),
        1,
        "features",
        "zero",
        "cache.shapes",
    ),
    Case(
        "cache",
        "feature_names",
        _edit(_feature_name_count),
        1,
        "meta.feature_names",
        "3 names",
        "cache.shapes",
    ),
    Case("cache", "nan_profile", _edit(_nan_profile), 1, "profile", "NaN", "cache.finite"),
    Case("cache", "inf_duration", _edit(_inf_duration), 1, "duration", "infinite", "cache.finite"),
    Case(
        "cache",
        "absurd_durations",
        _edit(_absurd_durations),
        1,
        "duration",
        "drifted",
        "cache.vs_raw",
    ),
    Case("cache", "mask_twos", _edit(_mask_twos), 1, "mask", "other than 0/1", "cache.mask_prefix"),
    Case(
        "cache",
        "length_beyond_l",
        _edit(_length_beyond_l),
        1,
        "length",
        "outside",
        "cache.mask_length",
    ),
    Case(
        "cache",
        "negative_profile",
        _edit(_negative_profile),
        1,
        "profile",
        "negative",
        "cache.nonnegative",
    ),
]


# --- checkpoints (base: the bundled `increments` run) -----------------------------------


def _state_with(name: str, value: Any) -> Callable[[Obj], None]:
    """Replace one weight (state_dict keys hold dots, so no dotted path here)."""
    return lambda k: k["model"].__setitem__(name, value)


def _quantized_weight(k: Obj) -> None:
    """Built when the corpus is written (quantize_per_tensor is deprecated in torch)."""
    weight = torch.quantize_per_tensor(torch.zeros(2, 64), 0.1, 0, torch.qint8)
    k["model"]["duration.weight"] = weight


def _length_input_text(k: Obj) -> None:
    """length_input of the wrong type, and no feature_mean to infer the right one from."""
    k["config"]["length_input"] = "yes"
    del k["model"]["feature_mean"], k["model"]["feature_std"]


CHECKPOINTS = [
    Case("checkpoint", "empty", _bytes(b""), 2, None, "empty"),
    Case("checkpoint", "text", _bytes(b"epoch 30\nloss 0.1\n"), 2, None, "not a torch"),
    Case("checkpoint", "cut_half", _cut(0.5), 2, None, "truncated"),
    Case("checkpoint", "list", _edit(lambda k: list(k["model"].values())), 2, None, "a list"),
    Case(
        "checkpoint",
        "bare_tensor",
        _edit(lambda k: k["model"]["duration.weight"]),
        2,
        None,
        "tensor",
    ),
    Case("checkpoint", "no_weights", _edit(_delete("model")), 2, None, "no weights"),
    Case("checkpoint", "empty_state", _edit(_assign("model", {})), 2, "model", "no weights"),
    Case(
        "checkpoint",
        "weight_is_text",
        _edit(_state_with("duration.weight", "0.5")),
        2,
        "model.duration.weight",
        "expected a tensor",
    ),
    Case("checkpoint", "config_text", _edit(_assign("config", "increments")), 2, "config", "dict"),
    Case(
        "checkpoint",
        "config_vs_weights",
        _edit(_assign("config.hidden", 32)),
        2,
        "config.hidden",
        "do not fit",
    ),
    Case(
        "checkpoint",
        "config_bad_head",
        _edit(_assign("config.profile_head", "spline")),
        2,
        "config.profile_head",
        "spline",
    ),
    Case(
        "checkpoint",
        "config_bound_text",
        _edit(_assign("config.logit_bound", "tight")),
        2,
        "config",
        "logit_bound",
    ),
    Case(
        "checkpoint",
        "weight_shape",
        _edit(_state_with("duration.weight", torch.zeros(3, 64))),
        2,
        "model.duration.weight",
        "do not fit",
    ),
    Case(
        "checkpoint",
        "weight_rank",
        _edit(_state_with("backbone.2.weight", torch.zeros(64))),
        2,
        "model.backbone.2.weight",
        "do not fit",
    ),
    Case(
        "checkpoint",
        "nan_weights",
        _edit(_state_with("duration.weight", torch.full((2, 64), float("nan")))),
        1,
        "σ",
        "non-finite",
        check="model.duration_head",
        with_cache=True,
    ),
    Case(
        "checkpoint",
        "meta_device_weights",
        _edit(lambda k: _set(k, "model", {n: v.to("meta") for n, v in k["model"].items()})),
        2,
        "model.feature_mean",
        "holds no data",
    ),
    Case(
        "checkpoint",
        "quantized_weight",
        _edit(_quantized_weight),
        2,
        "model.duration.weight",
        "quantized",
    ),
    Case(
        "checkpoint",
        "complex_weight",
        _edit(_state_with("duration.weight", torch.ones(2, 64, dtype=torch.complex64))),
        2,
        "model.duration.weight",
        "complex",
    ),
    Case(
        "checkpoint",
        "first_weight_rank1",
        _edit(_state_with("backbone.0.weight", torch.zeros(64))),
        2,
        "model.backbone.0.weight",
        "",
    ),
    Case(
        "checkpoint",
        "length_input_text",
        _edit(_length_input_text),
        2,
        "config",
        "length_input",
    ),
    Case(
        "checkpoint",
        "config_logsigma_text",
        _edit(_assign("config.logsigma_min", "low")),
        2,
        "config",
        "logsigma_min",
        with_cache=True,
    ),
    Case(
        "checkpoint",
        "inf_profile_weights",
        _edit(_state_with("profile.increments.weight", torch.full((128, 64), float("inf")))),
        1,
        "profile",
        "",
        check="model.length_masking",
        with_cache=True,
    ),
]


# --- stats logs (base: the bundled run's stats.jsonl) -------------------------------------


def _jsonl(change: Callable[[list[Obj]], list[Any]]) -> Builder:
    def build(records: list[Obj], path: Path) -> None:
        lines = change(records)
        path.write_text(
            "".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines)
        )

    return build


def _record(index: int, key: str, value: Any) -> Callable[[list[Obj]], list[Any]]:
    def change(records: list[Obj]) -> list[Any]:
        records[index][key] = value
        return records

    return change


def _line(index: int, text: str) -> Callable[[list[Obj]], list[Any]]:
    def change(records: list[Obj]) -> list[Any]:
        return [*records[:index], text, *records[index + 1 :]]

    return change


def _csv(rows: list[str]) -> Builder:
    header = "epoch,split,loss,duration_nll,profile_loss,dur_mu,dur_sigma\n"
    return lambda _, path: path.write_text(header + "".join(row + "\n" for row in rows))


def _val_loss_diverges(records: list[Obj]) -> list[Obj]:
    for r in records:
        if r["split"] == "val":
            r["loss"] = 10.0 ** min(r["epoch"] * 10, 300)
    return records


def _sigma_collapses(records: list[Obj]) -> list[Obj]:
    """σ falls to nothing after epoch 10, and the duration NLL blows up with it."""
    for r in records:
        if r["epoch"] > 10:
            r["dur_sigma"] = 1e-9
            r["duration_nll"] = 1e6
    return records


def _nan_losses(records: list[Obj]) -> list[Obj]:
    for r in records:
        if r["epoch"] > 5:
            r["loss"] = float("nan")
    return records


LOGS = [
    Case("log", "empty", _bytes(b""), 2, None, "empty"),
    Case("log", "binary", _bytes(bytes(range(128, 256)) * 8), 2, None, "not a text log"),
    Case("log", "loss_as_text", _jsonl(_record(2, "loss", "0.93")), 2, "loss", "line 3"),
    Case("log", "sigma_as_list", _jsonl(_record(4, "dur_sigma", [0.7])), 2, "dur_sigma", "number"),
    Case("log", "epoch_as_text", _jsonl(_record(0, "epoch", "one")), 2, "epoch", "an epoch"),
    Case("log", "epoch_negative", _jsonl(_record(3, "epoch", -1)), 2, "epoch", "an epoch"),
    Case("log", "broken_middle_line", _jsonl(_line(5, '{"epoch": 3, "spl\n')), 2, "line 6", "JSON"),
    Case("log", "array_line", _jsonl(_line(1, "[1, 2, 3]\n")), 2, "line 2", "JSON object"),
    Case("log", "only_half_a_line", _bytes(b'{"epoch": 1, "split": "tra'), 2, None, "no complete"),
    Case(
        "log",
        "csv_text_cell",
        _csv(["1,train,0.9,0.5,0.4,0.1,0.7", "2,train,abc,0.5,0.4,0.1,0.7"]),
        2,
        "loss",
        "abc",
    ),
    Case(
        "log",
        "csv_short_row",
        _csv(["1,train,0.9,0.5,0.4,0.1,0.7", "2,train,0.8", "3,train,0.7,0.5,0.4,0.1,0.7"]),
        2,
        "line 3",
        "cells",
    ),
    Case(
        "log",
        "val_diverges",
        _jsonl(_val_loss_diverges),
        1,
        "val",
        "loss",
        check="train.loss_trend",
    ),
    Case("log", "nan_losses", _jsonl(_nan_losses), 1, "loss", "not finite", "train.loss_trend"),
    Case(
        "log", "sigma_collapses", _jsonl(_sigma_collapses), 1, "σ", "epoch", check="train.collapse"
    ),
]


# --- eval dumps (base: real and fake both the bundled dump's real side) -------------------


def _scale_fake(key: str, factor: float) -> Callable[[Obj], None]:
    def change(e: Obj) -> None:
        e["fake"][key] = e["fake"][key] * factor
        if key == "dt":
            e["fake_duration"] = e["fake_duration"] * factor

    return change


def _zero_fake_rows(e: Obj) -> None:
    e["fake"] = {k: v[:0] for k, v in e["fake"].items()}
    e["fake_duration"] = e["fake_duration"][:0]


EVALS = [
    Case("eval", "empty", _bytes(b""), 2, None, "empty"),
    Case("eval", "text", _bytes(b"real,fake\n"), 2, None, "not a torch"),
    Case("eval", "cut_half", _cut(0.5), 2, None, "truncated"),
    Case("eval", "list", _edit(lambda e: [e["real"], e["fake"]]), 2, None, "list"),
    Case("eval", "bare_tensor", _edit(lambda e: e["real"]["dt"]), 2, None, "Tensor"),
    Case("eval", "no_fake", _edit(_delete("fake", "fake_duration")), 2, "fake", "missing"),
    Case(
        "eval",
        "no_real_dt",
        _edit(lambda e: _set(e, "real", _delete("dt")(e["real"]))),
        2,
        "real.dt",
        "missing",
    ),
    Case(
        "eval",
        "xy_not_2d",
        _edit(_assign("fake.xy", torch.zeros(500, 129, 3))),
        2,
        "fake.xy",
        "fits neither",
    ),
    Case(
        "eval",
        "xy_rows_mismatch",
        _edit(lambda e: _set(e, "fake.xy", e["fake"]["xy"][:-5])),
        2,
        "fake.xy",
        "fits neither",
    ),
    Case(
        "eval",
        "mask_steps_mismatch",
        _edit(lambda e: _set(e, "real.mask", e["real"]["mask"][:, :-1])),
        2,
        "real.mask",
        "does not match",
    ),
    Case(
        "eval",
        "mask_values",
        _edit(lambda e: _set(e, "real.mask", e["real"]["mask"].float() * 3)),
        2,
        "real.mask",
        "other than 0 and 1",
    ),
    Case(
        "eval",
        "inf_xy",
        _edit(lambda e: e["real"]["xy"].__setitem__((0, slice(1, 3), 0), float("inf"))),
        2,
        "real.xy",
        "non-finite",
    ),
    Case(
        "eval",
        "all_zero_dt",
        _edit(lambda e: _set(e, "fake.dt", torch.zeros_like(e["fake"]["dt"]))),
        2,
        "fake.dt",
        "every Δt",
    ),
    Case(
        "eval",
        "nan_dt",
        _edit(lambda e: e["fake"]["dt"].__setitem__((0, 0), float("nan"))),
        2,
        "fake.dt",
        "non-finite",
    ),
    Case(
        "eval",
        "negative_dt",
        _edit(lambda e: e["real"]["dt"].__setitem__((1, 0), -0.01)),
        2,
        "real.dt",
        "negative",
    ),
    Case("eval", "zero_rows", _edit(_zero_fake_rows), 2, "fake.dt", "N, L >= 1"),
    Case(
        "eval",
        "fake_duration_count",
        _edit(lambda e: _set(e, "fake_duration", e["fake_duration"][:10])),
        2,
        "fake_duration",
        "rows",
    ),
    Case(
        "eval",
        "dt_as_text",
        _npz({"real/dt": np.array([["0.01"] * 3]), "real/xy": np.zeros((1, 4, 2))}),
        2,
        "real.dt",
        "numbers",
    ),
    Case(
        "eval",
        "absurd_fake_dt",
        _edit(_scale_fake("dt", 1e6)),
        1,
        "Δt",
        "median",
        check="integration.dt_median",
    ),
    Case(
        "eval",
        "normalized_fake_xy",
        _edit(_scale_fake("xy", 1e-3)),
        1,
        "vel",
        "p95",
        check="integration.vel_p95",
    ),
]

CORPUS = CACHES + CHECKPOINTS + LOGS + EVALS


# --- building and running ------------------------------------------------------------------


def _copy(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def _bases(small_cache: Path) -> dict[str, Any]:
    real = torch.load(SAMPLE / "eval" / "eval.pt", weights_only=True)["real"]
    lines = (SAMPLE_RUN / "stats.jsonl").read_text().splitlines()
    return {
        "cache": torch.load(small_cache, weights_only=True),
        "checkpoint": torch.load(SAMPLE_RUN / "checkpoint.pt", weights_only=True),
        "log": [json.loads(line) for line in lines if line.strip()],
        "eval": {"real": real, "fake": _copy(real), "fake_duration": real["dt"].sum(dim=1)},
    }


SUFFIX = {"cache": "_timing.pt", "checkpoint": ".pt", "log": ".jsonl", "eval": ".pt"}


@pytest.fixture(scope="session")
def corpus(small_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case written once: case id -> file (caches with the raw summary beside)."""
    folder = tmp_path_factory.mktemp("corpus")
    bases = _bases(small_cache)
    summary = small_cache.with_name("train_summary.json").read_text()
    files = {}
    for case in CORPUS:
        suffix = ".csv" if case.name.startswith("csv") else SUFFIX[case.kind]
        if case.build.__qualname__.startswith("_npz"):
            suffix = "_timing.npz" if case.kind == "cache" else ".npz"
        path = folder / f"{case.id}{suffix}"
        case.build(_copy(bases[case.kind]), path)
        if case.kind == "cache":
            path.with_name(f"{case.id}_summary.json").write_text(summary)
        files[case.id] = path
    return files


OPTION = {"cache": "--cache", "checkpoint": "--checkpoint", "log": "--log", "eval": "--eval"}


def _arguments(case: Case, path: Path) -> list[str]:
    args = ["check", OPTION[case.kind], str(path), "--format", "json"]
    if case.with_cache:
        args += ["--cache", str(SAMPLE / "datasets" / "sample" / "train_timing.pt")]
        args += ["--stage", "3"]
    return args


def _verify(case: Case, path: Path, code: int, stdout: str, stderr: str) -> None:
    """The contract every case must keep (see the module docstring)."""
    assert "Traceback" not in stdout + stderr, stderr
    report = json.loads(stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(report, dict) and report["version"] == 1
    assert report["artifacts"][case.kind]["path"] == str(path)
    checks = {c["id"]: c for stage in report["stages"] for c in stage["checks"]}
    internal = [c["message"] for c in checks.values() if c["id"].endswith(".internal")]
    assert internal == [], internal
    assert code == case.exit, (code, report.get("error"), _failing(checks))
    if case.exit == 2:
        error = report["error"]
        assert error["file"] == str(path)
        key = error["key"]
        assert key == case.key or (case.key and str(key).startswith(case.key + ".")), error
        assert case.problem in error["problem"], error
        assert "please report" not in error["problem"], error
    else:
        assert "error" not in report
        check = checks[case.check]
        assert check["status"] == "fail", check
        assert case.key in check["message"] and case.problem in check["message"], check


def _failing(checks: dict[str, Obj]) -> dict[str, str]:
    return {cid: c["message"] for cid, c in checks.items() if c["status"] in ("fail", "error")}


def test_corpus_is_large_and_covers_each_kind() -> None:
    counts = {kind: sum(c.kind == kind for c in CORPUS) for kind in OPTION}
    assert sum(counts.values()) >= 40 and min(counts.values()) >= 10, counts
    assert len({c.id for c in CORPUS}) == len(CORPUS)


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.defect)] if case.defect else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CORPUS])
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_check_names_file_key_and_problem(case: Case, corpus: dict[str, Path]) -> None:
    """Warnings are errors here: a numpy warning on a bad file is a line of noise on the
    user's stderr that looks like a crash (and a stage turns it into an internal error)."""
    path = corpus[case.id]
    result = CliRunner().invoke(main, _arguments(case, path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    _verify(case, path, result.exit_code, result.stdout, result.stderr)


#: A few cases (both exit codes, three kinds) through the real console entry point.
SUBPROCESS_CASES = ["cache-cut_half", "log-nan_losses", "eval-all_zero_dt"]


def test_real_processes(corpus: dict[str, Path]) -> None:
    """A few cases in their own processes, started together: what a script or CI sees."""
    cases = [next(c for c in CORPUS if c.id == name) for name in SUBPROCESS_CASES]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tui_timing", *_arguments(c, corpus[c.id])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in cases
    ]
    for case, proc in zip(cases, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=180)
        _verify(case, corpus[case.id], proc.returncode, stdout, stderr)


SPECIAL_CHECKS = (
    "import json, sys\n"
    "from click.testing import CliRunner\n"
    "from tui_timing.cli import main\n"
    "out = []\n"
    "for option, path in json.loads(sys.argv[1]):\n"
    "    r = CliRunner().invoke(main, ['check', option, path, '--format', 'json'])\n"
    "    out.append([r.exit_code, json.loads(r.stdout).get('error'), r.output])\n"
    "print(json.dumps(out))\n"
)


def test_special_files_are_refused_without_reading(tmp_path: Path) -> None:
    """A pipe, /dev/zero or /dev/urandom given as an artifact: reading (or hashing) one
    would never end. Each kind refuses them at once (a subprocess with a timeout, so that
    a regression fails instead of hanging the test run)."""
    fifo = tmp_path / "stats.jsonl"
    os.mkfifo(fifo)
    devices = [p for p in ("/dev/zero", "/dev/urandom") if os.path.exists(p)]
    pairs = [[option, path] for option in OPTION.values() for path in [str(fifo), *devices]]
    pairs.append(["--cache", str(tmp_path)])
    done = subprocess.run(
        [sys.executable, "-c", SPECIAL_CHECKS, json.dumps(pairs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for (option, path), (code, error, output) in zip(pairs, json.loads(done.stdout), strict=True):
        assert code == 2 and error["file"] == path and error["key"] is None, (option, output)
        reasons = ("not a regular file", "not a file", "is a folder")
        assert any(reason in error["problem"] for reason in reasons), (option, error)
        assert "Traceback" not in output


@pytest.mark.parametrize(
    "setting",
    [
        'samples = "many"',
        "samples = 0",
        "seed = [1]",
        "seed = true",
        'device = "tpu"',
        "temperature = -1",
        "theme = 3",
        "scratchpad = 5",
    ],
)
def test_bad_pyproject_settings_exit_2(
    setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's `[tool.timing-tui]` is input too: a run setting of the wrong type or range
    is a usage error naming the file and the key, not a traceback."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.timing-tui]\n{setting}\n")
    monkeypatch.chdir(tmp_path)
    cache = SAMPLE / "datasets" / "sample" / "train_timing.pt"
    result = CliRunner().invoke(main, ["check", "--cache", str(cache), "--stage", "1"])
    assert result.exit_code == 2, result.output
    key = setting.split(" = ")[0]
    assert f"[tool.timing-tui] {key} must be" in result.stderr
    assert str(tmp_path / "pyproject.toml") in result.stderr
    assert "Traceback" not in result.output


#: What a terminal would act on: C0 controls but tab and newline, DEL, C1, bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: A key that would retitle the terminal, colour it and reverse the rest of the line.
HOSTILE_KEY = "\x1b]0;owned\x07\x1b[31mred\u202ereversed"


def test_hostile_names_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Names from a file reach the text and markdown reports, the scratchpad and the error
    line of build-cache: shown escaped there, never as raw control characters."""
    cache = tmp_path / "hostile_timing.pt"
    torch.save({"duration": torch.ones(2), "features": torch.ones(2, 1), HOSTILE_KEY: 1}, cache)
    pad = tmp_path / "pad.md"
    outputs, quiet = [], []  # where the name is shown; where it is not, but must not leak
    for fmt in ("text", "markdown"):
        args = ["check", "--cache", str(cache), "--format", fmt, "--scratchpad", str(pad)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        outputs.append(result.stdout)
        quiet.append(result.stderr)
    outputs.append(pad.read_text())
    raw = tmp_path / "raw" / f"session{HOSTILE_KEY}"
    raw.parent.mkdir()
    raw.write_text("not, a, session\n")
    result = CliRunner().invoke(
        main, ["build-cache", str(raw.parent), "--out", str(tmp_path), "--id", "x", "--split", "t"]
    )
    assert result.exit_code == 2
    outputs.append(result.stderr)
    for output in outputs + quiet:
        assert RAW_CONTROL.search(output) is None, repr(output[-300:])
    for output in outputs:
        assert "\\x1b]0;owned\\x07" in output, output[-300:]


def test_a_file_with_a_million_keys_gives_a_short_message(tmp_path: Path) -> None:
    cache = tmp_path / "many_timing.pt"
    torch.save({f"key{i}": i for i in range(100_000)}, cache)
    result = CliRunner().invoke(main, ["check", "--cache", str(cache), "--format", "json"])
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["error"]["problem"]
    assert len(problem) < 1000 and "(100000 keys)" in problem, problem
