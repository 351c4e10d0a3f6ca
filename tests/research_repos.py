"""Research repos laid out at test time, the way their authors keep them
(docs/artifacts.md#your-own-repo).

timing-tui must adapt to a repo it has never seen, with a `[tool.timing-tui]` table and no
glue code. Two repos are built here from real Balabit rows, each with its own names and
habits, and each trained for real (a subprocess runs the repo's own training script, with
`src` on PYTHONPATH the way its authors run it; timing-tui itself then gets only the
table). Their rows are the real Balabit sessions bundled with the tests.

- `lightning_repo`: a Lightning 2 project. Its cache is an `.npz` under its own key names
  (`durations_s`, `dt_profile`, `valid`, `lengths`, `cond`), a `src/` package holds a
  Dataset whose items are tuples, a LightningModule (built by a factory taking
  `cond_dim, hidden, max_len`) whose forward takes `n_steps` and returns a tuple with -inf
  logits on padding, and a sampler returning `(duration, dt)`. `ModelCheckpoint` and
  `CSVLogger` write `runs/exp3/ckpt/last.ckpt` and `runs/exp3/version_0/metrics.csv` (with
  `train_loss`, `val_mu`, `val_p0`, ...), and the eval dump is flat (`gt_xy`, `gen_dt`, ...).
- `dataclass_repo`: a plain PyTorch project whose checkpoint is
  `{"model": state_dict, "config": HeadConfig(...)}` (its own dataclass, pickled), whose
  model class takes that config and whose forward takes `(features, mask)` and returns a
  dict under its own names (`mu_log_duration`, `log_sigma_log_duration`, `template`,
  `concentration`), whose sampler is a class built by `from_checkpoint(...)` that samples
  rows of its own choosing with `sample(n)`, and whose training writes a `logging` text log.

The builders return the repo's root; `run_check` runs `timing-tui check` there as a user
would (a subprocess, no PYTHONPATH, the table only) and returns the JSON report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import torch
from session_rows import write_session

import tui_timing
from tui_timing.data.build_cache import SegmentationParams, build_cache
from tui_timing.data.eval_dump_maker import Sequences, disjoint_halves, real_sequences

#: Epochs of each repo's own training: enough for a healthy head on these rows.
LIGHTNING_EPOCHS = 60
DATACLASS_EPOCHS = 8


def write(root: Path, files: dict[str, str]) -> None:
    """Write each relative path's text (dedented) under root."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def session_files(sessions_dir: Path) -> list[Path]:
    """Every real session under a Balabit-layout folder (`user<N>/session_<id>.gz`)."""
    return sorted(sessions_dir.glob("user*/session_*"))


def halves(sessions_dir: Path) -> tuple[Sequences, Sequences]:
    """Two disjoint halves of the sessions' segments: the repos' caches hold the first, their
    eval dumps pair it with the second (real movement the cache never holds, which is what a
    generator that matches the data and copies none of it gives; a fake side of cache rows
    is itself a fault, `integration.fake_generated`)."""
    return disjoint_halves(real_sequences(session_files(sessions_dir)), seed=0)


def built_cache(
    sessions_dir: Path, out: Path, max_len: int, whole: bool = False
) -> dict[str, torch.Tensor]:
    """The package's own cache (what `build-cache` writes) of the first of the sessions'
    `halves` (`whole`: of every segment), as tensors."""
    raw, files = sessions_dir, session_files(sessions_dir)
    if not whole:
        files = [write_session(out / "raw" / "bb" / "rows.csv", halves(sessions_dir)[0])]
        raw = files[0].parent
    result = build_cache(raw, out, "bb", "train", SegmentationParams(max_len=max_len), files=files)
    cache: dict[str, torch.Tensor] = torch.load(result.cache_path, weights_only=True)
    return cache


def run_script(root: Path, *args: str, timeout: float = 900) -> None:
    """Run one of the repo's own scripts as its authors do: `src` on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    done = subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {root}:\n{done.stderr[-4000:]}")


def run_check(root: Path, *options: str, timeout: float = 900) -> tuple[int, dict[str, Any], str]:
    """`timing-tui check --format json` in the repo, as a user runs it: nothing of the repo
    on PYTHONPATH (only timing-tui itself, as if installed), the table says the rest."""
    env = {**os.environ, "PYTHONPATH": str(Path(tui_timing.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", "check", "--format", "json", *options],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, report, done.stderr


def stage(report: dict[str, Any], stage_id: int) -> dict[str, Any]:
    """One stage of a JSON report."""
    return next(s for s in report["stages"] if s["id"] == stage_id)


def statuses(report: dict[str, Any], stage_id: int) -> dict[str, str]:
    """check id -> status for one stage."""
    return {c["id"]: c["status"] for c in stage(report, stage_id)["checks"]}


def assessed(report: dict[str, Any], stage_id: int) -> bool:
    """The stage looked at its input: it ran, no check errored, and some check decided."""
    checks = stage(report, stage_id)["checks"]
    return (
        stage(report, stage_id)["status"] != "skip"
        and not any(c["status"] == "error" for c in checks)
        and any(c["status"] in ("pass", "warn", "fail") for c in checks)
    )


# --------------------------------------------------------------------------- Lightning repo

LIGHTNING_TABLE = """
[project]
name = "mousediff"
version = "0.1.0"

[tool.timing-tui]
pythonpath = ["src"]
cache = "data/processed/bb/train.npz"
checkpoint = "runs/exp3/ckpt/last.ckpt"
log = "runs/exp3/version_0/metrics.csv"
eval = "eval/samples.npz"
dataset = "mousediff.data:TimingNPZ"
model = "mousediff.timing:make_timing_head"
sampler = "mousediff.timing:sample_timing"

[tool.timing-tui.keys]
batch = ["cond", "dt_profile", "valid", "durations_s", "log_dur", "n_steps"]

[tool.timing-tui.keys.log]
duration_nll = "nll"
profile_loss = "kl"
dur_mu = "mu"
dur_sigma = "sigma"
profile_first = "p0"
profile_mid = "pmid"
profile_last = "plast"

[tool.timing-tui.keys.eval]
real = "gt"
fake = "gen"
"""

LIGHTNING_SOURCES = {
    "src/mousediff/__init__.py": '"""Mouse-trajectory diffusion, timing part."""\n',
    "src/mousediff/data.py": '''
        """The timing rows, straight from the preprocessed .npz."""

        import numpy as np
        import torch
        from torch.utils.data import Dataset


        class TimingNPZ(Dataset):
            def __init__(self, path):
                data = np.load(path)
                self.cond = torch.from_numpy(data["cond"]).float()
                self.dt_profile = torch.from_numpy(data["dt_profile"]).float()
                self.valid = torch.from_numpy(data["valid"]).bool()
                self.durations_s = torch.from_numpy(data["durations_s"]).float()
                self.n_steps = torch.from_numpy(data["lengths"]).long()

            def __len__(self):
                return len(self.durations_s)

            def __getitem__(self, i):
                d = self.durations_s[i]
                return (
                    self.cond[i], self.dt_profile[i], self.valid[i], d, d.log(), self.n_steps[i]
                )
    ''',
    "src/mousediff/timing.py": '''
        """Timing head: log-normal duration, profile from cumulative logit increments."""

        import lightning as L
        import torch
        from torch import nn


        class TimingHead(nn.Module):
            def __init__(self, cond_dim, hidden, max_len):
                super().__init__()
                self.max_len = max_len
                self.register_buffer("feat_mean", torch.zeros(cond_dim))
                self.register_buffer("feat_std", torch.ones(cond_dim))
                self.backbone = nn.Sequential(
                    nn.Linear(cond_dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
                )
                self.dur = nn.Linear(hidden, 2)
                self.inc = nn.Linear(hidden, max_len)

            def forward(self, x, n_steps):
                frac = n_steps.float()[:, None] / self.max_len
                x = (x - self.feat_mean) / self.feat_std
                h = self.backbone(torch.cat([x, frac], dim=1))
                mu, log_sigma = self.dur(h).unbind(-1)
                logits = torch.cumsum(self.inc(h), dim=-1)
                steps = torch.arange(self.max_len, device=x.device)
                logits = logits.masked_fill(steps[None, :] >= n_steps[:, None], float("-inf"))
                return mu, log_sigma, logits


        class TimingModule(L.LightningModule):
            def __init__(self, cond_dim, hidden=64, max_len=128, lr=3e-3):
                super().__init__()
                self.save_hyperparameters()
                self.net = TimingHead(cond_dim, hidden, max_len)

            def forward(self, x, n_steps):
                return self.net(x, n_steps)

            def _step(self, batch, split):
                cond, profile, valid, dur, log_dur, n_steps = batch
                mu, log_sigma, logits = self(cond, n_steps)
                z = (log_dur - mu) * torch.exp(-log_sigma)
                nll = (log_sigma + 0.5 * z * z).mean()
                log_p = torch.log_softmax(logits, -1).masked_fill(profile <= 0, 0.0)
                kl = (torch.special.xlogy(profile, profile) - profile * log_p).sum(-1).mean()
                loss = nll + kl
                p = torch.softmax(logits, -1).mean(0)
                n = len(dur)
                self.log(f"{split}_loss", loss, on_step=False, on_epoch=True, batch_size=n)
                self.log(f"{split}_nll", nll, on_step=False, on_epoch=True, batch_size=n)
                self.log(f"{split}_kl", kl, on_step=False, on_epoch=True, batch_size=n)
                self.log(f"{split}_mu", mu.mean(), on_step=False, on_epoch=True, batch_size=n)
                sigma = log_sigma.exp().mean()
                self.log(f"{split}_sigma", sigma, on_step=False, on_epoch=True, batch_size=n)
                for name, i in (("p0", 0), ("pmid", p.shape[0] // 2), ("plast", -1)):
                    self.log(f"{split}_{name}", p[i], on_step=False, on_epoch=True, batch_size=n)
                return loss

            def training_step(self, batch, _):
                return self._step(batch, "train")

            def validation_step(self, batch, _):
                self._step(batch, "val")

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


        def make_timing_head(cond_dim, hidden, max_len):
            return TimingModule(cond_dim=cond_dim, hidden=hidden, max_len=max_len)


        @torch.no_grad()
        def sample_timing(model, features, n_steps, *, generator=None, temperature=1.0):
            mu, log_sigma, logits = model(features, n_steps)
            eps = torch.randn(mu.shape, generator=generator).to(mu.device)
            duration = torch.exp(mu + log_sigma.exp() * eps)
            dt = duration[:, None] * torch.softmax(logits / temperature, dim=-1)
            return duration, dt
    ''',
    "scripts/train_timing.py": f'''
        """Train the timing head (Lightning, CPU)."""

        import lightning as L
        import torch
        from lightning.pytorch.callbacks import ModelCheckpoint
        from lightning.pytorch.loggers import CSVLogger
        from torch.utils.data import DataLoader, random_split

        from mousediff.data import TimingNPZ
        from mousediff.timing import TimingModule

        L.seed_everything(0)
        torch.set_num_threads(1)
        data = TimingNPZ("data/processed/bb/train.npz")
        n_val = len(data) // 10
        train, val = random_split(
            data, [len(data) - n_val, n_val], generator=torch.Generator().manual_seed(0)
        )
        model = TimingModule(cond_dim=data.cond.shape[1], max_len=data.dt_profile.shape[1])
        with torch.no_grad():  # start at the data's scale: standardized inputs, mean duration
            model.net.feat_mean.copy_(data.cond.mean(0))
            model.net.feat_std.copy_(data.cond.std(0).clamp_min(1e-6))
            log_d = data.durations_s.log()
            model.net.dur.bias.copy_(torch.stack([log_d.mean(), log_d.std().log()]))
        trainer = L.Trainer(
            max_epochs={LIGHTNING_EPOCHS},
            accelerator="cpu",
            devices=1,
            logger=CSVLogger("runs", name="exp3"),
            callbacks=[ModelCheckpoint(dirpath="runs/exp3/ckpt", save_last=True)],
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=1,
            gradient_clip_val=5.0,
        )
        trainer.fit(
            model,
            DataLoader(train, batch_size=256, shuffle=True),
            DataLoader(val, batch_size=256),
        )
    ''',
}


def lightning_repo(root: Path, sessions_dir: Path) -> Path:
    """Lay out and train the Lightning repo under root (see the module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    write(root, {"pyproject.toml": LIGHTNING_TABLE, **LIGHTNING_SOURCES})
    cache = built_cache(sessions_dir, root / "build", max_len=128)
    npz = root / "data/processed/bb/train.npz"
    npz.parent.mkdir(parents=True)
    np.savez(
        npz,
        durations_s=cache["duration"].numpy(),
        dt_profile=cache["profile"].numpy(),
        valid=cache["mask"].numpy().astype(np.uint8),
        lengths=cache["length"].numpy(),
        cond=cache["features"].numpy(),
    )
    real, fake = halves(sessions_dir)
    (root / "eval").mkdir()
    np.savez(
        root / "eval/samples.npz",
        **{f"gt_{k}": v.numpy() for k, v in real.as_tensors().items()},
        **{f"gen_{k}": v.numpy() for k, v in fake.as_tensors().items()},
    )
    run_script(root, "scripts/train_timing.py")
    return root


# --------------------------------------------------------------------------- dataclass repo

DATACLASS_TABLE = """
[project]
name = "gesture-timing"
version = "0.1.0"

[tool.timing-tui]
pythonpath = ["src"]
cache = "datasets/bb/train_timing.pt"
checkpoint = "outputs/timing/head.pt"
log = "outputs/timing/train.log"
dataset = "gesture_timing.data:GestureTimingSet"
model = "gesture_timing.model:DurationProfileNet"
sampler = "gesture_timing.sampler:DeltaTSampler.from_checkpoint"
sampler_kwargs = { profile_mix = 1.0 }
profile_bins = "masked"

[[tool.timing-tui.log_patterns]]
pattern = 'epoch (?P<epoch>\\d+) (?P<split>train|val) loss (?P<loss>[-+.\\deE]+)'

[[tool.timing-tui.log_patterns]]
pattern = '''(?x) epoch \\s (?P<epoch>\\d+) \\s val \\s mu_log \\s (?P<dur_mu>\\S+) \\s sigma \\s
    (?P<dur_sigma>\\S+) \\s template \\s (?P<profile_first>\\S+) \\s / \\s
    (?P<profile_mid>\\S+) \\s / \\s (?P<profile_last>\\S+)'''
split = "val"
"""

DATACLASS_SOURCES = {
    "src/gesture_timing/__init__.py": '"""Assigns Δt to generated gestures."""\n',
    "src/gesture_timing/model.py": '''
        """Duration (log-normal) and Δt template (Dirichlet mean) for one gesture."""

        from __future__ import annotations

        from dataclasses import dataclass

        import torch
        from torch import nn


        @dataclass
        class HeadConfig:
            feature_dim: int = 10
            hidden_dim: int = 64
            sequence_length: int = 64
            log_sigma_base: float = 0.6
            log_sigma_range: float = 0.5
            min_concentration: float = 5.0
            max_concentration: float = 30.0


        class DurationProfileNet(nn.Module):
            def __init__(self, config: HeadConfig):
                super().__init__()
                self.config = config
                self.trunk = nn.Sequential(
                    nn.LayerNorm(config.feature_dim),
                    nn.Linear(config.feature_dim, config.hidden_dim),
                    nn.GELU(),
                )
                self.duration = nn.Linear(config.hidden_dim, 2)
                self.step_logits = nn.Linear(config.hidden_dim, config.sequence_length)
                self.spread = nn.Linear(config.hidden_dim, 1)

            def forward(self, features, mask):
                c = self.config
                h = self.trunk(features)
                mu, raw = self.duration(h).unbind(-1)
                log_sigma = c.log_sigma_base + c.log_sigma_range * torch.tanh(raw)
                logits = self.step_logits(h).masked_fill(~mask.bool(), float("-inf"))
                template = torch.softmax(logits, dim=-1)
                k = torch.sigmoid(self.spread(h).squeeze(-1))
                span = c.max_concentration - c.min_concentration
                concentration = c.min_concentration + span * k
                return {
                    "mu_log_duration": mu,
                    "log_sigma_log_duration": log_sigma,
                    "template": template,
                    "concentration": concentration,
                    "alpha": (concentration[:, None] * template).clamp_min(1e-6),
                }
    ''',
    "src/gesture_timing/data.py": '''
        """The timing cache as a Dataset (our own cache format)."""

        import torch
        from torch.utils.data import Dataset


        class GestureTimingSet(Dataset):
            def __init__(self, cache_path):
                payload = torch.load(cache_path, map_location="cpu", weights_only=False)
                self.durations = payload["durations"].float()
                self.profiles = payload["profiles"].float()
                self.masks = payload["masks"].bool()
                self.features = payload["features"].float()
                self.stats = payload.get("stats", {})

            def __len__(self):
                return len(self.durations)

            def __getitem__(self, i):
                return {
                    "duration": self.durations[i],
                    "log_duration": self.durations[i].log(),
                    "profile": self.profiles[i],
                    "mask": self.masks[i],
                    "features": self.features[i],
                }
    ''',
    "src/gesture_timing/sampler.py": '''
        """Draw durations and Δt for random gestures of the cache."""

        from pathlib import Path

        import torch

        from gesture_timing.data import GestureTimingSet
        from gesture_timing.model import DurationProfileNet


        class DeltaTSampler:
            def __init__(self, net, rows, *, device, temperature=1.0, profile_mix=0.0):
                self.net = net.to(device).eval()
                self.rows = rows
                self.device = device
                self.temperature = temperature
                self.profile_mix = profile_mix

            @classmethod
            def from_checkpoint(cls, checkpoint_path, cache_path, *, device, temperature=1.0,
                                profile_mix=0.0):
                saved = torch.load(Path(checkpoint_path), map_location=device, weights_only=False)
                net = DurationProfileNet(saved["config"])
                net.load_state_dict(saved["model"])
                return cls(net, GestureTimingSet(cache_path), device=device,
                           temperature=temperature, profile_mix=profile_mix)

            @torch.no_grad()
            def sample(self, n):
                pick = torch.randint(0, len(self.rows), (n,))
                feats = self.rows.features[pick].to(self.device)
                mask = self.rows.masks[pick].to(self.device)
                out = self.net(feats, mask)
                sigma = out["log_sigma_log_duration"].exp()
                duration = (out["mu_log_duration"] + sigma * torch.randn_like(sigma)).exp()
                alpha = (out["concentration"][:, None] * out["template"]) / self.temperature
                drawn = torch.distributions.Dirichlet(alpha.clamp_min(1e-4)).sample() * mask
                drawn = drawn / drawn.sum(-1, keepdim=True)
                real = self.rows.profiles[pick].to(self.device)
                profile = torch.lerp(real, drawn, self.profile_mix)
                return {
                    "duration": duration,
                    "profile": profile,
                    "mask": mask,
                    "delta_t": profile * duration[:, None],
                }
    ''',
    "scripts/train.py": f'''
        """Train the timing head; logs go to outputs/timing/train.log."""

        import logging
        from pathlib import Path

        import torch
        from torch.utils.data import DataLoader, random_split

        from gesture_timing.data import GestureTimingSet
        from gesture_timing.model import DurationProfileNet, HeadConfig

        run_dir = Path("outputs/timing")
        run_dir.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(
            filename=run_dir / "train.log",
            level=logging.INFO,
            format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s",
        )
        log = logging.getLogger("gesture_timing.train")
        torch.manual_seed(0)
        torch.set_num_threads(1)
        data = GestureTimingSet("datasets/bb/train_timing.pt")
        n_val = len(data) // 10
        train, val = random_split(data, [len(data) - n_val, n_val])
        config = HeadConfig(
            feature_dim=data.features.shape[1],
            sequence_length=data.profiles.shape[1],
            log_sigma_base=float(data.stats["duration_log_std"]),
        )
        net = DurationProfileNet(config)
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)


        def loss_of(batch):
            out = net(batch["features"], batch["mask"])
            log_sigma = out["log_sigma_log_duration"]
            z = (batch["log_duration"] - out["mu_log_duration"]) / log_sigma.exp()
            nll = (log_sigma + 0.5 * z**2).mean()
            kl = -(batch["profile"] * out["template"].clamp_min(1e-8).log()).sum(-1).mean()
            return nll + kl, out


        for epoch in range(1, {DATACLASS_EPOCHS} + 1):
            net.train()
            total = []
            for batch in DataLoader(train, batch_size=256, shuffle=True):
                loss, _ = loss_of(batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total.append(loss.item())
            log.info("epoch %d train loss %.6f", epoch, sum(total) / len(total))
            net.eval()
            with torch.no_grad():
                batch = next(iter(DataLoader(val, batch_size=len(val))))
                loss, out = loss_of(batch)
                mask = batch["mask"].float()
                masked = (out["template"] * mask).sum(0) / mask.sum(0).clamp_min(1e-6)
                log.info("epoch %d val loss %.6f", epoch, loss.item())
                log.info(
                    "epoch %d val mu_log %.4f sigma %.4f template %.5f / %.5f / %.5f",
                    epoch,
                    out["mu_log_duration"].mean().item(),
                    out["log_sigma_log_duration"].exp().mean().item(),
                    masked[0].item(),
                    masked[len(masked) // 2].item(),
                    masked[-1].item(),
                )
        torch.save({{"model": net.state_dict(), "config": config}}, run_dir / "head.pt")
        log.info("saved %s", run_dir / "head.pt")
    ''',
}


def dataclass_repo(root: Path, sessions_dir: Path) -> Path:
    """Lay out and train the dataclass repo under root (see the module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    write(root, {"pyproject.toml": DATACLASS_TABLE, **DATACLASS_SOURCES})
    cache = built_cache(sessions_dir, root / "build", max_len=64)
    durations = cache["duration"].float()
    profiles = cache["profile"].float()
    masks = cache["mask"].float()
    log_d = durations.log()
    counts = masks.sum(0).clamp_min(1e-6)
    stats = {
        "count": int(durations.numel()),
        "duration_mean": float(durations.mean()),
        "duration_std": float(durations.std(unbiased=False)),
        "duration_log_mean": float(log_d.mean()),
        "duration_log_std": float(log_d.std(unbiased=False)),
        "profile_mean": profiles.mean(0).tolist(),
        "profile_mean_masked": ((profiles * masks).sum(0) / counts).tolist(),
        "valid_length_mean": float(masks.sum(1).mean()),
    }
    target = root / "datasets/bb/train_timing.pt"
    target.parent.mkdir(parents=True)
    torch.save(
        {
            "durations": durations,
            "profiles": profiles,
            "masks": masks,
            "features": cache["features"].float(),
            "stats": stats,
            "config": {"dataset_id": "balabit", "sequence_length": 64},
            "split": "train",
        },
        target,
    )
    run_script(root, "scripts/train.py")
    return root


# --------------------------------------------------------------------------- Hydra repo

#: Epochs of the Hydra repo's training: seconds on the CPU, enough for a healthy head.
HYDRA_EPOCHS = 40
#: Where the repo's sweep writes its two jobs (Hydra's `multirun/<date>/<time>/<job>/`).
HYDRA_SWEEP = "multirun/2026-01-05/09-30-00"
#: The sweep's jobs: job 0 trains with the softmax over every step (the planted fault),
#: job 1 masks the padding (its healthy twin).
HYDRA_JOBS = {"0": "false", "1": "true"}

HYDRA_PYPROJECT = """
[project]
name = "hydra-timing"
version = "0.2.0"
"""

#: The table a user of the Hydra repo writes by hand (the faulty job's files).
HYDRA_TABLE = f"""
[tool.timing-tui]
pythonpath = ["src"]
cache = "datasets/bb/train_timing.pt"
checkpoint = "{HYDRA_SWEEP}/0/checkpoints/step_{{step:06d}}.pt"
log = "{HYDRA_SWEEP}/0/train.log"
eval = "eval/diffusion_samples.pt"
model = "hydra_timing.model:TimingNet"

[[tool.timing-tui.log_patterns]]
pattern = '- (?P<fields>epoch=.*)'
"""

HYDRA_SOURCES = {
    "src/hydra_timing/__init__.py": '"""Δt for generated mouse paths, configured with Hydra."""\n',
    "src/hydra_timing/model.py": '''
        """Log-normal duration and a per-step profile from cumulative logit increments."""

        import torch
        from torch import nn


        class TimingNet(nn.Module):
            def __init__(self, cond_dim, max_len, hidden=64, mask_padding=True):
                super().__init__()
                self.max_len = max_len
                self.mask_padding = mask_padding
                self.register_buffer("feat_mean", torch.zeros(cond_dim))
                self.register_buffer("feat_std", torch.ones(cond_dim))
                self.trunk = nn.Sequential(
                    nn.Linear(cond_dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
                )
                self.duration = nn.Linear(hidden, 2)
                self.steps = nn.Linear(hidden, max_len)

            def forward(self, features, length):
                frac = length.float()[:, None] / self.max_len
                x = (features - self.feat_mean) / self.feat_std
                h = self.trunk(torch.cat([x, frac], dim=1))
                mu, log_sigma = self.duration(h).unbind(-1)
                logits = torch.cumsum(self.steps(h), dim=-1)
                if self.mask_padding:
                    steps = torch.arange(self.max_len, device=x.device)
                    pad = steps[None, :] >= length[:, None]
                    logits = logits.masked_fill(pad, float("-inf"))
                return {"mu": mu, "log_sigma": log_sigma, "logits": logits}
    ''',
    "scripts/sweep.py": f'''
        """Train the timing head once per job of a sweep, the way `python train.py --multirun
        model.mask_padding=false,true` lays its outputs out with Hydra."""

        import logging
        import sys
        from pathlib import Path

        import torch

        from hydra_timing.model import TimingNet

        SWEEP = Path("{HYDRA_SWEEP}")
        EPOCHS = {HYDRA_EPOCHS}
        CONFIG = """\\
        model:
          _target_: hydra_timing.model.TimingNet
          hidden: 64
          mask_padding: {{mask}}
        train:
          epochs: {{epochs}}
          lr: 0.003
          batch_size: 256
          seed: 0
        data:
          cache: datasets/bb/train_timing.pt
        """


        def run(job, mask_padding):
            out = SWEEP / job
            (out / ".hydra").mkdir(parents=True)
            (out / "checkpoints").mkdir()
            text = CONFIG.format(mask=str(mask_padding).lower(), epochs=EPOCHS)
            (out / ".hydra/config.yaml").write_text(text)
            (out / ".hydra/overrides.yaml").write_text(f"- model.mask_padding={{mask_padding}}\\n")
            log = logging.getLogger(f"hydra_timing.train.{{job}}")
            handler = logging.FileHandler(out / "train.log")
            handler.setFormatter(
                logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
            )
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.info("Job %s: model.mask_padding=%s", job, mask_padding)
            torch.manual_seed(0)
            data = torch.load("datasets/bb/train_timing.pt", weights_only=True)
            feats, length = data["features"].float(), data["length"].long()
            profile, log_d = data["profile"].float(), data["duration"].float().log()
            n = len(log_d)
            order = torch.randperm(n)
            val, train = order[: n // 10], order[n // 10 :]
            config = dict(
                cond_dim=feats.shape[1], max_len=profile.shape[1], hidden=64,
                mask_padding=mask_padding,
            )
            net = TimingNet(**config)
            with torch.no_grad():
                net.feat_mean.copy_(feats.mean(0))
                net.feat_std.copy_(feats.std(0).clamp_min(1e-6))
                net.duration.bias.copy_(torch.stack([log_d.mean(), log_d.std().log()]))
            opt = torch.optim.Adam(net.parameters(), lr=3e-3)

            def losses(rows):
                out = net(feats[rows], length[rows])
                z = (log_d[rows] - out["mu"]) * torch.exp(-out["log_sigma"])
                nll = (out["log_sigma"] + 0.5 * z * z).mean()
                target = profile[rows]
                log_p = torch.log_softmax(out["logits"], -1).masked_fill(target <= 0, 0.0)
                kl = (torch.special.xlogy(target, target) - target * log_p).sum(-1).mean()
                return nll, kl, out

            step = 0
            for epoch in range(1, EPOCHS + 1):
                net.train()
                shuffled = train[torch.randperm(len(train))]
                totals = []
                for batch in shuffled.split(256):
                    nll, kl, _ = losses(batch)
                    opt.zero_grad()
                    (nll + kl).backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                    opt.step()
                    step += 1
                    totals.append((nll + kl).item())
                    if step % 400 == 0:
                        state = {{"model": net.state_dict(), "config": config, "step": step}}
                        torch.save(state, out / f"checkpoints/step_{{step:06d}}.pt")
                net.eval()
                fields = [f"epoch={{epoch}}", f"train/loss={{sum(totals) / len(totals):.6f}}"]
                with torch.no_grad():
                    for split, rows in (("train", train[:2048]), ("val", val)):
                        nll, kl, pred = losses(rows)
                        p = torch.softmax(pred["logits"], -1).mean(0)
                        fields += [
                            f"{{split}}/duration_nll={{nll.item():.6f}}",
                            f"{{split}}/profile_loss={{kl.item():.6f}}",
                            f"{{split}}/dur_mu={{pred['mu'].mean().item():.6f}}",
                            f"{{split}}/dur_sigma={{pred['log_sigma'].exp().mean().item():.6f}}",
                            f"{{split}}/profile_first={{p[0].item():.6g}}",
                            f"{{split}}/profile_mid={{p[len(p) // 2].item():.6g}}",
                            f"{{split}}/profile_last={{p[-1].item():.6g}}",
                        ]
                    fields.append(f"val/loss={{(nll + kl).item():.6f}}")
                log.info(" ".join(fields))
            state = {{"model": net.state_dict(), "config": config, "step": step}}
            torch.save(state, out / f"checkpoints/step_{{step:06d}}.pt")
            log.info("saved checkpoints/step_%06d.pt", step)


        torch.set_num_threads(1)
        for job, mask in enumerate(sys.argv[1:]):
            run(str(job), mask == "true")
    ''',
}


def hydra_repo(root: Path, sessions_dir: Path) -> Path:
    """Lay out and train the Hydra repo under root: a cache in the package's own format, a
    shared eval dump, and a sweep of two jobs (HYDRA_JOBS) written by its own script."""
    root.mkdir(parents=True, exist_ok=True)
    write(root, {"pyproject.toml": HYDRA_PYPROJECT, **HYDRA_SOURCES})
    build = root.parent / f"{root.name}-build"
    cache = built_cache(sessions_dir, build, max_len=32)
    target = root / "datasets/bb/train_timing.pt"
    target.parent.mkdir(parents=True)
    torch.save({k: v for k, v in cache.items() if isinstance(v, torch.Tensor)}, target)
    shutil.copy(build / "bb/train_summary.json", target.parent)
    real, fake = halves(sessions_dir)
    (root / "eval").mkdir()
    torch.save(
        {"real": real.as_tensors(), "fake": fake.as_tensors()}, root / "eval/diffusion_samples.pt"
    )
    run_script(root, "scripts/sweep.py", *HYDRA_JOBS.values())
    return root


def hydra_final_step(root: Path, job: str) -> int:
    """The step of the last checkpoint job `job` saved (its name says it)."""
    names = sorted((root / HYDRA_SWEEP / job / "checkpoints").glob("step_*.pt"))
    return int(names[-1].stem.removeprefix("step_"))
