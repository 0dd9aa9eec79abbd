"""The wire format between the judge and a worker.

A message is JSON plus tensors. Tensors travel in one ``torch.save`` blob that the
receiver opens with ``torch.load(weights_only=True)``, so whatever a worker sends, the
judge never unpickles arbitrary objects: a frame can carry data, never code.

Frame layout: 8-byte big-endian total length, then 4-byte JSON length, the JSON, and the
tensor blob (possibly empty).
"""

from __future__ import annotations

import io
import json
import select
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MAX_FRAME_BYTES = 512 * 1024 * 1024
_TENSOR_KEY = "$tensor"
_ESCAPED_KEY = "$key"


class ProtocolError(Exception):
    """A frame that is malformed, too large, or holds something other than data."""


class ChannelClosed(Exception):
    """The other end closed the connection (for a worker: it exited or was killed)."""


class ChannelTimeout(Exception):
    """No complete frame arrived before the deadline."""


def _plain_tensor(value: torch.Tensor) -> torch.Tensor:
    import torch

    # Strip autograd history and any Tensor subclass a student may have returned.
    return value.detach().as_subclass(torch.Tensor).clone().contiguous()


def encode(message: Any) -> bytes:
    """Serialise nested dicts/lists of JSON scalars and tensors into one payload."""
    import torch  # imported on first use, so starting the sandbox need not wait for torch
    tensors: list[torch.Tensor] = []

    def walk(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            tensors.append(_plain_tensor(value))
            return {_TENSOR_KEY: len(tensors) - 1}
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

    header = json.dumps(walk(message)).encode()
    blob = b""
    if tensors:
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        blob = buffer.getvalue()
    return struct.pack("!I", len(header)) + header + blob


def decode(payload: bytes) -> Any:
    """Inverse of :func:`encode`; refuses anything but plain data and plain tensors."""
    import torch
    if len(payload) < 4:
        raise ProtocolError("truncated frame")
    (header_length,) = struct.unpack("!I", payload[:4])
    try:
        header = json.loads(payload[4 : 4 + header_length])
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from None
    blob = payload[4 + header_length :]
    tensors: list[torch.Tensor] = []
    if blob:
        try:
            tensors = torch.load(io.BytesIO(blob), weights_only=True)
        except Exception as exc:  # any unpickling refusal is a protocol error
            raise ProtocolError(f"frame holds something other than tensors: {exc}") from None
        if not isinstance(tensors, list) or not all(type(t) is torch.Tensor for t in tensors):
            raise ProtocolError("frame holds something other than a list of tensors")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_TENSOR_KEY}:
                index = value[_TENSOR_KEY]
                if not isinstance(index, int) or not 0 <= index < len(tensors):
                    raise ProtocolError("frame refers to a tensor it does not hold")
                return tensors[index]
            return {
                (key[len(_ESCAPED_KEY) :] if key.startswith(_ESCAPED_KEY) else key): walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(header)


def send(sock: socket.socket, message: Any) -> None:
    send_payload(sock, encode(message))


def send_payload(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!Q", len(payload)) + payload)


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
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
    return bytes(chunks)


def receive(sock: socket.socket, deadline: float | None = None) -> Any:
    """Read one message; ``deadline`` is a ``time.monotonic()`` instant or None."""
    (length,) = struct.unpack("!Q", _recv_exactly(sock, 8, deadline))
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes is over the {MAX_FRAME_BYTES} byte limit")
    return decode(_recv_exactly(sock, length, deadline))
