"""Public checks for the cnn assignment: students run these with `autograder check`.

They test the interface and the obvious; the hidden checks compare every function with the
reference on the same data, weights and optimiser.
"""

import pytest

from autograder.checks import CheckFailed


def _exists(student, symbol, kind="function"):
    info = student.describe(symbol)
    if not info["exists"]:
        raise CheckFailed(f"{student.path} defines no {symbol}")
    if kind == "module" and not info["is_module_class"]:
        raise CheckFailed(f"{symbol} must be a class that subclasses torch.nn.Module")
    if kind == "function" and not info["is_callable"]:
        raise CheckFailed(f"{symbol} must be a function")


def _pair(result, call):
    value = result["value"]
    if not isinstance(value, list) or len(value) != 2 or result["tensors"] or not all(
            isinstance(v, (int, float)) for v in value):
        raise CheckFailed(f"{call} returned {value!r} ({result['type']}); expected a pair of "
                          "Python floats (average loss, accuracy), metrics taken with .item()")
    if not 0 <= value[1] <= 1:
        raise CheckFailed(f"{call} returned the accuracy {value[1]!r}; expected a fraction in [0, 1]")
    return value


@pytest.mark.task("set_seed")
def test_set_seed_repeats_draws(student):
    """set_seed(0) twice gives the same draws from random, NumPy and torch"""
    _exists(student, "set_seed")
    first = student.support_call("draws_after", student.symbol("set_seed"), 0)["value"]
    second = student.support_call("draws_after", student.symbol("set_seed"), 0)["value"]
    differ = [name for name in ("random", "numpy", "torch") if first[name] != second[name]]
    if differ:
        raise CheckFailed(f"after set_seed(0) twice, draws from {', '.join(differ)} differ: "
                          "seed random, NumPy and torch with the seed")


@pytest.mark.task("CNNPyTorch")
def test_cnn_shape_and_size(student):
    """CNNPyTorch() maps (2, 1, 28, 28) to (2, 10) with 103,018 parameters"""
    _exists(student, "CNNPyTorch", "module")
    model = student.build("CNNPyTorch")
    shape = tuple(model.output_shape((2, 1, 28, 28)))
    if shape != (2, 10):
        raise CheckFailed(f"CNNPyTorch() maps a (2, 1, 28, 28) input to {shape}, expected (2, 10)")
    total = model.count_parameters()["trainable"]
    if total != 103_018:
        raise CheckFailed(f"CNNPyTorch() has {total:,} trainable parameters, expected 103,018")


@pytest.mark.task("data_pipeline")
def test_transform_and_loaders(student):
    """make_transform() gives a (1, 28, 28) float tensor; make_loaders returns two loaders"""
    _exists(student, "make_transform")
    _exists(student, "make_loaders")
    transform = student.call("make_transform")["object"]
    if transform is None:
        raise CheckFailed("make_transform() returned None: return transforms.Compose([...])")
    image = student.support_object("uint8_image", 0)
    tensor = transform.call_method("__call__", image.ref())["value"]
    shape = tuple(getattr(tensor, "shape", ()))
    if shape != (1, 28, 28) or not tensor.is_floating_point():
        raise CheckFailed(f"make_transform()(a 28x28 grey image) gave {type(tensor).__name__} "
                          f"{shape}, expected a float tensor of shape (1, 28, 28)")
    data = student.support_object("IndexDataset", 10)
    loaders = student.call("make_loaders", data.ref(), data.ref(), batch_size=4)["object"]
    if loaders is None:
        raise CheckFailed("make_loaders(...) returned None: return (train_loader, test_loader)")
    orders = student.support_call("loader_orders", loaders.ref(), 1)["value"]
    if "error" in orders:
        raise CheckFailed(f"make_loaders(train_set, test_set, batch_size=4): {orders['error']}")


def _support_run(student, model_name):
    model = student.support_object("build_model", model_name, 0)
    dataset = student.support_object("synthetic_dataset", 32, 0)
    loader = student.support_object("loader", dataset.ref(), 8, False, 0)
    return model, loader, student.support_object("cross_entropy")


@pytest.mark.task("train_one_epoch")
def test_train_one_epoch_updates(student):
    """train_one_epoch returns (loss, accuracy) as floats and changes the weights"""
    _exists(student, "train_one_epoch")
    model, loader, criterion = _support_run(student, "small")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = student.support_object("sgd", model.ref())
    result = student.call("train_one_epoch", model.ref(), loader.ref(), optimizer.ref(),
                          criterion.ref())
    _pair(result, "train_one_epoch(model, loader, optimizer, criterion)")
    after = model.state_dict()
    if all(after[k].equal(before[k]) for k in before):
        raise CheckFailed("after train_one_epoch, every weight is unchanged: call "
                          "optimizer.step() after loss.backward() for each batch")


@pytest.mark.task("evaluate")
def test_evaluate_returns_metrics(student):
    """evaluate returns (loss, accuracy) as floats and leaves the weights unchanged"""
    _exists(student, "evaluate")
    model, loader, criterion = _support_run(student, "small")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = student.call("evaluate", model.ref(), loader.ref(), criterion.ref())
    _pair(result, "evaluate(model, loader, criterion)")
    after = model.state_dict()
    if not all(after[k].equal(before[k]) for k in before):
        raise CheckFailed("evaluate changed the model's weights: it must only measure")
