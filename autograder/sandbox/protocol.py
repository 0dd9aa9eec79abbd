"""The wire format between the judge and a worker.

A message is JSON plus tensors. A tensor travels as its dtype, shape and raw bytes, nothing
else: the receiver checks the table against the bytes and views them as a tensor, so
whatever a worker sends, the judge never unpickles anything (a frame can carry data, never
code), and a small tensor costs microseconds instead of a ``torch.save`` archive's
milliseconds.

Frame layout: 8-byte big-endian total length, then 4-byte JSON length, the JSON header
(``{"tensors": [[dtype, shape, device], ...], "message": ...}``, a tensor in the message
being ``{"$tensor": index}``; padded with spaces to a multiple of :data:`ALIGNMENT`) and
the tensors' bytes, each starting at a multiple of :data:`ALIGNMENT` (possibly none).
"""

from __future__ import annotations

import functools
import json
import math
import select
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MAX_FRAME_BYTES = 512 * 1024 * 1024
# A header is names, shapes and small values (bulk data travels as tensor bytes); parsing a
# large one costs many times its size (a 30 MB header of empty objects: 1.4 GB, 12 s).
MAX_HEADER_BYTES = 16 * 1024 * 1024
ALIGNMENT = 64  # every tensor's bytes start here, so each dtype's view of them is aligned
_TENSOR_KEY = "$tensor"
_ESCAPED_KEY = "$key"
# Devices a tensor may name: "meta" carries a shape and no bytes; anything else travels
# from the CPU.
_DEVICES = ("cpu", "meta")


class ProtocolError(Exception):
    """A frame that is malformed, too large, or holds something other than data."""


class ChannelClosed(Exception):
    """The other end closed the connection (for a worker: it exited or was killed)."""


class ChannelTimeout(Exception):
    """No complete frame arrived before the deadline."""


# The dtypes a frame may carry: those of whole bytes (not quantized, sub-byte or bit dtypes).
_DTYPE_NAMES = ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32",
                "uint64", "float16", "bfloat16", "float32", "float64", "complex32",
                "complex64", "complex128", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                "float8_e5m2fnuz", "float8_e8m0fnu")
# What a frame may describe: more tensors or dimensions than any reply needs would only make
# the judge allocate (a table entry costs a few bytes of JSON, a tensor far more).
MAX_TENSORS = 65536
MAX_DIMENSIONS = 64


@functools.cache
def _dtypes() -> dict[str, torch.dtype]:
    """Each dtype of :data:`_DTYPE_NAMES` this torch has, by name."""
    import torch

    return {name: getattr(torch, name) for name in _DTYPE_NAMES
            if isinstance(getattr(torch, name, None), torch.dtype)}


def _padded(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT


def _tensor_bytes(value: torch.Tensor) -> tuple[list[Any], memoryview | bytes]:
    """A tensor's table entry and its bytes (a copy only where it is not contiguous)."""
    import torch

    if value.layout != torch.strided or str(value.dtype).removeprefix("torch.") not in _dtypes():
        raise ProtocolError(f"cannot send a {value.layout} tensor of dtype {value.dtype}")
    # A plain tensor, without autograd history or a subclass a student may have returned.
    value = value.detach().as_subclass(torch.Tensor).resolve_conj().resolve_neg()
    entry = [str(value.dtype).removeprefix("torch."), list(value.shape)]
    if value.device.type == "meta":
        return [*entry, "meta"], b""
    flat = value.cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return [*entry, "cpu"], b""
    return [*entry, "cpu"], memoryview(flat.view(torch.uint8).numpy()).cast("B")


def encode(message: Any) -> bytes:
    """Serialise nested dicts/lists of JSON scalars and tensors into one payload."""
    # Without torch imported, no value can be a tensor: a judge that has not needed torch
    # yet need not wait for its import to send a request.
    torch = sys.modules.get("torch")
    table: list[list[Any]] = []
    parts: list[memoryview | bytes] = []

    def walk(value: Any) -> Any:
        if torch is not None and isinstance(value, torch.Tensor):
            entry, data = _tensor_bytes(value)
            table.append(entry)
            parts.append(data)
            return {_TENSOR_KEY: len(table) - 1}
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ProtocolError(f"dictionary keys must be strings, got {type(key).__name__}")
                out[_ESCAPED_KEY + key if key.startswith("$") else key] = walk(item)
            return out
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ProtocolError(f"cannot send a value of type {type(value).__name__}")

    body = walk(message)
    header = json.dumps({"tensors": table, "message": body} if table else {"message": body}
                        ).encode()
    if len(header) > MAX_HEADER_BYTES:  # said here, as an error reply, not as a broken frame
        raise ProtocolError(f"cannot send {len(header)} bytes of plain values (at most "
                            f"{MAX_HEADER_BYTES}): large data travels as tensors")
    if table:  # spaces after the JSON, so that the tensors' bytes start aligned
        header += b" " * (-(4 + len(header)) % ALIGNMENT)
    pieces: list[memoryview | bytes] = [struct.pack("!I", len(header)), header]
    for data in parts:
        pieces.append(data)
        pieces.append(bytes(_padded(len(data)) - len(data)))
    return b"".join(pieces)


def _tensors(table: Any, blob: memoryview) -> list[torch.Tensor]:
    """The tensors ``table`` describes, each viewing its own part of ``blob``; refuses a
    table that does not describe exactly the bytes there are."""
    import torch

    if not isinstance(table, list) or len(table) > MAX_TENSORS:
        raise ProtocolError(f"frame's tensor table is not a list of at most {MAX_TENSORS}")
    dtypes = _dtypes()
    tensors, offset = [], 0
    for entry in table:
        if not (isinstance(entry, list) and len(entry) == 3 and type(entry[0]) is str
                and entry[0] in dtypes and type(entry[2]) is str and entry[2] in _DEVICES
                and isinstance(entry[1], list) and len(entry[1]) <= MAX_DIMENSIONS
                and all(type(size) is int and 0 <= size < 1 << 62 for size in entry[1])):
            raise ProtocolError(f"frame describes a tensor it cannot hold: {str(entry)[:200]}")
        dtype, shape = dtypes[entry[0]], entry[1]
        size = math.prod(shape) * dtype.itemsize
        # No tensor this large can exist, even on the meta device; nor can its strides (an
        # empty tensor of shape [0, 2**47, 2**47] has none torch can compute).
        if math.prod(max(n, 1) for n in shape) * dtype.itemsize >= 1 << 62:
            raise ProtocolError("frame describes a tensor of more bytes than can exist: "
                                f"{str(shape)[:200]}")
        if entry[2] == "meta":
            tensors.append(torch.empty(shape, dtype=dtype, device="meta"))
            continue
        if offset + size > len(blob):
            raise ProtocolError("frame's bytes do not match its tensor table")
        if size == 0:
            tensors.append(torch.empty(shape, dtype=dtype))
        elif dtype == torch.bool:  # any byte but 0 is True, as a new tensor holds it
            tensors.append((torch.frombuffer(blob, dtype=torch.uint8, count=size, offset=offset)
                            != 0).reshape(shape))
        else:  # a storage of its own over the frame's bytes: no copy, no view of the others
            tensors.append(torch.frombuffer(blob, dtype=dtype, count=size // dtype.itemsize,
                                            offset=offset).reshape(shape))
        offset += _padded(size)
    if offset != len(blob):
        raise ProtocolError("frame's bytes do not match its tensor table")
    return tensors


def decode(payload: bytes | bytearray) -> Any:
    """Inverse of :func:`encode`; refuses anything but plain data and plain tensors, with a
    :class:`ProtocolError` whatever is wrong with the frame.

    A tensor decoded from a ``bytearray`` views it (no copy); one from ``bytes`` is copied,
    since a tensor must not view memory that Python assumes will never change.
    """
    try:
        return _decode(payload)
    except ProtocolError:
        raise
    except (RecursionError, RuntimeError, TypeError, ValueError, OverflowError, MemoryError
            ) as exc:  # nested too deeply, or sizes torch refuses
        raise ProtocolError(f"frame cannot be read: {type(exc).__name__}: {str(exc)[:200]}"
                            ) from None


def _decode(payload: bytes | bytearray) -> Any:
    if len(payload) < 4:
        raise ProtocolError("truncated frame")
    (header_length,) = struct.unpack("!I", payload[:4])
    if 4 + header_length > len(payload):
        raise ProtocolError("truncated frame")
    if header_length > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {header_length} bytes is over the "
                            f"{MAX_HEADER_BYTES} byte limit")
    try:
        header = json.loads(bytes(memoryview(payload)[4 : 4 + header_length]))
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict) or "message" not in header:
        raise ProtocolError("frame header holds no message")
    if not isinstance(payload, bytearray):
        payload = bytearray(payload)
    blob = memoryview(payload)[4 + header_length:]
    if "tensors" in header and (4 + header_length) % ALIGNMENT:
        raise ProtocolError("frame's tensor bytes do not start aligned")
    tensors = _tensors(header["tensors"], blob) if "tensors" in header else []
    if not tensors and len(blob):
        raise ProtocolError("frame's bytes do not match its tensor table")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_TENSOR_KEY}:
                index = value[_TENSOR_KEY]
                if type(index) is not int or not 0 <= index < len(tensors):
                    raise ProtocolError("frame refers to a tensor it does not hold")
                return tensors[index]
            return {
                (key[len(_ESCAPED_KEY) :] if key.startswith(_ESCAPED_KEY) else key): walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(header["message"])


def send(sock: socket.socket, message: Any) -> None:
    send_payload(sock, encode(message))


def send_payload(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!Q", len(payload)))  # not prefixed: a copy of a large payload
    sock.sendall(payload)


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout()
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                raise ChannelTimeout()
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise ChannelClosed()
        chunks += chunk
    return chunks


def receive(sock: socket.socket, deadline: float | None = None) -> Any:
    """Read one message; ``deadline`` is a ``time.monotonic()`` instant or None."""
    (length,) = struct.unpack("!Q", _recv_exactly(sock, 8, deadline))
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes is over the {MAX_FRAME_BYTES} byte limit")
    return decode(_recv_exactly(sock, length, deadline))
