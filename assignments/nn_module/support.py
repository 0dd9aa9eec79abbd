"""Support code of the nn_module assignment: the standard models its checks hand to student
code (a FeatureExtractor needs a model to hook).

Public code (students may read it), imported by the worker (as ``assignment_support``) and
by the judge (``ctx.support``), so both build the same model; the judge sends its own
weights too, so both copies compute the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock


def mlp() -> nn.Module:
    """The seed notebook's model: Linear(10, 20), ReLU, Linear(20, 5), named '0', '1', '2'."""
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))


class TinyResNet(nn.Module):
    """torchvision's ResNet layout and module names (``conv1``, ``layer1.0.relu``,
    ``layer2.0.downsample.0``, ``fc``) at a width of 8 channels, for 3x16x16 images."""

    def __init__(self, width: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(width, width))
        downsample = nn.Sequential(nn.Conv2d(width, 2 * width, 1, stride=2, bias=False),
                                   nn.BatchNorm2d(2 * width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2, downsample))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Written as torchvision's ResNet._forward_impl is, one layer a line.
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


MODELS: dict[str, Callable[[], nn.Module]] = {"mlp": mlp, "tiny_resnet": TinyResNet}


def standard_model(name: str, seed: int, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """A standard model with seeded weights and random BatchNorm statistics, in eval mode;
    ``state``: weights to load instead (the judge's, so both copies compute the same)."""
    torch.manual_seed(seed)
    model = MODELS[name]()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    if state is not None:
        model.load_state_dict(state)
    return model.eval()
