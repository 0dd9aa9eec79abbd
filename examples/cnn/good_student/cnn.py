"""A correct solution in another style than the reference: nn.Sequential blocks, F.relu,
running sums weighted by batch size, argmax, zero_grad(set_to_none=True) at the end of a step,
train(False) and torch.inference_mode() for evaluation."""

import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms


def set_seed(seed: int) -> None:
    for seeder in (random.seed, np.random.seed, torch.manual_seed):
        seeder(seed)


class CNNPyTorch(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.hidden = nn.Linear(16 * 7 * 7, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        x = self.block2(self.block1(x))
        return self.out(F.relu(self.hidden(x.flatten(1))))


def make_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.1307], [0.3081])])


def make_loaders(train_set, test_set, batch_size=64):
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True),
            DataLoader(test_set, batch_size=batch_size, shuffle=False))


def _run(model, loader, criterion, device, optimizer=None):
    seen, loss_sum, hits = 0, 0.0, 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        logits = model(inputs)
        loss = criterion(logits, labels)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        seen += len(labels)
        loss_sum += loss.item() * len(labels)
        hits += int((logits.argmax(dim=1) == labels).sum())
    return loss_sum / seen, hits / seen


def train_one_epoch(model, loader, optimizer, criterion, device="cpu"):
    model.train()
    return _run(model, loader, criterion, device, optimizer)


def evaluate(model, loader, criterion, device="cpu"):
    model.train(False)
    with torch.inference_mode():
        return _run(model, loader, criterion, device)
