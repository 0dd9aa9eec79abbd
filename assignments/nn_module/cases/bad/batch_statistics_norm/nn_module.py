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
    """
    Extract features from specified layers of a model.

    Usage:
        model = create_model()
        extractor = FeatureExtractor(model, ['layer1', 'layer2.relu'])
        output = model(x)
        features = extractor.get_features()  # Dict of layer_name -> activation
    """
    def __init__(self, model, layer_names):
        self.model = model
        self.layer_names = layer_names
        self.features = {}
        self.handles = []

        # 1. For each layer_name (dotted, like '0' or 'layer1.0.relu'), get the module
        # 2. Register a forward hook that saves the module's output, detached from the
        #    autograd graph, in self.features[layer_name]
        # 3. Store the handle so remove_hooks() can remove the hook later
        ### BEGIN SOLUTION
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
        ### END SOLUTION

    def get_features(self):
        return self.features

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()


class LearnedNorm(nn.Module):
    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.learned_mean = nn.Parameter(torch.zeros(num_features))
        self.learned_std = nn.Parameter(torch.ones(num_features))

    def forward(self, x):
        mean = x.mean(dim=0, keepdim=True)
        std = x.std(dim=0, keepdim=True)
        return (x - mean) / (std + self.eps)

