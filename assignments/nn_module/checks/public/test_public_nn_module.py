"""Public checks for the nn_module assignment: students run these with `autograder check`."""

import pytest
import torch

from autograder.checks import CheckFailed, StudentError


def _exists(student, symbol, kind):
    info = student.describe(symbol)
    if not info["exists"]:
        raise CheckFailed(f"{student.path} defines no {symbol}: did its cell run without errors?")
    if kind == "module" and not info["is_module_class"]:
        raise CheckFailed(f"{symbol} must be a class that subclasses torch.nn.Module")
    if kind == "class" and not info["is_class"]:
        raise CheckFailed(f"{symbol} must be a class")


@pytest.mark.task("CustomLinear")
def test_custom_linear_shape(student):
    """CustomLinear(10, 5) maps a (3, 10) batch to (3, 5) and registers weight and bias"""
    _exists(student, "CustomLinear", "module")
    layer = student.build("CustomLinear", 10, 5)
    names = {p["name"]: tuple(p["shape"]) for p in layer.inventory()["parameters"]}
    if names != {"weight": (5, 10), "bias": (5,)}:
        raise CheckFailed(f"CustomLinear(10, 5) has the parameters {names}; expected weight "
                          "(5, 10) and bias (5,), both nn.Parameter")
    shape = tuple(layer.output_shape((3, 10)))
    if shape != (3, 5):
        raise CheckFailed(f"CustomLinear(10, 5) maps a (3, 10) input to {shape}, expected (3, 5)")


@pytest.mark.task("FeatureExtractor")
def test_feature_extractor_keys(ctx, student):
    """FeatureExtractor(model, ['0', '1']) captures both layers' outputs after a forward pass"""
    _exists(student, "FeatureExtractor", "class")
    model = ctx.cache.get("standard:mlp", lambda: ctx.support.standard_model("mlp", ctx.seed))
    remote = student.support_object("standard_model", "mlp", ctx.seed, state=model.state_dict())
    try:
        extractor = student.instantiate("FeatureExtractor", remote.ref(), ["0", "1"])
    except StudentError as exc:
        raise CheckFailed(f"FeatureExtractor(model, ['0', '1']) raised {exc.type}: {exc.message}") from None
    remote.forward(torch.zeros(3, 10))
    features = extractor.call_method("get_features")["value"]
    if not isinstance(features, dict) or set(features) != {"0", "1"}:
        keys = sorted(features) if isinstance(features, dict) else type(features).__name__
        raise CheckFailed(f"after a forward pass, get_features() gave {keys}; expected a dict with "
                          "the keys '0' and '1'")
    shapes = {k: tuple(v.shape) for k, v in features.items() if isinstance(v, torch.Tensor)}
    if shapes != {"0": (3, 20), "1": (3, 20)}:
        raise CheckFailed(f"the features have shapes {shapes}; expected (3, 20) for both")


@pytest.mark.task("LearnedNorm")
def test_learned_norm_parameters(student):
    """LearnedNorm(10) has the parameters learned_mean and learned_std and keeps the input's shape"""
    _exists(student, "LearnedNorm", "module")
    layer = student.build("LearnedNorm", 10)
    names = {p["name"]: tuple(p["shape"]) for p in layer.inventory()["parameters"]}
    if names != {"learned_mean": (10,), "learned_std": (10,)}:
        raise CheckFailed(f"LearnedNorm(10) has the parameters {names}; expected learned_mean "
                          "(10,) and learned_std (10,), both nn.Parameter")
    shape = tuple(layer.output_shape((5, 10)))
    if shape != (5, 10):
        raise CheckFailed(f"LearnedNorm(10) maps a (5, 10) input to {shape}, expected (5, 10)")


# Feedback checks: weight 0, so they decide no points (the hidden checks do); each catches a
# common bug by what the code computes, and says how to fix it.

@pytest.mark.task("CustomLinear")
@pytest.mark.weight(0)
def test_custom_linear_computes_x_weight_t_plus_bias(student):
    """CustomLinear's forward computes x @ weight.T + bias"""
    torch.manual_seed(5)
    weight, bias, x = torch.randn(5, 10), torch.randn(5), torch.randn(3, 10)
    layer = student.build("CustomLinear", 10, 5)
    layer.load_state(tensors={"weight": weight, "bias": bias})
    output = layer.forward(x)["output"]
    if tuple(output.shape) == (3, 5) and torch.allclose(output, x @ weight.T + bias, atol=1e-5):
        return
    if tuple(output.shape) == (3, 5) and torch.allclose(output, x @ weight.T, atol=1e-5):
        hint = "the bias is not added: return x @ self.weight.T + self.bias when there is a bias"
    else:
        hint = ("compute x @ self.weight.T + self.bias: the weight has shape (out_features, "
                "in_features), so it is transposed")
    raise CheckFailed(f"with weight and bias set to known values, CustomLinear(10, 5) computes "
                      f"something else than x @ weight.T + bias: {hint}")


@pytest.mark.task("FeatureExtractor")
@pytest.mark.weight(0)
def test_feature_extractor_stores_outputs_and_removes_hooks(ctx, student):
    """FeatureExtractor stores each layer's output, and remove_hooks() leaves no hook behind"""
    model = ctx.cache.get("standard:mlp", lambda: ctx.support.standard_model("mlp", ctx.seed))
    remote = student.support_object("standard_model", "mlp", ctx.seed, state=model.state_dict())
    try:
        extractor = student.instantiate("FeatureExtractor", remote.ref(), ["0"])
    except StudentError as exc:
        raise CheckFailed(f"FeatureExtractor(model, ['0']) raised {exc.type}: {exc.message}") from None
    x = torch.randn(3, 10, generator=torch.Generator().manual_seed(3))
    remote.forward(x)
    feature = extractor.call_method("get_features")["value"]
    feature = feature.get("0") if isinstance(feature, dict) else None
    with torch.no_grad():
        expected = model[0](x)
    if not isinstance(feature, torch.Tensor) or tuple(feature.shape) != (3, 20):
        raise CheckFailed("get_features()['0'] is not the (3, 20) output of layer '0'")
    if not torch.allclose(feature, expected, atol=1e-5):
        raise CheckFailed("get_features()['0'] is not what layer '0' returned: a forward hook "
                          "is called as hook(module, input, output); store output (detached)")
    extractor.call_method("remove_hooks")
    left = {name: counts for name, counts in remote.hook_counts().items() if any(counts.values())}
    if left:
        raise CheckFailed(f"after remove_hooks() the model still has hooks on {sorted(left)}: keep "
                          "the handles that register_forward_hook returns and call .remove() on "
                          "each")


@pytest.mark.task("LearnedNorm")
@pytest.mark.weight(0)
def test_learned_norm_computes_the_normalisation(student):
    """LearnedNorm's forward computes (x - learned_mean) / (learned_std + eps)"""
    torch.manual_seed(6)
    mean, std, x = torch.randn(10), torch.rand(10) + 0.5, torch.randn(4, 10)
    layer = student.build("LearnedNorm", 10)
    layer.load_state(tensors={"learned_mean": mean, "learned_std": std})
    output = layer.forward(x)["output"]
    if tuple(output.shape) != (4, 10) or not torch.allclose(output, (x - mean) / (std + 1e-5),
                                                            atol=1e-4):
        raise CheckFailed("with learned_mean and learned_std set to known values, LearnedNorm(10) "
                          "computes something else than (x - learned_mean) / (learned_std + "
                          "eps): subtract the mean, then divide by the std plus eps")
