"""The seed notebook's own solution cells (seed 001), under the exercise's class names."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

print(f"PyTorch version: {torch.__version__}")


# Exercise 1 Solution
class CustomLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features

        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter('bias', None)

        # Initialize
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        output = x @ self.weight.T
        if self.bias is not None:
            output = output + self.bias
        return output

print("Exercise 1 Solution:")
layer = CustomLinear(10, 5)
x = torch.randn(3, 10)
y = layer(x)
print(f"Output shape: {y.shape}")
print(f"Parameters: {[n for n, p in layer.named_parameters()]}")


# Exercise 2 Solution
class FeatureExtractor:
    def __init__(self, model, layer_names):
        self.model = model
        self.layer_names = layer_names
        self.features = {}
        self.handles = []

        for name in layer_names:
            # Navigate to the module
            module = model
            for part in name.split('.'):
                if part.isdigit():
                    module = module[int(part)]
                else:
                    module = getattr(module, part)

            # Register hook
            handle = module.register_forward_hook(self._make_hook(name))
            self.handles.append(handle)

    def _make_hook(self, name):
        def hook(module, input, output):
            self.features[name] = output.detach()
        return hook

    def get_features(self):
        return self.features

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()

print("\nExercise 2 Solution:")
model = nn.Sequential(
    nn.Linear(10, 20),
    nn.ReLU(),
    nn.Linear(20, 5)
)
extractor = FeatureExtractor(model, ['0', '1'])
output = model(torch.randn(3, 10))
features = extractor.get_features()
print(f"Extracted features: {list(features.keys())}")
for name, feat in features.items():
    print(f"  {name}: {feat.shape}")
extractor.remove_hooks()


# Exercise 3 Solution
class LearnedNorm(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.learned_mean = nn.Parameter(torch.zeros(num_features))
        self.learned_std = nn.Parameter(torch.ones(num_features))

    def forward(self, x):
        return (x - self.learned_mean) / (self.learned_std + self.eps)

print("\nExercise 3 Solution:")
layer = LearnedNorm(10)
x = torch.randn(5, 10) * 2 + 3
y = layer(x)
print(f"Input mean: {x.mean():.4f}, std: {x.std():.4f}")
print(f"Output mean: {y.mean():.4f}, std: {y.std():.4f}")
print(f"Learnable parameters: {[n for n, p in layer.named_parameters()]}")
