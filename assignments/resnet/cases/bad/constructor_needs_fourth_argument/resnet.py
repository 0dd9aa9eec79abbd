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

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 norm_layer: type[nn.Module]) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride,
                               padding=1, bias=False)
        self.bn1 = norm_layer(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.bn2 = norm_layer(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return self.relu(out)
        ### END SOLUTION


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
        ### BEGIN SOLUTION
        self.current_channels = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        self._initialize_weights()
        ### END SOLUTION

    def _make_layer(self, block: type[nn.Module], out_channels: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        ### BEGIN SOLUTION
        layers = [block(self.current_channels, out_channels, stride, nn.BatchNorm2d)]
        self.current_channels = out_channels
        for _ in range(1, num_blocks):
            layers.append(block(self.current_channels, out_channels, 1, nn.BatchNorm2d))
        return nn.Sequential(*layers)
        ### END SOLUTION

    def _initialize_weights(self) -> None:
        ### BEGIN SOLUTION
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)
        ### END SOLUTION


def resnet18(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18: BasicBlocks in stages of [2, 2, 2, 2]."""
    ### BEGIN SOLUTION
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_channels=in_channels)
    ### END SOLUTION
