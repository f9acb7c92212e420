"""Tests run one CPU thread and float64 where they compare two computations."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
