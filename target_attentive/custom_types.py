"""The type a custom attribute value gives the attribute, and what a type accepts (pure).

Attentive fixes an attribute's type with the first value it receives ("24" for Age makes
it a number) and refuses later values of another type. The ledger remembers the types as
first sent; these functions decide before sending, so the refusal is the target's, with
a reason, instead of a 400 for a whole bulk request.
"""

from __future__ import annotations

import datetime as dt
import re

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _is_date(text: str) -> bool:
    if len(text) < 10 or text[4] != "-":
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def infer_type(value: str | int | float | bool) -> str:
    """boolean, number, date or string, as Attentive reads a first value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if _NUMBER.match(value):
        return "number"
    if _is_date(value):
        return "date"
    return "string"


def accepts(
    kind: str, value: str | int | float | bool, enum_values: frozenset[str] = frozenset()
) -> bool:
    """Whether an attribute of `kind` takes `value`."""
    given = infer_type(value)
    if kind == "enum":
        return isinstance(value, str) and value in enum_values
    if kind == "string":
        return isinstance(value, str)
    return given == kind
