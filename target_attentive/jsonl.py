"""Encoding for the JSON-lines files the target writes (dry run, rejects).

Records from the SDK carry `Decimal` and date objects; orjson writes datetimes natively
and is several times faster than the standard library on the dry-run path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from decimal import Decimal
from typing import IO, Any

import orjson

_INT64 = 2**63  # orjson writes integers of 64 bits; JSON numbers have no such limit
MAX_DEPTH = 200  # orjson writes 254 levels; json_safe takes two frames a level
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels: not written)"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):  # as orjson writes them
        return value.isoformat()
    return str(value)


def _decimal(value: Decimal) -> Any:
    """A JSON number where one fits; the digits as text where none does.

    `int(Decimal("1E+999999999"))` would build a billion-digit integer (minutes of CPU), and
    orjson takes integers of 64 bits only: a record line keeps such a number as text.
    """
    if not value.is_finite():
        return str(value)
    exponent = value.adjusted()
    if value == value.to_integral_value() and exponent < 18:
        return int(value)
    if -300 < exponent < 300:
        return float(value)
    return str(value)


def json_safe(value: Any, depth: int = 0) -> Any:
    """`value` with every number beyond 64 bits (or a double's reach) as its text, keys
    that are not text as text, what is not a finite number as null (as orjson has it), and
    what is nested deeper than `MAX_DEPTH` as a note saying so: Python's recursion limit
    would stop the run there (a tap's JSON may nest up to about 990 levels)."""
    if isinstance(value, (dict, list, tuple, set, frozenset)) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            k if isinstance(k, str) else str(k): json_safe(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        return str(value) if value.bit_length() < 10_000 else "(a number too long to write)"
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > 18:
        return str(value)
    return value


def dumps(value: Any) -> bytes:
    """One JSON document as bytes, without a newline; whatever a record holds.

    orjson refuses keys that are not text, whole numbers beyond 64 bits and text that is
    not Unicode (a lone surrogate, which JSON's `\\ud800` escapes can carry): a tap's JSON
    may hold any of them. Such a value is written again, more slowly, by the standard
    library: those keys and numbers as text (`json_safe`), as a line of the rejects file
    writes them, and every character past ASCII as its escape, so nothing is lost.
    """
    try:
        return orjson.dumps(value, default=_default)
    except orjson.JSONEncodeError:
        text = json.dumps(json_safe(value), default=_default, separators=(",", ":"))
        return text.encode()


def loads(data: bytes | str) -> Any:
    """What `dumps` wrote, read back: orjson refuses a lone surrogate's escape, which the
    standard library reads (it is the one that wrote it)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


class LinesFile:
    """An append-only JSON-lines file, made durable on demand.

    Opened lazily so that a run without rejects leaves no empty file behind.
    """

    def __init__(self, path: str, *, append: bool = True) -> None:
        self.path = path
        self.mode = "ab" if append else "wb"
        self._file: IO[bytes] | None = None
        self._dirty = False
        self.lines = 0

    def write(self, value: Any) -> None:
        self.write_raw(dumps(value))

    def write_raw(self, line: bytes) -> None:
        self._opened().write(line + b"\n")
        self._dirty = True
        self.lines += 1

    def write_many(self, values: list[Any]) -> None:
        """Several lines in one write: a dry run's batch."""
        if values:
            self._opened().write(b"\n".join([dumps(v) for v in values]) + b"\n")
            self._dirty = True
            self.lines += len(values)

    def _opened(self) -> IO[bytes]:
        if self._file is None:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            self._file = open(self.path, self.mode)  # noqa: SIM115 - kept open for the run
        return self._file

    def make_durable(self) -> None:
        """Flush and fsync: after this, what was written survives a crash."""
        if self._file is not None and self._dirty:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def close(self) -> None:
        if self._file is not None:
            self.make_durable()
            self._file.close()
            self._file = None
