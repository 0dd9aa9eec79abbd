"""Typical first attempts: the seed's "Common Bugs to Avoid" and their neighbours."""

import numpy as np
import torch
import torch.nn as nn
from torchvision import transforms


def set_seed(seed):
    torch.manual_seed(seed)  # NumPy and random are not seeded


class CNNPyTorch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = self.fc2(self.fc1(x))  # no ReLU between the linear layers
        return torch.softmax(x, dim=1)  # probabilities, not logits


def make_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])


def make_loaders(train_set, test_set, batch_size=64):
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=batch_size, shuffle=True)
    return train_loader, test_loader


def train_one_epoch(model, loader, optimizer, criterion, device="cpu"):
    model.train()
    train_loss, correct, total = 0.0, 0, 0
    for inputs, labels in loader:
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()  # gradients are never zeroed
        optimizer.step()
        train_loss += loss  # keeps every batch's graph
        correct += (outputs.argmax(1) == labels).sum().item()
        total += labels.size(0)
    return train_loss / len(loader), correct / total


def evaluate(model, loader, criterion, device="cpu"):
    test_loss, correct, total = 0.0, 0, 0
    with torch.no_grad():  # but no model.eval()
        for inputs, labels in loader:
            outputs = model(inputs)
            test_loss += criterion(outputs, labels).item()
            correct += (outputs.argmax(1) == labels).sum().item()
            total += labels.size(0)
    return test_loss / len(loader), correct / total


_unused = np  # NumPy is imported but never seeded
