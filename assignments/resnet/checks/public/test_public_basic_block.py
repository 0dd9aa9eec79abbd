"""Public checks for BasicBlock: students run these with `autograder check`."""

import pytest
import torch

from autograder.checks import CheckFailed, build_traced, random_input

pytestmark = pytest.mark.task("BasicBlock")


# The exercise's names; seed 000 and kuangliu/pytorch-cifar say `planes`, torchvision
# `inplanes`. Every check passes the three positionally, so any names earn the same.
EXERCISE_NAMES = ["in_channels", "out_channels", "stride"]
POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")


def test_constructor(ctx, student):
    """BasicBlock is an nn.Module built as BasicBlock(in_channels, out_channels, stride=1)"""
    info = student.describe("BasicBlock")
    if not info["exists"]:
        raise CheckFailed("resnet.py defines no class BasicBlock")
    if not info["is_module_class"]:
        raise CheckFailed("BasicBlock must be a class that subclasses torch.nn.Module")
    parameters = info["parameters"] or []
    takes = f"BasicBlock's constructor takes ({', '.join(p['name'] for p in parameters)})"
    positional = [p for p in parameters if p["kind"] in POSITIONAL]
    needed = [p["name"] for p in positional[3:] if p["default"] is None]
    needed += [p["name"] for p in parameters if p["kind"] == "KEYWORD_ONLY" and p["default"] is None]
    if needed:
        raise CheckFailed(f"{takes}: it also needs `{needed[0]}`, so BasicBlock(in_channels, "
                          f"out_channels, stride=1) cannot build it; give `{needed[0]}` a "
                          "default or leave it out")
    if not any(p["kind"] == "VAR_POSITIONAL" for p in parameters):
        if len(positional) < 3:
            raise CheckFailed(f"{takes}; it must take (in_channels, out_channels, stride=1): "
                              "the input channels, the output channels and the stride, in "
                              "that order")
        if positional[2]["default"] != "1":
            raise CheckFailed(f"the stride argument of BasicBlock (`{positional[2]['name']}`, "
                              "its third) must default to 1")
    block = student.build("BasicBlock", 8, 8)
    if not block.count_parameters()["total"]:
        raise CheckFailed(f"{block.call} has no parameters: create its layers in __init__")
    names = [p["name"] for p in positional[:3]]
    if len(names) == 3 and names != EXERCISE_NAMES:
        ctx.note(f"note: your constructor names its parameters ({', '.join(names)}); the "
                 "exercise calls them (in_channels, out_channels, stride). That costs nothing: "
                 "the grader passes them in this order, by position.")


@pytest.mark.parametrize("in_channels, out_channels, stride, expected", [
    (8, 8, 1, (2, 8, 8, 8)),
    (8, 16, 2, (2, 16, 4, 4)),
], ids=["8 to 8 channels, stride 1", "8 to 16 channels, stride 2"])
def test_output_shape(student, in_channels, out_channels, stride, expected):
    """A block keeps the size at stride 1 and halves it at stride 2"""
    block = student.build("BasicBlock", in_channels, out_channels, stride)
    shape = tuple(block.output_shape((2, in_channels, 8, 8)))
    if shape != expected:
        raise CheckFailed(f"{block.call} maps an input of shape (2, {in_channels}, 8, 8) to "
                          f"{shape}, expected {expected}")


# Feedback checks: weight 0, so they decide no points (the hidden checks do); each catches a
# common bug without the reference, and says how to fix it.

def _convolutions(student, in_channels, out_channels, stride, shape):
    """The student's block and its 3x3 convolutions, in the order they run."""
    block, trace = build_traced(student, "BasicBlock", (in_channels, out_channels, stride),
                                {}, shape)
    return block, [leaf for leaf in trace if leaf["kind"] == "Conv2d"
                   and leaf["config"].get("kernel_size") == [3, 3]]


@pytest.mark.weight(0)
def test_stride_on_the_first_convolution(student):
    """A stride-2 block puts the stride on its first 3x3 convolution, not on the second"""
    _, convolutions = _convolutions(student, 8, 16, 2, (2, 8, 8, 8))
    if len(convolutions) != 2:
        raise CheckFailed(f"BasicBlock(8, 16, stride=2) runs {len(convolutions)} 3x3 "
                          "convolutions, expected 2 (conv1 and conv2)")
    strides = [leaf["config"].get("stride") for leaf in convolutions]
    if strides != [[2, 2], [1, 1]]:
        raise CheckFailed(f"in BasicBlock(8, 16, stride=2) the 3x3 convolutions have strides "
                          f"{strides[0][0]} and {strides[1][0]}: give the stride to the first "
                          "one (conv1) and stride 1 to the second (conv2)")


@pytest.mark.weight(0)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_output_ends_with_relu(student, mode):
    """The block's output went through its final ReLU: nothing in it is negative"""
    block = student.build("BasicBlock", 8, 8)
    output = block.forward(random_input((2, 8, 6, 6), 7, scale=2.0), mode=mode)["output"]
    if output.min() < 0:
        raise CheckFailed(f"{block.call} returns negative values in {mode} mode (as low as "
                          f"{output.min().item():.3g}): apply ReLU last, to the sum of the main "
                          "path and the shortcut")


@pytest.mark.weight(0)
def test_shortcut_added_before_the_final_relu(student):
    """A stride-1 block adds its input to the main path, then applies ReLU once"""
    # Every weight zero and every BatchNorm shift -1 make the main path -1 everywhere, so a
    # correct identity block in eval mode returns relu(x - 1), whatever its layers are named.
    shape = (2, 8, 6, 6)
    _, trace = build_traced(student, "BasicBlock", (8, 8, 1), {}, shape)
    shifts = {f"{leaf['name']}.bias": torch.full((8,), -1.0) for leaf in trace
              if leaf["kind"] == "BatchNorm2d"}
    if not shifts:
        raise CheckFailed("BasicBlock(8, 8) runs no BatchNorm2d layer: each 3x3 convolution is "
                          "followed by one")
    block = student.build("BasicBlock", 8, 8)
    block.load_state(tensors=shifts)  # what is not given is set to zero
    x = random_input(shape, 11, scale=2.0)
    output = block.forward(x, mode="eval")["output"]
    if tuple(output.shape) != shape or torch.allclose(output, torch.relu(x - 1), atol=1e-5):
        return
    if torch.allclose(output, torch.relu(x), atol=1e-5):
        hint = ("the ReLU is applied to the main path before the shortcut is added: add the "
                "shortcut first, then apply the final ReLU once, to the sum")
    elif torch.allclose(output, torch.zeros_like(output), atol=1e-5):
        hint = "the block's input is not added back: add the shortcut of the input (x itself)"
    else:
        hint = ("add the block's input, unchanged (the identity shortcut), to the main path, "
                "then apply ReLU")
    raise CheckFailed(f"with every weight zero and the BatchNorm shifts -1, the main path of "
                      f"{block.call} is -1 everywhere, so in eval mode it should return "
                      f"relu(x - 1); it does not: {hint}")
