"""Who an event or an opt-out is about: the v1 `user` object (pure).

Phones go to E.164 and emails are trimmed and lowercased by the same functions the user
upsert uses, so one person has one key in the ledger whichever kind carried them. A bad
identifier is omitted, never sent: a wrong value can tie an event to someone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_attentive.kinds.shapes import UserMapping
from target_attentive.normalize import Invalid, normalize_email, normalize_phone, to_text
from target_attentive.problems import Problem
from target_attentive.reading import first_value

MAX_IDENTIFIER_LENGTH = 100
NO_IDENTIFIER = "no identifier left to send; map at least one valid phone, email or external id"


def build_user(
    record: Mapping, mapping: UserMapping, region: str, omissions: list[Problem]
) -> dict[str, Any]:
    """`{phone, email, externalIdentifiers}` with what is valid; bad values become omissions."""
    user: dict[str, Any] = {}
    for name, sources, convert in (
        ("phone", mapping.phone, lambda v: normalize_phone(v, region)),
        ("email", mapping.email, normalize_email),
    ):
        if sources:
            value = _converted(record, sources, convert, f"user.{name}", omissions)
            if value is not None:
                user[name] = value
    external: dict[str, Any] = {}
    if mapping.client_user_id:
        here = "user.externalIdentifiers.clientUserId"
        value = _converted(record, mapping.client_user_id, _identifier, here, omissions)
        if value is not None:
            external["clientUserId"] = value
    custom = []
    for name, sources in mapping.custom:
        here = f"user.externalIdentifiers.customIdentifiers.{name}"
        value = _converted(record, sources, _identifier, here, omissions)
        if value is not None:
            custom.append({"name": name, "value": value})
    if custom:
        external["customIdentifiers"] = custom
    if external:
        user["externalIdentifiers"] = external
    return user


def _identifier(value: Any) -> str | None:
    text = to_text(value)
    if text is not None and len(text) > MAX_IDENTIFIER_LENGTH:
        raise Invalid(f"is longer than Attentive's {MAX_IDENTIFIER_LENGTH} characters for an id")
    return text


def _converted(
    record: Mapping, sources: tuple[str, ...], convert: Any, here: str, omissions: list[Problem]
) -> Any:
    try:
        return convert(first_value(record, sources))
    except Invalid as exc:
        omissions.append(Problem(here, str(exc)))
        return None
