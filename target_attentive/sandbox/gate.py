"""The checks every API request passes before its body is read, for v1 and v2 alike.

Attentive's order: auth (401, then 403), route (404, 405), the endpoint's rate limit (429),
then an injected fault (POST only: a 5xx that applies nothing, a dropped connection, or a
slow answer given after applying). Every answer carries ``x-ratelimit-limit`` and
``x-ratelimit-remaining``; refused answers report the window without spending from it.
Limits are fixed one-second wall-clock windows per endpoint and key, read from the config
field each route names, on every request (they change at run time).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Protocol

from .reply import Reply, error
from .traffic import Traffic


class GateConfig(Protocol):
    """The fields of ``SandboxConfig`` read here (limits are read by name, see ``Route``)."""

    api_key: str
    forbidden_key: str
    retry_after: bool
    latency_ms: float
    slow_seconds: float
    fault_5xx_rate: float
    fault_drop_rate: float
    fault_slow_rate: float
    fault_status: int


@dataclass(frozen=True)
class Route:
    """One row of an API's endpoint table; ``method`` None marks a path the API lacks."""

    endpoint: str  # its name in counts and rate windows
    method: str | None
    limit_field: str  # the config field that holds its requests per second
    scope: str  # what a key without scopes is told it lacks


@dataclass
class Admission:
    """What the gate decided: a refusal or drop (``reply``), or go on with a delay."""

    headers: list[tuple[str, str]]
    delay: float
    reply: Reply | None = None
    slow: bool = False


def bearer_key(auth: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <key>`` header, None without one."""
    return auth[7:].strip() if auth and auth[:7].lower() == "bearer " else None


class Gate:
    """Auth, routing, rate limits and faults in one place, so both API versions refuse and
    fail the same way; it shares the state's lock and random generator (a seed repeats the
    same faults)."""

    def __init__(self, config: GateConfig, lock: threading.Lock, rng: random.Random) -> None:
        self.config = config
        self.lock = lock
        self.rng = rng
        self.windows: dict[tuple[str, str], list[int]] = {}

    def reset_locked(self) -> None:
        self.windows = {}

    def limit(self, route: Route) -> int:
        return int(getattr(self.config, route.limit_field))

    def admit(
        self, route: Route, method: str, path: str, auth: str | None, t: float, traffic: Traffic
    ) -> Admission:
        """Check one request; a refusal or a drop is counted in ``traffic`` here, anything
        that goes on is counted by whoever answers it."""
        cfg = self.config
        key = bearer_key(auth)
        limit = self.limit(route)
        status, message = 0, ""
        if key is None or key not in (cfg.api_key, cfg.forbidden_key):
            status, message = 401, "Missing or invalid API key (Authorization: Bearer <key>)"
        elif key == cfg.forbidden_key:
            status, message = 403, f"API key lacks the scope this endpoint needs ({route.scope})"
        elif route.method is None:
            status, message = 404, "No such endpoint"
        elif method != route.method:
            status, message = 405, f"{method} is not supported on this path (use {route.method})"
        fault = ""
        with self.lock:
            if status:
                remaining = self._peek_locked(route.endpoint, key or "", limit, t)
            else:
                taken = self._take_locked(route.endpoint, key or "", limit, t)
                if taken is None:
                    status, remaining = 429, 0
                    message = f"Too many requests: at most {limit} per second on this endpoint"
                else:
                    remaining = taken
                    fault = self._draw_fault_locked() if method == "POST" else ""
                    if fault == "5xx":
                        status = cfg.fault_status or self.rng.choice((500, 502, 503))
                        message = "Injected server error (nothing was applied)"
            if status or fault == "drop":
                traffic.record_locked(route.endpoint, str(status) if status else "dropped", t)
        headers = [("x-ratelimit-limit", str(limit)), ("x-ratelimit-remaining", str(remaining))]
        if status == 429 and cfg.retry_after:
            headers.append(("Retry-After", "1"))
        delay = cfg.latency_ms / 1000.0 if method == "POST" else 0.0
        admission = Admission(headers, delay, slow=fault == "slow")
        if fault == "drop":
            admission.reply = Reply(0, drop=True, delay=delay)
        elif status:
            admission.reply = error(status, message, path)
            admission.reply.headers = headers
            admission.reply.delay = delay
        return admission

    def finish(self, admission: Admission, reply: Reply) -> Reply:
        """Give an answered request its headers and delay (plus the slow fault's)."""
        reply.headers = admission.headers
        reply.delay = admission.delay + (self.config.slow_seconds if admission.slow else 0.0)
        return reply

    def _take_locked(self, endpoint: str, key: str, limit: int, t: float) -> int | None:
        """Take one request from the one-second window; the remaining count, None if over."""
        sec = int(t)
        window = self.windows.get((endpoint, key))
        if window is None or window[0] != sec:
            window = [sec, 0]
            self.windows[(endpoint, key)] = window
        if window[1] >= limit:
            return None
        window[1] += 1
        return limit - window[1]

    def _peek_locked(self, endpoint: str, key: str, limit: int, t: float) -> int:
        window = self.windows.get((endpoint, key))
        if window is None or window[0] != int(t):
            return limit
        return max(0, limit - window[1])

    def _draw_fault_locked(self) -> str:
        cfg = self.config
        for name, rate in (
            ("5xx", cfg.fault_5xx_rate),
            ("drop", cfg.fault_drop_rate),
            ("slow", cfg.fault_slow_rate),
        ):
            if rate and self.rng.random() < rate:
                return name
        return ""
