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
