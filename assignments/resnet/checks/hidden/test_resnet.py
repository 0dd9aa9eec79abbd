"""Hidden checks for ResNet and resnet18.

The network is graded on its own: where a check runs a whole network, the student's ResNet
is built with a standard (torchvision) BasicBlock, so a bug in the block costs points in
the BasicBlock task only.
"""

import math

import pytest

from autograder.checks import (
    CheckFailed,
    StudentCode,
    build_traced,
    compare_with_reference,
    describe,
    output_shape,
)

pytestmark = pytest.mark.task("ResNet")

# The assignment's standard block (support.py): grades the network apart from the student's block.
BLOCK = StudentCode.support_symbol("BasicBlock", shown="torchvision's BasicBlock")

RESNET18_PARAMETERS = 11_689_512


def _torchvision_resnet18(_reference):
    """torchvision's resnet18 with 10 classes. torchvision is imported here, not at the top:
    the judge keeps this model's run on disk between runs of the grader, and a later run
    that reads it never needs torchvision (1.5 s of imports) in the judge."""
    import torchvision.models

    return torchvision.models.resnet18(num_classes=10)


def _network(student, layers=(2, 2, 2, 2), **kwargs):
    """The student's ResNet built with torchvision's BasicBlock (on the meta device)."""
    return student.build("ResNet", BLOCK, list(layers), device="meta",
                         shared=True, **kwargs)


def test_parameter_count(student):
    """ResNet(BasicBlock, [2, 2, 2, 2]) has 11,689,512 parameters, as torchvision's resnet18"""
    network = _network(student)
    total = network.count_parameters()["total"]
    if total != RESNET18_PARAMETERS:
        why = ("fewer: are some layers missing, or kept in a Python list so they are not "
               "registered?" if total < RESNET18_PARAMETERS else "more: are there extra layers?")
        raise CheckFailed(f"with torchvision's BasicBlock, {network.call} has {total:,} parameters, "
                          f"expected {RESNET18_PARAMETERS:,} ({total - RESNET18_PARAMETERS:+,}); {why}")


def test_resnet18_factory(student):
    """resnet18(num_classes, in_channels) builds ResNet(BasicBlock, [2, 2, 2, 2], ...) with them"""
    for kwargs in [{"num_classes": 5, "in_channels": 1}]:  # not the defaults: both must pass on
        factory = student.build("resnet18", device="meta", shared=True, **kwargs)
        own = student.build("ResNet", student.symbol("BasicBlock"), [2, 2, 2, 2], device="meta",
                            shared=True, **kwargs)
        got, want = factory.count_parameters()["total"], own.count_parameters()["total"]
        if got != want:
            raise CheckFailed(f"{factory.call} has {got:,} parameters but {own.call} has {want:,}: "
                              "resnet18 must build exactly that network and pass its arguments on")


SHAPE_CASES = [
    ({}, (1, 3, 224, 224), (1, 1000)),
    ({"num_classes": 10}, (2, 3, 32, 32), (2, 10)),
    ({"num_classes": 5, "in_channels": 1}, (3, 1, 28, 28), (3, 5)),
    ({"num_classes": 10}, (1, 3, 97, 61), (1, 10)),
]


def test_output_shapes(student):
    """ResNet gives one row of logits per image for several sizes, class counts and channels"""
    for kwargs, input_shape, expected in SHAPE_CASES:
        call, shape = output_shape(student, "ResNet", (BLOCK, [2, 2, 2, 2]),
                                   kwargs, input_shape)
        if shape != expected:
            raise CheckFailed(f"{call} maps an input of shape {input_shape} to {shape}, "
                              f"expected {expected}")


def _initial_parameters(student):
    """Statistics of every parameter of a freshly built (CPU) ResNet, computed once."""
    key = "initial parameter statistics"
    if key not in student.session.memo:
        network = student.build("ResNet", BLOCK, [1, 1, 1, 1],
                                num_classes=10, shared=True)
        student.session.memo[key] = network.parameter_stats()
    return student.session.memo[key]


def test_kaiming_initialisation(student):
    """Convolutions start from Kaiming normal initialisation with mode='fan_out'"""
    stats = [s for s in _initial_parameters(student)
             if s["kind"] == "Conv2d" and s["name"].endswith("weight")]
    if not stats:
        raise CheckFailed("ResNet(...) has no registered Conv2d layers to initialise")
    for stat in stats:
        shape = stat["shape"]
        receptive = math.prod(shape[2:])
        fan_out, fan_in = shape[0] * receptive, shape[1] * receptive
        expected = math.sqrt(2 / fan_out)
        if abs(stat["std"] / expected - 1) > 0.1 or abs(stat["mean"]) > 0.1 * expected:
            guess = (" (that is what mode='fan_in' gives)"
                     if abs(stat["std"] / math.sqrt(2 / fan_in) - 1) < 0.1 else "")
            raise CheckFailed(
                f"`{stat['name']}` starts with mean {stat['mean']:.3g} and standard deviation "
                f"{stat['std']:.3g}{guess}; Kaiming normal with mode='fan_out' and "
                f"nonlinearity='relu' gives mean 0 and {expected:.3g}. Initialise every Conv2d "
                "with nn.init.kaiming_normal_(weight, mode='fan_out', nonlinearity='relu')")


def test_batchnorm_initialisation(student):
    """Every BatchNorm2d starts with weight 1 and bias 0"""
    stats = [s for s in _initial_parameters(student) if s["kind"] == "BatchNorm2d"]
    if not stats:
        raise CheckFailed("ResNet(...) has no registered BatchNorm2d layers to initialise")
    for stat in stats:
        expected = 1.0 if stat["name"].endswith("weight") else 0.0
        if stat["min"] != expected or stat["max"] != expected:
            raise CheckFailed(f"`{stat['name']}` starts between {stat['min']:.3g} and "
                              f"{stat['max']:.3g}; every BatchNorm2d weight must start at 1 "
                              "and every bias at 0")


@pytest.mark.weight(2)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_matches_reference(ctx, student, mode):
    """ResNet(block, [1, 1, 1, 1], num_classes=7, in_channels=1) computes what the reference computes"""
    compare_with_reference(
        ctx, student, "ResNet", (BLOCK, [1, 1, 1, 1]),
        {"num_classes": 7, "in_channels": 1},
        build=lambda m: m.ResNet(m.BasicBlock, [1, 1, 1, 1], num_classes=7, in_channels=1),
        input_shape=(2, 1, 32, 32), mode=mode, key="ResNet-1111-7-1", atol=1e-3)


@pytest.mark.weight(2)
def test_matches_torchvision(ctx, student):
    """ResNet(block, [2, 2, 2, 2], num_classes=10) computes what torchvision's resnet18 computes"""
    compare_with_reference(
        ctx, student, "ResNet", (BLOCK, [2, 2, 2, 2]),
        {"num_classes": 10},
        build=_torchvision_resnet18,
        input_shape=(2, 3, 32, 32), mode="eval", key="torchvision-resnet18-10",
        atol=1e-3, diagnose=False)


def test_layers_registered(ctx, student):
    """Every layer that runs in ResNet's forward pass is a registered submodule"""
    remote, trace = build_traced(student, "ResNet", (BLOCK, [2, 2, 2, 2]),
                                 {"num_classes": 10}, (2, 3, 32, 32), shared=True)
    if not any(leaf["params"] for leaf in trace):
        raise CheckFailed(f"no layer with parameters runs in the forward pass of {remote.call}")
    # A layer without parameters or buffers made on the fly in forward (nn.Flatten()(x))
    # is fine; one with parameters that is not registered is never trained or saved.
    unregistered = [leaf for leaf in trace if not leaf["registered"]
                    and (leaf["params"] or leaf["buffers"])]
    if unregistered:
        raise CheckFailed(f"{remote.call}: {describe(unregistered[0])} runs in forward but is not "
                          "registered as a submodule, so its parameters are invisible to "
                          ".parameters(), the optimiser and state_dict. Keep layers in "
                          "nn.Sequential or nn.ModuleList, not a Python list.")
