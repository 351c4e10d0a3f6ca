"""A research repo laid out the HuggingFace way, built at test time (docs/artifacts.md).

`tempo` is a plain-PyTorch project: a JSON training config per run (`configs/*.json`),
a `src/tempo` package whose model class takes its own config dataclass (`n_features`,
`hidden_size`, `seq_len`, `sigma_floor`: names of its own) and whose forward returns a
NamedTuple `TimingOut(loc, log_scale, step_logits)`, a Dataset whose items carry no
log-duration (the loss takes the log itself), and a sampler object built by
`TimingSampler.from_pretrained(folder)` that picks its own rows. Its training script
writes, per run, `outputs/<run>/checkpoints/step_<N>/{model.safetensors, config.json}`
(two checkpoints kept), a JSONL `log_history` with fractional epochs as HF's Trainer
keeps it, and TensorBoard scalars under `train/` and `eval/`; an eval dump of absolute
points ([N, L+1, 2], with per-point Δt whose first column is 0) sits in each run.

Two runs are trained from the real Balabit sessions bundled with the tests: `wide` has the
planted fault, a σ floor (`sigma_floor = 2.0` in its config: log σ can never go below
log 2, where the data need σ well under 1), and `base` is its healthy twin (floor 0.05).
The table names the faulty run; the healthy one is checked with the command line's paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from research_repos import built_cache, run_script, session_files, write

from tui_timing.data.eval_dump_maker import disjoint_halves, real_sequences

#: The two runs: (name, σ floor). Each trains for EPOCHS epochs and keeps two checkpoints.
RUNS = {"wide": 2.0, "base": 0.05}
EPOCHS = 60
MAX_LEN = 64

TABLE = """
[project]
name = "tempo"
version = "0.3.0"

[tool.timing-tui]
pythonpath = ["src"]
cache = "data/bb/rows.npz"
checkpoint = "outputs/wide/checkpoints/step_{last_step}"
log = "outputs/wide/tb"
eval = "outputs/wide/eval/samples.npz"
dataset = "tempo.data:Rows"
model = "tempo.model:TimingNet"
sampler = "tempo.sample:TimingSampler.from_pretrained"

[tool.timing-tui.keys.cache]
profile = "timing"

[tool.timing-tui.keys.batch]
profile = "timing"

[tool.timing-tui.keys.config]
cond_dim = "n_features"

[tool.timing-tui.keys.log]
duration_nll = "nll"
profile_loss = "kl"
dur_mu = "mu"
dur_sigma = "sigma"
profile_first = "p_first"
profile_mid = "p_mid"
profile_last = "p_last"

[tool.timing-tui.keys.eval]
real = "ref"
fake = "sample"
"""

SOURCES = {
    "src/tempo/__init__.py": '"""Timing for diffusion-generated mouse paths."""\n',
    "src/tempo/data.py": '''
        """The preprocessed rows (numpy archive) as a Dataset of dicts."""

        import numpy as np
        import torch
        from torch.utils.data import Dataset


        class Rows(Dataset):
            def __init__(self, path):
                data = np.load(path)
                self.feats = torch.from_numpy(data["feats"]).float()
                self.timing = torch.from_numpy(data["timing"]).float()
                self.valid = torch.from_numpy(data["valid"]).bool()
                self.dur = torch.from_numpy(data["dur"]).float()

            def __len__(self):
                return len(self.dur)

            def __getitem__(self, i):
                return {
                    "feats": self.feats[i],
                    "timing": self.timing[i],
                    "valid": self.valid[i],
                    "dur": self.dur[i],
                }
    ''',
    "src/tempo/model.py": '''
        """Log-normal duration and a per-step profile, HF-style save/load."""

        import json
        import math
        from dataclasses import asdict, dataclass
        from pathlib import Path
        from typing import NamedTuple

        import torch
        from safetensors.torch import load_file, save_file
        from torch import nn
        from torch.nn import functional as F


        @dataclass
        class TimingConfig:
            n_features: int = 6
            hidden_size: int = 32
            seq_len: int = 64
            sigma_floor: float = 0.05


        class TimingOut(NamedTuple):
            loc: torch.Tensor
            log_scale: torch.Tensor
            step_logits: torch.Tensor


        class TimingNet(nn.Module):
            def __init__(self, config: TimingConfig):
                super().__init__()
                self.config = config
                n, h = config.n_features, config.hidden_size
                self.register_buffer("feat_mean", torch.zeros(n))
                self.register_buffer("feat_std", torch.ones(n))
                self.encoder = nn.Sequential(
                    nn.Linear(n + 1, h), nn.GELU(), nn.Linear(h, h), nn.GELU()
                )
                self.duration_head = nn.Linear(h, 2)
                self.step_head = nn.Linear(h, config.seq_len)

            def forward(self, feats, lengths):
                c = self.config
                x = (feats - self.feat_mean) / self.feat_std
                frac = lengths.float()[:, None] / c.seq_len
                h = self.encoder(torch.cat([x, frac], dim=1))
                loc, raw = self.duration_head(h).unbind(-1)
                log_scale = math.log(c.sigma_floor) + F.softplus(raw)
                logits = torch.cumsum(self.step_head(h), dim=-1)
                pad = torch.arange(c.seq_len, device=feats.device)[None, :] >= lengths[:, None]
                return TimingOut(loc, log_scale, logits.masked_fill(pad, float("-inf")))

            def save_pretrained(self, folder):
                folder = Path(folder)
                folder.mkdir(parents=True, exist_ok=True)
                save_file(self.state_dict(), str(folder / "model.safetensors"))
                (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2))

            @classmethod
            def from_pretrained(cls, folder):
                folder = Path(folder)
                net = cls(TimingConfig(**json.loads((folder / "config.json").read_text())))
                net.load_state_dict(load_file(str(folder / "model.safetensors")))
                return net.eval()
    ''',
    "src/tempo/sample.py": '''
        """Durations and Δt profiles for rows drawn from the training data."""

        import torch

        from tempo.data import Rows
        from tempo.model import TimingNet


        class TimingSampler:
            def __init__(self, net, rows):
                self.net, self.rows = net, rows

            @classmethod
            def from_pretrained(cls, folder, cache_path="data/bb/rows.npz"):
                return cls(TimingNet.from_pretrained(folder), Rows(cache_path))

            @torch.no_grad()
            def sample(self, n):
                pick = torch.randint(0, len(self.rows), (n,))
                valid = self.rows.valid[pick]
                out = self.net(self.rows.feats[pick], valid.sum(1))
                eps = torch.randn(n)
                duration = torch.exp(out.loc + out.log_scale.exp() * eps)
                return {
                    "duration": duration,
                    "profile": torch.softmax(out.step_logits, dim=-1),
                    "mask": valid,
                }
    ''',
    "scripts/train.py": '''
        """Train one run: python scripts/train.py configs/<run>.json"""

        import json
        import sys
        from pathlib import Path

        import torch
        from torch.utils.data import DataLoader, random_split
        from torch.utils.tensorboard import SummaryWriter

        from tempo.data import Rows
        from tempo.model import TimingConfig, TimingNet

        cfg = json.loads(Path(sys.argv[1]).read_text())
        out_dir = Path("outputs") / cfg["run_name"]
        torch.manual_seed(cfg["seed"])
        torch.set_num_threads(1)
        data = Rows(cfg["data"])
        n_val = len(data) // 10
        train, val = random_split(
            data, [len(data) - n_val, n_val], generator=torch.Generator().manual_seed(0)
        )
        net = TimingNet(
            TimingConfig(
                n_features=data.feats.shape[1],
                hidden_size=cfg["hidden_size"],
                seq_len=data.timing.shape[1],
                sigma_floor=cfg["sigma_floor"],
            )
        )
        with torch.no_grad():
            net.feat_mean.copy_(data.feats.mean(0))
            net.feat_std.copy_(data.feats.std(0).clamp_min(1e-6))
            net.duration_head.bias[0] = data.dur.log().mean()
        opt = torch.optim.Adam(net.parameters(), lr=cfg["learning_rate"])
        loader = DataLoader(train, batch_size=cfg["batch_size"], shuffle=True)
        val_batch = next(iter(DataLoader(val, batch_size=len(val))))
        writer = SummaryWriter(str(out_dir / "tb"))
        (out_dir / "logs").mkdir(parents=True, exist_ok=True)
        history = (out_dir / "logs" / "log_history.jsonl").open("w")


        def losses(batch):
            out = net(batch["feats"], batch["valid"].sum(1))
            z = (batch["dur"].log() - out.loc) * torch.exp(-out.log_scale)
            nll = (out.log_scale + 0.5 * z * z).mean()
            target = batch["timing"]
            log_p = torch.log_softmax(out.step_logits, -1).masked_fill(target <= 0, 0.0)
            kl = (torch.special.xlogy(target, target) - target * log_p).sum(-1).mean()
            return nll, kl, out


        def record(entry, step):
            history.write(json.dumps(entry) + "\\n")
            history.flush()
            for name, value in entry.items():
                if name in ("epoch", "step", "learning_rate"):
                    continue
                split, field = ("eval", name[5:]) if name.startswith("eval_") else ("train", name)
                writer.add_scalar(f"{split}/{field}", value, step)


        step = 0
        per_epoch = len(loader)
        for epoch in range(cfg["num_train_epochs"]):
            net.train()
            for batch in loader:
                nll, kl, _ = losses(batch)
                loss = nll + kl
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step % cfg["logging_steps"] == 0:
                    record(
                        {"loss": loss.item(), "nll": nll.item(), "kl": kl.item(),
                         "learning_rate": cfg["learning_rate"],
                         "epoch": round(step / per_epoch, 2), "step": step},
                        step,
                    )
                    writer.add_scalar("train/epoch", step / per_epoch, step)
            net.eval()
            with torch.no_grad():
                nll, kl, out = losses(val_batch)
                p = torch.softmax(out.step_logits, -1).mean(0)
                record(
                    {"eval_loss": (nll + kl).item(), "eval_nll": nll.item(), "eval_kl": kl.item(),
                     "eval_mu": out.loc.mean().item(),
                     "eval_sigma": out.log_scale.exp().mean().item(),
                     "eval_p_first": p[0].item(), "eval_p_mid": p[len(p) // 2].item(),
                     "eval_p_last": p[-1].item(), "epoch": float(epoch + 1), "step": step},
                    step,
                )
            if epoch + 1 in cfg["save_at_epochs"]:
                net.save_pretrained(out_dir / "checkpoints" / f"step_{step}")
        writer.close()
        history.close()
    ''',
}


def run_config(name: str, floor: float) -> str:
    """The run's JSON training config, as its authors keep one per run."""
    config = {
        "run_name": name,
        "data": "data/bb/rows.npz",
        "seed": 0,
        "hidden_size": 64,
        "sigma_floor": floor,
        "learning_rate": 3e-3,
        "batch_size": 256,
        "num_train_epochs": EPOCHS,
        "logging_steps": 20,
        "save_at_epochs": [EPOCHS // 2, EPOCHS],
    }
    return json.dumps(config, indent=2) + "\n"


def checkpoints(root: Path, run: str) -> list[Path]:
    """A run's checkpoint folders, by their step number."""
    folders = (root / "outputs" / run / "checkpoints").glob("step_*")
    return sorted(folders, key=lambda p: int(p.name.split("_")[1]))


def hf_repo(root: Path, sessions_dir: Path) -> Path:
    """Lay out the repo under root, train both runs, write their eval dumps."""
    root.mkdir(parents=True, exist_ok=True)
    configs = {f"configs/{name}.json": run_config(name, floor) for name, floor in RUNS.items()}
    write(root, {**SOURCES, **configs})
    # The whole sessions: the epochs its Trainer logs are counted on this many rows.
    cache = built_cache(sessions_dir, root / "build", max_len=MAX_LEN, whole=True)
    rows = root / "data/bb/rows.npz"
    rows.parent.mkdir(parents=True)
    np.savez(
        rows,
        dur=cache["duration"].numpy(),
        timing=cache["profile"].numpy(),
        valid=cache["mask"].numpy(),
        feats=cache["features"].numpy(),
    )
    for name in RUNS:
        run_script(root, "scripts/train.py", f"configs/{name}.json")
    real, fake = disjoint_halves(real_sequences(session_files(sessions_dir)), seed=0)
    for name in RUNS:
        dump = root / "outputs" / name / "eval/samples.npz"
        dump.parent.mkdir(parents=True)
        np.savez(dump, **_points_side("ref", real), **_points_side("sample", fake))
    last = checkpoints(root, "wide")[-1].name.split("_")[1]
    (root / "pyproject.toml").write_text(TABLE.replace("{last_step}", last).lstrip())
    return root


def _points_side(group: str, seqs: object) -> dict[str, np.ndarray]:
    """One side as absolute points with per-point Δt (time since the previous point, 0 for
    the first) and a mask over points, under `group/...` keys."""
    xy = np.asarray(seqs.xy, dtype=np.float32)  # type: ignore[attr-defined]
    dt = np.asarray(seqs.dt, dtype=np.float32)  # type: ignore[attr-defined]
    mask = np.asarray(seqs.mask)  # type: ignore[attr-defined]
    n = len(xy)
    return {
        f"{group}/xy": xy,
        f"{group}/dt": np.concatenate([np.zeros((n, 1), np.float32), dt], axis=1),
        f"{group}/mask": np.concatenate([np.ones((n, 1), bool), mask], axis=1),
    }
