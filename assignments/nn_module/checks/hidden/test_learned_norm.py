"""Hidden checks for LearnedNorm: parameters, the formula, eps, gradients, training.

The parameters are set by the interface's names (``learned_mean``, ``learned_std``) to
values the judge chose; expected outputs and gradients are computed here.
"""

import pytest
import torch

from autograder.checks import (
    CheckFailed,
    StudentError,
    assert_tensors_close,
    assign_or_fail,
    forward_backward,
    loss_weights,
    random_input,
    require_parameter,
    tensors_close,
)

pytestmark = pytest.mark.task("LearnedNorm")

FEATURES = 6
FORMULA = "(x - self.learned_mean) / (self.learned_std + self.eps)"


def _parameters(seed):
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(FEATURES, generator=generator) * 0.5
    std = torch.rand(FEATURES, generator=generator) * 1.5 + 0.5
    return mean, std


def _input(shape, seed):
    return random_input(shape, seed, scale=2.0) + 3.0  # off-centre, as real features are


def _set(layer, mean, std):
    assign_or_fail(layer, {"learned_mean": mean, "learned_std": std},
                   f"They must be self.learned_mean and self.learned_std, each of shape ({FEATURES},)")


def _batch_statistics_outputs(x, eps):
    """What a layer normalising with the batch's own statistics would return."""
    dims = tuple(range(x.dim() - 1))
    outputs = []
    for unbiased in (True, False):
        for over in (dims, (0,)):
            mean = x.mean(dim=over, keepdim=True)
            std = x.std(dim=over, keepdim=True, unbiased=unbiased)
            outputs.append((x - mean) / (std + eps))
            outputs.append((x - mean) / torch.sqrt(std**2 + eps))
    return outputs


def _layer_names(layer):
    return {p["name"] for p in layer.inventory()["parameters"]}


@pytest.mark.weight(2)
def test_parameters_and_initial_values(student):
    """learned_mean (zeros) and learned_std (ones) are registered nn.Parameters of shape (num_features,)"""
    layer = student.build("LearnedNorm", FEATURES)
    info = layer.attributes("learned_mean", "learned_std")
    for name, value in (("learned_mean", 0.0), ("learned_std", 1.0)):
        require_parameter(layer, info, name, (FEATURES,), "(num_features,)")
        attribute = info[name]
        where = f"{layer.call}.{name}"
        if attribute.get("min") != value or attribute.get("max") != value:
            raise CheckFailed(f"{where} must start at {'zeros' if value == 0 else 'ones'}; it "
                              f"ranges from {attribute.get('min'):.4g} to {attribute.get('max'):.4g}")


@pytest.mark.weight(2)
@pytest.mark.parametrize("shape", [(8, FEATURES), (2, 5, FEATURES)], ids=["2-D", "N-D"])
def test_forward_formula(ctx, student, shape):
    """The output is (x - learned_mean) / (learned_std + eps), broadcast over the last dimension"""
    layer = student.build("LearnedNorm", FEATURES)
    mean, std = _parameters(ctx.seed)
    _set(layer, mean, std)
    x = _input(shape, ctx.seed + 1)
    got = layer.forward(x)["output"]
    expected = (x - mean) / (std + 1e-5)
    hints = []
    if got.shape == expected.shape and not tensors_close(got, expected):
        if any(tensors_close(got, out) for out in _batch_statistics_outputs(x, 1e-5)):
            hints.append("LearnedNorm normalises with the batch's own mean and std; it must use "
                         f"its learnable parameters instead: {FORMULA}")
        elif tensors_close(got, x * (std + 1e-5) + mean):
            hints.append(f"this is the inverse of the normalisation: compute {FORMULA}")
        else:
            hints.append(f"compute {FORMULA}")
    assert_tensors_close(got, expected, f"the output of {layer.call} for an input of shape "
                         f"{shape}", hints)


def test_eps_honoured(ctx, student):
    """eps from the constructor is added to learned_std"""
    layer = student.build("LearnedNorm", FEATURES, eps=0.5)
    mean, _ = _parameters(ctx.seed)
    _set(layer, mean, torch.zeros(FEATURES))
    x = _input((8, FEATURES), ctx.seed + 2)
    got = layer.forward(x)["output"]
    expected = (x - mean) / 0.5
    hints = [f"with learned_std = 0 the output must be (x - learned_mean) / eps: {FORMULA}"]
    if not torch.isfinite(got).all():
        hints = ["with learned_std = 0 it divides by zero: add self.eps to learned_std"]
    elif tensors_close(got, (x - mean) / 1e-5):
        hints = ["eps is fixed at 1e-5: use the eps given to the constructor (self.eps)"]
    assert_tensors_close(got, expected, f"the output of {layer.call}", hints)


def test_gradients_reach_parameters(ctx, student):
    """Gradients reach learned_mean and learned_std, and are right"""
    layer = student.build("LearnedNorm", FEATURES)
    mean, std = _parameters(ctx.seed)
    _set(layer, mean, std)
    x = _input((8, FEATURES), ctx.seed + 3)
    got = forward_backward(layer, x)
    m, s = mean.clone().requires_grad_(), std.clone().requires_grad_()
    output = (x - m) / (s + 1e-5)
    (output * loss_weights(output.shape, 1)).sum().backward()
    for name, expected in (("learned_mean", m.grad), ("learned_std", s.grad)):
        grad = got["grads"].get(name)
        if grad is None:
            registered = name in _layer_names(layer)
            raise CheckFailed(f"no gradient reaches `{name}`: "
                              + ("forward must use it" if registered else
                                 "it must be a registered nn.Parameter used in forward"))
        assert_tensors_close(grad, expected, f"the gradient of `{name}`")


def test_it_trains(ctx, student):
    """A few SGD steps towards standardised targets reduce the loss"""
    layer = student.build("LearnedNorm", FEATURES)
    x = _input((64, FEATURES), ctx.seed + 4)
    targets = (x - x.mean(0)) / x.std(0)
    try:
        result = layer.train_steps(x, targets, steps=20, lr=0.1)
    except StudentError as exc:
        if exc.info.get("fault"):
            raise CheckFailed(f"{layer.call} cannot be trained: {exc.message}") from None
        raise
    losses = result["losses"]
    first, last = losses[0], losses[-1]
    if not all(map(lambda v: v == v and abs(v) != float("inf"), losses)):
        raise CheckFailed("training LearnedNorm with SGD makes the loss NaN or infinite")
    frozen = [n for n in ("learned_mean", "learned_std") if not result["changed"].get(n)]
    if frozen or not last < 0.5 * first:
        why = (f"{' and '.join(frozen)} did not change" if frozen else
               f"the loss went from {first:.4g} to {last:.4g}")
        raise CheckFailed(f"20 SGD steps (lr 0.1) on the mean squared error towards standardised "
                          f"targets should at least halve the loss, but {why}: the output must "
                          f"depend on the parameters ({FORMULA})")
