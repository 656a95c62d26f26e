"""Reading a bulk job's results file, which Attentive does not document (pure).

A wrong "refused" would forget a person and release their opt-in, so that the next run
texts them a second time; so a line counts only in a form a test of this project shows:

    {"request": {"identifiers": {...}, ...},
     "response": {"status": 202, "message": "..."}}

with `statusCode` for `status` and `body` for `message` also read. The status must be a
JSON integer: a 2xx is a success, a 4xx that says "not this body" (400, 409, 422, ...) a
refusal. Anything else (text such as "SUCCESS", an object, another key, a 5xx or 429, a
person not in the job, two lines that disagree about one person) is unknown, and settles
nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from target_attentive.keys import person_key
from target_attentive.retry import Outcome, classify_status


@dataclass(frozen=True)
class LineOutcome:
    """What a results line says of one person."""

    accepted: bool
    status: int
    message: str
    request: dict | None = None


def read_results(
    lines: Iterable[bytes], keys: Collection[str]
) -> tuple[dict[str, LineOutcome], int]:
    """The outcome of each person (by ledger key) that a line speaks of, and how many
    non-blank lines could not be read."""
    outcomes: dict[str, LineOutcome] = {}
    disputed: set[str] = set()
    unreadable = 0
    for raw in lines:
        if not raw.strip():
            continue
        read = read_line(raw, keys)
        if read is None:
            unreadable += 1
            continue
        key, outcome = read
        if key in disputed:
            unreadable += 1
        elif key in outcomes and outcomes[key].accepted != outcome.accepted:
            disputed.add(key)
            del outcomes[key]
            unreadable += 2
        else:
            outcomes[key] = outcome
    return outcomes, unreadable


def read_line(raw: bytes, keys: Collection[str]) -> tuple[str, LineOutcome] | None:
    """(person key, outcome) of one line, or None when it is not in a known form."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(line, dict):
        return None
    request, response = line.get("request"), line.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return None
    identifiers = request.get("identifiers")
    try:
        key = person_key(identifiers) if isinstance(identifiers, dict) else None
    except (ValueError, KeyError, TypeError):
        key = None
    if key is None or key not in keys:
        return None
    status = response["status"] if "status" in response else response.get("statusCode")
    if type(status) is not int:  # a bool is an int to Python, not to this reader
        return None
    outcome = classify_status(status)
    if outcome not in (Outcome.ACCEPTED, Outcome.REFUSED):
        return None
    return key, LineOutcome(outcome is Outcome.ACCEPTED, status, _message(response), request)


def _message(response: dict[str, Any]) -> str:
    message = response.get("message") or response.get("body") or "no reason given"
    if not isinstance(message, str):
        message = orjson.dumps(message).decode()
    return message
