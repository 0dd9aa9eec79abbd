"""Public checks for ResNet and resnet18."""

import pytest

from autograder.checks import CheckFailed, StudentCode, output_shape

pytestmark = pytest.mark.task("ResNet")

# The assignment's standard block (support.py): grades the network apart from the student's block.
BLOCK = StudentCode.support_symbol("BasicBlock", shown="torchvision's BasicBlock")


def test_resnet_logits(student):
    """ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) maps a batch of images to 10 logits each

    Built with torchvision's BasicBlock, so this checks your ResNet on its own.
    """
    call, shape = output_shape(student, "ResNet", (BLOCK, [2, 2, 2, 2]),
                               {"num_classes": 10}, (2, 3, 64, 64))
    if shape != (2, 10):
        raise CheckFailed(f"{call} maps a (2, 3, 64, 64) batch to {shape}, expected (2, 10)")
