"""Public checks for ResNet and resnet18."""

import pytest

from autograder.checks.compare import output_shape
from autograder.checks.errors import CheckFailed

pytestmark = pytest.mark.task("ResNet")


def test_resnet_logits(student):
    """ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) maps a batch of images to 10 logits each

    Built with torchvision's BasicBlock, so this checks your ResNet on its own.
    """
    call, shape = output_shape(student, "ResNet", (student.standard("BasicBlock"), [2, 2, 2, 2]),
                               {"num_classes": 10}, (2, 3, 64, 64))
    if shape != (2, 10):
        raise CheckFailed(f"{call} maps a (2, 3, 64, 64) batch to {shape}, expected (2, 10)")
