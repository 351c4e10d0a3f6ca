"""A research repo in an `experiments/<name>/` layout, laid out at test time
(docs/artifacts.md#conventions).

Its authors keep each training under `experiments/<name>/`: HF-style checkpoint folders
`ckpts/global_step_N/` (model.safetensors + a config.json under their own field names:
`feat_width`, `seq_cap`, `mask_pad`), a per-step JSONL log `logs/metrics.jsonl` with
`train/...` and `valid/...` keys and a fractional `epoch`, and an eval dump per run
`samples/eval_step_N.npz` whose sides `ref` and `synth` are each one [N, L+1, 3] tensor of
points and their time (channels x, y, t) with a mask over the points. The cache is an
`.npz` under the repo's names (`seg_dur`, `step_frac`, `step_ok`, `n_step`, `feat`); a
`src/mtraj` package holds a dict-item Dataset, a model class built from its own config
dataclass whose forward returns a dict of its own names (a profile, not logits), and a
sampler class read with `from_pretrained`. Two runs are trained from real Balabit rows by
the repo's own script: `padmass` (the profile softmax runs over padding) and `healthy`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from research_repos import run_script, write
from session_rows import cache_of

from tui_timing.data.eval_dump_maker import Sequences, disjoint_halves, real_sequences

#: Epochs of the repo's own training (each run saves its last two).
EPOCHS = 3

TABLE = """
[tool.timing-tui]
pythonpath = ["src"]
cache = "data/bb_train.npz"
checkpoint = "experiments/padmass/ckpts/global_step_{step}"
log = "experiments/padmass/logs/metrics.jsonl"
eval = "experiments/padmass/samples/eval_step_{step}.npz"
dataset = "mtraj.data:SegmentSet"
model = "mtraj.head:build_head"
sampler = "mtraj.sampling:TimingDraw.from_pretrained"
samples = 512

[tool.timing-tui.keys.cache]
duration = "seg_dur"
profile = "step_frac"
mask = "step_ok"
length = "n_step"
features = "feat"

[tool.timing-tui.keys.batch]
features = "feat"
duration = "seg_dur"
profile = "step_frac"
mask = "step_ok"
length = "n_step"
index = "row"

[tool.timing-tui.keys.config]
cond_dim = "feat_width"
max_len = "seq_cap"
mask_padding = "mask_pad"

[tool.timing-tui.keys.model]
mu = "loc_logd"
log_sigma = "logstd_logd"
profile = "step_share"

[tool.timing-tui.keys.log]
duration_nll = "nll"
profile_loss = "kl"
dur_mu = "mu_logd"
dur_sigma = "sigma_logd"
profile_first = "p_head"
profile_mid = "p_mid"
profile_last = "p_tail"

[tool.timing-tui.keys.eval]
real = "ref"
fake = "synth"
mask = "pts_ok"
"""

SOURCES = {
    "src/mtraj/__init__.py": '"""mtraj: mouse trajectory timing."""\n',
    "src/mtraj/data.py": """
        import numpy as np
        import torch
        from torch.utils.data import Dataset


        class SegmentSet(Dataset):
            def __init__(self, path):
                z = np.load(path)
                names = ("feat", "seg_dur", "step_frac", "step_ok", "n_step")
                self.cols = {k: torch.from_numpy(z[k]) for k in names}

            def __len__(self):
                return len(self.cols["seg_dur"])

            def __getitem__(self, i):
                return {**{k: v[i] for k, v in self.cols.items()}, "row": i}
        """,
    "src/mtraj/head.py": """
        import json
        from dataclasses import asdict, dataclass
        from pathlib import Path

        import torch
        from safetensors.torch import load_file, save_file
        from torch import nn


        @dataclass
        class HeadCfg:
            feat_width: int = 12
            seq_cap: int = 128
            width: int = 32
            mask_pad: bool = True
            train_cache: str = ""


        class TimingNet(nn.Module):
            def __init__(self, cfg: HeadCfg):
                super().__init__()
                self.cfg = cfg
                self.trunk = nn.Sequential(nn.Linear(cfg.feat_width + 1, cfg.width), nn.GELU())
                self.dur = nn.Linear(cfg.width, 2)
                self.steps = nn.Linear(cfg.width, cfg.seq_cap)

            def forward(self, feat, n_step):
                length = n_step.float().unsqueeze(-1) / self.cfg.seq_cap
                h = self.trunk(torch.cat([feat, length], -1))
                d, z = self.dur(h), self.steps(h)
                if self.cfg.mask_pad:
                    pad = torch.arange(self.cfg.seq_cap)[None] >= n_step[:, None]
                    z = z.masked_fill(pad, float("-inf"))
                share = torch.softmax(z, -1)
                return {"loc_logd": d[:, 0], "logstd_logd": d[:, 1], "step_share": share}

            def save_pretrained(self, folder):
                folder = Path(folder)
                folder.mkdir(parents=True)
                save_file(self.state_dict(), folder / "model.safetensors")
                config = {"arch": "mtraj", **asdict(self.cfg)}
                (folder / "config.json").write_text(json.dumps(config))

            @classmethod
            def from_pretrained(cls, folder):
                raw = json.loads((Path(folder) / "config.json").read_text())
                raw.pop("arch")
                net = cls(HeadCfg(**raw))
                net.load_state_dict(load_file(Path(folder) / "model.safetensors"))
                return net.eval()


        def build_head(cfg: HeadCfg) -> TimingNet:
            return TimingNet(cfg)
        """,
    "src/mtraj/sampling.py": """
        import numpy as np
        import torch

        from mtraj.head import TimingNet


        class TimingDraw:
            def __init__(self, net, rows_path):
                z = np.load(rows_path)
                self.net = net
                self.feat, self.n_step = torch.from_numpy(z["feat"]), torch.from_numpy(z["n_step"])

            @classmethod
            def from_pretrained(cls, folder):
                net = TimingNet.from_pretrained(folder)
                return cls(net, net.cfg.train_cache)

            @torch.no_grad()
            def sample(self, n):
                idx = torch.randint(len(self.n_step), (n,))
                out = self.net(self.feat[idx], self.n_step[idx])
                logd = out["loc_logd"] + out["logstd_logd"].exp() * torch.randn(n)
                mask = torch.arange(out["step_share"].shape[1])[None] < self.n_step[idx][:, None]
                return {"duration": logd.exp(), "profile": out["step_share"], "mask": mask}
        """,
    "scripts/train.py": """
        import argparse, json, math
        from pathlib import Path

        import torch
        from torch.utils.data import DataLoader

        from mtraj.data import SegmentSet
        from mtraj.head import HeadCfg, build_head

        ap = argparse.ArgumentParser()
        ap.add_argument("name")
        ap.add_argument("--no-mask-pad", action="store_true")
        ap.add_argument("--epochs", type=int)
        a = ap.parse_args()
        torch.manual_seed(0)
        torch.set_num_threads(1)
        out = Path("experiments") / a.name
        (out / "logs").mkdir(parents=True)
        data = SegmentSet("data/bb_train.npz")
        cfg = HeadCfg(feat_width=data.cols["feat"].shape[1],
                      seq_cap=data.cols["step_frac"].shape[1], width=32,
                      mask_pad=not a.no_mask_pad, train_cache="data/bb_train.npz")
        net = build_head(cfg)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        dl = DataLoader(data, batch_size=64, shuffle=True)
        L = cfg.seq_cap


        def losses(b):
            o = net(b["feat"], b["n_step"])
            z = (b["seg_dur"].log() - o["loc_logd"]) / o["logstd_logd"].exp()
            nll = (o["logstd_logd"] + 0.5 * z**2 + 0.5 * math.log(2 * math.pi)).mean()
            t, p = b["step_frac"], o["step_share"].clamp_min(1e-12)
            kl = t * (t.clamp_min(1e-12).log() - p.log())
            kl = torch.where(b["step_ok"], kl, 0.0).sum(-1).mean()
            return nll, kl, o


        def figs(prefix, nll, kl, o):
            sh = o["step_share"].detach()
            return {f"{prefix}/loss": float(nll + kl), f"{prefix}/nll": float(nll),
                    f"{prefix}/kl": float(kl), f"{prefix}/mu_logd": float(o["loc_logd"].mean()),
                    f"{prefix}/sigma_logd": float(o["logstd_logd"].exp().mean()),
                    f"{prefix}/p_head": float(sh[:, 0].mean()),
                    f"{prefix}/p_mid": float(sh[:, L // 2].mean()),
                    f"{prefix}/p_tail": float(sh[:, -1].mean())}


        step, per_epoch = 0, len(dl)
        with (out / "logs" / "metrics.jsonl").open("w") as log:
            for ep in range(a.epochs):
                for b in dl:
                    nll, kl, o = losses(b)
                    opt.zero_grad()
                    (nll + kl).backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                    opt.step()
                    step += 1
                    if step % 5 == 0:
                        at = {"step": step, "epoch": round(step / per_epoch, 4)}
                        log.write(json.dumps({**at, **figs("train", nll, kl, o)}) + "\\n")
                with torch.no_grad():
                    nll, kl, o = losses(next(iter(DataLoader(data, batch_size=len(data)))))
                at = {"step": step, "epoch": float(ep + 1)}
                log.write(json.dumps({**at, **figs("valid", nll, kl, o)}) + "\\n")
                if ep + 2 >= a.epochs:
                    net.save_pretrained(out / "ckpts" / f"global_step_{step}")
        print(step)
        """,
}


def points_and_time(seqs: Sequences, time_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A side as the repo keeps it: (x, y, t) over the L+1 points, t since the row's first
    point (scaled by `time_scale`), zeros after the last point, and the mask over points."""
    n = seqs.n_rows
    time = np.concatenate([np.zeros((n, 1)), np.cumsum(seqs.dt, axis=1)], axis=1) * time_scale
    points = np.concatenate([np.ones((n, 1), bool), seqs.mask], axis=1)
    data = np.concatenate([seqs.xy, time[..., None]], axis=-1) * points[..., None]
    return data.astype(np.float32), points


def experiments_repo(root: Path, sessions: list[Path]) -> tuple[Path, int]:
    """The repo under `root`, its two runs trained; returns the root and the last step.

    The sessions' segments are split into two disjoint halves. The cache's rows are the
    package's cache of the first half saved under the repo's names, its features
    standardized; each run's eval dump pairs the first half with the second (real movement
    the cache never holds), the `padmass` run's fake times stretched ×1.3 (a drift its eval
    pipeline brings)."""
    real, fake = disjoint_halves(real_sequences(sessions), seed=0)
    cache_path = cache_of(real, root.parent / f"{root.name}-build", "bb")
    cache = torch.load(cache_path, weights_only=True)
    features = cache["features"].double().numpy()
    features = (features - features.mean(0)) / (features.std(0) + 1e-6)  # standardized
    (root / "data").mkdir(parents=True)
    np.savez(
        root / "data/bb_train.npz",
        seg_dur=cache["duration"].numpy(),
        step_frac=cache["profile"].numpy(),
        step_ok=cache["mask"].bool().numpy(),
        n_step=cache["length"].numpy(),
        feat=features.astype(np.float32),
    )
    write(root, SOURCES)
    for name, flags in (("padmass", ["--no-mask-pad"]), ("healthy", [])):
        run_script(root, "scripts/train.py", name, "--epochs", str(EPOCHS), *flags)
    step = max(int(p.name.split("_")[-1]) for p in root.glob("experiments/healthy/ckpts/*"))
    real, fake = real.trimmed(), fake.trimmed()
    for name, scale in (("padmass", 1.3), ("healthy", 1.0)):
        entries: dict[str, np.ndarray] = {"channels": np.array(["x", "y", "t"])}
        entries["ref/traj"], entries["ref/pts_ok"] = points_and_time(real)
        entries["synth/traj"], entries["synth/pts_ok"] = points_and_time(fake, scale)
        (root / f"experiments/{name}/samples").mkdir()
        np.savez(root / f"experiments/{name}/samples/eval_step_{step}.npz", **entries)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "mtraj"\nversion = "0"\n' + TABLE.format(step=step)
    )
    return root, step
