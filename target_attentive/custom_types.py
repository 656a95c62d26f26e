"""The type of a custom attribute, and its values converted to that type (pure).

Attentive fixes an attribute's type with the first value it receives ("24" for Age makes
it a number) and refuses later values of another type. So the type is decided once, by
the first of: `custom_attribute_types`, the ledger (the type already in the account), the
stream's schema when it says number, integer or boolean, and else the first value itself
(what a CSV tap, whose every column is text, leaves to decide: plain numeric text makes a
number, true/false a boolean, ISO dates a date, anything else text). Every value is then
converted to that type when it plainly is one ("1517.01", "false", "yes" for a boolean),
and left out with a reason when it is not.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from target_attentive.normalize import Invalid, is_truthy, to_number, to_text

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_BOOLEAN_WORDS = frozenset({"true", "false"})
# Text that says "no value" in a number column; it decides no type.
_NOT_A_VALUE = frozenset({"nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity", "null"})
NUMERIC_SCHEMA_TYPES = {"number": "number", "integer": "number", "boolean": "boolean"}


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


def schema_kind(prop: Any) -> str | None:
    """number or boolean when a stream's schema says so of a field, else None (undecided).

    A field typed with several kinds (`["string", "number"]`) decides nothing.
    """
    if not isinstance(prop, Mapping):
        return None
    types = prop.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list):
        return None
    kinds = {NUMERIC_SCHEMA_TYPES.get(t, "string") for t in types if t != "null"}
    return next(iter(kinds)) if len(kinds) == 1 and kinds != {"string"} else None


def value_kind(value: Any) -> str | None:
    """The type a first value decides; None for text that says "no value" (NaN, null)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, (dt.date, dt.datetime)):
        return "date"
    text = str(value).strip()
    if text.lower() in _NOT_A_VALUE:
        return None
    if _NUMBER.match(text):
        return "number"
    if text.lower() in _BOOLEAN_WORDS:
        return "boolean"
    return "date" if _is_date(text) else "string"


def convert(kind: str, value: Any, enum_values: frozenset[str] = frozenset()) -> Any:
    """`value` as an attribute of `kind` takes it, or `Invalid` saying what to change."""
    if kind == "number":
        if isinstance(value, str) and value.strip().lower() in _NOT_A_VALUE:
            raise Invalid("is NaN, an infinity or null, not a number; leave it empty instead")
        try:
            return to_number(value)
        except Invalid:
            raise Invalid(_wrong(kind, value, "plain digits with an optional - and .")) from None
    if kind == "boolean":
        try:
            return is_truthy(value)
        except Invalid:
            raise Invalid(_wrong(kind, value, "true/false, yes/no or 1/0")) from None
    if kind == "date":
        text = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
        if isinstance(text, str) and _is_date(text.strip()):
            return text.strip()
        raise Invalid(_wrong(kind, value, "an ISO-8601 date, YYYY-MM-DD"))
    text = to_text(value)
    if kind == "enum" and text not in enum_values:
        allowed = ", ".join(sorted(enum_values))
        raise Invalid(
            f"is an enum attribute and takes only its existing values ({allowed}); "
            "Attentive does not create new ones"
        )
    return text


def _wrong(kind: str, value: Any, form: str) -> str:
    return (
        f"is a {kind} attribute, and this value is not one ({_shape(value)}); write it as "
        f"{form}, or pin another type in custom_attribute_types"
    )


def _shape(value: Any) -> str:
    """What a value looks like, without quoting it."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    return "text"


class AttributeTypes:
    """The custom attribute types of a run: the account's, and those its first values fix.

    `fixed` gives the types already decided outside this object (configured, in the ledger,
    claimed by planning), read on every lookup so a claim made by planning counts at once.
    Types decided here by a first value are kept for the rest of the run.
    """

    def __init__(
        self, fixed: Callable[[], Mapping[str, str]], enums: Mapping[str, frozenset[str]]
    ) -> None:
        self._fixed = fixed
        self.enums = enums
        self.decided: dict[str, str] = {}

    def kind(self, name: str, value: Any, schema: str | None) -> str | None:
        """The attribute's type; None when nothing decides it yet (a NaN-like first value)."""
        fixed = self._fixed().get(name) or self.decided.get(name)
        return fixed or schema or value_kind(value)

    def decide(self, name: str, kind: str) -> None:
        if name not in self._fixed() and name not in self.decided:
            self.decided[name] = kind
