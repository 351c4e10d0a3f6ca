"""The bundled sample data the model-side tests run on (docs/artifacts.md#sample-data)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
CACHE = SAMPLE / "datasets/sample/train_timing.pt"
LINEAR = SAMPLE / "runs/linear/checkpoint.pt"
INCREMENTS = SAMPLE / "runs/increments/checkpoint.pt"
