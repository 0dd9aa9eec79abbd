"""Hidden checks for train_one_epoch, graded by what the loop does.

The judge and the worker build the same support model (seeded weights), data loader and
SGD optimiser (see the assignment's support.py). The student's loop runs in the worker, the
reference loop here; the weights they leave and the metrics they return must agree. Where
the seed leaves a convention open, every reading is accepted: the loss averaged over batches
or over examples, accuracy over examples or averaged over batches, zero_grad first or at the
end of a batch (the model starts with no gradients, as a fresh model does), set_to_none.

The one real training: the student's CNNPyTorch (with the judge's initial weights, mapped by
structure) trained two epochs on the support code's synthetic data by the student's loop;
the judge evaluates the weights it comes back with.
"""

import copy

import pytest
import torch

from autograder.checks import (
    CheckFailed,
    StudentError,
    known_bugs_like,
    match_structure,
    same_error,
    tensors_close,
    trace_forward,
    transplant,
    with_hints,
)

pytestmark = pytest.mark.task("train_one_epoch")

COUNT, BATCH, LR = 40, 16, 0.05  # batches of 16, 16 and 8
# The real training: 128 examples in batches of 16, two epochs, 200 test examples.
TRAIN_COUNT, TEST_COUNT, TRAIN_BATCH, EPOCHS, TRAIN_LR = 128, 200, 16, 2, 0.05
MARGIN = 0.05  # accuracy the student's run may fall short of the reference's


class RecordingLoss(torch.nn.Module):
    """CrossEntropyLoss that remembers each batch's loss, size and correct predictions, so
    the judge knows the metrics under every averaging convention."""

    def __init__(self):
        super().__init__()
        self.loss = torch.nn.CrossEntropyLoss()
        self.batches = []

    def forward(self, outputs, labels):
        loss = self.loss(outputs, labels)
        correct = int((outputs.argmax(dim=1) == labels).sum())
        self.batches.append((loss.item(), int(labels.shape[0]), correct))
        return loss


def accepted_metrics(batches):
    """(losses, accuracies) that every reasonable convention gives."""
    losses = [sum(loss for loss, _, _ in batches) / len(batches),
              sum(loss * size for loss, size, _ in batches) / sum(size for _, size, _ in batches)]
    accuracies = [sum(correct for _, _, correct in batches) / sum(size for _, size, _ in batches),
                  sum(correct / size for _, size, correct in batches) / len(batches)]
    return losses, accuracies


def judge_epoch(ctx, module, model_name, criterion=None):
    """One epoch of ``module.train_one_epoch`` in the judge on the support objects."""
    support = ctx.support
    model = support.build_model(model_name, ctx.seed)
    data = support.loader(support.synthetic_dataset(COUNT, ctx.seed), BATCH, False, ctx.seed)
    optimizer = support.sgd(model, lr=LR)
    criterion = criterion or support.cross_entropy()
    metrics = module.train_one_epoch(model, data, optimizer, criterion)
    return {"state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "metrics": metrics}


def reference_epoch(ctx, reference, model_name):
    def run():
        criterion = RecordingLoss()
        result = judge_epoch(ctx, reference, model_name, criterion)
        result["accepted"] = accepted_metrics(criterion.batches)
        return result
    return ctx.cache.get(f"train_one_epoch:{model_name}:{ctx.seed}", run)


def student_epoch(ctx, student, model_name):
    """The student's loop on the support objects in the worker, once per submission and
    model (every check of that run reads it): ``{"state", "records", "result"}``."""
    def run():
        model = student.support_object("build_model", model_name, ctx.seed)
        recorder = student.support_object("spy", model.ref())
        dataset = student.support_object("synthetic_dataset", COUNT, ctx.seed)
        data = student.support_object("loader", dataset.ref(), BATCH, False, ctx.seed)
        optimizer = student.support_object("sgd", model.ref(), lr=LR)
        criterion = student.support_object("cross_entropy")
        result = student.call("train_one_epoch", model.ref(), data.ref(), optimizer.ref(),
                              criterion.ref())
        result.pop("object")  # a handle: it would not outlive the worker
        return {"state": model.state_dict(), "result": result,
                "records": recorder.call_method("get_records")["value"]}

    try:
        return student.once(("train_one_epoch", model_name), run)
    except StudentError as error:
        diagnose_error(ctx, error, model_name)
        raise


def diagnose_error(ctx, error, model_name):
    hints = known_bugs_like(ctx, "train_one_epoch", f"epoch:{model_name}",
                            lambda m: judge_epoch(ctx, m, model_name), same_error(error))
    if hints:
        raise CheckFailed(with_hints(f"train_one_epoch raised {error.type}: {error.message}",
                                     hints)) from None


def same_state(got, expected):
    return set(got) == set(expected) and all(
        tensors_close(got[k].float(), expected[k].float(), rtol=1e-4, atol=1e-5) for k in expected)


def bug_hints(ctx, model_name, state):
    return known_bugs_like(ctx, "train_one_epoch", f"epoch:{model_name}",
                           lambda m: judge_epoch(ctx, m, model_name),
                           lambda result: isinstance(result, dict) and "state" in result
                           and same_state(state, result["state"]))


def compare_weights(ctx, student, reference, model_name, what):
    expected = reference_epoch(ctx, reference, model_name)["state"]
    run = student_epoch(ctx, student, model_name)
    if not run["records"]:
        raise CheckFailed("train_one_epoch never called the model: loop over the batches of "
                          "the loader and pass each batch's inputs to the model")
    got = run["state"]
    if same_state(got, expected):
        return
    unchanged = all(torch.equal(got[k], ctx.support.build_model(model_name, ctx.seed)
                                .state_dict()[k]) for k in got)
    differing = [k for k in expected if k in got and not tensors_close(
        got[k].float(), expected[k].float(), rtol=1e-4, atol=1e-5)]
    message = ("after one epoch of your train_one_epoch, the weights are those it started with: "
               "nothing was updated (is optimizer.step() called after loss.backward() for each "
               "batch?)" if unchanged else
               f"after one epoch of your train_one_epoch on {what}, the weights differ from "
               f"those of the reference loop ({', '.join(differing[:4])}"
               f"{' ...' if len(differing) > 4 else ''}): for every batch call "
               "optimizer.zero_grad(), compute the loss on the raw outputs, then "
               "loss.backward(), then optimizer.step()")
    raise CheckFailed(with_hints(message, bug_hints(ctx, model_name, got)))


@pytest.mark.weight(3)
def test_weights_match_reference(ctx, student, reference):
    """From the same weights, batches and optimiser, the loop leaves the reference's weights"""
    compare_weights(ctx, student, reference, "small", "a small convolutional model")


@pytest.mark.weight(2)
def test_trains_in_train_mode(ctx, student, reference):
    """A model left in eval mode, with BatchNorm and Dropout, is trained in train mode"""
    run = student_epoch(ctx, student, "mode")
    records = run["records"]
    if not records:
        raise CheckFailed("train_one_epoch never called the model: loop over the batches of "
                          "the loader and pass each batch's inputs to the model")
    if not all(r["training"] for r in records):
        passes = sum(not r["training"] for r in records)
        raise CheckFailed(with_hints(
            f"{passes} of the {len(records)} forward passes of train_one_epoch ran with the model "
            "(or some of its modules) in eval mode, so Dropout was off and BatchNorm used its "
            "running statistics: call model.train() at the start of the epoch",
            bug_hints(ctx, "mode", run["state"])))
    compare_weights(ctx, student, reference, "mode", "a model with BatchNorm and Dropout")


@pytest.mark.weight(2)
def test_metrics_match_reference(ctx, student, reference):
    """It returns the epoch's average loss and the accuracy in [0, 1]"""
    run = student_epoch(ctx, student, "small")
    value = run["result"]["value"]
    if not isinstance(value, list) or len(value) != 2:
        raise CheckFailed(f"train_one_epoch returned {run['result']['type']}, expected a pair "
                          "(average loss, accuracy)")
    losses, accuracies = reference_epoch(ctx, reference, "small")["accepted"]
    loss, accuracy = (float(v) if isinstance(v, (int, float, torch.Tensor)) and
                      getattr(v, "numel", lambda: 1)() == 1 else None for v in value)
    if loss is None or not any(abs(loss - v) <= 1e-4 * max(1.0, abs(v)) for v in losses):
        raise CheckFailed(f"train_one_epoch returned the loss {value[0]!r}; the epoch's average "
                          f"loss is {losses[0]:.6g} (over batches) or {losses[1]:.6g} (over "
                          "examples): add loss.item() for each batch and divide at the end")
    if accuracy is None or not any(abs(accuracy - v) <= 1e-6 for v in accuracies):
        hint = (" (in percent? return a fraction in [0, 1])"
                if accuracy is not None and accuracy > 1 else "")
        raise CheckFailed(with_hints(
            f"train_one_epoch returned the accuracy {value[1]!r}{hint}; the share of examples "
            f"whose largest logit is the right class is {accuracies[0]:.6g}: count "
            "(outputs.argmax(dim=1) == labels) over the epoch and divide by the number of "
            "examples", known_bugs_like(
                ctx, "train_one_epoch", "epoch:small", lambda m: judge_epoch(ctx, m, "small"),
                lambda result: isinstance(result, dict) and "metrics" in result
                and isinstance(result["metrics"][1], (int, float))
                and abs(result["metrics"][1] - accuracy) <= 1e-6)))


def test_metrics_are_plain_numbers(ctx, student):
    """Metrics are Python numbers (.item()), so no autograd graph outlives the loop"""
    run = student_epoch(ctx, student, "small")
    tensors = run["result"]["tensors"]
    if tensors:
        with_graph = [path for path, info in tensors.items() if info["has_grad_fn"]]
        raise CheckFailed(
            "train_one_epoch returned a tensor, not a Python float"
            + (", still attached to the autograd graph: `train_loss += loss` keeps every "
               "batch's graph (and its memory) alive. Add loss.item() instead"
               if with_graph else ": take metrics with .item()"))
    value = run["result"]["value"]
    kinds = [type(v).__name__ for v in value] if isinstance(value, list) else [run["result"]["type"]]
    if not all(kind in ("float", "int") for kind in kinds):
        raise CheckFailed(f"train_one_epoch returned ({', '.join(kinds)}), expected two Python "
                          "floats")


# --- The real training ---------------------------------------------------------------------

def _loaders(support, seed):
    train = support.loader(support.synthetic_dataset(TRAIN_COUNT, seed), TRAIN_BATCH, True, seed)
    test = support.loader(support.synthetic_dataset(TEST_COUNT, seed + 1), 100, False, seed)
    return train, test


def reference_training(ctx, reference, model_name):
    """Initial model, and the test accuracy the reference loop reaches from it."""
    def run():
        support = ctx.support
        if model_name == "CNNPyTorch":
            torch.manual_seed(ctx.seed)
            model = reference.CNNPyTorch()
        else:
            model = support.build_model(model_name, ctx.seed)
        initial = copy.deepcopy(model)
        train, test = _loaders(support, ctx.seed)
        optimizer = support.sgd(model, lr=TRAIN_LR)
        for _ in range(EPOCHS):
            reference.train_one_epoch(model, train, optimizer, support.cross_entropy())
        return initial, reference.evaluate(model, test, support.cross_entropy())[1]
    return ctx.cache.get(f"training:{model_name}:{ctx.seed}", run)


def student_cnn(ctx, student, reference):
    """The student's CNNPyTorch with the reference's initial weights, and the name mapping,
    or None when it does not compute what the reference computes (its own checks say why)."""
    initial, _ = reference_training(ctx, reference, "CNNPyTorch")
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(ctx.seed))
    try:
        remote = student.build("CNNPyTorch")
        match = match_structure(trace_forward(initial, [x]), remote.trace((2, 1, 28, 28)),
                                remote.call)
        names = transplant(ctx, remote, initial, match, "training:CNNPyTorch")
        got = remote.forward(x)["output"]
    except (StudentError, CheckFailed):
        return None
    with torch.no_grad():
        expected = initial(x)
    return (remote, names) if tensors_close(got, expected) else None


@pytest.mark.weight(2)
def test_real_training_reaches_reference_accuracy(ctx, student, reference):
    """Two epochs of training a CNN on synthetic digits reach the reference's test accuracy"""
    support = ctx.support
    built = student_cnn(ctx, student, reference)
    model_name = "CNNPyTorch" if built else "small"
    initial, expected = reference_training(ctx, reference, model_name)
    if built:
        model, names = built
    else:  # the loop is graded on its own: a support model stands in for the student's CNN
        model = student.support_object("build_model", "small", ctx.seed)
        names = {k: k for k in initial.state_dict()}
    train = student.support_object("synthetic_dataset", TRAIN_COUNT, ctx.seed)
    train_loader = student.support_object("loader", train.ref(), TRAIN_BATCH, True, ctx.seed)
    optimizer = student.support_object("sgd", model.ref(), lr=TRAIN_LR)
    criterion = student.support_object("cross_entropy")
    try:
        for _ in range(EPOCHS):
            student.call("train_one_epoch", model.ref(), train_loader.ref(), optimizer.ref(),
                         criterion.ref())
    except StudentError as error:
        diagnose_error(ctx, error, "small")
        raise
    state = model.state_dict()
    trained = copy.deepcopy(initial)
    own = trained.state_dict()
    with torch.no_grad():
        for student_name, reference_name in names.items():
            own[reference_name].copy_(state[student_name])
    _, test = _loaders(support, ctx.seed)
    _, accuracy = reference.evaluate(trained, test, support.cross_entropy())
    if accuracy + 1e-9 < expected - MARGIN:
        what = "your CNNPyTorch" if built else "a small support model"
        raise CheckFailed(
            f"after {EPOCHS} epochs of your train_one_epoch ({TRAIN_COUNT} synthetic 28x28 "
            f"images of 10 classes, SGD lr={TRAIN_LR} momentum 0.9), {what} reaches a test "
            f"accuracy of {accuracy:.3f}; the reference loop reaches {expected:.3f} from the "
            f"same weights (at least {expected - MARGIN:.3f} needed)")
