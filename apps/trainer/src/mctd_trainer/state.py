"""Model and optimizer state <-> flat tensor dicts (what safetensors can store)."""

from __future__ import annotations

import torch
from torch import nn


def pack(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """``model.<name>`` for every parameter/buffer, ``optim.<idx>.<key>`` for optimizer state."""
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    for idx, st in optimizer.state_dict()["state"].items():
        for key, val in st.items():
            out[f"optim.{idx}.{key}"] = torch.as_tensor(val)
    return out


def unpack(
    tensors: dict[str, torch.Tensor], model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Load what ``pack`` wrote into ``model`` and ``optimizer`` (hyperparameters stay as built)."""
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, key = k.split(".", 2)
            state.setdefault(int(idx), {})[key] = v
    sd = optimizer.state_dict()
    optimizer.load_state_dict({"state": state, "param_groups": sd["param_groups"]})
