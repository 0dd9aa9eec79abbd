"""Public checks for BasicBlock: students run these with `autograder check`."""

import pytest

from autograder.checks import CheckFailed

pytestmark = pytest.mark.task("BasicBlock")


def test_constructor(student):
    """BasicBlock is an nn.Module built as BasicBlock(in_channels, out_channels, stride=1)"""
    info = student.describe("BasicBlock")
    if not info["exists"]:
        raise CheckFailed("resnet.py defines no class BasicBlock")
    if not info["is_module_class"]:
        raise CheckFailed("BasicBlock must be a class that subclasses torch.nn.Module")
    names = [p["name"] for p in info["parameters"] or []]
    if names[:3] != ["in_channels", "out_channels", "stride"]:
        raise CheckFailed(f"BasicBlock's constructor takes ({', '.join(names)}); it must take "
                          "(in_channels, out_channels, stride=1)")
    stride = info["parameters"][2]
    if stride["default"] != "1":
        raise CheckFailed("the stride argument of BasicBlock must default to 1")
    block = student.build("BasicBlock", 8, 8)
    if not block.count_parameters()["total"]:
        raise CheckFailed(f"{block.call} has no parameters: create its layers in __init__")


@pytest.mark.parametrize("in_channels, out_channels, stride, expected", [
    (8, 8, 1, (2, 8, 8, 8)),
    (8, 16, 2, (2, 16, 4, 4)),
], ids=["8 to 8 channels, stride 1", "8 to 16 channels, stride 2"])
def test_output_shape(student, in_channels, out_channels, stride, expected):
    """A block keeps the size at stride 1 and halves it at stride 2"""
    block = student.build("BasicBlock", in_channels, out_channels, stride=stride)
    shape = tuple(block.output_shape((2, in_channels, 8, 8)))
    if shape != expected:
        raise CheckFailed(f"{block.call} maps an input of shape (2, {in_channels}, 8, 8) to "
                          f"{shape}, expected {expected}")
