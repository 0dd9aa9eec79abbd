"""The seed's code as it prints it (002, Part 1), put in the exercise's functions."""
import random

import numpy as np
import torch
import torch.nn as nn
from torchvision import transforms


def set_seed(seed):
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed)
    # torch.backends.cudnn.deterministic = True


class CNNPyTorch(nn.Module):
    def __init__(self):
        super(CNNPyTorch, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(kernel_size=2)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(kernel_size=2)
        self.fc1 = nn.Linear(16 * 7 * 7, 128)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Input:  (batch, 1, 28, 28)
        x = self.conv1(x)    # (batch, 8, 28, 28)  - 8 feature maps
        x = self.relu1(x)    # (batch, 8, 28, 28)  - nonlinearity, same shape
        x = self.pool1(x)    # (batch, 8, 14, 14)  - spatial downsampling

        x = self.conv2(x)    # (batch, 16, 14, 14) - 16 feature maps
        x = self.relu2(x)    # (batch, 16, 14, 14)
        x = self.pool2(x)    # (batch, 16, 7, 7)

        x = torch.flatten(x, 1)  # (batch, 784)  - collapse spatial dims
        x = self.fc1(x)      # (batch, 128)      - first classifier layer
        x = self.relu3(x)    # (batch, 128)
        x = self.fc2(x)      # (batch, 10)       - logits (raw scores)
        return x


def make_transform():
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,))
    ])
    return transform


def make_loaders(train_subset, test_subset, batch_size=64):
    train_loader = torch.utils.data.DataLoader(train_subset, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_subset, batch_size=batch_size, shuffle=False)
    return train_loader, test_loader


def train_one_epoch(model, train_loader, optimizer, criterion, device="cpu"):
    train_loss = 0.0
    train_correct = 0
    train_total = 0
    for inputs, labels in train_loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()        # 1. Clear old gradients

        outputs = model(inputs)      # 2. Forward pass
        loss = criterion(outputs, labels)

        loss.backward()              # 3. Compute gradients
        optimizer.step()             # 4. Update weights

        train_loss += loss.item()
        _, predicted = torch.max(outputs.data, 1)
        train_total += labels.size(0)
        train_correct += (predicted == labels).sum().item()
    return train_loss / len(train_loader), train_correct / train_total


def evaluate(model, test_loader, criterion, device="cpu"):
    model.eval()
    test_loss = 0.0
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, labels in test_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            test_loss += loss.item()
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return test_loss / len(test_loader), correct / total
