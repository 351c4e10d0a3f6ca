"""The conditioning width of a user's model that no config names, found by running it.

A file's tensor order says nothing about which layer comes first (a safetensors header
sorts the names: its first weight may be any layer's), so the width is read from the
built model instead: the input widths of its layers in module order (each also less one,
for a model that appends the length to the features) are tried as the width of a two-row
batch of features, and the first one the forward runs on is it.
A model that runs on none of them leaves the width unknown, and the checks that need it
say which table line names it.
"""

from __future__ import annotations

import torch
from torch import nn

from tui_timing.model.user_model import UserModel

#: Widths tried at most (one forward each, on two rows of zeros).
MAX_TRIES = 8


def probe_width(model: UserModel) -> tuple[int, str] | None:
    """(width, how it was found) for the features the model runs on, or None. A layer
    taking w inputs is tried at w, then at w - 1: a model that appends one input of its
    own to the features (the length, as the reference head does) runs on w - 1."""
    tried: list[int] = []
    for name, module in model.inner.named_modules():
        layer = _input_width(module)
        if layer is None:
            continue
        for width in (layer, layer - 1):
            if width < 1 or width in tried or len(tried) >= MAX_TRIES:
                continue
            tried.append(width)
            if _runs_on(model, width):
                extra = "" if width == layer else " (the features and one input more)"
                return width, (
                    f"your model runs on [B, {width}] features: {name or 'its first layer'} "
                    f"({type(module).__name__}) takes {layer}{extra}, found by running it"
                )
    return None


def _input_width(module: nn.Module) -> int | None:
    """The width of the last input dimension a layer takes, for the common layers."""
    if isinstance(module, nn.Linear):
        return int(module.in_features)
    normalized = getattr(module, "normalized_shape", None)  # LayerNorm, RMSNorm
    if isinstance(normalized, tuple) and normalized:
        return int(normalized[-1])
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return int(module.num_features)
    return None


def _runs_on(model: UserModel, width: int) -> bool:
    """Whether a forward on two rows of `width` zeros (full length) succeeds."""
    steps = model.steps or 1
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(2, width), torch.full((2,), steps, dtype=torch.int64))
    except Exception:  # the user's code says no in its own way (a shape error, mostly)
        return False
    return True
