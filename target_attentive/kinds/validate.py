"""Check a v1 body against the project's JSON Schema of its kind, then the rules (pure).

One validator per kind, as `validation.py` does for the user upsert (jsonschema-rs, for
speed, since this runs once per record). Failures become `Problem`s built from each
error's fields, never from its message, which quotes the value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.resources import files
from typing import Any

import jsonschema_rs

from target_attentive.kinds.rules import custom_event_rules, ecommerce_rules, unsubscribe_rules
from target_attentive.kinds.shapes import CUSTOM_EVENT, ECOMMERCE_KINDS, UNSUBSCRIBE
from target_attentive.problems import Problem
from target_attentive.validation import json_path


def _load(name: str) -> dict[str, Any]:
    return json.loads(files("target_attentive").joinpath(f"schemas/{name}.json").read_text())


SCHEMAS: dict[str, dict[str, Any]] = {
    name: _load(name) for name in ("custom_event", "ecommerce_event", "unsubscribe")
}
_VALIDATORS = {name: jsonschema_rs.validator_for(schema) for name, schema in SCHEMAS.items()}

_NO_IDENTIFIER = "no identifier; map at least one of phone, email or an external identifier"
_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true/false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_PATTERN_WORDS = {
    "phone": "not in E.164 (+<country code><number>, digits only)",
    "email": "not an email address",
    "occurredAt": "not an RFC 3339 date-time with a UTC offset (2024-05-01T14:30:00Z)",
    "currency": "not an ISO 4217 currency code (three capital letters, like USD)",
    "properties": "a property name is blank; name every property",
}


def validate_custom_event(payload: dict) -> list[Problem]:
    """Problems with a custom event body; empty when Attentive should take it."""
    return _schema_problems("custom_event", payload) or custom_event_rules(payload)


def validate_ecommerce_event(payload: dict, kind: str) -> list[Problem]:
    """Problems with a product view, add to cart or purchase body (`kind` says which)."""
    return _schema_problems("ecommerce_event", payload) or ecommerce_rules(payload, kind)


def validate_unsubscribe(payload: dict) -> list[Problem]:
    """Problems with an unsubscribe body."""
    return _schema_problems("unsubscribe", payload) or unsubscribe_rules(payload)


def validate_kind_payload(kind: str, payload: dict) -> list[Problem]:
    """The validator of `kind`, for callers that route by kind."""
    if kind == CUSTOM_EVENT:
        return validate_custom_event(payload)
    if kind in ECOMMERCE_KINDS:
        return validate_ecommerce_event(payload, kind)
    if kind == UNSUBSCRIBE:
        return validate_unsubscribe(payload)
    raise ValueError(f"no v1 body for kind {kind!r}")


def _schema_problems(name: str, payload: Any) -> list[Problem]:
    """Never raises: a value JSON cannot carry becomes a problem naming its field."""
    validator = _VALIDATORS[name]
    try:
        if validator.is_valid(payload):
            return []
        errors = list(validator.iter_errors(payload))
    except ValueError:
        return _not_json(payload, "") or [Problem("payload", "holds a value JSON cannot carry")]
    problems: list[Problem] = []
    for error in errors:
        for problem in _explain(name, error):
            if problem not in problems:
                problems.append(problem)
    return problems


def _explain(schema: str, error: Any) -> list[Problem]:
    where = json_path(list(error.instance_path))
    kind = error.kind
    name = type(kind).__name__
    last = where.rsplit(".", 1)[-1]
    if name == "Required":
        field = f"{where}.{kind.property}" if where else kind.property
        return [Problem(field, "missing; it is required here")]
    if name == "MinProperties" and last in ("user", "externalIdentifiers"):
        return [Problem(where, _NO_IDENTIFIER)]
    if name == "AdditionalProperties":
        known = _known_keys(schema, list(error.schema_path)[:-1])
        hint = f" (known: {', '.join(known)})" if known else ""
        return [
            Problem(f"{where}.{key}" if where else key, f"Attentive has no such field{hint}")
            for key in kind.unexpected
        ]
    if name in ("Pattern", "PropertyNames"):
        return [Problem(where, _PATTERN_WORDS.get(last, "is not in a form Attentive accepts"))]
    if name == "Enum":
        return [Problem(where, f"must be one of {', '.join(map(str, kind.options))}")]
    if name == "MaxLength":
        return [Problem(where, f"longer than Attentive's {kind.limit} characters for an id")]
    if name in ("MinLength", "MinProperties", "MinItems"):
        return [Problem(where or "payload", "is empty; leave it out instead")]
    if name in ("Minimum", "Maximum"):
        return [Problem(where, "is out of the range Attentive takes (64-bit whole numbers)")]
    if name == "Type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in kind.types)
        return [Problem(where or "payload", f"has the wrong type ({expected} expected)")]
    return [Problem(where or "payload", "is not in a form Attentive accepts")]


def _known_keys(schema: str, schema_path: list[Any]) -> list[str]:
    node: Any = SCHEMAS[schema]
    for part in schema_path:
        node = node.get(part) if isinstance(node, dict) else None
    return list(node.get("properties", {})) if isinstance(node, dict) else []


def _not_json(value: Any, where: str) -> list[Problem]:
    """Name the values JSON cannot carry (only on the rare path where jsonschema-rs raised)."""
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(Problem(where or "payload", "has a field name that is not text"))
                continue
            problems += _not_json(item, f"{where}.{key}" if where else key)
        return problems
    if isinstance(value, (list, tuple)):
        problems = []
        for index, item in enumerate(value):
            problems += _not_json(item, f"{where}[{index}]")
        return problems
    if value is None or isinstance(value, (str, int, float, Decimal)):
        return []
    return [Problem(where, f"is a {type(value).__name__}, which JSON cannot carry; map text")]
