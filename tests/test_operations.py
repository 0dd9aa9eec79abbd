"""Worker operations called in-process, where a machine's quirks can be reproduced on purpose."""

from __future__ import annotations

import torch
from torch import nn

from autograder.operations.models import shapes
from autograder.operations.state import WorkerState


class RefusesNonFinite(nn.Module):
    """A correct forward that reads its input's values, as good case skip_registered_backwards does."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert torch.isfinite(x).all()
        return self.linear(x)


def test_shapes_never_feeds_uninitialised_memory(monkeypatch) -> None:
    """On some machines ``torch.empty`` returns NaN (it did on CI): a CPU model must not see it."""
    real_empty = torch.empty

    def nan_filled(*args, **kwargs):
        return real_empty(*args, **kwargs).fill_(float("nan"))

    monkeypatch.setattr(torch, "empty", nan_filled)
    state = WorkerState()
    handle = state.new_handle(RefusesNonFinite())
    assert shapes(state, handle, [[2, 4]]) == {"output_shape": [2, 3]}


def test_shapes_stays_on_meta_for_a_meta_model() -> None:
    state = WorkerState()
    handle = state.new_handle(nn.Linear(4, 3, device="meta"))
    assert shapes(state, handle, [[5, 4]]) == {"output_shape": [5, 3]}
