"""Hidden checks for BasicBlock: behaviour against the reference, weights mapped by structure."""

import pytest
import torch

from autograder.checks import (
    CheckFailed,
    StudentError,
    build_traced,
    compare_with_reference,
    describe,
    random_input,
    registered_leaves,
)

pytestmark = pytest.mark.task("BasicBlock")

INPUT = (4, 16, 8, 8)
BLOCKS = {
    "identity": (16, 16, 1),
    "projection": (16, 32, 2),
    "channels": (16, 32, 1),
}


def compare_block(ctx, student, kind, mode):
    in_channels, out_channels, stride = BLOCKS[kind]
    compare_with_reference(
        ctx, student, "BasicBlock", (in_channels, out_channels, stride), {},
        build=lambda m: m.BasicBlock(in_channels, out_channels, stride),
        input_shape=INPUT, mode=mode, key=f"BasicBlock{BLOCKS[kind]}")


@pytest.mark.weight(2)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_identity_block(ctx, student, mode):
    """An identity block (16 -> 16 channels, stride 1) computes what the reference computes"""
    compare_block(ctx, student, "identity", mode)


@pytest.mark.weight(2)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_projection_block(ctx, student, mode):
    """A stride-2 block (16 -> 32 channels) computes what the reference computes"""
    compare_block(ctx, student, "projection", mode)


def test_channel_change_block(ctx, student):
    """A block that changes channels at stride 1 (16 -> 32) computes what the reference computes"""
    compare_block(ctx, student, "channels", "eval")


def test_gradients_reach_every_parameter(ctx, student):
    """Gradients reach every parameter of a stride-2 block"""
    block = student.build("BasicBlock", 16, 32, 2)
    result = block.forward(random_input(INPUT, ctx.seed), mode="train", backward=True)
    missing = [name for name, grad in result["grads"].items()
               if grad is None or not torch.any(grad != 0)]
    if not result["grads"]:
        raise CheckFailed(f"{block.call} has no parameters: are its layers registered as "
                          "attributes (self.conv1 = ...)?")
    if missing:
        raise CheckFailed(f"no gradient reaches {', '.join(missing)} in {block.call}: every "
                          "layer must be used in forward")


def _traced_block(student, kind):
    """The block's layers with parameters, in the order they run (in registration order
    when its forward pass fails)."""
    in_channels, out_channels, stride = BLOCKS[kind]
    args, kwargs = (in_channels, out_channels, stride), {}
    try:
        _, trace = build_traced(student, "BasicBlock", args, kwargs, INPUT, shared=True)
    except StudentError:
        _, trace = registered_leaves(student, "BasicBlock", args, kwargs)
    return [leaf for leaf in trace if leaf["params"] or leaf["buffers"]]


def test_no_bias_in_convolutions(student):
    """The convolutions have no bias (BatchNorm's shift makes it redundant)"""
    for kind in ("identity", "projection"):
        convolutions = [leaf for leaf in _traced_block(student, kind) if leaf["kind"] == "Conv2d"]
        if not convolutions:
            raise CheckFailed("found no convolution in BasicBlock's forward pass")
        for leaf in convolutions:
            if leaf["config"].get("has_bias"):
                raise CheckFailed(f"{describe(leaf)} (`{leaf['name']}`) has a bias: pass "
                                  "bias=False, since the BatchNorm after it adds its own shift")


def test_shortcut_structure(student):
    """The shortcut is the identity at stride 1, and a 1x1 convolution + BatchNorm otherwise"""
    identity = _traced_block(student, "identity")
    one_by_one = [leaf for leaf in identity if leaf["kind"] == "Conv2d"
                  and leaf["config"].get("kernel_size") == [1, 1]]
    if one_by_one or sum(leaf["kind"] == "Conv2d" for leaf in identity) != 2:
        raise CheckFailed("a block with stride 1 and equal channels must use the identity "
                          "shortcut (no layers): found "
                          + ", ".join(describe(leaf) for leaf in identity if leaf["kind"] == "Conv2d"))
    for kind in ("projection", "channels"):
        in_channels, out_channels, stride = BLOCKS[kind]
        leaves = _traced_block(student, kind)
        projections = [i for i, leaf in enumerate(leaves) if leaf["kind"] == "Conv2d"
                       and leaf["config"].get("kernel_size") == [1, 1]]
        needs = (f"a block with stride {stride} from {in_channels} to {out_channels} channels "
                 "needs a projection shortcut")
        if not projections:
            raise CheckFailed(f"{needs}: found no 1x1 convolution")
        conv = leaves[projections[0]]
        if conv["config"].get("stride") != [stride, stride]:
            raise CheckFailed(f"{needs}: its 1x1 convolution must have stride {stride}, "
                              f"found {describe(conv)}")
        followers = [leaf for leaf in leaves if leaf["kind"] == "BatchNorm2d"]
        if len(followers) < 3:
            raise CheckFailed(f"{needs}: the 1x1 convolution must be followed by a BatchNorm2d "
                              f"({len(followers)} BatchNorm2d layers found, expected 3)")
