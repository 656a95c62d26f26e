"""Batches overlap in the sending process: a hung request holds its own slot, not the
next batch; and one person's requests keep the order of their batches."""

from __future__ import annotations

import logging
import time

from target_attentive.report import Tally
from target_attentive.sandbox.process import SandboxProcess
from target_attentive.sending import Outgoing, Sending
from target_attentive.settings import Settings


def _people(*names: str) -> list[Outgoing]:
    return [
        Outgoing(f"email:{n}@example.com", n, {"identifiers": {"email": f"{n}@example.com"}})
        for n in names
    ]


def _arrivals(sandbox: SandboxProcess) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {}
    for row in sandbox.accepted():
        seen.setdefault(row["payload"]["identifiers"]["email"], []).append(row["t"])
    return seen


def test_a_hung_request_does_not_hold_back_the_next_batch(tmp_path) -> None:
    with SandboxProcess() as sb:
        settings = Settings.from_config(
            {
                "api_key": sb.api_key,
                "api_url": sb.url,
                "request_timeout_seconds": 30,
                "ledger_enabled": False,
            }
        )
        sending = Sending(settings, Tally(), None, logging.getLogger("test"))
        try:
            sb.configure(fault_slow_rate=1.0, slow_seconds=4)
            hung = sending.start(_people("hung"), "people")
            deadline = time.monotonic() + 5
            while not _arrivals(sb) and time.monotonic() < deadline:
                time.sleep(0.02)  # the hung request has reached the sandbox
            sb.configure(fault_slow_rate=0.0)
            after = sending.start(_people("next1", "next2", "next3"), "people")
            again = sending.start(_people("hung"), "people")  # the same person, later batch
            sent = sending.finish(after)
            assert sorted(sent.accepted) == [0, 1, 2]
            assert not all(f.done() for f in hung.futures), "the next batch waited for it"
            assert sending.finish(hung).accepted == [0]
            assert sending.finish(again).accepted == [0]
        finally:
            sending.close()
        arrivals = _arrivals(sb)
    first, second = sorted(arrivals["hung@example.com"])
    assert all(
        first < t < first + 4
        for n in ("next1", "next2", "next3")
        for t in arrivals[f"{n}@example.com"]
    )
    # The later batch's request for the hung person waited for the first one's answer.
    assert second >= first + 4 - 0.1
