"""Frames between the reading process (sender.py) and the sending process (sender_child.py).

A batch goes over as one frame and its outcome comes back as one. A frame is a 4-byte
big-endian length and a JSON object, over the child's stdin and stdout:

    parent -> child   {"kind": "start", "settings": Settings.to_wire(), "log_level": 20}
                      {"kind": "batch", "batch": 7, "stream": "s",
                       "people": [Outgoing.to_wire(), ...]}
                      {"kind": "batch", "batch": 8, "stream": "s", "people": [],
                       "v1": [KindOutgoing.to_wire(), ...]}   (events, opt-outs)
                      {"kind": "stop"}             (a signal in the parent: finish what is
                                                    in flight, send nothing more)
    child -> parent   {"kind": "requests", "counts": {...}}   (request counters, as they go)
                      {"kind": "sent", "batch": 7, **Sent.to_wire(), "counts": {...}}
                       (also when the batch failed: `error` names why, and the accepted
                       are still listed)
"""

from __future__ import annotations

import struct
from typing import IO, Any

from target_attentive.jsonl import dumps, loads

_HEADER = struct.Struct(">I")


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    data = dumps(message)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next frame, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return loads(data)
