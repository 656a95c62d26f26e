"""How the sandbox writes times and keeps payloads: ISO-8601 strings and compact JSON lines."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson


def iso(t: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string with milliseconds."""
    if t is None:
        return None
    stamp = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def dumps_line(value: Any) -> bytes:
    """One JSON value on one line (orjson emits no newlines without OPT_INDENT_2).

    Copied because orjson's result keeps a 4 KB allocation even for a 300-byte payload, and
    these lines are kept for the whole run.
    """
    return bytes(memoryview(orjson.dumps(value)))
