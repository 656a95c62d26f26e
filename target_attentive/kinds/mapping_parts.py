"""Read the parts every kind's mapping shares: sources, fixed-or-field pairs, identifiers.

Each helper appends its problems, each starting with the setting path, and returns what
it could compile, so `compile.py` lists every problem of a mapping at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from typing import Any

from target_attentive.kinds.shapes import UNSUBSCRIBE, Sources, UserMapping

# v1 events know phone, email and externalIdentifiers; unsubscribe only phone and email.
_EVENT_IDENTIFIERS = ("email", "phone", "clientUserId")
_DEFAULT_EVENT_IDENTIFIERS = {
    "email": "email",
    "phone": "phone",
    "clientUserId": ["clientUserId", "client_user_id"],
}
_DEFAULT_OPTOUT_IDENTIFIERS = {"email": "email", "phone": "phone"}


def flatten(value: MappingABC, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys and the nested objects Meltano expands them into, read as one."""
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, MappingABC):
            yield from flatten(item, name)
        else:
            yield name, item


def sources(value: Any, here: str, problems: list[str]) -> Sources:
    """One field name or a list of them, the first present winning, as `mapping.py` reads."""
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    problems.append(f"{here}: must name a source field (text) or a list of them")
    return ()


def optional_sources(raw: MappingABC, key: str, where: str, problems: list[str]) -> Sources:
    """Unset (absent or null) is the empty tuple, which builders read as not mapped."""
    if raw.get(key) is None:
        return ()
    return sources(raw[key], f"{where}.{key}", problems)


def fixed_or_field(
    raw: MappingABC, key: str, where: str, problems: list[str], required: bool
) -> tuple[Any, Sources]:
    """A fixed value (`key`) or a source field (`key_field`), never both."""
    fixed, field = raw.get(key), raw.get(f"{key}_field")
    if fixed is not None and field is not None:
        problems.append(
            f"{where}: set {key} (a fixed value) or {key}_field (a source field), not both"
        )
        return None, ()
    if fixed is None and field is None and required:
        problems.append(
            f"{where}.{key}: required; set {key} (a fixed value) or {key}_field (a source field)"
        )
    return fixed, optional_sources(raw, f"{key}_field", where, problems)


def choice(value: Any, choices: tuple[str, ...], here: str, problems: list[str]) -> str | None:
    """A fixed enum value in any case, as YAML and environment variables write it."""
    if value is None:
        return None
    word = value.strip().upper() if isinstance(value, str) else ""
    if word not in choices:
        problems.append(f"{here}: must be one of {', '.join(choices)}")
        return None
    return word


def user_mapping(raw: Any, kind: str, where: str, problems: list[str]) -> UserMapping:
    """`identifiers` as a users mapping writes them, limited to what the v1 endpoint takes.

    Unset means email and phone (and clientUserId for events), as the default mapping reads.
    """
    here = f"{where}.identifiers"
    optout = kind == UNSUBSCRIBE
    if raw is None:
        raw = _DEFAULT_OPTOUT_IDENTIFIERS if optout else _DEFAULT_EVENT_IDENTIFIERS
    if not isinstance(raw, MappingABC):
        problems.append(f"{here}: must be an object of identifier name to source field")
        return UserMapping()
    known = ("email", "phone") if optout else _EVENT_IDENTIFIERS
    found: dict[str, Sources] = {}
    custom: list[tuple[str, Sources]] = []
    for key, value in flatten(raw):
        at = f"{here}.{key}"
        if key.startswith("customIdentifiers.") and not optout:
            name = key[len("customIdentifiers.") :]
            if not name.strip():
                problems.append(f"{at}: a custom identifier needs a name")
                continue
            custom.append((name, sources(value, at, problems)))
        elif key in known:
            found[key] = sources(value, at, problems)
        else:
            more = "" if optout else " or customIdentifiers.<name>"
            endpoint = "unsubscribe" if optout else "v1 events"
            problems.append(
                f"{at}: Attentive's {endpoint} take no identifier {key!r}; "
                f"use {', '.join(known)}{more}"
            )
    if not found and not custom:
        problems.append(f"{here}: map at least one identifier ({', '.join(known)})")
    return UserMapping(
        email=found.get("email", ()),
        phone=found.get("phone", ()),
        client_user_id=found.get("clientUserId", ()),
        custom=tuple(custom),
    )
