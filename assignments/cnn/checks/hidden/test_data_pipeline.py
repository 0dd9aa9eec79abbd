"""Hidden checks for make_transform and make_loaders: a uint8 image becomes a normalised
(1, 28, 28) float tensor; the training loader reshuffles every epoch, the test loader never
does; the batch size is honoured.

Data sets come from the support code: the image is a 28x28 grey PIL image as torchvision's
MNIST hands to its transform; the loaders are given a data set whose labels are the
examples' own indices, so the order they come out in shows how a loader shuffles.
"""

import pytest
import torch

from autograder.checks import CheckFailed, assert_tensors_close, known_bugs_like, tensors_close

pytestmark = pytest.mark.task("data_pipeline")

IMAGE_SEEDS = (3, 4)
COUNT, BATCH = 40, 7


def student_transform(student):
    result = student.call("make_transform")
    if result["object"] is None:
        raise CheckFailed(f"make_transform() returned {result['type']}, expected a transform "
                          "(transforms.Compose([...]))"
                          + (": is a `return` missing?" if result["type"] == "NoneType" else ""))
    return result["object"]


@pytest.mark.weight(2)
def test_transform_normalises_with_mnist_statistics(ctx, student, reference):
    """A uint8 28x28 image becomes a (1, 28, 28) float tensor normalised with MNIST's mean and std"""
    transform = student_transform(student)
    for seed in IMAGE_SEEDS:
        image = student.support_object("uint8_image", seed)
        got = transform.call_method("__call__", image.ref())["value"]
        pil = ctx.support.uint8_image(seed)
        expected = reference.make_transform()(pil)
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"make_transform()(image) returned {type(got).__name__}, expected "
                              "a tensor: start with transforms.ToTensor()")
        if got.shape != expected.shape:
            raise CheckFailed(f"make_transform() turns a 28x28 grey image into a tensor of shape "
                              f"{tuple(got.shape)}, expected (1, 28, 28) (channels first): "
                              "transforms.ToTensor() does this")
        if not got.is_floating_point():
            raise CheckFailed(f"make_transform() gives a {got.dtype} tensor, expected float32 "
                              "values: transforms.ToTensor() divides by 255")
        if tensors_close(got, expected, rtol=1e-5, atol=1e-5):
            continue
        hints = known_bugs_like(ctx, "make_transform", f"transform:{seed}",
                                lambda m, pil=pil: m.make_transform()(pil),
                                lambda value, got=got: isinstance(value, torch.Tensor)
                                and tensors_close(value, got, rtol=1e-5, atol=1e-5))
        pixels = torch.as_tensor(list(pil.getdata()), dtype=torch.float64) / 255
        if tensors_close(got.double().flatten(), pixels, atol=1e-5):
            hints.append("the values are in [0, 1] but not normalised: add "
                         "transforms.Normalize((0.1307,), (0.3081,)) after ToTensor()")
        assert_tensors_close(got, expected, "the transformed image (ToTensor, then "
                             "Normalize((0.1307,), (0.3081,)))", hints, rtol=1e-5, atol=1e-5)


def loader_orders(student, batch_size=BATCH, count=COUNT):
    train = student.support_object("IndexDataset", count)
    test = student.support_object("IndexDataset", count)
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    result = student.call("make_loaders", train.ref(), test.ref(), **kwargs)
    if result["object"] is None:
        raise CheckFailed(f"make_loaders(...) returned {result['type']}, expected "
                          "(train_loader, test_loader)")
    orders = student.support_call("loader_orders", result["object"].ref(), 2)["value"]
    if "error" in orders:
        raise CheckFailed(f"make_loaders(train_set, test_set): {orders['error']}")
    for name in ("train", "test"):
        for epoch in orders[name]:
            seen = sorted(label for batch in epoch for label in batch)
            if seen != list(range(count)):
                raise CheckFailed(f"one pass over the {name} loader yields {len(seen)} examples "
                                  f"of a data set of {count}: each must come exactly once")
    return orders


def test_train_loader_reshuffles(student):
    """The training loader yields a new order every epoch"""
    orders = loader_orders(student)["train"]
    first, second = ([label for batch in epoch for label in batch] for epoch in orders)
    if first == second:
        raise CheckFailed("the training loader yields the examples in the same order in two "
                          "epochs: pass shuffle=True, so every epoch sees a new order"
                          + (" (here: the data set's own order)" if first == sorted(first) else ""))


def test_test_loader_keeps_order(student):
    """The test loader yields the data set in its own order, every time"""
    orders = loader_orders(student)["test"]
    flat = [[label for batch in epoch for label in batch] for epoch in orders]
    if any(epoch != list(range(COUNT)) for epoch in flat):
        raise CheckFailed("the test loader shuffles: pass shuffle=False, so evaluation is "
                          "deterministic and comparable from run to run")


@pytest.mark.parametrize("batch_size", [BATCH, None], ids=["batch_size=7", "default 64"])
def test_batch_size(student, batch_size):
    """Both loaders yield batches of batch_size (64 by default); only the last may be smaller"""
    count = COUNT if batch_size else 150
    size = batch_size or 64
    orders = loader_orders(student, batch_size, count)
    expected = [size] * (count // size) + ([count % size] if count % size else [])
    for name in ("train", "test"):
        sizes = [len(batch) for batch in orders[name][0]]
        if sizes != expected:
            call = f"batch_size={batch_size}" if batch_size else "no batch_size (default 64)"
            raise CheckFailed(f"with {call}, the {name} loader yields batches of {sizes[:6]}"
                              f"{' ...' if len(sizes) > 6 else ''} for {count} examples, "
                              f"expected {expected[:6]}{' ...' if len(expected) > 6 else ''}: "
                              "pass batch_size=batch_size to the DataLoader")
