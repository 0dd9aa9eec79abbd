import torch
import torch.nn as nn
import torch.nn.functional as F
import math

print(f"PyTorch version: {torch.__version__}")


class CustomLinear(nn.Module):
    """
    Implement a linear layer: output = input @ weight.T + bias

    Args:
        in_features: size of input
        out_features: size of output
        bias: whether to include bias term
    """
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        # 1. Create weight as nn.Parameter with shape (out_features, in_features)
        # 2. Create bias as nn.Parameter with shape (out_features,) if bias=True,
        #    else leave it None: self.register_parameter('bias', None)
        # 3. Initialize weight with Kaiming uniform, a=math.sqrt(5) (as nn.Linear does)
        # 4. Initialize bias uniformly in [-1/sqrt(in_features), 1/sqrt(in_features)]
        ### BEGIN SOLUTION
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
        ### END SOLUTION

    def forward(self, x):
        # output = x @ weight.T, plus bias when there is one
        ### BEGIN SOLUTION
        output = x @ self.weight.T
        if self.bias is not None:
            output = output + self.bias
        return output
        ### END SOLUTION


class FeatureExtractor:
    def __init__(self, model, layer_names):
        self.features = {}
        self.handles = []
        for name in layer_names:
            module = model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self._make_hook(name)))

    def _make_hook(self, name):
        def hook(module, input, output):
            self.features[name] = output  # not detached
        return hook

    def get_features(self):
        return self.features

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()



class LearnedNorm(nn.Module):
    """
    A layer that learns per-feature normalization.

    For each feature i:
        output[..., i] = (input[..., i] - learned_mean[i]) / (learned_std[i] + eps)

    Both mean and std are learnable parameters.

    Args:
        num_features: number of features
        eps: small constant for numerical stability
    """
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        # 1. Create learned_mean as Parameter, initialized to zeros
        # 2. Create learned_std as Parameter, initialized to ones
        ### BEGIN SOLUTION
        self.learned_mean = nn.Parameter(torch.zeros(num_features))
        self.learned_std = nn.Parameter(torch.ones(num_features))
        ### END SOLUTION

    def forward(self, x):
        # Normalize: (x - learned_mean) / (learned_std + eps)
        ### BEGIN SOLUTION
        return (x - self.learned_mean) / (self.learned_std + self.eps)
        ### END SOLUTION
