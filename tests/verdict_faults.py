"""Planted faults on real Balabit data, each with the check that must catch it and the rule it
must end at: the confusion matrix of VALIDITY.md (tests/test_verdicts.py asserts it,
benchmarks/validity.py measures it on other users and writes VALIDITY.md's table).

A `World` holds one user's real artifacts, built on demand and kept on disk: the cache of
some of the user's sessions (with the builder's raw summary), runs trained on it by the
package's real trainer (the healthy head and each mis-configured one), a run trained on
*another* user's cache, the research repo's own head (tests/verdict_plugins.py) trained by
its own loop, and eval dumps whose real side is the same sessions' segments. Each `Fault`
plants one fault in a copy of one of those artifacts, or plugs in one faulty piece of a
user's code, and says what the verdict must be. `diagnose` runs every stage on it the way
`timing-tui check` does and returns the JSON report.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cache_faults
import numpy as np
import torch
import verdict_plugins
from session_rows import cache_of

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.build_cache import build_cache
from tui_timing.data.eval_dump_maker import (
    Sequences,
    disjoint_halves,
    real_sequences,
    scale_dt,
    scale_paths,
    write_eval_dump,
)
from tui_timing.model.train import TrainOptions, train
from tui_timing.stages.runner import build_report, load_artifacts, run_stage, stages_to_run

#: No step of a real movement is longer than this (px): longer ones are logging glitches.
SCREEN_PX = 4096
#: Rows of the eval dumps per side (the real half of the sessions' segments, the fake half).
EVAL_ROWS = 1500


@dataclass(frozen=True)
class Expect:
    """What the verdict must be: the check that catches the fault (with its status), the
    rule it ends at, and words its headline must (and must not) use."""

    check: str
    rule: int
    status: str = "fail"
    words: tuple[str, ...] = ()
    not_words: tuple[str, ...] = ()


@dataclass
class Case:
    """The artifacts and options of one `timing-tui check` run."""

    paths: ArtifactPaths
    model: str | None = None
    sampler: str | None = None
    dataset: str | None = None
    #: Called before the run (points a plug-in sampler at its cache).
    before: Callable[[], None] | None = None
    #: Settings changed from the defaults (a harmless change: another seed, batch size).
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """One planted fault: where it sits, what it is, how to plant it, what must be said."""

    name: str
    area: str
    what: str
    expect: Expect
    plant: Callable[[World], Case]


@dataclass
class World:
    """One user's real artifacts, built once under `root` and reused by every fault."""

    raw_dir: Path
    root: Path
    user: str
    #: A user of the other sampling regime (Balabit has ~16 ms and ~110 ms clocks).
    other_user: str
    sessions: int = 4
    epochs: int = 12
    _runs: dict[str, Path] = field(default_factory=dict)
    _stage3: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    # --- data -------------------------------------------------------------------------------

    def session_files(self, user: str | None = None) -> list[Path]:
        """The user's first `sessions` sessions (another user's first one)."""
        folder = self.raw_dir / (user or self.user)
        count = self.sessions if user in (None, self.user) else 1
        return sorted(p for p in folder.iterdir() if p.is_file())[:count]

    def cache(self, user: str | None = None) -> Path:
        """The cache (with its raw summary) of the user's cached half of their first
        sessions' segments (`halves`); another user's: of their first session whole."""
        name = user or self.user
        path = self.root / "datasets" / name / "train_timing.pt"
        if not path.exists():
            if user in (None, self.user):
                return cache_of(self.halves()[0], self.root / "datasets", name)
            build_cache(
                self.raw_dir, self.root / "datasets", name, "train", files=self.session_files(user)
            )
        return path

    def halves(self) -> tuple[Sequences, Sequences]:
        """The user's first sessions' segments in two disjoint halves: the cache is built from
        the first, the clean eval's fake side drawn from the second (real movements the
        cache never holds: what a generator that matches the data, and copies none of it,
        would give). Rows with a step longer than any screen (Balabit's coordinate glitches,
        jumps of 65,000 px) are left out: one in the reference trainer's val split makes its
        val loss explode, a finding about that trainer, not about what these cases plant."""
        seqs = real_sequences(self.session_files())
        steps = np.hypot(*np.diff(seqs.xy, axis=1).transpose(2, 0, 1))
        sane = np.flatnonzero(steps.max(axis=1) <= SCREEN_PX)
        return disjoint_halves(seqs.take(sane), seed=0)

    def planted_cache(
        self, name: str, plant: Callable[[dict[str, Any]], None], summary: bool = True
    ) -> Path:
        """A copy of the user's cache with one fault planted (and its raw summary, or none)."""
        folder = self.root / "planted" / name
        path = folder / "train_timing.pt"
        if not path.exists():
            source = self.cache()
            cache = cache_faults.load(source)
            plant(cache)
            if summary:
                cache_faults.save_beside(cache, source, folder)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                torch.save(cache, path)
        return path

    def run(self, name: str, user: str | None = None, cache: Path | None = None,
            epochs: int | None = None, lr: float = 3e-3, **head: Any) -> Path:  # fmt: skip
        """A run folder trained by the package's trainer (checkpoint.pt, stats.jsonl)."""
        if name not in self._runs:
            out = self.root / "runs" / name
            if not (out / "checkpoint.pt").exists():
                options = TrainOptions(epochs=epochs or self.epochs, lr=lr, device="cpu", seed=0)
                train(cache or self.cache(user), out, head=head or None, options=options)
            self._runs[name] = out
        return self._runs[name]

    def healthy(self) -> Path:
        return self.run("healthy")

    def tanh_run(self) -> Path:
        """The research repo's head trained by its own entry point on the user's cache."""
        out = self.root / "runs" / "tanh"
        if not (out / "checkpoint.pt").exists():
            verdict_plugins.train_tanh_head(self.cache(), out, epochs=self.epochs)
        return out

    def planted_checkpoint(self, name: str, plant: Callable[[dict[str, Any]], None]) -> Path:
        """The healthy run's checkpoint with one fault planted in its weights."""
        path = self.root / "checkpoints" / name / "checkpoint.pt"
        if not path.exists():
            saved = torch.load(self.healthy() / "checkpoint.pt", weights_only=True)
            plant(saved)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(saved, path)
        return path

    def planted_log(self, name: str, plant: Callable[[list[dict[str, Any]]], None]) -> Path:
        """The healthy run's stats log with one fault planted in its records."""
        path = self.root / "logs" / name / "stats.jsonl"
        if not path.exists():
            records = [
                json.loads(line)
                for line in (self.healthy() / "stats.jsonl").read_text().splitlines()
            ]
            plant(records)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    def sequences(self) -> tuple[Sequences, Sequences]:
        """The clean eval's sides: rows of the cache (real) and of the other half (fake)."""
        real, fake = self.halves()
        pick = np.random.default_rng(1)
        real = real.take(np.sort(pick.permutation(real.n_rows)[:EVAL_ROWS]))
        fake = fake.take(np.sort(pick.permutation(fake.n_rows)[:EVAL_ROWS]))
        return real, fake

    def eval_dump(
        self, name: str, plant: Callable[[Sequences, Sequences], tuple[Sequences, Sequences, Any]]
    ) -> Path:
        """An eval dump of real segments against the other half with one fault planted."""
        path = self.root / "eval" / f"{name}.pt"
        if not path.exists():
            real, fake = self.sequences()
            real, fake, fake_duration = plant(real, fake)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_eval_dump(path, real, fake, fake_duration=fake_duration, meta={"fault": name})
        return path

    def eval_from_cache(self) -> Path:
        """An eval dump whose fake side is rows of the cache that are not on its real side:
        real training data handed to the eval as generated."""
        path = self.root / "eval" / "from-cache.pt"
        if not path.exists():
            cached = self.halves()[0]
            order = np.random.default_rng(2).permutation(cached.n_rows)
            half = min(EVAL_ROWS, cached.n_rows) // 2
            real = cached.take(np.sort(order[:half]))
            fake = cached.take(np.sort(order[half : 2 * half]))
            path.parent.mkdir(parents=True, exist_ok=True)
            write_eval_dump(path, real, fake, fake.durations, meta={"fault": "from-cache"})
        return path

    def eval_held_out_split(self) -> Path:
        """A clean eval on another split: both sides from the half the cache never holds
        (real side one half of it, fake side the other)."""
        path = self.root / "eval" / "held-out-split.pt"
        if not path.exists():
            real, fake = disjoint_halves(self.halves()[1], seed=3)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_eval_dump(path, real, fake, fake.durations, meta={"split": "held out"})
        return path

    # --- cases ------------------------------------------------------------------------------

    def full(self, run: Path | None = None, **kwargs: Any) -> Case:
        """The healthy case: cache, run (checkpoint and log) and the clean eval dump."""
        run = run or self.healthy()
        paths = ArtifactPaths(
            cache=kwargs.pop("cache", None) or self.cache(),
            checkpoint=kwargs.pop("checkpoint", None) or run / "checkpoint.pt",
            log=kwargs.pop("log", None) or run / "stats.jsonl",
            eval=kwargs.pop("eval", None) or self.eval_dump("clean", _clean),
        )
        return Case(paths=paths, **kwargs)

    def only_cache(self, cache: Path, dataset: str | None = None) -> Case:
        """A case with the cache alone (and the user's dataset): what stages 1-2 need."""
        return Case(paths=ArtifactPaths(cache=cache), dataset=dataset)

    def with_sampler(self, name: str) -> Case:
        cache = self.cache()
        return self.full(
            sampler=f"verdict_plugins:{name}", before=lambda: verdict_plugins.use_cache(cache)
        )


def diagnose(world: World, case: Case, settings: Settings | None = None) -> dict[str, Any]:
    """Every stage on the case, as `timing-tui check` runs them; the JSON report.

    Stage 3 is seeded and deterministic, so its result is reused between cases that give it
    the same inputs (the cache, the checkpoint and --model): faults planted in the log,
    the sampler or the eval dump do not pay for the capacity probe again.
    """
    settings = dataclasses.replace(
        settings or Settings(device="cpu"),
        model_spec=case.model,
        sampler_spec=case.sampler,
        dataset_spec=case.dataset,
        **case.settings,
    )
    if case.before is not None:
        case.before()
    ctx = load_artifacts(case.paths, settings)
    key = (case.paths.cache, case.paths.checkpoint, case.model, settings.seed)
    for stage in stages_to_run(None):
        if stage == 3 and key in world._stage3:
            ctx.results[3] = copy.deepcopy(world._stage3[key])
            continue
        run_stage(ctx, stage)
        if stage == 3 and case.paths.checkpoint is not None:
            world._stage3[key] = copy.deepcopy(ctx.results[3])
    report: dict[str, Any] = build_report(ctx, stages_to_run(None)).as_dict()
    return report


@dataclass(frozen=True)
class Outcome:
    """What the tool said about one fault, against what it should have said."""

    fault: Fault
    rule: int | None
    verdict: str
    status: str | None
    failing: tuple[str, ...]

    @property
    def caught(self) -> bool:
        return self.status == self.fault.expect.status

    @property
    def right_rule(self) -> bool:
        return self.rule == self.fault.expect.rule

    @property
    def named(self) -> bool:
        text = self.verdict.lower()
        return all(w.lower() in text for w in self.fault.expect.words) and not any(
            w.lower() in text for w in self.fault.expect.not_words
        )


def outcome(fault: Fault, report: dict[str, Any]) -> Outcome:
    checks = {c["id"]: c for s in report["stages"] for c in s["checks"]}
    decision = report.get("decision") or {}
    found = checks.get(fault.expect.check)
    return Outcome(
        fault=fault,
        rule=decision.get("rule"),
        verdict=str(decision.get("verdict", "")),
        status=found["status"] if found else None,
        failing=tuple(cid for cid, c in checks.items() if c["status"] in ("fail", "error")),
    )


# --- plants -----------------------------------------------------------------------------------


def _clean(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    return real, fake, fake.durations


def _fixed_total(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """Each fake sequence's Δt re-normalized to sum to the real mean duration."""
    total = float(real.durations.mean())
    sums = fake.dt.sum(axis=1, keepdims=True)
    dt = np.where(sums > 0, fake.dt / np.where(sums > 0, sums, 1.0) * total, fake.dt)
    return real, dataclasses.replace(fake, dt=dt), fake.durations


def _dt_factor(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """Fake Δt multiplied by 1.5 after they were assigned from the sampled durations."""
    return real, scale_dt(fake, 1.5), fake.durations


def _normalized_paths(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """Fake paths left in normalized units (divided by a 1920-pixel screen)."""
    return real, scale_paths(fake, 1 / 1920), fake.durations


def _real_cut_differently(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """The eval's real side re-sampled on a clock twice as fast: every step split in two,
    the second half a repeated timestamp (Δt = 0), as an eval that reads raw events with
    their duplicates would cut them."""
    steps = real.mask.sum(axis=1)
    n, width = real.dt.shape
    dt = np.zeros((n, 2 * width))
    dt[:, 0::2] = real.dt
    xy = np.repeat(real.xy, 2, axis=1)[:, : 2 * width + 1]
    mask = np.arange(2 * width)[None, :] < 2 * steps[:, None]
    return Sequences(xy=xy, dt=dt, mask=mask), fake, fake.durations


def _dt_shifted(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """Each fake row's Δt moved one step later against its points (rolled within the valid
    steps, so every row keeps its sum): an off-by-one between the Δt and xy columns."""
    dt = fake.dt.copy()
    for row, steps in enumerate(fake.mask.sum(axis=1)):
        dt[row, :steps] = np.roll(fake.dt[row, :steps], 1)
    return real, dataclasses.replace(fake, dt=dt), fake.durations


def _copies(real: Sequences, fake: Sequences) -> tuple[Sequences, Sequences, Any]:
    """The fake side is the real side itself: not generated at all."""
    return real, real, real.durations


def _mixed_ms(cache: dict[str, Any]) -> None:
    """27.5% of the rows in milliseconds (some sessions written by another logger)."""
    rows = torch.rand(cache["duration"].shape[0], generator=torch.Generator().manual_seed(0))
    cache["duration"] = torch.where(rows < 0.275, cache["duration"] * 1000.0, cache["duration"])
    cache["log_duration"] = torch.log(cache["duration"])


def _dt_features(cache: dict[str, Any]) -> None:
    """The row's own Δt statistics appended to its features (`build-cache --dt-features`)."""
    dt = cache["profile"] * cache["duration"][:, None]
    valid = cache["mask"].bool()
    n = cache["length"].double()
    mean = dt.double().sum(1) / n
    std = (((dt.double() - mean[:, None]) ** 2) * valid).sum(1).div(n).sqrt()
    zero = ((dt == 0) & valid).sum(1) / n
    extra = torch.stack([mean, std, zero], dim=1).to(cache["features"].dtype)
    cache["features"] = torch.cat([cache["features"], extra], dim=1)
    cache["meta"]["feature_names"] = [*cache["meta"]["feature_names"], *_DT_NAMES]


_DT_NAMES = ("dt_mean", "dt_std", "dt_zero_share")


def _log10_head(saved: dict[str, Any]) -> None:
    """μ and σ as a head trained on log10 durations gives them: both divided by ln 10."""
    weights = saved["model"]
    weights["duration.weight"][0] /= math.log(10)
    weights["duration.bias"][0] /= math.log(10)
    weights["duration.bias"][1] -= math.log(math.log(10))


def _nan_weights(saved: dict[str, Any]) -> None:
    """A weight gone NaN, as after the learning rate jumps and the run diverges."""
    saved["model"]["backbone.2.weight"][0, 0] = float("nan")


def _ms(cache: dict[str, Any]) -> None:
    cache["duration"] = cache["duration"] * 1000.0
    cache["log_duration"] = torch.log(cache["duration"])


def _shuffled_rows(cache: dict[str, Any]) -> None:
    """Profile, mask and length permuted together against duration and features."""
    order = torch.randperm(cache["length"].shape[0], generator=torch.Generator().manual_seed(0))
    for key in ("profile", "mask", "length"):
        cache[key] = cache[key][order].clone()


def _reordered(cache: dict[str, Any]) -> None:
    """The feature columns (and their names) in reverse order."""
    cache["features"] = cache["features"].flip(1).contiguous()
    cache["meta"]["feature_names"] = cache["meta"]["feature_names"][::-1]


def _lengths_off(cache: dict[str, Any]) -> None:
    cache["length"][:50] += 1


def _val_loss_rises(records: list[dict[str, Any]]) -> None:
    """From half-way, the val loss climbs well above where it started."""
    epochs = max(r["epoch"] for r in records)
    for r in records:
        if r["split"] == "val" and r["epoch"] > epochs // 2:
            r["loss"] = r["loss"] + 0.4 * (r["epoch"] - epochs // 2)


def _sigma_collapses(records: list[dict[str, Any]]) -> None:
    """From half-way, the logged σ falls toward zero (a collapsing duration head), and the
    duration NLL rises as it must: σ scaled by f while the residuals keep their spread adds
    log(1/f) + (1/f² − 1)/2 nats per row (a log whose NLL kept improving would be of an
    impossible run)."""
    epochs = max(r["epoch"] for r in records)
    for r in records:
        if r["epoch"] > epochs // 2:
            f = 0.3 ** (r["epoch"] - epochs // 2)
            r["dur_sigma"] = r["dur_sigma"] * f
            rise = -math.log(f) + (1 / f**2 - 1) / 2
            r["duration_nll"] = r["duration_nll"] + rise
            r["loss"] = r["loss"] + rise


def _without_eval(case: Case) -> Case:
    return dataclasses.replace(case, paths=dataclasses.replace(case.paths, eval=None))


def _foreign(world: World) -> Case:
    folder = world.root / "runs" / "foreign"
    path = folder / "checkpoint.pt"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(verdict_plugins.foreign_state_dict(world.healthy() / "checkpoint.pt"), path)
    return Case(paths=ArtifactPaths(cache=world.cache(), checkpoint=path))


FAULTS: tuple[Fault, ...] = (
    # --- cache ---
    Fault("ms_durations", "cache", "durations in milliseconds, no raw summary beside the cache",
          Expect("cache.units", 1, words=("millisecond",)),
          lambda w: w.full(cache=w.planted_cache("ms", _ms, summary=False))),
    Fault("shuffled_rows", "cache", "profile/mask/length shuffled against duration/features",
          Expect("cache.row_alignment", 1, words=("shuffled",)),
          lambda w: w.full(cache=w.planted_cache("shuffled", _shuffled_rows))),
    Fault("lengths_off", "cache", "length one more than the mask on 50 rows",
          Expect("cache.mask_length", 1),
          lambda w: w.only_cache(w.planted_cache("lengths", _lengths_off))),
    Fault("negative_duration", "cache", "a negative duration",
          Expect("cache.nonnegative", 1),
          lambda w: w.only_cache(w.planted_cache("negative", cache_faults.negative_duration))),
    Fault("log10_cache", "cache", "log_duration stored as log10",
          Expect("cache.log_duration", 1),
          lambda w: w.only_cache(w.planted_cache("log10", cache_faults.log10_duration))),
    Fault("drifted_cache", "cache", "durations 5% longer than the raw summary says",
          Expect("cache.vs_raw", 1),
          lambda w: w.only_cache(w.planted_cache("drift", cache_faults.scaled_durations))),
    Fault("padding_in_cache", "cache", "profile mass on a padded step",
          Expect("cache.padding_zero", 1),
          lambda w: w.only_cache(w.planted_cache("padding", cache_faults.padding_mass))),
    Fault("mixed_ms", "cache", "27.5% of the rows' durations in milliseconds",
          Expect("cache.units", 1, words=("milliseconds", "of the rows")),
          lambda w: w.only_cache(w.planted_cache("mixed-ms", _mixed_ms, summary=False))),
    # --- dataset ---
    Fault("dataset_log10", "dataset", "the dataset serves log10(duration) as log-duration",
          Expect("dataset.log_duration", 2, words=("log duration",)),
          lambda w: w.only_cache(w.cache(), dataset="verdict_plugins:Log10Dataset")),
    Fault("dataset_short", "dataset", "the dataset leaves 200 rows out of every epoch",
          Expect("dataset.coverage", 2, words=("coverage",)),
          lambda w: w.only_cache(w.cache(), dataset="verdict_plugins:ShortDataset")),
    Fault("next_row_profile", "dataset", "the next row's profile/mask/length beside each row",
          Expect("dataset.batch_rows", 2, words=("another row's",)),
          lambda w: w.only_cache(w.cache(), dataset="verdict_plugins:NextRowProfileDataset")),
    Fault("shifted_profile", "dataset", "the dataset serves each row's Δt one step late",
          Expect("dataset.batch_rows", 2, words=("shifted by one step",)),
          lambda w: w.only_cache(w.cache(), dataset="verdict_plugins:ShiftedProfileDataset")),
    # --- model configuration ---
    Fault("features_reordered", "model", "the head was trained on the features in another order",
          Expect("model.conditioning", 3, words=("conditioning",)),
          lambda w: w.full(w.run("reordered", cache=w.planted_cache("reordered", _reordered)))),
    Fault("softmax_over_padding", "model", "an increments head whose softmax runs over padding",
          Expect("model.length_masking", 4, words=("padding",), not_words=("best is",)),
          lambda w: w.full(w.run("no-mask", mask_padding=False))),
    Fault("logsigma_clamp", "model", "log σ clamped at logsigma_max = -2",
          Expect("model.duration_head", 5, words=("logsigma_max",)),
          lambda w: w.full(w.run("clamped", logsigma_max=-2.0))),
    Fault("tanh_sigma", "model", "log σ = base + range·tanh(z) whose floor is above the spread",
          Expect("model.duration_head", 5, words=("floor",)),
          lambda w: w.full(w.tanh_run(), model="verdict_plugins:make_tanh_head")),
    Fault("dt_features", "model", "the row's own Δt statistics among the features",
          Expect("model.conditioning", 3, words=("dt_mean",)),
          lambda w: w.full(w.run("dt-features", cache=w.planted_cache("dt", _dt_features)),
                           cache=w.planted_cache("dt", _dt_features))),
    Fault("other_users", "model", "a healthy head trained on another user's cache",
          Expect("model.duration_fit", 3, words=("other data", "μ bias")),
          lambda w: w.full(w.run("other", user=w.other_user))),
    Fault("foreign_head", "model", "a foreign checkpoint: (μ, log σ) as two 1-output layers",
          Expect("model.duration_head", 9, status="skip", not_words=("clip", "consistent")),
          _foreign),
    # --- training ---
    Fault("undertrained", "training", "one epoch at lr 1e-5",
          Expect("model.duration_fit", 6, words=("undertrained",)),
          lambda w: w.full(w.run("undertrained", epochs=1, lr=1e-5))),
    Fault("log10_head", "training", "μ and σ of a head trained on log10 durations",
          Expect("model.duration_fit", 6, words=("log10",)),
          lambda w: w.full(checkpoint=w.planted_checkpoint("log10", _log10_head))),
    Fault("nan_weights", "training", "a weight gone NaN (the run diverged)",
          Expect("model.length_masking", 6, words=("NaN",), not_words=("mask the softmax",)),
          lambda w: w.full(checkpoint=w.planted_checkpoint("nan", _nan_weights))),
    Fault("mse_profile", "training", "the profile fitted with MSE",
          Expect("train.objective", 6, words=("KL",)),
          lambda w: w.full(w.run("mse", profile_loss="mse"))),
    Fault("val_diverges", "training", "the val loss climbs after half the epochs",
          Expect("train.loss_trend", 6, words=("epoch",)),
          lambda w: w.full(log=w.planted_log("diverges", _val_loss_rises))),
    Fault("sigma_collapse", "training", "the logged σ collapses after half the epochs",
          Expect("train.collapse", 6, words=("epoch",)),
          lambda w: w.full(log=w.planted_log("collapse", _sigma_collapses))),
    # --- sampler ---
    Fault("passthrough_sampler", "sampler", "the sampler hands back the cache's rows (mix 0)",
          Expect("sampler.passthrough", 6, words=("real rows",)),
          lambda w: w.with_sampler("passthrough")),
    Fault("clipped_durations", "sampler", "sampled durations clipped at the 94th percentile",
          Expect("sampler.duration_ceiling", 6, words=("clip",)),
          lambda w: w.with_sampler("clipped")),
    Fault("dirichlet_profiles", "sampler", "profiles drawn from a Dirichlet with concentration 5",
          Expect("sampler.profile_dispersion", 6, words=("concentration",)),
          lambda w: w.with_sampler("dirichlet")),
    Fault("hot_sampler", "sampler", "the head sampled at temperature 5",
          Expect("sampler.profile_dispersion", 6, words=("temperature",)),
          lambda w: w.with_sampler("hot")),
    Fault("wide_sampler", "sampler", "durations drawn with 2.5× the head's σ",
          Expect("sampler.calibration", 6, words=("spread",)),
          lambda w: w.with_sampler("wide")),
    Fault("log_sigma_as_sigma", "sampler", "log σ used as σ in the duration draw",
          Expect("sampler.calibration", 6, words=("log σ used as σ",)),
          lambda w: w.with_sampler("log_sigma_as_sigma")),
    Fault("shared_noise", "sampler", "one ε shared by every row of a chunk",
          Expect("sampler.calibration", 6, words=("one ε shared",)),
          lambda w: w.with_sampler("shared_noise")),
    Fault("full_length_sampler", "sampler", "μ and σ from the head run at full length",
          Expect("sampler.calibration", 6, words=("full length",)),
          lambda w: w.with_sampler("full_length")),
    Fault("cold_sampler", "sampler", "the head sampled at temperature 0.5",
          Expect("sampler.profile_dispersion", 6, words=("temperature below 1",)),
          lambda w: w.with_sampler("cold")),
    # --- eval ---
    Fault("fixed_total", "eval", "each fake sequence's Δt re-normalized to a fixed total",
          Expect("integration.renormalization", 7, words=("re-normalized",)),
          lambda w: w.full(eval=w.eval_dump("fixed-total", _fixed_total))),
    Fault("dt_factor", "eval", "fake Δt multiplied by 1.5 after assignment",
          Expect("integration.renormalization", 7, words=("1.5",)),
          lambda w: w.full(eval=w.eval_dump("dt-factor", _dt_factor))),
    Fault("normalized_paths", "eval", "fake paths left in normalized units",
          Expect("integration.vel_p95", 7, words=("normalized units",)),
          lambda w: w.full(eval=w.eval_dump("normalized-paths", _normalized_paths))),
    Fault("fake_copies_real", "eval", "the eval's fake side is its real side (not generated)",
          Expect("integration.fake_generated", 7, words=("copies of real rows",)),
          lambda w: w.full(eval=w.eval_dump("copies", _copies))),
    Fault("dt_shifted", "eval", "fake Δt shifted one step against their points",
          Expect("integration.dt_pairing", 7, words=("shifted by one step",)),
          lambda w: w.full(eval=w.eval_dump("dt-shifted", _dt_shifted))),
    Fault("fake_from_cache", "eval", "the eval's fake side is rows of the cache (not generated)",
          Expect("integration.fake_generated", 7, words=("real data", "cache")),
          lambda w: w.full(eval=w.eval_from_cache())),
    Fault("real_cut_differently", "eval", "the eval's real side cut with every step split in two",
          Expect("integration.real_vs_cache", 7, status="warn", words=("real sequences",)),
          lambda w: w.full(eval=w.eval_dump("real-cut", _real_cut_differently))),
)  # fmt: skip

#: The healthy cases: nothing planted, or a change the data do not punish (a logit bound
#: of 0.3 binds nowhere on Balabit rows that a masked softmax fits: the capacity probe
#: fits it as well as any head), so nothing may fail and the verdict is rule 9.
CLEAN: tuple[Fault, ...] = (
    Fault("clean_full", "clean", "healthy head, its log and a clean eval dump",
          Expect("model.duration_fit", 9, status="pass", words=("consistent",)),
          lambda w: w.full()),
    Fault("clean_no_eval", "clean", "healthy head and its log, no eval dump",
          Expect("model.duration_fit", 9, status="pass", words=("no fault found", "--eval"),
                 not_words=("consistent",)),
          lambda w: _without_eval(w.full())),
    Fault("harmless_logit_bound", "clean", "per-step linear logits bounded at b = 0.3",
          Expect("model.profile_capacity", 9, status="pass", words=("consistent",)),
          lambda w: w.full(w.run("bounded", profile_head="linear", logit_bound=0.3))),
    *(
        Fault(f"seed_{seed}", "clean", f"the healthy run checked with --seed {seed}",
              Expect("model.duration_fit", 9, status="pass", words=("consistent",)),
              lambda w, seed=seed: _with(w.full(), seed=seed))
        for seed in (1, 2, 3)
    ),
    Fault("batch_size_64", "clean", "the healthy run checked with --batch-size 64",
          Expect("dataset.batch_rows", 9, status="pass", words=("consistent",)),
          lambda w: _with(w.full(), batch_size=64)),
    *(
        Fault(f"epochs_{epochs}", "clean", f"the healthy head trained for {epochs} epochs",
              Expect("model.duration_fit", 9, status="pass", words=("consistent",)),
              lambda w, epochs=epochs: w.full(w.run(f"epochs-{epochs}", epochs=epochs)))
        for epochs in (15, 60)
    ),
    Fault("eval_held_out_split", "clean", "the eval on a split the cache never holds",
          Expect("integration.real_vs_cache", 9, status="pass", words=("consistent",)),
          lambda w: w.full(eval=w.eval_held_out_split())),
    Fault("standardized_features", "clean", "a dataset that standardizes the features",
          Expect("dataset.batch_rows", 9, status="pass", words=("consistent",)),
          lambda w: dataclasses.replace(w.full(), dataset="verdict_plugins:StandardizedDataset")),
)  # fmt: skip


def _with(case: Case, **settings: Any) -> Case:
    """The case checked with some settings changed (a harmless change)."""
    return dataclasses.replace(case, settings={**case.settings, **settings})


def clean_cache_findings(report: dict[str, Any]) -> list[str]:
    """Every check of stages 1-2 that is not pass or skip, as `id status: message`."""
    return [
        f"{c['id']} {c['status']}: {c['message']}"
        for s in report["stages"]
        if s["id"] in (1, 2)
        for c in s["checks"]
        if c["status"] not in ("pass", "skip")
    ]
