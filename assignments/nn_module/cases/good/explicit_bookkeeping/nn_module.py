"""Explicit bookkeeping: extra attributes, addmm, a handle dict, einsum-free broadcasting."""

import math

import torch
from torch import nn


class CustomLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
        self.bias = nn.Parameter(torch.Tensor(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return x.matmul(self.weight.transpose(0, 1))
        if x.dim() == 2:
            return torch.addmm(self.bias, x, self.weight.T)
        return x @ self.weight.T + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class FeatureExtractor:
    def __init__(self, model: nn.Module, layer_names: list[str]) -> None:
        self.features: dict[str, torch.Tensor] = {}
        self.hooks = {}
        named = dict(model.named_modules())
        for name in layer_names:
            self.hooks[name] = named[name].register_forward_hook(self.hook_for(name))

    def hook_for(self, name: str):
        def save(module, inputs, output):
            self.features[name] = output.detach()
        return save

    def get_features(self) -> dict[str, torch.Tensor]:
        return {name: self.features[name] for name in self.features}

    def remove_hooks(self) -> None:
        for name in list(self.hooks):
            self.hooks.pop(name).remove()


class LearnedNorm(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.learned_mean = nn.Parameter(torch.zeros(num_features), requires_grad=True)
        self.learned_std = nn.Parameter(torch.ones(num_features), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self.learned_mean
        return centred / (self.learned_std + self.eps)
