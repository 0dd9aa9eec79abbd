import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import transforms


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


class CNNPyTorch(nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = nn.Sequential(nn.Linear(784, 128), nn.ReLU(inplace=True), nn.Linear(128, 10))
        self.features = nn.ModuleList([nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)])

    def forward(self, x):
        for conv in self.features:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.classifier(x.view(x.size(0), -1))


def make_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=[0.1307], std=[0.3081])])


def make_loaders(train_set, test_set, batch_size=64):
    return (torch.utils.data.DataLoader(train_set, batch_size, shuffle=True),
            torch.utils.data.DataLoader(test_set, batch_size))


def train_one_epoch(model, loader, optimizer, criterion, device="cpu"):
    model.train(True)
    total_loss, correct = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total_loss += loss.item() * x.size(0)
        correct += (logits.argmax(dim=1) == y).sum().item()
    n = len(loader.dataset)
    return total_loss / n, correct / n


@torch.inference_mode()
def evaluate(model, loader, criterion, device="cpu"):
    model.train(False)
    total_loss, correct = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += criterion(logits, y).item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(loader.dataset), correct / len(loader.dataset)
