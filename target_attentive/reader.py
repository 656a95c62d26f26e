"""Reading Singer input: blank lines skipped, a bad line named by number, never quoted.

singer-sdk's reader fails the run on a blank line and logs a malformed line in full, three
times (the line is a record: people's data in the log). This reader skips blank lines,
counting them at debug level, and says only the line number and why a line is not a
message.
"""

from __future__ import annotations

import json
import logging
import typing as t
from collections import Counter, defaultdict
from decimal import Decimal

import msgspec
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

logger = logging.getLogger("target-attentive")


# Python refuses to turn more digits than this into an int (CVE-2020-10735); singer-sdk's
# reader then fails the run. Such a number is read as a Decimal: a value, not a crash.
_INT_DIGITS = 4000


def _integer(digits: str) -> int | Decimal:
    return int(digits) if len(digits) < _INT_DIGITS else Decimal(digits)


# The exact decoder, and the reference: `json.loads` with hooks would build a new decoder
# for every line, about half the cost of decoding a record.
_DECODE = json.JSONDecoder(parse_float=Decimal, parse_int=_integer).decode

# msgspec reads a record 2.7x faster (0.83 against 2.24 µs a benchmark line) and gives the
# same values: floats through the same Decimal hook. A line it refuses (NaN, a lone
# surrogate, bad JSON) goes to the exact decoder, which accepts or names it as before. A
# line as long as `_INT_DIGITS` may hold an int the exact decoder reads as a Decimal, where
# msgspec would give an int: such lines skip the fast one.
_FAST = msgspec.json.Decoder(float_hook=Decimal).decode
_FAST_REFUSES = (msgspec.MsgspecError, UnicodeError)


def decode_line(line: str) -> t.Any:
    """A line's JSON value, as `_DECODE` reads it; `json.JSONDecodeError` if it is not JSON."""
    if len(line) < _INT_DIGITS:
        try:
            return _FAST(line)
        except _FAST_REFUSES:
            pass
    return _DECODE(line)


class WaitFlag:
    """Whether a thread is only waiting: shared by the reader and the run."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = False


class InputReader(SingerReader):
    """singer-sdk's reader with line numbers and no message content in its errors."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.blank_lines = 0
        # Set while waiting for the next line (the tap may be silent for a while): the
        # target lets a signal interrupt the reading there. A plain flag: it is set twice
        # per line, where a context manager would cost a few percent of the reading.
        self.waiting = WaitFlag()

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """The SDK's loop over the input (decode, check the type, hand over), minus blank
        lines, with the line numbers; in one loop, since it runs once per record."""
        stats: dict[str, int] = defaultdict(int)
        source = iter(file_input or self.default_input)
        waiting = self.waiting
        decode = self.deserialize_json
        unknown = self._process_unknown_message
        while True:
            waiting.now = True
            line = next(source, None)
            waiting.now = False
            if line is None:
                break
            self.line_number += 1
            if not line or line.isspace():
                self.blank_lines += 1
                continue
            message = decode(line)
            kind = message.get("type")
            if kind is None:
                self.assert_line_requires(message, {"type"})
            callback = callbacks.get(kind)
            if callback is None:
                unknown(message)
            else:
                callback(message)
            stats[kind] += 1
        if self.blank_lines:
            logger.debug("Skipped %d blank input lines", self.blank_lines)
        return Counter(**stats)

    @override
    def deserialize_json(self, line: str) -> dict:
        try:
            message = decode_line(line)
        except json.JSONDecodeError as error:
            exc = error
            if line.startswith("\ufeff"):  # what json.loads says of a byte-order mark
                exc = json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", line, 0)
            raise InvalidInputLine(
                f"input line {self.line_number} is not JSON ({exc.msg}, column {exc.colno}); "
                "the tap wrote something that is not a Singer message"
            ) from None
        except RecursionError:  # Python reads about 990 levels of nesting, no more
            raise InvalidInputLine(
                f"input line {self.line_number} nests its values deeper than Python reads "
                "(about 990 levels); flatten that field in the tap or with a stream map"
            ) from None
        if not isinstance(message, dict):
            raise InvalidInputLine(
                f"input line {self.line_number} is not a JSON object, so not a Singer message"
            )
        return message

    @override
    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:  # type: ignore[override]
        """The SDK's version quotes the whole message in its error: a record, here."""
        missing = requires - set(line_dict)
        if missing:
            raise InvalidInputLine(
                f"input line {self.line_number} ({line_dict.get('type', 'no type')} message) "
                f"lacks {', '.join(sorted(missing))}"
            )
