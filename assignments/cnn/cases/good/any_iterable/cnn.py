import random

import numpy as np
import torch
from torch import nn
from torchvision import transforms


def set_seed(seed):
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)


class CNNPyTorch(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(128, 10)
        self.hidden = nn.Linear(16 * 7 * 7, 128)
        self.conv_b = nn.Conv2d(8, 16, kernel_size=(3, 3), padding=(1, 1))
        self.conv_a = nn.Conv2d(1, 8, kernel_size=(3, 3), padding=(1, 1))
        self.pool = nn.MaxPool2d(2, 2)
        self.act = nn.ReLU()
        self.flatten = nn.Flatten()

    def forward(self, x):
        x = self.pool(self.act(self.conv_a(x)))
        x = self.pool(self.act(self.conv_b(x)))
        return self.head(self.act(self.hidden(self.flatten(x))))


def make_transform():
    steps = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    return transforms.Compose(steps)


def make_loaders(train_set, test_set, batch_size=64):
    train = torch.utils.data.DataLoader(dataset=train_set, shuffle=True, batch_size=batch_size)
    test = torch.utils.data.DataLoader(dataset=test_set, shuffle=False, batch_size=batch_size)
    return train, test


def _step_metrics(outputs, labels):
    return (outputs.max(dim=1).indices == labels).float().mean().item()


def train_one_epoch(model, loader, optimizer, criterion, device="cpu"):
    model.train()
    losses, accuracies = [], []
    for batch in loader:
        inputs, labels = (t.to(device) for t in batch)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        accuracies.append(_step_metrics(outputs.detach(), labels))
    return float(np.mean(losses)), float(np.mean(accuracies))


def evaluate(model, loader, criterion, device="cpu"):
    model.eval()
    losses, accuracies = [], []
    with torch.set_grad_enabled(False):
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            losses.append(criterion(outputs, labels).item())
            accuracies.append(_step_metrics(outputs, labels))
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)
