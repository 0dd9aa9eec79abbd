"""The wire between the judge and a worker (autograder.sandbox.protocol): what it carries
comes back the same, and a frame a worker forged is refused before anything is allocated
from it. (That nothing sent is ever unpickled: test_malicious.)"""

from __future__ import annotations

import json
import socket
import struct

import pytest
import torch

from autograder.sandbox import protocol


def _frame(header: dict, blob: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    encoded += b" " * (-(4 + len(encoded)) % protocol.ALIGNMENT)
    return struct.pack("!I", len(encoded)) + encoded + blob


def test_every_kind_of_value_comes_back_the_same() -> None:
    class Marked(torch.Tensor):
        pass

    tensors = [torch.randn(3, 4), torch.tensor(3.5), torch.zeros(0, 5),
               torch.arange(10).reshape(2, 5).t(),  # not contiguous
               torch.tensor([True, False]), torch.randn(2, dtype=torch.complex64),
               torch.randn(4).to(torch.bfloat16), torch.randn(3, requires_grad=True) * 2,
               torch.randint(0, 255, (7,), dtype=torch.uint8), torch.randn(2).as_subclass(Marked),
               torch.randn(8, 3, 5, 5).to(memory_format=torch.channels_last)]
    message = {"ok": {"tensors": tensors, "$dollar": 1, "none": None, "text": "t",
                      "nested": [[1.5, {"deep": torch.ones(2, dtype=torch.int64)}]]},
               "meta": torch.empty(5, 6, device="meta")}
    back = protocol.decode(protocol.encode(message))
    for sent, got in zip(tensors, back["ok"]["tensors"], strict=True):
        assert type(got) is torch.Tensor and not got.requires_grad
        assert (got.dtype, got.shape) == (sent.dtype, sent.shape)
        assert torch.equal(got, sent.detach().as_subclass(torch.Tensor))
    assert back["ok"]["$dollar"] == 1 and back["ok"]["none"] is None
    assert torch.equal(back["ok"]["nested"][0][1]["deep"], torch.ones(2, dtype=torch.int64))
    assert back["meta"].device.type == "meta" and back["meta"].shape == (5, 6)


def test_tensors_are_aligned_and_independent() -> None:
    """Each decoded tensor starts on an aligned address and owns its elements: writing one
    changes no other."""
    first, second = protocol.decode(protocol.encode([torch.ones(3, dtype=torch.float64),
                                                     torch.ones(5, dtype=torch.int8)]))
    assert first.data_ptr() % first.element_size() == 0
    first.zero_()
    assert torch.equal(second, torch.ones(5, dtype=torch.int8))


def test_a_message_without_tensors_needs_no_tensor_bytes() -> None:
    assert protocol.decode(protocol.encode({"op": "status", "pid": 1})) == {"op": "status", "pid": 1}


@pytest.mark.parametrize("make", [lambda: torch.randn(2, 2).to_sparse(),
                                  lambda: torch.quantize_per_tensor(torch.randn(2), 0.1, 0, torch.qint8),
                                  object], ids=["sparse", "quantized", "object"])
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_what_the_wire_cannot_carry_is_refused_when_sent(make) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"ok": make()})


GOOD = {"tensors": [["float32", [2], "cpu"]], "message": {"$tensor": 0}}


@pytest.mark.parametrize("header, blob, why", [
    ({"ok": 1}, b"", "no message"),
    ({"tensors": [["float32", [4], "cpu"]], "message": {"$tensor": 0}}, bytes(64), None),
    ({"tensors": [["float32", [2**40], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "do not match"),
    ({"tensors": [["float32", [-1], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["float32", [1.5], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["float32", [True], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["object", [2], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["qint8", [2], "cpu"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["float32", [2], "cuda"]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": [["float32", [2]]], "message": {"$tensor": 0}}, bytes(64), "cannot"),
    ({"tensors": "float32", "message": {"$tensor": 0}}, bytes(64), "not a list"),
    (GOOD, bytes(8), "do not match"),
    (GOOD, bytes(128), "do not match"),
    ({"message": 1}, bytes(64), "do not match"),
    ({**GOOD, "message": {"$tensor": 1}}, bytes(64), "does not hold"),
    ({**GOOD, "message": {"$tensor": True}}, bytes(64), "does not hold"),
    ({"tensors": [[["float32"], [1], "cpu"]], "message": 1}, bytes(64), "cannot hold"),
    ({"tensors": [["float32", [1], ["cpu"]]], "message": 1}, bytes(64), "cannot hold"),
    ({"tensors": [["float32", [2**47, 2**15], "meta"]], "message": 1}, b"", "bytes"),
    ({"tensors": [["float32", [0, 2**47, 2**47, 2**47], "cpu"]], "message": 1}, b"", "bytes"),
    ({"tensors": [["float32", [1] * 65, "cpu"]], "message": 1}, bytes(64), "cannot hold"),
    ({"tensors": [["bool", [0], "cpu"]] * (protocol.MAX_TENSORS + 1), "message": 1}, b"",
     "at most"),
    ({"message": [[[[[[[[[[0]]]]]]]]]] * 2}, b"", None),
    ({"tensors": [["uint8", [10**4000] * 64, "cpu"]], "message": 1}, b"", "cannot hold"),
])
def test_a_forged_frame_is_refused(header, blob, why) -> None:
    frame = _frame(header, blob)
    if why is None:  # the controls: well-formed frames of the same shapes decode
        assert protocol.decode(frame) is not None
        return
    with pytest.raises(protocol.ProtocolError, match=why):
        protocol.decode(frame)


def test_nesting_too_deep_for_the_judge_is_refused_as_a_frame() -> None:
    """Not a RecursionError from the judge's own code: a frame it refuses, like any other."""
    deep = "[" * 100_000 + "]" * 100_000
    encoded = ('{"message": ' + deep + "}").encode()
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(struct.pack("!I", len(encoded)) + encoded)
    nested: list = []
    for _ in range(600):  # deep enough for the walk, not for json's C parser
        nested = [nested]
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(_frame({"message": nested}))


def test_conjugate_and_negative_views_travel_as_their_values() -> None:
    value = torch.randn(3, dtype=torch.complex64)
    for view in (value.conj(), torch.randn(3, dtype=torch.complex64).conj().imag, value._neg_view()):
        assert torch.equal(protocol.decode(protocol.encode([view]))[0], view.resolve_conj().resolve_neg())


def test_each_tensor_holds_only_its_own_bytes() -> None:
    """A small tensor from a frame that also held a large one keeps only its own storage."""
    small, large = protocol.decode(protocol.encode([torch.ones(1), torch.zeros(1_000_000)]))
    assert small.untyped_storage().nbytes() == 4
    assert large.untyped_storage().nbytes() == 4_000_000


def test_a_header_too_large_is_refused_unread_and_not_sent() -> None:
    """Plain values cost many times their size to parse: a header over the limit is refused
    before parsing, and a sender is told at once (a worker's reply becomes an error)."""
    header = b'{"message": [' + b"{}," * (protocol.MAX_HEADER_BYTES // 3) + b"{}]}"
    with pytest.raises(protocol.ProtocolError, match="over the"):
        protocol.decode(struct.pack("!I", len(header)) + header)
    with pytest.raises(protocol.ProtocolError, match="large data travels as tensors"):
        protocol.encode({"ok": [0] * (protocol.MAX_HEADER_BYTES // 2)})


def test_an_error_reply_is_read_as_data_of_the_expected_shapes() -> None:
    """Whatever a worker puts in an error (frames that are numbers, lines that are text,
    fields missing), the judge gets strings, integers and at most five frames."""
    import subprocess

    from autograder.judge.outcomes import classify
    from autograder.sandbox.client import StudentError, Worker

    stand_in = subprocess.Popen(["sleep", "30"], start_new_session=True)
    judge_end, worker_end = socket.socketpair()
    worker = Worker(zygote=None, sock=judge_end, pid=stand_in.pid, landlock=0)
    forged = {"type": ["X"], "message": {"m": 1}, "fault": "yes",
              "frames": [1, "f", {"file": "a"}, {"line": "x", "code": 5}] + [{}] * 10}
    protocol.send(worker_end, {"error": forged})
    with pytest.raises(StudentError) as caught:
        worker.call("status", 5)
    info = caught.value.info
    assert info["type"] == "['X']" and info["message"] == "{'m': 1}" and info["fault"] is False
    assert len(info["frames"]) == 5 and all(type(f["line"]) is int and type(f["code"]) is str
                                            for f in info["frames"])
    classify(caught.value)  # the judge's reading of it raises nothing
    stand_in.kill()
    stand_in.wait()
    worker_end.close()
    judge_end.close()


def test_a_reply_that_is_not_a_reply_is_the_workers_fault() -> None:
    """A worker that sends a value where a reply belongs (``5``, ``{"error": "text"}``) gets
    a ProtocolError of its own, and is stopped, like one that sends a malformed frame."""
    import subprocess

    from autograder.sandbox.client import StudentError, Worker

    for forged in (5, "error", {"error": "text"}, {"error": ["a"]}):
        stand_in = subprocess.Popen(["sleep", "30"], start_new_session=True)
        judge_end, worker_end = socket.socketpair()
        worker = Worker(zygote=None, sock=judge_end, pid=stand_in.pid, landlock=0)
        protocol.send(worker_end, forged)
        with pytest.raises(StudentError) as caught:
            worker.call("status", 5)
        assert caught.value.type == "ProtocolError" and not worker.alive
        assert stand_in.wait(5) == -9  # its process group was killed
        worker_end.close()


def test_tensor_bytes_that_do_not_start_aligned_are_refused() -> None:
    encoded = json.dumps(GOOD).encode()
    encoded += b" " * (-(4 + len(encoded)) % protocol.ALIGNMENT + 1)
    with pytest.raises(protocol.ProtocolError, match="aligned"):
        protocol.decode(struct.pack("!I", len(encoded)) + encoded + bytes(64))


def test_a_header_longer_than_its_frame_or_not_json_is_refused() -> None:
    with pytest.raises(protocol.ProtocolError, match="truncated"):
        protocol.decode(struct.pack("!I", 100) + b"{}")
    with pytest.raises(protocol.ProtocolError, match="not JSON"):
        protocol.decode(struct.pack("!I", 3) + b"{{{")


def test_booleans_are_true_or_false_whatever_their_bytes() -> None:
    """A worker may send a bool tensor whose bytes are neither 0 nor 1; the judge reads a
    well-formed one (any byte but 0 is True)."""
    header = {"tensors": [["bool", [3], "cpu"]], "message": {"$tensor": 0}}
    value = protocol.decode(_frame(header, bytes([0, 2, 255]) + bytes(61)))
    assert value.tolist() == [False, True, True]
    assert value.view(torch.uint8).tolist() == [0, 1, 1]


def test_a_message_crosses_a_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        message = {"ok": [torch.arange(6.0).reshape(2, 3), "text"]}
        protocol.send(left, message)
        got = protocol.receive(right, deadline=None)
        assert torch.equal(got["ok"][0], message["ok"][0]) and got["ok"][1] == "text"
        left.sendall(struct.pack("!Q", protocol.MAX_FRAME_BYTES + 1))
        with pytest.raises(protocol.ProtocolError, match="limit"):
            protocol.receive(right)
