import torch
import torch.nn as nn
import torch.nn.functional as F
import math

print(f"PyTorch version: {torch.__version__}")


class CustomLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = torch.empty(out_features, in_features).uniform_(-bound, bound).requires_grad_()
        self.bias = torch.empty(out_features).uniform_(-bound, bound).requires_grad_() if bias else None

    def forward(self, x):
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out



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
