"""The sandbox's command line: options to a ``SandboxConfig`` (serving is ``server.main``)."""

from __future__ import annotations

import argparse

from .config import FAULT_STATUSES, SandboxConfig
from .jobs import RESULT_FORMS


def _enum_option(text: str) -> tuple[str, list[str]]:
    name, sep, values = text.partition("=")
    items = [v for v in values.split(",") if v]
    if not sep or not name or not items:
        raise argparse.ArgumentTypeError("expected NAME=value1,value2,...")
    return name, items


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Every option, its default taken from ``SandboxConfig``."""
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog="target-attentive-sandbox",
        description="Local stand-in for the Attentive API (loopback only).",
    )
    add = p.add_argument
    add("--host", default=d.host, help="loopback host to bind (default %(default)s)")
    add("--port", type=int, default=d.port, help="port; 0 picks a free one (default %(default)s)")
    add("--port-file", help="write the chosen port to this file once listening")
    add("--api-key", default=d.api_key, help="the valid key (default %(default)s)")
    add("--forbidden-key", default=d.forbidden_key, help="a key that gets 403")
    add("--rate-limit", type=_positive_int, default=d.rate_limit, help="single upserts/s")
    add("--bulk-rate-limit", type=_positive_int, default=d.bulk_rate_limit, help="bulk posts/s")
    add("--job-rate-limit", type=_positive_int, default=d.job_rate_limit, help="job reads/s")
    add(
        "--event-rate-limit",
        type=_positive_int,
        default=d.event_rate_limit,
        help="requests/s on each /v1/events path (default %(default)s)",
    )
    add(
        "--unsubscribe-rate-limit",
        type=_positive_int,
        default=d.unsubscribe_rate_limit,
        help="requests/s on /v1/subscriptions/unsubscribe (default %(default)s)",
    )
    add("--retry-after", action="store_true", help="send Retry-After: 1 with every 429")
    add("--latency-ms", type=_seconds, default=d.latency_ms, help="sleep before each POST answer")
    add("--fault-5xx-rate", type=_rate, default=0.0, help="share of POSTs answered 500/502/503")
    add("--fault-drop-rate", type=_rate, default=0.0, help="share of POSTs dropped unanswered")
    add("--fault-slow-rate", type=_rate, default=0.0, help="share of POSTs applied, then slow")
    add(
        "--fault-status",
        type=int,
        choices=(0, *FAULT_STATUSES),
        default=0,
        help="status of injected 5xx faults (default: 500, 502 or 503 at random)",
    )
    add("--slow-seconds", type=_seconds, default=d.slow_seconds, help="delay of slow answers")
    add("--job-delay-seconds", type=_seconds, default=d.job_delay_seconds, help="bulk job time")
    add("--job-fail-rate", type=_rate, default=0.0, help="share of bulk jobs that end FAILED")
    add("--job-fail-applies", type=_rate, default=0.0, help="share a FAILED job applies first")
    add(
        "--results-status-form",
        choices=RESULT_FORMS,
        default=d.results_status_form,
        help="how results lines write a status (default %(default)s)",
    )
    add("--results-expired", action="store_true", help="results links answer 403")
    add("--jobs-forgotten", action="store_true", help="job status reads answer 404")
    add("--bulk-omit-job-id", action="store_true", help="bulk 202s without batchJobId")
    add(
        "--bulk-checks-in-job",
        action="store_true",
        help="check a bulk request's people only inside its job, never with a 400",
    )
    add("--seed", type=int, help="random seed for fault injection")
    add("--record-file", help="write the report and accepted payloads here on exit")
    add(
        "--enum-attribute",
        type=_enum_option,
        action="append",
        default=[],
        metavar="NAME=a,b,c",
        help="predefine an enum custom attribute (repeatable)",
    )
    add(
        "--sign-up-source-id",
        action="append",
        default=[],
        metavar="ID",
        help="only these sign-up source ids exist (repeatable; default: any)",
    )
    add("--max-custom-attributes", type=_positive_int, default=d.max_custom_attributes)
    add("--verbose", action="store_true", help="log every request to stderr")
    return p


def config_from_args(argv: list[str] | None = None) -> SandboxConfig:
    """The config the command line asks for (argparse exits 2 on a bad option)."""
    args = build_parser().parse_args(argv)
    values = vars(args)
    values["enum_attributes"] = dict(values.pop("enum_attribute"))
    values["sign_up_source_ids"] = values.pop("sign_up_source_id")
    return SandboxConfig(**values)
