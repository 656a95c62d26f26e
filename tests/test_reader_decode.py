"""The reader's fast decoder must read every line as the exact one does, or hand it over."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_attentive.reader import _DECODE, _INT_DIGITS, decode_line


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types, Decimals to the digit ('1.50' is not '1.5')."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (Decimal, float)):  # NaN is not equal to itself
        return str(a) == str(b)
    return a == b


_NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.integers(min_value=0, max_value=10**60).map(lambda n: f"-{n}"),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)


def _json_text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    if isinstance(value, _Raw):
        return value.text
    return json.dumps(value, ensure_ascii=False)


class _Raw:
    """A number written as its own text, so the decoders see exactly these digits."""

    def __init__(self, text: str) -> None:
        self.text = text


_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    _NUMBER_TEXT.map(_Raw),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(
    st.dictionaries(st.text(max_size=10), _VALUE, max_size=6), st.sampled_from(["", "\n", " \r\n"])
)
@example({"n": _Raw("1.50"), "e": _Raw("1E2"), "z": _Raw("-0"), "s": "\u00e9\u0000"}, "\n")
def test_fast_decoder_reads_lines_as_the_exact_one(message: dict, end: str) -> None:
    line = _json_text(message) + end
    assert _same(decode_line(line), _DECODE(line)), line


@pytest.mark.parametrize(
    "line",
    [
        '{"a": NaN}',  # json accepts it; msgspec does not
        '{"a": Infinity, "b": -Infinity}',
        '{"a": "\\ud800"}',  # a lone surrogate escaped
        '{"a": "\ud800"}',  # and raw in the Python string
        '{"a": ' + "9" * 4200 + "}",  # an int msgspec reads but the reader keeps a Decimal
        '{"a": ' + "9" * 5000 + "}",  # past Python's int-to-str limit
        '{"a": 1e400, "b": 1.0e-400}',
    ],
)
def test_lines_the_fast_decoder_refuses_or_would_read_otherwise(line: str) -> None:
    assert _same(decode_line(line), _DECODE(line))


def test_a_long_line_has_the_exact_decoder_s_large_numbers() -> None:
    digits = "7" * _INT_DIGITS
    assert decode_line('{"a": ' + digits + "}") == {"a": Decimal(digits)}


@pytest.mark.parametrize("line", ['{"a": 1', '{"a": "x\x01"}', "{} x", "\ufeff{}"])
def test_what_is_not_json_raises_the_exact_decoder_s_error(line: str) -> None:
    with pytest.raises(json.JSONDecodeError) as fast:
        decode_line(line)
    with pytest.raises(json.JSONDecodeError) as exact:
        _DECODE(line)
    assert (fast.value.msg, fast.value.pos) == (exact.value.msg, exact.value.pos)
