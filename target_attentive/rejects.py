"""The rejects file: every record the target sets aside, with a reason a person can act on.

Two kinds of JSON line, told apart by `outcome`:

- `"rejected"`, one per record set aside: `stream`, `position` (the record's 1-based place
  in its stream in this run), the `record` as the sink saw it, the `payload` if one was
  built, the `reason`, the HTTP `status` and the API's `api_message` when Attentive
  refused it, `attempts` and the `time`. A person Attentive refused inside a bulk job is
  one line, with the (last) record they came from.
- `"omitted"`, one per field left out of a record that was still sent: `stream`,
  `position`, `field`, `reason`, `record`, `time`. Not a reject: not counted toward
  `max_rejects`.

The file is fsynced before the batch that produced it counts as done, so a state line
never covers a reject that a crash could lose.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

from target_attentive.jsonl import LinesFile


class TooManyRejects(RuntimeError):
    """`max_rejects` was passed: the run stops rather than set aside a whole table."""


class RejectsFile:
    """The one file of records set aside and fields left out, shared by every sink."""

    def __init__(self, path: str, max_rejects: int | None = None) -> None:
        self._lines = LinesFile(path)
        self.max_rejects = max_rejects
        self.reasons: Counter[str] = Counter()
        self.omitted = 0  # omission lines: not rejects, not counted toward max_rejects
        self._lock = threading.Lock()  # the background batch rejects too

    @property
    def path(self) -> str:
        return self._lines.path

    @property
    def count(self) -> int:
        return self._lines.lines - self.omitted

    def add(
        self,
        *,
        stream: str,
        position: int | None,
        record: Any,
        reason: str,
        payload: dict | None = None,
        status: int | None = None,
        api_message: str | None = None,
        attempts: int = 0,
        reason_key: str | None = None,
    ) -> None:
        """Write one reject; `reason_key` groups it in the report (default: the reason)."""
        entry: dict[str, Any] = {
            "outcome": "rejected",
            "stream": stream,
            "position": position,
            "reason": reason,
            "status": status,
            "api_message": api_message,
            "attempts": attempts,
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "record": record,
            "payload": payload,
        }
        with self._lock:
            self._lines.write(entry)
            self.reasons[reason_key or reason] += 1

    def omit(self, *, stream: str, position: int, record: Any, field: str, reason: str) -> None:
        """Write one field left out of a record that is still sent (its own kind of line)."""
        entry: dict[str, Any] = {
            "outcome": "omitted",
            "stream": stream,
            "position": position,
            "field": field,
            "reason": reason,
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "record": record,
        }
        with self._lock:
            self._lines.write(entry)
            self.omitted += 1

    def check_limit(self) -> None:
        if self.max_rejects is not None and self.count > self.max_rejects:
            raise TooManyRejects(
                f"{self.count} records rejected, more than max_rejects={self.max_rejects}; "
                f"read the reasons in {self.path}, fix the mapping or the data, and rerun "
                "(or raise max_rejects)"
            )

    def make_durable(self) -> None:
        with self._lock:
            self._lines.make_durable()

    def close(self) -> None:
        self._lines.close()
