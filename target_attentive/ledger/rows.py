"""The ledger's row shapes and the pure rules on them, with no database library.

Shared by the stores (SQL) and by the in-memory claims of a ledger that is only read
(`memory.py`), which a dry run may use without importing SQLAlchemy (`empty.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

# Opt-in statuses. Every one of them blocks a resend.
PENDING = "pending"  # claimed right before the request that carries it
SUBMITTED = "submitted"  # bulk: in a job Attentive took (202), its results line not read
CONFIRMED = "confirmed"  # Attentive accepted it (single: 202; bulk: a success line)
IN_DOUBT = "in_doubt"  # sent, and whether it was applied cannot be known
OPTIN_STATUSES = (PENDING, SUBMITTED, CONFIRMED, IN_DOUBT)

Claim = tuple[str, str, str]  # (person key or address, channel, signUpSourceId)
OptOut = tuple[str, str, str]  # (address, channel, subscription type)


def unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def claim_rows(claims: Iterable[Claim]) -> list[Claim]:
    """Claims as sorted, unique string triples (rows in key order never deadlock)."""
    return sorted({(str(k), str(c), str(s)) for k, c, s in claims})


def optout_rows(keys: Iterable[OptOut]) -> list[OptOut]:
    """Opt-outs as sorted, unique string triples (rows in key order never deadlock)."""
    return sorted({(str(k), str(c), str(t)) for k, c, t in keys})


def merge_types(
    existing: dict[str, str], asked: dict[str, str], limit: int, counted: Collection[str] = ()
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(types in force for the asked names, names refused by the cap, new names to record).

    The cap counts the recorded names and `counted` (attributes the account has that the
    ledger does not know, such as configured types) together.
    """
    in_force: dict[str, str] = {}
    refused: list[str] = []
    new: dict[str, str] = {}
    room = limit - len(set(existing) | set(counted))
    for name, kind in asked.items():
        if name in existing:
            in_force[name] = existing[name]
        elif room > 0:
            in_force[name] = new[name] = kind
            room -= 1
        else:
            refused.append(name)
    return in_force, refused, new


def empty_counts() -> dict[str, object]:
    """What `counts()` says of a ledger with nothing in it (or none yet)."""
    return {
        "events": 0,
        "optouts": {},
        "people": 0,
        "identifiers": 0,
        "optins": dict.fromkeys(OPTIN_STATUSES, 0),
        "custom_attributes": 0,
        "custom_attributes_claimed": 0,
        "jobs": {},
        "jobs_unreconciled": 0,
    }
