"""Support code of the resnet assignment: public building blocks its checks pass to student code.

Imported by the worker (as ``assignment_support``) and readable there, unlike every other
file of this folder; it holds nothing secret (students may read it).
"""

from __future__ import annotations

import torch
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


# Published bugs: public feedback on the tests students write (checks/public) runs a student's
# test on BasicBlock above (a correct block) and on one of these (a broken one). The hidden
# checks grade the tests by bugs that stay unseen; these two are shown on purpose.

class BlockWithoutShortcut(BasicBlock):
    """The block forgets the shortcut: relu of the main path alone, the input never added."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main_path = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(main_path)


class BlockStuckInTrainMode(BasicBlock):
    """The block ignores .eval(): its BatchNorm always normalises with the batch's statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.train()
        return super().forward(x)
