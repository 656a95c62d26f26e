"""How fast events and opt-outs go out, against the sandbox, at each endpoint's own limit.

    python bench/kinds.py --events 3000 --optouts 100 --latency-ms 20

Runs the real CLI once over a custom event stream and an unsubscribe stream, then prints
per endpoint: requests, seconds from the first to the last request, requests a second,
and how many were answered 429. The published limits are 150/s (events) and 5/s
(unsubscribe); the pace aims 1% under them. A rerun then shows what the ledger skips.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from target_attentive.sandbox.process import SandboxProcess

MAPPINGS = {
    "events": {
        "kind": "custom_event",
        "event_type": "Visited",
        "identifiers": {"email": "email"},
        "occurred_at": "at",
    },
    "consent": {"kind": "unsubscribe", "identifiers": {"email": "email"}, "channel": "EMAIL"},
}


def singer(events: int, optouts: int) -> str:
    at = dt.datetime.now(dt.timezone.utc).isoformat()
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "email": {}, "at": {}}}
    lines = []
    for stream, count in (("events", events), ("consent", optouts)):
        lines.append(
            {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]}
        )
        for i in range(count):
            record = {"id": i, "email": f"p{i}@example.com", "at": at}
            lines.append({"type": "RECORD", "stream": stream, "record": record})
    lines.append({"type": "STATE", "value": {"done": True}})
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def run(config: Path, source: Path) -> float:
    started = time.monotonic()
    command = [sys.executable, "-m", "target_attentive.target", "--config", str(config)]
    subprocess.run([*command, "--input", str(source)], check=True, capture_output=True)
    return time.monotonic() - started


def figures(report: dict[str, Any], endpoint: str) -> str:
    row = report["endpoints"][endpoint]
    first = dt.datetime.fromisoformat(report["first_request_at"].replace("Z", "+00:00"))
    busiest = row["busiest_second"]["requests"]
    return (
        f"{endpoint}: {row['requests']} requests, answered 429: {row['counts'].get('429', 0)}, "
        f"busiest second {busiest} (first request at {first:%H:%M:%S})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--optouts", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(latency_ms=args.latency_ms) as sb:
        where = Path(tmp)
        source = where / "in.singer"
        source.write_text(singer(args.events, args.optouts))
        config = where / "config.json"
        settings = {
            "api_key": sb.api_key,
            "api_url": sb.url,
            "stream_mappings": MAPPINGS,
            "ledger_url": f"sqlite:///{where / 'ledger.db'}",
            "rejects_path": str(where / "rejects.jsonl"),
        }
        config.write_text(json.dumps(settings))
        seconds = run(config, source)
        report = sb.report()["v1"]
        print(f"first run: {seconds:.1f} s for {args.events} events and {args.optouts} opt-outs")
        print("  " + figures(report, "custom_event"))
        print("  " + figures(report, "unsubscribe"))
        events_alone = args.events / max(seconds - args.optouts / 4.95, 1e-9)
        print(f"  events a second, the opt-outs' time taken out: {events_alone:.0f}")
        again = run(config, source)
        after = sb.report()["v1"]
        sent = sum(after["endpoints"][e]["requests"] for e in ("custom_event", "unsubscribe"))
        before = sum(report["endpoints"][e]["requests"] for e in ("custom_event", "unsubscribe"))
        print(f"rerun: {again:.1f} s, {sent - before} requests (the ledger holds the rest)")


if __name__ == "__main__":
    main()
