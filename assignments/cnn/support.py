"""What the cnn checks run inside the worker: data, loaders, small models and spies.

The worker may read this file (it is the only assignment file it may read), so it holds
nothing secret: no reference solution, hidden check or mutant. The judge imports it too and
builds the very same data and models from the same seeds, so both sides compute on
identical inputs.

The models here are deliberately not the exercise's ``CNNPyTorch``: checks of the training
loop and of evaluation hand them to the student's functions, so those functions are graded
on their own, whatever the student's model does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
NUM_CLASSES = 10
SIDE = 28


# --- Data ----------------------------------------------------------------------------------

def _prototypes(seed: int) -> torch.Tensor:
    """Ten distinct 28x28 grey patterns in [0, 1]: a bright square in a cell of a 4x3 grid
    that depends on the class, and a faint random texture that depends on ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.rand(NUM_CLASSES, 1, SIDE, SIDE, generator=generator) * 0.2
    for label in range(NUM_CLASSES):
        row, column = divmod(label, 4)
        top, left = 2 + row * 9, 1 + column * 7
        patterns[label, 0, top:top + 6, left:left + 5] = 1.0
    return patterns


def synthetic_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` uint8 images (count, 28, 28) and their labels: each image is its class's
    pattern, shifted by up to two pixels, with noise. Deterministic in ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = _prototypes(seed // 7 + 1)
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=generator)
    shifts = torch.randint(-1, 2, (count, 2), generator=generator)
    noise = torch.rand(count, SIDE, SIDE, generator=generator)
    images = torch.empty(count, SIDE, SIDE)
    for index in range(count):
        pattern = prototypes[labels[index], 0]
        dy, dx = (int(s) for s in shifts[index])
        images[index] = torch.roll(pattern, shifts=(dy, dx), dims=(0, 1))
    pixels = ((images * 0.9 + noise * 0.3).clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels, labels


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28), as ToTensor + Normalize(MNIST) make them."""
    return ((pixels.float() / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def synthetic_dataset(count: int, seed: int) -> TensorDataset:
    """A 10-class data set of normalised (1, 28, 28) images and int64 labels."""
    pixels, labels = synthetic_images(count, seed)
    return TensorDataset(normalise(pixels), labels)


def loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """A DataLoader whose shuffling draws from its own seeded generator: the same order of
    batches in every process, whatever else used the global random state."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def uint8_image(seed: int) -> Image.Image:
    """A 28x28 grey (mode 'L') PIL image, as torchvision's MNIST hands to its transform."""
    pixels, _ = synthetic_images(1, seed)
    return Image.fromarray(pixels[0].numpy(), mode="L")


class IndexDataset(Dataset):
    """``count`` examples whose label is their own index: the order a loader yields them
    in shows how it shuffles. Images are small constant tensors (cheap to batch)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.full((1, SIDE, SIDE), float(index) / self.count), index


def loader_orders(loaders: Any, epochs: int = 2) -> dict[str, Any]:
    """For ``(train_loader, test_loader)``: the labels each yields, batch by batch, in each of
    ``epochs`` passes, and the shape of the first batch's inputs."""
    if not isinstance(loaders, (tuple, list)) or len(loaders) != 2:
        return {"error": f"expected (train_loader, test_loader), got {type(loaders).__name__}"
                + (f" of length {len(loaders)}" if isinstance(loaders, (tuple, list)) else "")}
    result: dict[str, Any] = {}
    for name, each in zip(("train", "test"), loaders, strict=True):
        passes = []
        for _ in range(epochs):
            batches_seen = []
            for batch in each:
                inputs, labels = batch[0], batch[1]
                batches_seen.append([int(v) for v in torch.as_tensor(labels).flatten()])
                result.setdefault(f"{name}_input_shape", list(torch.as_tensor(inputs).shape))
            passes.append(batches_seen)
        result[name] = passes
    return result


# --- Models --------------------------------------------------------------------------------

class SpyRecorder:
    """Records, at every forward pass of a model, whether each of its modules is in training
    mode and whether autograd is recording: seen from inside the model (a forward pre-hook),
    whatever code calls it."""

    def __init__(self, model: nn.Module) -> None:
        self.records: list[dict[str, Any]] = []
        model.register_forward_pre_hook(self._record)
        self.model = model

    def get_records(self) -> list[dict[str, Any]]:
        return list(self.records)

    def _record(self, module: nn.Module, args: Any) -> None:
        modes = [m.training for m in module.modules()]
        self.records.append({"training": all(modes), "eval": not any(modes),
                             "grad_enabled": torch.is_grad_enabled(),
                             "batch": int(args[0].shape[0]) if args and hasattr(args[0], "shape")
                             else None})


class SmallNet(nn.Module):
    """A small convolutional classifier for (batch, 1, 28, 28): conv, ReLU, pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.head = nn.Linear(4 * 7 * 7, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class ModeNet(nn.Module):
    """A classifier whose output depends on its mode: BatchNorm and Dropout. Dropout draws
    from a generator seeded per forward pass, so the same calls drop the same units in every
    process."""

    def __init__(self, dropout_seed: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(4)
        self.head = nn.Linear(4 * 7 * 7, NUM_CLASSES)
        self.dropout_seed = dropout_seed
        self.passes = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(torch.relu(self.norm(self.conv(x)))), 1)
        if self.training:
            generator = torch.Generator().manual_seed(self.dropout_seed + self.passes)
            keep = (torch.rand(x.shape, generator=generator) >= 0.25).to(x.dtype)
            x = x * keep / 0.75
        self.passes += 1
        return self.head(x)


MODELS = {"small": SmallNet, "mode": ModeNet}


def build_model(name: str, seed: int) -> nn.Module:
    """A support model with seeded weights (and, for BatchNorm, seeded running statistics),
    left in eval mode: a loop must put it in training mode itself."""
    torch.manual_seed(seed)
    model = MODELS[name]()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def spy(model: nn.Module) -> SpyRecorder:
    """A recorder attached to any model (the student's own, for instance)."""
    return SpyRecorder(model)


def sgd(model: nn.Module, lr: float = 0.05, momentum: float = 0.9) -> torch.optim.SGD:
    """The seed's optimiser: SGD with momentum over the model's parameters."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def cross_entropy() -> nn.CrossEntropyLoss:
    return nn.CrossEntropyLoss()


def draws() -> dict[str, list[float]]:
    """Three draws from each of Python's random, NumPy and torch (their global states)."""
    import random

    return {"random": [random.random() for _ in range(3)],
            "numpy": [float(v) for v in np.random.rand(3)],
            "torch": [float(v) for v in torch.rand(3)]}


def draws_after(set_seed: Any, seed: int) -> dict[str, list[float]]:
    """``set_seed(seed)``, then :func:`draws`, in one call (nothing reseeds in between)."""
    set_seed(seed)
    return draws()


def gradients(model: nn.Module) -> dict[str, bool]:
    """Which parameters hold a gradient (``.grad`` is not None)."""
    return {name: p.grad is not None for name, p in model.named_parameters()}
