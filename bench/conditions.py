"""Single mode under the conditions real accounts meet (parts g, h, i of bench/run.py).

Each part sends the benchmark people in single mode into a sandbox that misbehaves the
way Attentive sometimes does: some requests hang (answered 20 s late, after applying),
some fail with a 5xx, or the account's limit is lower than the published one (which the
target learns from `x-ratelimit-limit`). The figure is distinct people accepted per
second of sending, against the limit in force; a person applied twice (a hung request
retried) counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SINGLE_LIMIT = 150
LATENCY_MS = 40


@dataclass(frozen=True)
class Condition:
    """One misbehaving sandbox and the share of its limit the target must reach."""

    name: str
    title: str
    sandbox: dict[str, Any]
    goal: float  # distinct people/s over the limit
    max_429: float = 0.01  # share of requests answered 429
    limit: int = SINGLE_LIMIT


CONDITIONS = {
    "hung": Condition(
        "hung", "0.5% of requests hang 20 s", {"fault_slow_rate": 0.005, "slow_seconds": 20}, 0.95
    ),
    "hungfail": Condition(
        "hungfail",
        "1% hang 20 s and 5% answer 5xx",
        {"fault_slow_rate": 0.01, "slow_seconds": 20, "fault_5xx_rate": 0.05},
        0.90,
    ),
    "account20": Condition(
        "account20", "an account limited to 20/s", {"rate_limit": 20}, 0.90, 0.02, 20
    ),
}


def _person(row: dict[str, Any]) -> str:
    ids = row["payload"]["identifiers"]
    return str(ids.get("email") or ids.get("phone") or ids)


def part_condition(
    bench: Any,
    part: Any,
    condition: Condition,
    *,
    count: int,
    sandbox: Callable[..., Any],
    target: list[str],
    pct: Callable[[float], str],
    rate: Callable[[float], str],
) -> None:
    """Send `count` people under `condition`; the share of the limit they reached."""
    path = bench.input(count)
    options = {"latency_ms": LATENCY_MS, "rate_limit": SINGLE_LIMIT, **condition.sandbox}
    with sandbox(seed=7, **options) as sb:
        child = bench.run(
            condition.name,
            target,
            lambda where: bench.target_config(where, api_key=sb.api_key, api_url=sb.url),
            input_path=path,
            timeout=count / condition.limit * 3 + 90,
        )
        accepted = sb.accepted()
        report = sb.report()
    if not child.ok:
        part.status, part.note = "failed", child.failure()
        return
    times = [row["t"] for row in accepted if row["endpoint"] == "single"]
    span = max(times) - min(times) if len(times) > 1 else 0.0
    people = len({_person(row) for row in accepted})
    stats = report["endpoints"]["single"]
    requests, throttled = stats["requests"], stats["counts"].get("429", 0)
    share = people / (condition.limit * span) if span else 0.0
    share_429 = throttled / requests if requests else 0.0
    summary = child.summary() or {}
    part.figures = {
        "condition": condition.title,
        "records": count,
        "people_accepted": people,
        "target_accepted": summary.get("accepted"),
        "target_unsettled": summary.get("unsettled"),
        "sending_seconds": round(span, 3),
        "people_per_second": round(people / span, 2) if span else 0.0,
        "fraction_of_limit": round(share, 4),
        "requests": requests,
        "counts": stats["counts"],
        "share_429": round(share_429, 5),
    }
    part.add("condition", condition.title)
    part.add("people accepted", f"{people:,} in {span:.1f} s sending")
    part.add("people/s", rate(people / span if span else 0.0))
    goal = f">= {condition.goal:.0%}"
    part.add(f"share of the {condition.limit}/s limit", pct(share), goal, share >= condition.goal)
    part.add(
        "429 share of requests",
        f"{100 * share_429:.2f}% ({throttled}/{requests})",
        f"< {condition.max_429:.0%}",
        share_429 < condition.max_429,
    )
    lost = summary.get("unsettled")
    part.add("records not settled", str(lost), "0", lost == 0)
