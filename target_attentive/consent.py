"""Opt-ins and opt-outs of one run in input order: for one address and channel, the last wins.

An opt-in travels in a people stream and an opt-out in an unsubscribe stream; their sinks
are drained when they fill, not in the order their records were read. So each is noted
here with the place its record was read at, when its batch is planned: one that an
opposite choice read later has already overtaken is dropped (the later one is, or will
be, sent), whichever batch is planned first. An opt-out already sent in this run, or
recorded in the ledger, is not sent again unless an opt-in for its address and channel
stood in between (it re-arms the opt-out). Pure bookkeeping, in the reading process,
kept only by runs that have an unsubscribe stream.
"""

from __future__ import annotations

import threading
from typing import Any

from target_attentive.kinds.shapes import UNSUBSCRIBE

OPT_IN = "in"
OPT_OUT = "out"
OptOut = tuple[str, str, str]  # (address, channel, subscription type)


class ConsentOrder:
    """The latest opt-in or opt-out planned so far per (address, channel) in this run."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], tuple[int, str]] = {}
        self._opted_in: set[tuple[str, str]] = set()  # an opt-in stood in this run
        self._sent: set[OptOut] = set()  # opt-outs planned since the last opt-in
        self._opted_out: set[tuple[str, str]] = set()  # an opt-out stood in this run
        self._lock = threading.Lock()

    def stands(self, address: str, channel: str, read_at: int, choice: str) -> bool:
        """Note a choice read at `read_at`; False when an opposite one read later overtook it."""
        key = (address, channel)
        with self._lock:
            latest = self._latest.get(key)
            if latest is not None and latest[0] > read_at and latest[1] != choice:
                return False
            if latest is None or read_at >= latest[0]:
                self._latest[key] = (read_at, choice)
            if choice == OPT_OUT:
                self._opted_out.add(key)
            if choice == OPT_IN:
                self._opted_in.add(key)
                self._sent = {k for k in self._sent if k[:2] != key}
            return True

    def rearmed_optin(self, address: str, channel: str) -> bool:
        """Whether an opt-out of this run (sent before the opt-in's batch: the sending
        process keeps that order) releases the opt-in an earlier run recorded."""
        with self._lock:
            return (address, channel) in self._opted_out

    def new_optouts(self, keys: list[OptOut], recorded: set[OptOut]) -> list[OptOut]:
        """Of standing opt-outs, those to send: not sent in this run since the last opt-in,
        and not `recorded` in the ledger unless an opt-in of this run re-armed them."""
        with self._lock:
            fresh = [
                k
                for k in keys
                if k not in self._sent and (k not in recorded or k[:2] in self._opted_in)
            ]
            self._sent.update(fresh)
            return fresh


def has_unsubscribe(settings: Any) -> bool:
    """Whether any mapping of the settings routes a stream to opt-outs."""
    raws = [settings.mapping, *(settings.stream_mappings or {}).values()]
    return any(
        isinstance(raw, dict) and str(raw.get("kind") or "").strip().lower() == UNSUBSCRIBE
        for raw in raws
    )
