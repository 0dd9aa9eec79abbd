"""A CNN for MNIST in PyTorch: reproducibility, the model, the data, training and evaluation.

Fill in every ``TODO(human)``. The interface (names, arguments, defaults, return values) is
fixed: the grader calls your functions and builds your model exactly as the docstrings say.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn
from torchvision import transforms


def set_seed(seed: int) -> None:
    """Seed every source of randomness a training run draws from: Python's ``random``,
    NumPy and torch.

    Training involves randomness at several points: weight initialisation (a different
    starting point in the loss landscape), data shuffling (a different trajectory of
    gradient descent) and dropout. Without fixed seeds two "identical" runs end with
    different accuracies, and you cannot tell whether a change came from your code or from
    chance. (On a GPU, cuDNN also needs ``torch.backends.cudnn.deterministic = True``.)
    """
    # TODO(human): implement this
    pass


class CNNPyTorch(nn.Module):
    """Two convolution stages and a two-layer classifier for 28x28 grey images.

    Input (batch, 1, 28, 28) -> logits (batch, 10): raw scores, no softmax (CrossEntropyLoss
    applies log-softmax itself).

    - ``conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)``, ReLU, ``nn.MaxPool2d(2)``:
      (batch, 8, 28, 28) -> (batch, 8, 14, 14). ``padding=1`` keeps 28x28:
      (28 + 2*1 - 3) / 1 + 1 = 28.
    - ``conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)``, ReLU, ``nn.MaxPool2d(2)``:
      (batch, 16, 14, 14) -> (batch, 16, 7, 7). Channels double while the spatial size halves.
    - ``torch.flatten(x, 1)``: (batch, 16 * 7 * 7) = (batch, 784). (``x.view(x.size(0), -1)``
      needs a contiguous tensor; ``torch.flatten`` copies when it must.)
    - ``fc1 = nn.Linear(16 * 7 * 7, 128)``, ReLU, ``fc2 = nn.Linear(128, 10)``.

    103,018 parameters in all. Every layer must be an attribute (or inside an
    ``nn.Sequential``): a layer kept in a local variable or a Python list is not registered,
    so ``.parameters()`` and the optimiser never see it. Without ReLU between them, stacked
    linear maps collapse into one.
    """

    def __init__(self) -> None:
        super().__init__()  # the mandatory handshake: boots nn.Module's parameter registry
        # TODO(human): implement this
        pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO(human): implement this
        pass


def make_transform() -> transforms.Compose:
    """The MNIST preprocessing: ``transforms.ToTensor()`` then
    ``transforms.Normalize((0.1307,), (0.3081,))``.

    ``ToTensor`` turns a PIL image (H, W) with values 0..255 into a float tensor (1, H, W)
    with values in [0, 1] (channels first, divided by 255). ``Normalize`` then applies
    ``(x - mean) / std`` with MNIST's own statistics, mean 0.1307 and std 0.3081, so inputs
    have zero mean and unit variance, as weight initialisation assumes.
    """
    # TODO(human): implement this
    pass


def make_loaders(train_set: torch.utils.data.Dataset, test_set: torch.utils.data.Dataset,
                 batch_size: int = 64
                 ) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """``(train_loader, test_loader)``: ``torch.utils.data.DataLoader`` s of ``batch_size``.

    The training loader shuffles (``shuffle=True``), so the model cannot learn the order
    of the examples; the test loader does not (``shuffle=False``), so evaluation is
    deterministic and comparable from run to run.
    """
    # TODO(human): implement this
    pass


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    criterion: nn.Module, device: str | torch.device = "cpu"
                    ) -> tuple[float, float]:
    """One pass over ``loader``; returns ``(average loss, accuracy)`` as Python floats.

    Put the model in training mode (``model.train()``: Dropout drops, BatchNorm uses batch
    statistics). Then for each ``(inputs, labels)`` batch, moved to ``device``:

    1. ``optimizer.zero_grad()``: PyTorch accumulates gradients, so clear the last batch's.
    2. ``outputs = model(inputs)`` and ``loss = criterion(outputs, labels)`` on the raw
       logits (never softmax before CrossEntropyLoss).
    3. ``loss.backward()``: gradients of the loss for every parameter.
    4. ``optimizer.step()``: update the weights with them.

    Take metrics with ``.item()`` (``train_loss += loss`` would keep every batch's graph
    alive): the loss averaged over the epoch and the accuracy, the share of examples whose
    largest logit is the right class (``torch.max(outputs, 1)``), in [0, 1].
    """
    # TODO(human): implement this
    pass


def evaluate(model: nn.Module, loader: Iterable, criterion: nn.Module,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    """Average loss and accuracy over ``loader``, as Python floats, changing no weight.

    Two separate mechanisms, always both: ``model.eval()`` (BatchNorm uses its running
    statistics, Dropout passes everything through) and ``with torch.no_grad():`` (no
    computation graph: less memory, faster). Metrics as in :func:`train_one_epoch`.
    """
    # TODO(human): implement this
    pass
