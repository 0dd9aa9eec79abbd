"""Support code of the resnet assignment: public building blocks its checks pass to student code.

Imported by the worker (as ``assignment_support``) and readable there, unlike every other
file of this folder; it holds nothing secret (students may read it).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock


class BasicBlock(TorchvisionBasicBlock):
    """torchvision's public BasicBlock behind the assignment's constructor signature.

    Passing it to a student's ``ResNet`` grades the network on its own, independent of
    the student's block.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        # The rule of torchvision's ResNet._make_layer: a projection when the shape changes.
        projects = stride != 1 or in_channels != out_channels
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels)) if projects else None
        super().__init__(in_channels, out_channels, stride, downsample)
