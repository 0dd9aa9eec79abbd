"""Tests for resnet.py. The helper and the first test are given; write the last two.

Run them with ``python -m pytest test_resnet.py -v``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
import pytest


class ActivationRecorder:
    """Records what named submodules output during a forward pass, through forward hooks.

    ``named_modules()`` names every submodule ('' is the root, then 'conv1', 'bn1', ...).
    Hooks persist until removed, so ``record`` removes them even if the test fails.
    """

    def __init__(self) -> None:
        self.activations: dict[str, torch.Tensor] = {}
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []

    def _make_hook(self, name: str):
        def hook(module: nn.Module, input: tuple, output: torch.Tensor) -> None:
            self.activations[name] = output.detach().clone()
        return hook

    @contextmanager
    def record(self, model: nn.Module, layer_names: list[str]) -> Iterator[ActivationRecorder]:
        for name, module in model.named_modules():
            if name in layer_names:
                hook = module.register_forward_hook(self._make_hook(name))
                self._hooks.append(hook)
        try:
            yield self
        finally:
            for hook in self._hooks:
                hook.remove()
            self._hooks.clear()


def test_basic_block_records_intermediate_shapes():
    """Given: the hooks see every stage of a stride-2 block."""
    from resnet import BasicBlock

    block = BasicBlock(64, 128, stride=2)
    recorder = ActivationRecorder()
    with recorder.record(block, ["conv1", "bn1", "conv2", "bn2"]):
        out = block(torch.randn(2, 64, 16, 16))
    assert out.shape == (2, 128, 8, 8)
    for name in ["conv1", "bn1", "conv2", "bn2"]:
        assert recorder.activations[name].shape == (2, 128, 8, 8)


@pytest.fixture
def block():
    """A stride-1 block with both convolutions zeroed, in eval mode."""
    from resnet import BasicBlock

    block = BasicBlock(in_channels=64, out_channels=64, stride=1)
    with torch.no_grad():
        block.conv1.weight.zero_()
        block.conv2.weight.zero_()
    block.eval()
    yield block
    block.train()


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(4, 64, 8, 8)


@pytest.fixture
def fresh_block():
    from resnet import BasicBlock

    return BasicBlock(64, 64)


def test_residual_addition_happens(block):
    """With the convolutions zeroed the block is relu(input + 0): the skip is added."""
    x = torch.ones(1, 64, 8, 8) * 0.5
    with torch.no_grad():
        output = block(x)
    assert torch.allclose(output, torch.relu(x), atol=1e-5)


def test_batchnorm_train_vs_eval(fresh_block, batch, tmp_path):
    """Train mode normalises with the batch's statistics, eval mode with the running ones."""
    out_train = fresh_block.train()(batch)
    out_eval = fresh_block.eval()(batch)
    torch.save(out_eval, tmp_path / "out_eval.pt")
    assert not torch.allclose(out_train, out_eval)
