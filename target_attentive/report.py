"""Counting outcomes, and the report at the end of every run (promise 1 of the design).

Every RECORD read ends in exactly one outcome, so the report can show that
`read = accepted + unchanged + rejected + filtered` (+ `written` on a dry run, where
nothing is sent). The report goes to stderr, readable, and once more as a `METRIC:` JSON
line for machines.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("accepted", "unchanged", "rejected", "filtered", "written")


@dataclass
class Tally:
    """Outcomes of a run, with the delivery figures behind them. Thread-safe to add to."""

    read: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    filtered_reasons: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    # Fields left out of records that were sent (issue 12), by "field: reason".
    omitted: Counter[str] = field(default_factory=Counter)
    attributes_created: dict[str, str] = field(default_factory=dict)  # name -> type
    attributes_capped: list[str] = field(default_factory=list)  # refused by Attentive
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_read(self, stream: str) -> None:
        self.read[stream] += 1

    def add(self, outcome: str, count: int = 1) -> None:
        with self._lock:
            self.outcomes[outcome] += count

    def filtered(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.outcomes["filtered"] += count
            self.filtered_reasons[reason] += count

    def request(self, what: str, count: int = 1) -> None:
        """Delivery events: requests, retries, 429s, timeouts, opt-ins sent."""
        with self._lock:
            self.requests[what] += count

    def omission(self, reasons: list[str]) -> None:
        """One record sent with these fields left out."""
        with self._lock:
            self.requests["records_with_omissions"] += 1
            self.omitted.update(reasons)

    def attribute_created(self, name: str, kind: str) -> None:
        with self._lock:
            self.attributes_created.setdefault(name, kind)

    def attribute_capped(self, name: str) -> None:
        with self._lock:
            self.attributes_capped.append(name)

    def request_counts(self) -> dict[str, int]:
        """The delivery events so far, consistent with one another."""
        with self._lock:
            return dict(self.requests)

    @property
    def total_read(self) -> int:
        return sum(self.read.values())

    @property
    def settled(self) -> int:
        return sum(self.outcomes[o] for o in OUTCOMES)

    def as_dict(self, rejects_path: str | None, reasons: Counter[str]) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "read": self.total_read,
            **{o: self.outcomes[o] for o in OUTCOMES},
            "unsettled": self.total_read - self.settled,
            "filtered_reasons": dict(self.filtered_reasons),
            "top_reject_reasons": dict(reasons.most_common(10)),
            "omissions": {
                "records": self.requests["records_with_omissions"],
                "fields": sum(self.omitted.values()),
                "top_reasons": dict(self.omitted.most_common(10)),
                "phone_region_defaulted": self.requests["phone_region_defaulted"],
                "off_schema_unmapped_fields": self.requests["off_schema_unmapped"],
            },
            "custom_attributes_created": dict(self.attributes_created),
            "custom_attributes_capped": list(self.attributes_capped),
            "requests": dict(self.requests),
            "seconds": round(elapsed, 3),
            "records_per_second": round(self.total_read / elapsed, 1),
            "rejects_path": rejects_path,
        }


def render(summary: dict[str, Any], *, dry_run: bool) -> str:
    """The human half of the run report."""
    capped = summary.get("custom_attributes_capped") or []
    first = "target-attentive run report"
    if capped:
        first += (
            f": Attentive refused {', '.join(capped)} as over its custom attribute limit; "
            "left out of every later payload of this run"
        )
    lines = [first]
    sent = "written to the dry-run file" if dry_run else "accepted by Attentive"
    if not dry_run and summary["requests"].get("bulk_jobs"):
        sent = "accepted into bulk jobs, results pending"
    parts = [
        f"  read {summary['read']}",
        f"  = {summary['written'] if dry_run else summary['accepted']} {sent}",
        f"  + {summary['unchanged']} unchanged since last accepted",
        f"  + {summary['rejected']} rejected",
        f"  + {summary['filtered']} filtered",
    ]
    if dry_run and summary["accepted"]:
        parts.append(f"  + {summary['accepted']} accepted")
    if summary["unsettled"]:
        parts.append(f"  ({summary['unsettled']} not settled: the run did not finish)")
    lines += parts
    for reason, count in summary["filtered_reasons"].items():
        lines.append(f"    filtered {count} x {reason}")
    if summary["top_reject_reasons"]:
        lines.append("  most frequent rejection reasons:")
        for reason, count in summary["top_reject_reasons"].items():
            lines.append(f"    {count} x {reason}")
    lines += _omission_lines(summary)
    requests = summary["requests"]
    if requests.get("sent"):
        lines.append(
            "  requests {sent}, retried {retried}, answered 429 {rate_limited}, "
            "timeouts {timeouts}, opt-ins sent {optins}".format(
                sent=requests.get("sent", 0),
                retried=requests.get("retried", 0),
                rate_limited=requests.get("429", 0),
                timeouts=requests.get("timeout", 0),
                optins=requests.get("optins_sent", 0),
            )
        )
    lines += _counted(requests, _OPTIN_LINES)
    lines += _bulk_lines(requests)
    lines += _kind_lines(requests)
    lines += _counted(requests, _NOT_ENABLED_LINES)
    lines.append(
        f"  {summary['seconds']} s, {summary['records_per_second']} records/s"
        + (f"; rejects in {summary['rejects_path']}" if summary["rejected"] else "")
    )
    return "\n".join(lines)


def _omission_lines(summary: dict[str, Any]) -> list[str]:
    """Fields left out (the records still sent), and the attributes this run created."""
    omissions = summary.get("omissions") or {}
    lines = []
    if omissions.get("fields"):
        lines.append(
            f"  records sent with a field left out: {omissions['records']}, fields left out: "
            f"{omissions['fields']}; most frequent:"
        )
        lines += [f"    {n} x {reason}" for reason, n in omissions["top_reasons"].items()]
    if omissions.get("phone_region_defaulted"):
        lines.append(
            f"  {omissions['phone_region_defaulted']} phones read with default_phone_region: "
            "their record's phone_region field was empty or not a country code"
        )
    if omissions.get("off_schema_unmapped_fields"):
        lines.append(
            f"  {omissions['off_schema_unmapped_fields']} values off the stream's schema in "
            "fields not mapped, so not sent: ignored"
        )
    created = summary.get("custom_attributes_created") or {}
    if created:
        named = ", ".join(f"{name} ({kind})" for name, kind in created.items())
        lines.append(
            f"  custom attributes new in this run: {named}; to keep these types whatever a "
            "first value says, pin them in custom_attribute_types"
        )
    return lines


def _bulk_lines(requests: dict[str, int]) -> list[str]:
    """What reconciling bulk jobs found (any run's jobs), counted in people."""
    lines = []
    if requests.get("bulk_splits"):
        lines.append(
            f"  {requests['bulk_splits']} bulk requests refused and sent again in halves, "
            "until the refused people were alone"
        )
    found = (
        requests.get("bulk_people_accepted", 0),
        requests.get("bulk_people_refused", 0),
        requests.get("bulk_people_resubmitted", 0),
    )
    if any(found):
        lines.append(
            "  bulk job results: {} people accepted, {} refused (in the rejects file), {} sent "
            "again after failed jobs".format(*found)
        )
    unread = requests.get("bulk_lines_unreadable", 0) + requests.get("bulk_people_without_line", 0)
    if unread:
        lines.append(
            f"  {requests.get('bulk_lines_unreadable', 0)} results lines could not be read and "
            f"{requests.get('bulk_people_without_line', 0)} people had none: left as they are"
        )
    waiting = requests.get("bulk_jobs_pending", 0)
    left = sum(
        requests.get(f"bulk_jobs_{name}", 0) for name in ("given_up", "unavailable", "unreadable")
    )
    if waiting or left:
        lines.append(
            f"  bulk jobs: {waiting} still running, {left} left unreconciled; "
            "`target-attentive-jobs` reconciles them"
        )
    return lines


def _kind_lines(requests: dict[str, int]) -> list[str]:
    """Events and opt-outs (issue 15): what went where, and what Attentive will not act on."""
    lines = []
    sent = {
        kind: requests.get(f"{kind}_accepted", 0)
        for kind in ("custom_event", "purchase", "add_to_cart", "product_view", "unsubscribe")
    }
    if any(sent.values()):
        lines.append(
            "  v1 bodies accepted: " + ", ".join(f"{n} {kind}" for kind, n in sent.items() if n)
        )
    return lines + _counted(requests, _KIND_LINES)


# A counter of the report's requests, and what its line says when it is not zero.
_OPTIN_LINES = (
    (
        "optins_submitted",
        "opt-ins submitted in bulk jobs: confirmed or released when the jobs' results are "
        "read; never resent",
    ),
    (
        "optins_in_doubt",
        "opt-ins in doubt (no clear answer); never resent, listed by "
        "`target-attentive-ledger optins --status in_doubt`",
    ),
    (
        "optins_released",
        "opt-ins not sent or refused with their request: released, sent by a later run",
    ),
)
_NOT_ENABLED_LINES = (
    (
        "optins_not_enabled",
        "records carried opt-ins that were not sent: subscriptions_enabled is false",
    ),
)
_KIND_LINES = (
    (
        "old_events",
        "events occurred more than 12 hours before this run: Attentive takes them but starts "
        "no journey (max_event_age_hours sets them aside)",
    ),
    (
        "confirmation_texts",
        "opt-outs asked Attentive to text a confirmation (unsubscribe_notifications is true)",
    ),
    (
        "optouts_in_doubt",
        "opt-outs in doubt (no clear answer); never resent while unsubscribe_notifications is true",
    ),
    (
        "optins_overtaken",
        "opt-ins not sent: an opt-out for the same address and channel comes later in the input",
    ),
)


def _counted(requests: dict[str, int], said: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"  {requests[name]} {text}" for name, text in said if requests.get(name)]
