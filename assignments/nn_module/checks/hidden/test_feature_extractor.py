"""Hidden checks for FeatureExtractor: hooks on top-level and dotted names, detached features,
refresh, untouched model output, hook removal, unknown names.

The model lives in the worker (a standard model with the judge's weights, see
the assignment's ``support.py``); the judge runs its own copy with its own hooks and
compares what the student's extractor captured with those activations.
"""

import pytest
import torch

from autograder.checks import CheckFailed, StudentError, assert_tensors_close, random_input, tensors_close

pytestmark = pytest.mark.task("FeatureExtractor")

MODELS = {
    # model name: (input shape, layer names to hook)
    "mlp": ((3, 10), ["0", "1", "2"]),
    "tiny_resnet": ((2, 3, 16, 16), ["conv1", "layer1.0.relu", "layer2.0.downsample.0", "fc"]),
}


def judge_model(ctx, name):
    return ctx.cache.get(f"standard:{name}:{ctx.seed}", lambda: ctx.support.standard_model(name, ctx.seed))


def activations(model, x, names):
    """The model's output and, for each name, every output of that module (it may run twice,
    as a ResNet block's ReLU does)."""
    modules = dict(model.named_modules())
    seen = {name: [] for name in names}
    handles = [modules[name].register_forward_hook(
        lambda module, args, output, name=name: seen[name].append(output.detach().clone()))
        for name in names]
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return output, seen


def setup(ctx, student, name, layer_names=None):
    model = judge_model(ctx, name)
    remote = student.support_object("standard_model", name, ctx.seed, state=model.state_dict())
    layer_names = layer_names or MODELS[name][1]
    try:
        extractor = student.instantiate("FeatureExtractor", remote.ref(), layer_names)
    except StudentError as exc:
        if "defines no" in exc.message:
            raise
        raise CheckFailed(f"FeatureExtractor(model, {layer_names}) raised {exc.type}: "
                          f"{exc.message}" + _where(exc)) from None
    return model, remote, extractor


def _where(exc):
    if not exc.frames:
        return ""
    frame = exc.frames[-1]
    return f" (at {frame['file']} line {frame['line']}: `{frame['code']}`)"


def captured(extractor, names, after):
    """get_features() as data, failing unless it holds every name."""
    result = extractor.call_method("get_features")
    features = result["value"]
    if not isinstance(features, dict):
        raise CheckFailed(f"get_features() returned {result['type']}, expected a dict "
                          "{layer name: output}")
    missing = [n for n in names if n not in features]
    if missing:
        shown = sorted(features)[:6]
        raise CheckFailed(f"after {after}, get_features() has no entry for "
                          f"{', '.join(repr(m) for m in missing)} (its keys: {shown}): each "
                          "hook must store its module's output under the layer name it was "
                          "asked for")
    for name in names:
        if not isinstance(features[name], torch.Tensor):
            raise CheckFailed(f"get_features()[{name!r}] is a {type(features[name]).__name__}, "
                              "expected the module's output tensor")
    return features, result["tensors"]


def compare_features(features, seen, names, after):
    for name in names:
        got = features[name]
        outputs = seen[name]
        # A module that runs twice: its last output is what a simple hook keeps; the first
        # is fair too.
        if any(tensors_close(got, out) for out in (outputs[-1], outputs[0])):
            continue
        assert_tensors_close(got, outputs[-1], f"after {after}, get_features()[{name!r}] "
                             f"(the output of model.{name})")


def forward(remote, x):
    return remote.forward(x)["output"]


def check_after_forwards(ctx, student, model_name, passes):
    """Run ``passes`` forward passes; the features must be the last pass's activations."""
    model, remote, extractor = setup(ctx, student, model_name)
    shape, names = MODELS[model_name]
    inputs = [random_input(shape, ctx.seed + i) for i in range(passes)]
    for x in inputs:
        forward(remote, x)
    after = "a forward pass" if passes == 1 else f"{passes} forward passes"
    features, _ = captured(extractor, names, after)
    _, seen = activations(model, inputs[-1], names)
    compare_features(features, seen, names, after)


@pytest.mark.weight(2)
@pytest.mark.parametrize("model_name", list(MODELS), ids=["top-level names", "dotted names"])
def test_features_match_activations(ctx, student, model_name):
    """Captured features equal the layers' activations ('0', 'layer1.0.relu', ...)"""
    check_after_forwards(ctx, student, model_name, 1)


def test_features_are_detached(ctx, student):
    """Stored features are detached from the autograd graph"""
    _, remote, extractor = setup(ctx, student, "tiny_resnet")
    shape, names = MODELS["tiny_resnet"]
    forward(remote, random_input(shape, ctx.seed))
    _, flags = captured(extractor, names, "a forward pass")
    attached = [n for n in names if flags.get(n, {}).get("requires_grad")]
    if attached:
        raise CheckFailed(f"the features of {', '.join(repr(n) for n in attached)} are still "
                          "attached to the autograd graph (requires_grad=True): store "
                          "output.detach(), so a stored feature does not keep the whole graph "
                          "(and its memory) alive")


def test_second_forward_refreshes(ctx, student):
    """A second forward pass replaces the features with the new activations"""
    check_after_forwards(ctx, student, "tiny_resnet", 2)


def test_model_output_unchanged(ctx, student):
    """With the hooks on, the model's output and its gradients are unchanged"""
    model, remote, extractor = setup(ctx, student, "tiny_resnet")
    shape, names = MODELS["tiny_resnet"]
    x = random_input(shape, ctx.seed)
    try:
        got = remote.forward(x, backward=True)["output"]
    except StudentError as exc:
        if "autograd graph" in exc.message:
            raise CheckFailed("with the extractor's hooks on, the model's output is cut from the "
                              "autograd graph, so the model can no longer be trained: a forward "
                              "hook must not return output.detach() (return nothing; store the "
                              "detached copy instead)") from None
        raise
    captured(extractor, names, "a forward pass")  # the hooks did run
    expected, _ = activations(model, x, names)
    assert_tensors_close(got, expected, "the model's output with the extractor's hooks on",
                         ["a forward hook that returns a value replaces the module's output: "
                          "return nothing from the hook"])


@pytest.mark.weight(2)
def test_remove_hooks(ctx, student):
    """remove_hooks() leaves no hook on any module"""
    _, remote, extractor = setup(ctx, student, "tiny_resnet")
    shape, names = MODELS["tiny_resnet"]
    forward(remote, random_input(shape, ctx.seed))
    before, _ = captured(extractor, names, "a forward pass")
    if not remote.hook_counts():
        raise CheckFailed("the extractor registered no hooks on the model's modules")
    extractor.call_method("remove_hooks")
    left = remote.hook_counts()
    if left:
        shown = "; ".join(f"{', '.join(f'{n} {k}' for k, n in kinds.items())} hook(s) on "
                          f"`{module}`" for module, kinds in list(left.items())[:4])
        raise CheckFailed(f"after remove_hooks(), hooks are still registered: {shown}. Keep "
                          "every handle register_forward_hook returns (one per layer name) "
                          "and call .remove() on each")
    forward(remote, random_input(shape, ctx.seed + 1))
    after = extractor.call_method("get_features")["value"]
    if isinstance(after, dict) and any(
            isinstance(after.get(n), torch.Tensor) and isinstance(before.get(n), torch.Tensor)
            and not tensors_close(after[n], before[n]) for n in names):
        raise CheckFailed("after remove_hooks(), a forward pass still changes the features: "
                          "some hook is still active")


@pytest.mark.parametrize("bad_name", ["layer9", "layer1.0.conv9"])
def test_unknown_layer_name(ctx, student, bad_name):
    """An unknown layer name gives an error when the extractor is created"""
    setup(ctx, student, "tiny_resnet", ["layer1.0.relu"])  # a valid name must work
    model = judge_model(ctx, "tiny_resnet")
    remote = student.support_object("standard_model", "tiny_resnet", ctx.seed, state=model.state_dict())
    try:
        student.instantiate("FeatureExtractor", remote.ref(), ["conv1", bad_name])
    except StudentError:
        return
    raise CheckFailed(f"FeatureExtractor(model, ['conv1', {bad_name!r}]) raised no error, but "
                      f"the model has no module {bad_name!r}: a mistyped layer name should fail "
                      "loudly when the extractor is created (an AttributeError or KeyError "
                      "naming it), not leave that feature silently missing")
