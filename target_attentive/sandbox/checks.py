"""Checks both API versions' rules share: value kinds, unknown fields, phones, emails, ids.

Pure functions returning an error message (``"<field path>: <problem>"``) or ``None``, so
that v1 and v2 name a bad phone or a misspelt field in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

MAX_IDENTIFIER_LENGTH = 100
PHONE_RE = re.compile(r"\+[1-9]\d{6,14}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def kind_of(value: Any) -> str:
    """Name a JSON value's type the way an error message should."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def unknown(path: str, keys: Collection[str], allowed: Collection[str]) -> str | None:
    """Name the first key that the API does not know, listing the ones it does."""
    for key in keys:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            return f"{where}: unknown field (allowed: {', '.join(sorted(allowed))})"
    return None


def text(path: str, value: Any, limit: int | None = None) -> str | None:
    """A present, non-blank string (of at most ``limit`` characters)."""
    if not isinstance(value, str):
        return f"{path}: must be a string, got {kind_of(value)}"
    if not value.strip():
        return f"{path}: must not be empty"
    if limit is not None and len(value) > limit:
        return f"{path}: longer than {limit} characters ({len(value)})"
    return None


def identifier(path: str, value: Any) -> str | None:
    """What every identifier value shares: a non-blank string of at most 100 characters."""
    if value is None:
        return f"{path}: must not be null (omit the identifier instead)"
    if isinstance(value, str) and not value.strip():
        return f"{path}: must not be empty (omit the identifier instead)"
    return text(path, value, MAX_IDENTIFIER_LENGTH)


def contact(path: str, name: str, value: Any) -> str | None:
    """An identifier; when ``name`` is phone, in E.164; when email, an address."""
    error = identifier(path, value)
    if error:
        return error
    if name == "phone" and not PHONE_RE.fullmatch(value):
        return f"{path}: {value!r} is not an E.164 phone number (like +19148440001)"
    if name == "email" and not EMAIL_RE.fullmatch(value):
        return f"{path}: {value!r} is not an email address"
    return None


def custom_identifiers(path: str, value: Any, key: str, other: str, version: str) -> str | None:
    """A non-empty array of ``{<key>, value}``; ``other`` is the other version's word for key
    (v2 says ``key``, v1 ``name``), named in the error when a client mixes them up."""
    if value is None:
        return f"{path}: must not be null (omit the identifier instead)"
    if not isinstance(value, list):
        return f"{path}: must be an array of {{{key}, value}} objects, got {kind_of(value)}"
    if not value:
        return f"{path}: must not be empty (omit the identifier instead)"
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            return f"{where}: must be an object with {key} and value, got {kind_of(item)}"
        if other in item and key not in item:
            return f"{where}.{other}: unknown field ({version} calls it {key!r})"
        error = unknown(where, item, (key, "value"))
        if error:
            return error
        for part in (key, "value"):
            if part not in item:
                return f"{where}.{part}: required"
            error = identifier(f"{where}.{part}", item[part])
            if error:
                return error
    return None


def object_with(path: str, value: Any, allowed: Collection[str]) -> str | None:
    """An object whose keys are all in ``allowed``; ``path`` "" is the request body."""
    if not isinstance(value, dict):
        return (
            f"{path or 'body'}: must be {'an' if path else 'a JSON'} object, got {kind_of(value)}"
        )
    return unknown(path, value, allowed)
