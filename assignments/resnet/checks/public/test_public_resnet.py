"""Public checks for ResNet and resnet18."""

import pytest

from autograder.checks.errors import CheckFailed

pytestmark = pytest.mark.task("ResNet")


def test_resnet18_logits(student):
    """resnet18(num_classes=10) maps a batch of images to 10 logits each"""
    model = student.build("resnet18", num_classes=10, device="meta", shared=True)
    shape = tuple(model.output_shape((2, 3, 64, 64)))
    if shape != (2, 10):
        raise CheckFailed(f"resnet18(num_classes=10) maps a (2, 3, 64, 64) batch to {shape}, "
                          "expected (2, 10)")
