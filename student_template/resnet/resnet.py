"""ResNet-18 from scratch: the residual BasicBlock and the network built from it.

Fill in every ``TODO(human)``. The interface (names, arguments, defaults) is fixed:
the grader builds your classes exactly as the docstrings describe.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection: ``relu(F(x) + shortcut(x))``.

    Main path: conv3x3(stride, padding 1, no bias) -> BatchNorm2d -> ReLU ->
    conv3x3(padding 1, no bias) -> BatchNorm2d.
    Shortcut: identity, or a 1x1 conv(stride, no bias) + BatchNorm2d when ``stride != 1``
    or the number of channels changes. Add the shortcut, then apply ReLU.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        # TODO(human): implement this
        pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO(human): implement this
        pass


class ResNet(nn.Module):
    """ResNet for images: stem, four stages of residual blocks, global pool, linear head.

    Stem: 7x7 conv (stride 2, padding 3, no bias) -> BatchNorm2d -> ReLU -> 3x3 max pool
    (stride 2, padding 1). Stages of ``layers[i]`` blocks with 64, 128, 256, 512 channels
    and strides 1, 2, 2, 2 (only the first block of a stage has the stride). Then
    AdaptiveAvgPool2d to 1x1, flatten, Linear(512, num_classes).
    Init: Kaiming normal (mode='fan_out', nonlinearity='relu') for every Conv2d,
    weight 1 and bias 0 for every BatchNorm2d.
    """

    def __init__(self, block: type[nn.Module], layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3) -> None:
        super().__init__()
        # TODO(human): implement this
        pass

    def _make_layer(self, block: type[nn.Module], out_channels: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        # TODO(human): implement this
        pass

    def _initialize_weights(self) -> None:
        # TODO(human): implement this
        pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO(human): implement this
        pass


def resnet18(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18: BasicBlocks in stages of [2, 2, 2, 2]."""
    # TODO(human): implement this
    pass
