import functools
import math

import torch
from torch import nn


class CustomLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.bias = None

    def forward(self, x):
        y = torch.matmul(x, self.weight.t())
        return y if self.bias is None else y + self.bias


class FeatureExtractor:
    def __init__(self, model, layer_names):
        self.features = {}
        modules = dict(model.named_modules())
        self.handles = []
        for name in layer_names:
            if name not in modules:
                raise KeyError(f"the model has no layer {name!r}")
            hook = functools.partial(self._store, name)
            self.handles.append(modules[name].register_forward_hook(hook))

    def _store(self, name, module, inputs, output):
        self.features[name] = output.detach().clone()

    def get_features(self):
        return dict(self.features)

    def remove_hooks(self):
        while self.handles:
            self.handles.pop().remove()


class LearnedNorm(nn.Module):
    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_parameter("learned_std", nn.Parameter(torch.ones(num_features)))
        self.register_parameter("learned_mean", nn.Parameter(torch.zeros(num_features)))

    def forward(self, x):
        return x.sub(self.learned_mean).div(self.learned_std.add(self.eps))
