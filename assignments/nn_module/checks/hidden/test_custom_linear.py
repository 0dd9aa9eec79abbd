"""Hidden checks for CustomLinear: registration, output, gradients, initialisation, state_dict.

Weights are set by the interface's own names (``weight``, ``bias``), registered or not, so a
layer whose maths is right but whose parameters are plain tensors loses the registration
checks only. Expected values come from ``torch.nn.functional.linear`` in the judge.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from autograder.checks import (
    CheckFailed,
    assert_tensors_close,
    assign_or_fail,
    forward_backward,
    loss_weights,
    random_input,
    require_parameter,
    shape_text,
    tensors_close,
)

pytestmark = pytest.mark.task("CustomLinear")

IN, OUT = 7, 3


def _weights(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(OUT, IN, generator=generator), torch.randn(OUT, generator=generator)


def _set_weights(layer, values):
    assign_or_fail(layer, values, "The layer must keep them as self.weight (out_features, "
                   "in_features) and self.bias (out_features,)")


@pytest.mark.weight(2)
def test_parameters_registered(student):
    """`weight` (out, in) and `bias` (out,) are registered nn.Parameters"""
    layer = student.build("CustomLinear", IN, OUT)
    info = layer.attributes("weight", "bias")
    require_parameter(layer, info, "weight", (OUT, IN), "(out_features, in_features)", (2, IN))
    require_parameter(layer, info, "bias", (OUT,), "(out_features,)", (2, IN))


def test_no_bias(ctx, student):
    """With bias=False, `bias` is None, is not a parameter, and no bias is added"""
    layer = student.build("CustomLinear", IN, OUT, bias=False)
    attribute = layer.attributes("bias")["bias"]
    if not attribute["exists"]:
        raise CheckFailed(f"{layer.call} has no attribute `bias`: set it to None with "
                          "self.register_parameter('bias', None), so code can test "
                          "`layer.bias is None` as with nn.Linear")
    if not attribute.get("is_none"):
        raise CheckFailed(f"with bias=False, `bias` must be None, found a {attribute['type']}"
                          + (f" of shape {shape_text(attribute['shape'])}" if attribute.get("shape")
                             else "") + ": a zero bias still appears in .parameters() and "
                          "state_dict()")
    names = [p["name"] for p in layer.inventory()["parameters"]]
    if "bias" in names:
        raise CheckFailed(f"{layer.call} still lists a `bias` parameter")
    weight, _ = _weights(ctx.seed)
    _set_weights(layer, {"weight": weight})
    x = random_input((5, IN), ctx.seed)
    got = layer.forward(x)["output"]
    assert_tensors_close(got, F.linear(x, weight), f"the output of {layer.call}")


@pytest.mark.weight(2)
@pytest.mark.parametrize("input_shape", [(5, IN), (2, 4, IN)], ids=["2-D", "N-D"])
def test_output_matches_linear(ctx, student, input_shape):
    """The output equals torch.nn.functional.linear with the same weights"""
    layer = student.build("CustomLinear", IN, OUT)
    weight, bias = _weights(ctx.seed)
    _set_weights(layer, {"weight": weight, "bias": bias})
    x = random_input(input_shape, ctx.seed + 1, scale=2.0)
    got = layer.forward(x)["output"]
    expected = F.linear(x, weight, bias)
    hints = []
    if got.shape == expected.shape and not tensors_close(got, expected):
        if tensors_close(got, F.linear(x, weight)):
            hints.append("the bias is not added: output = x @ weight.T + bias")
        elif tensors_close(got, F.linear(x, weight) - bias):
            hints.append("the bias is subtracted instead of added")
    elif got.shape != expected.shape and len(input_shape) > 2:
        hints.append("the layer must work on any number of leading dimensions: use "
                     "x @ self.weight.T, which broadcasts, rather than reshaping to 2-D")
    assert_tensors_close(got, expected, f"the output of {layer.call} for an input of shape "
                         f"{input_shape}", hints)


def test_gradients(ctx, student):
    """Gradients reach weight, bias and the input, and equal those of F.linear"""
    layer = student.build("CustomLinear", IN, OUT)
    weight, bias = _weights(ctx.seed)
    _set_weights(layer, {"weight": weight, "bias": bias})
    x = random_input((5, IN), ctx.seed + 2)
    got = forward_backward(layer, x)
    w, b, inputs = weight.clone().requires_grad_(), bias.clone().requires_grad_(), x.clone().requires_grad_()
    output = F.linear(inputs, w, b)
    (output * loss_weights(output.shape, 1)).sum().backward()
    for name, expected in (("weight", w.grad), ("bias", b.grad)):
        grad = got["grads"].get(name)
        if grad is None:
            raise CheckFailed(f"no gradient reaches `{name}` of {layer.call}: it must be a "
                              "registered nn.Parameter used in forward")
        assert_tensors_close(grad, expected, f"the gradient of `{name}`")
    input_grad = got["input_grads"][0]
    if input_grad is None:
        raise CheckFailed(f"no gradient flows back to the input of {layer.call}: is the output "
                          "detached somewhere?")
    assert_tensors_close(input_grad, inputs.grad, "the gradient with respect to the input")


@pytest.mark.weight(2)
def test_initialisation(student):
    """Weights are Kaiming-uniform (a=sqrt(5)) within ±1/sqrt(in_features); bias within the same bound"""
    fan_in, fan_out = 256, 128
    layer = student.build("CustomLinear", fan_in, fan_out)
    info = layer.attributes("weight", "bias")
    bound = 1 / math.sqrt(fan_in)
    how = ("initialise with nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5)), as nn.Linear "
           "does (it draws from U(-1/sqrt(in_features), 1/sqrt(in_features)))")
    weight = info["weight"]
    if not weight.get("is_tensor") or "std" not in weight:
        raise CheckFailed(f"{layer.call} has no weight tensor to inspect")
    largest = max(abs(weight["min"]), abs(weight["max"]))
    if largest > bound * 1.001:
        raise CheckFailed(f"the weights of {layer.call} reach {largest:.4g}, beyond "
                          f"±1/sqrt(in_features) = ±{bound:.4g}: {how}")
    expected_std = bound / math.sqrt(3)
    if not 0.9 * expected_std <= weight["std"] <= 1.1 * expected_std:
        raise CheckFailed(f"the weights of {layer.call} have a spread (std) of "
                          f"{weight['std']:.4g}; uniform weights on ±{bound:.4g} have "
                          f"{expected_std:.4g}: {how}")
    if abs(weight["mean"]) > 0.1 * bound:
        raise CheckFailed(f"the weights of {layer.call} are not centred on 0 (mean "
                          f"{weight['mean']:.4g}): {how}")
    bias = info["bias"]
    if bias.get("is_tensor") and "max" in bias:
        largest = max(abs(bias["min"]), abs(bias["max"]))
        if largest > bound * 1.001:
            raise CheckFailed(f"the bias of {layer.call} reaches {largest:.4g}, beyond "
                              f"±1/sqrt(in_features) = ±{bound:.4g}: initialise it with "
                              f"nn.init.uniform_(self.bias, -bound, bound)")


def test_state_dict_keys(student):
    """state_dict() holds `weight` and `bias` (only `weight` with bias=False)"""
    for kwargs, expected in (({}, ["bias", "weight"]), ({"bias": False}, ["weight"])):
        layer = student.build("CustomLinear", IN, OUT, **kwargs)
        keys = sorted(layer.inventory()["state_dict_keys"])
        if keys != expected:
            missing = [k for k in expected if k not in keys]
            why = (f": {' and '.join(missing)} missing, so saving and loading the layer would "
                   f"lose {'them' if len(missing) > 1 else 'it'} (tensors that are not "
                   "nn.Parameter attributes are not saved)" if missing else "")
            raise CheckFailed(f"{layer.call}.state_dict() has the keys {keys}, expected "
                              f"{expected}{why}")
