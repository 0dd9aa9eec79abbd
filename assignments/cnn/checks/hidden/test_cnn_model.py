"""Hidden checks for CNNPyTorch: the output after transplanting the reference's weights by
structure (any names, nn.Sequential or attributes, functional or module ReLU and pooling),
the shape flow, the parameter count, and raw logits rather than probabilities."""

import pytest
import torch

from autograder.checks import (
    CheckFailed,
    StudentError,
    compare_with_reference,
    known_bugs_like,
    random_input,
    same_error,
    with_hints,
)

pytestmark = pytest.mark.task("CNNPyTorch")

INPUT = (4, 1, 28, 28)
PARAMETERS = 103_018


def diagnose_error(ctx, error, shape):
    """A forward pass that raised: name the known bug that raises the same error, if any."""
    x = random_input(shape, ctx.seed)

    def run(module):
        with torch.no_grad():
            return module.CNNPyTorch()(x)

    hints = known_bugs_like(ctx, "CNNPyTorch", f"forward:{shape}", run, same_error(error))
    if hints:
        raise CheckFailed(with_hints(f"CNNPyTorch's forward pass raised {error.type}: "
                                     f"{error.message}", hints)) from None


@pytest.mark.weight(3)
def test_matches_reference(ctx, student):
    """With the reference's weights, outputs and gradients equal the reference's"""
    try:
        compare_with_reference(ctx, student, "CNNPyTorch", (), {},
                               build=lambda m: m.CNNPyTorch(), input_shape=INPUT, mode="train",
                               key="CNNPyTorch")
    except StudentError as error:
        diagnose_error(ctx, error, INPUT)
        raise


@pytest.mark.parametrize("batch", [1, 5])
def test_shape_flow(ctx, student, batch):
    """A (batch, 1, 28, 28) input gives (batch, 10) logits"""
    model = student.build("CNNPyTorch", shared=True)
    try:
        shape = tuple(model.output_shape((batch, 1, 28, 28)))
    except StudentError as error:
        diagnose_error(ctx, error, (batch, 1, 28, 28))
        raise
    if shape != (batch, 10):
        raise CheckFailed(f"CNNPyTorch() maps a ({batch}, 1, 28, 28) input to {shape}, expected "
                          f"({batch}, 10): one row of 10 class scores per image. The shapes on "
                          "the way: (batch, 8, 28, 28) after conv1, (batch, 8, 14, 14) after "
                          "pool1, (batch, 16, 7, 7) after pool2, (batch, 784) after "
                          "torch.flatten(x, 1)")


def test_parameter_count(student):
    """The model has 103,018 trainable parameters, all registered"""
    model = student.build("CNNPyTorch", shared=True)
    counts = model.count_parameters()
    if counts["trainable"] == PARAMETERS:
        return
    layers = [f"{m['name']} ({m['type']})" for m in model.inventory()["modules"]
              if m["name"] and m["kind"] in ("Conv2d", "Linear")]
    raise CheckFailed(f"CNNPyTorch() has {counts['trainable']:,} trainable parameters, expected "
                      f"{PARAMETERS:,} (conv1 80, conv2 1,168, fc1 100,480, fc2 1,290). "
                      f"Registered layers with weights: {', '.join(layers) or 'none'}. A layer "
                      "kept in a local variable or a Python list is not registered: assign it "
                      "to self or put it in nn.Sequential")


def test_returns_logits(ctx, student):
    """The model returns raw logits, not probabilities or log-probabilities"""
    model = student.build("CNNPyTorch", shared=True)
    try:
        output = model.forward(random_input(INPUT, ctx.seed, scale=2.0))["output"].double()
    except StudentError as error:
        diagnose_error(ctx, error, INPUT)
        raise
    if output.shape != (INPUT[0], 10):
        raise CheckFailed(f"CNNPyTorch() gives an output of shape {tuple(output.shape)}, "
                          f"expected {(INPUT[0], 10)}")
    rows = output.sum(dim=1)
    if bool((output >= 0).all()) and torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        raise CheckFailed("CNNPyTorch's rows sum to 1: it returns softmax probabilities. "
                          "Return the raw logits of fc2: nn.CrossEntropyLoss applies "
                          "log-softmax itself, so a softmax in the model is applied twice")
    total = torch.logsumexp(output, dim=1)
    if torch.allclose(total, torch.zeros_like(total), atol=1e-4):
        raise CheckFailed("CNNPyTorch returns log-probabilities (log_softmax): return the raw "
                          "logits of fc2, nn.CrossEntropyLoss applies log-softmax itself")
