"""Public checks for ResNet and resnet18."""

import pytest

from autograder.checks import CheckFailed, StudentCode, StudentError, output_shape

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


@pytest.mark.weight(0)
def test_resnet18_parameter_count(student):
    """resnet18() has 11,689,512 parameters, as torchvision's does (a feedback check: no points)"""
    try:
        model = student.build("resnet18", device="meta")
    except StudentError:
        model = student.build("resnet18")
    total = model.count_parameters()["total"]
    if total != 11_689_512:
        raise CheckFailed(f"resnet18() has {total:,} parameters, torchvision's has 11,689,512: "
                          "check the stem (7x7 convolution, 64 channels), the four stages "
                          "(64, 128, 256, 512 channels, two blocks each), the projection "
                          "shortcuts, and the head Linear(512, num_classes)")
