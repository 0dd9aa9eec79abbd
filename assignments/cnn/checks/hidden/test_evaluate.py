"""Hidden checks for evaluate, graded by what it does.

The model is a support model with BatchNorm and Dropout, handed over in training mode with a
spy inside it (a forward pre-hook): for every forward pass evaluate makes, it records whether
the model's modules are in eval mode and whether autograd is recording. So ``eval()`` or
``train(False)``, ``no_grad``, ``inference_mode`` or ``set_grad_enabled(False)`` all pass,
and what counts is the state of the model when it runs, not the words in the source.
"""

import pytest

from autograder.checks import (
    CheckFailed,
    StudentError,
    known_bugs_like,
    same_error,
    tensors_close,
    with_hints,
)

pytestmark = pytest.mark.task("evaluate")

COUNT, BATCH, MODEL = 40, 16, "mode"


def judge_loader(support, seed):
    return support.loader(support.synthetic_dataset(COUNT, seed), BATCH, False, seed)


def judge_evaluate(ctx, module):
    """``module.evaluate`` in the judge on the support model, handed over in train mode."""
    support = ctx.support
    model = support.build_model(MODEL, ctx.seed).train()
    criterion = support.cross_entropy()
    batches = []

    def recording(outputs, labels):
        loss = criterion(outputs, labels)
        batches.append((loss.item(), int(labels.shape[0]),
                        int((outputs.argmax(dim=1) == labels).sum())))
        return loss

    metrics = module.evaluate(model, judge_loader(support, ctx.seed), recording)
    return {"metrics": metrics, "batches": batches,
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def reference_evaluate(ctx, reference):
    return ctx.cache.get(f"evaluate:{ctx.seed}", lambda: judge_evaluate(ctx, reference))


def student_evaluate(ctx, student):
    """The student's evaluate on the spied support model, once per submission (every check
    reads the same run)."""
    def run():
        model = student.support_object("build_model", MODEL, ctx.seed)
        model.call_method("train")
        before = {k: v.clone() for k, v in model.state_dict().items()}
        recorder = student.support_object("spy", model.ref())
        dataset = student.support_object("synthetic_dataset", COUNT, ctx.seed)
        loader = student.support_object("loader", dataset.ref(), BATCH, False, ctx.seed)
        criterion = student.support_object("cross_entropy")
        result = student.call("evaluate", model.ref(), loader.ref(), criterion.ref())
        result.pop("object")  # a handle: it would not outlive the worker
        return {"before": before, "after": model.state_dict(), "result": result,
                "records": recorder.call_method("get_records")["value"],
                "gradients": student.support_call("gradients", model.ref())["value"]}

    try:
        return student.once("evaluate", run)
    except StudentError as error:
        hints = known_bugs_like(ctx, "evaluate", "evaluate", lambda m: judge_evaluate(ctx, m),
                                same_error(error))
        if hints:
            raise CheckFailed(with_hints(f"evaluate raised {error.type}: {error.message}",
                                         hints)) from None
        raise


def records_of(ctx, student):
    records = student_evaluate(ctx, student)["records"]
    if not records:
        raise CheckFailed("evaluate never called the model")
    return records


@pytest.mark.weight(2)
def test_eval_mode_in_every_forward(ctx, student):
    """Every forward pass runs with the model in eval mode"""
    records = records_of(ctx, student)
    off = sum(not r["eval"] for r in records)
    if off:
        raise CheckFailed(f"{off} of the {len(records)} forward passes of evaluate ran with the "
                          "model (or some of its modules) in training mode, so BatchNorm used "
                          "the batch's statistics and Dropout dropped units: call model.eval() "
                          "before the loop")


@pytest.mark.weight(2)
def test_no_grad_in_every_forward(ctx, student):
    """Every forward pass runs with gradients off (no_grad or inference_mode)"""
    records = records_of(ctx, student)
    recording = sum(r["grad_enabled"] for r in records)
    if recording:
        raise CheckFailed(f"{recording} of the {len(records)} forward passes of evaluate ran "
                          "with autograd recording, which builds a graph for every batch (memory "
                          "and time for nothing): wrap the loop in `with torch.no_grad():`")


def test_no_weight_changes(ctx, student):
    """No weight, statistic or gradient of the model changes"""
    records_of(ctx, student)  # an evaluate that never runs the model changes nothing either
    run = student_evaluate(ctx, student)
    changed = [k for k in run["before"] if not tensors_close(run["after"][k], run["before"][k],
                                                             rtol=0, atol=0)]
    statistics = [k for k in changed if "running" in k or "num_batches" in k]
    weights = [k for k in changed if k not in statistics]
    if weights:
        raise CheckFailed(f"evaluate changed the model's weights ({', '.join(weights[:4])}): it "
                          "must only measure: no backward(), no optimiser step, no write to a "
                          "parameter")
    if statistics:
        raise CheckFailed(f"evaluate changed BatchNorm's running statistics "
                          f"({', '.join(statistics[:4])}): in training mode BatchNorm updates "
                          "them at every forward pass; call model.eval() first")
    with_grad = [k for k, has in run["gradients"].items() if has]
    if with_grad:
        raise CheckFailed(f"after evaluate, parameters hold gradients ({', '.join(with_grad[:4])}): "
                          "evaluate must not call backward()")


@pytest.mark.weight(2)
def test_metrics_match_reference(ctx, student, reference):
    """It returns the average loss and the accuracy the reference computes, as Python floats"""
    run = student_evaluate(ctx, student)
    result = run["result"]
    value = result["value"]
    if not isinstance(value, list) or len(value) != 2:
        raise CheckFailed(f"evaluate returned {result['type']}, expected a pair "
                          "(average loss, accuracy)")
    if result["tensors"]:
        raise CheckFailed("evaluate returned a tensor, not a Python float: take metrics with "
                          ".item()")
    batches = reference_evaluate(ctx, reference)["batches"]
    total = sum(size for _, size, _ in batches)
    losses = [sum(loss for loss, _, _ in batches) / len(batches),
              sum(loss * size for loss, size, _ in batches) / total]
    accuracies = [sum(correct for _, _, correct in batches) / total,
                  sum(correct / size for _, size, correct in batches) / len(batches)]
    loss, accuracy = value
    hints = []
    if not (isinstance(loss, (int, float)) and any(abs(loss - v) <= 1e-4 * max(1.0, abs(v))
                                                   for v in losses)):
        hints.append(f"the loss is {loss!r}, expected the average {losses[0]:.6g} (over "
                     f"batches) or {losses[1]:.6g} (over examples)")
    if not (isinstance(accuracy, (int, float)) and any(abs(accuracy - v) <= 1e-6
                                                       for v in accuracies)):
        hints.append(f"the accuracy is {accuracy!r}, expected {accuracies[0]:.6g}, the share of "
                     "examples whose largest logit is the right class"
                     + (" (in percent? return a fraction in [0, 1])"
                        if isinstance(accuracy, (int, float)) and accuracy > 1 else ""))
    if hints:
        bugs = known_bugs_like(ctx, "evaluate", "evaluate", lambda m: judge_evaluate(ctx, m),
                               lambda other: isinstance(other, dict) and "metrics" in other
                               and list(other["metrics"]) == value)
        raise CheckFailed(with_hints("evaluate returned metrics that differ from the reference's "
                                     "on the same model and data: " + "; ".join(hints), bugs))
