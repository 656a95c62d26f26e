"""The sandbox's options, and which of them a running sandbox lets ``/_sandbox/config`` change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .jobs import RESULT_FORMS

FAULT_STATUSES = (500, 502, 503, 504)


@dataclass
class SandboxConfig:
    """Every option of the sandbox; the fields in ``RUNTIME_FIELDS`` can change while running."""

    host: str = "127.0.0.1"
    port: int = 8787
    port_file: str | None = None
    api_key: str = "sandbox-key"
    forbidden_key: str = "sandbox-key-without-scopes"
    rate_limit: int = 150  # /v2/user/attributes and /v2/me
    bulk_rate_limit: int = 100
    job_rate_limit: int = 100
    event_rate_limit: int = 150  # each /v1/events/... path on its own
    unsubscribe_rate_limit: int = 5  # /v1/subscriptions/unsubscribe
    retry_after: bool = False
    latency_ms: float = 0.0
    fault_5xx_rate: float = 0.0
    fault_drop_rate: float = 0.0
    fault_slow_rate: float = 0.0
    fault_status: int = 0  # the status of injected 5xx faults; 0: 500, 502 or 503 at random
    slow_seconds: float = 30.0
    job_delay_seconds: float = 2.0
    job_fail_rate: float = 0.0
    job_fail_applies: float = 0.0  # share of a FAILED job's people applied before it failed
    results_status_form: str = "number"  # how results lines write a status: see RESULT_FORMS
    results_expired: bool = False  # results links answer 403, as an expired pre-signed URL
    jobs_forgotten: bool = False  # job status reads answer 404, as for a job Attentive lost
    bulk_omit_job_id: bool = False  # bulk 202s without batchJobId (the job still runs)
    bulk_checks_in_job: bool = False  # check people only inside the job (benchmarks: no CPU
    # spent on Attentive's side while the target is timed)
    seed: int | None = None
    record_file: str | None = None
    verbose: bool = False
    enum_attributes: dict[str, list[str]] = field(default_factory=dict)
    sign_up_source_ids: list[str] = field(default_factory=list)
    max_custom_attributes: int = rules.MAX_CUSTOM_ATTRIBUTES

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RATE_FIELDS = (
    "fault_5xx_rate",
    "fault_drop_rate",
    "fault_slow_rate",
    "job_fail_rate",
    "job_fail_applies",
)
LIMIT_FIELDS = (
    "rate_limit",
    "bulk_rate_limit",
    "job_rate_limit",
    "event_rate_limit",
    "unsubscribe_rate_limit",
)
SECONDS_FIELDS = ("latency_ms", "slow_seconds", "job_delay_seconds")
FLAG_FIELDS = (
    "retry_after",
    "verbose",
    "results_expired",
    "jobs_forgotten",
    "bulk_omit_job_id",
    "bulk_checks_in_job",
)
CHOICE_FIELDS = ("results_status_form", "fault_status")
RUNTIME_FIELDS = (*RATE_FIELDS, *LIMIT_FIELDS, *SECONDS_FIELDS, *FLAG_FIELDS, *CHOICE_FIELDS)


def check_config_value(name: str, value: Any) -> str | None:
    """Why a value cannot go into a config field, or None when it can."""
    if name in RATE_FIELDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        return None if ok else f"{name} must be a number from 0 to 1"
    if name in LIMIT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else f"{name} must be an integer of at least 1"
    if name in SECONDS_FIELDS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return None if ok else f"{name} must be a number of at least 0"
    if name in FLAG_FIELDS:
        return None if isinstance(value, bool) else f"{name} must be true or false"
    if name == "fault_status":
        ok = value in (0, *FAULT_STATUSES)
        return None if ok else f"{name} must be 0 or one of {', '.join(map(str, FAULT_STATUSES))}"
    if name == "results_status_form":
        forms = ", ".join(RESULT_FORMS)
        return None if value in RESULT_FORMS else f"{name} must be one of {forms}"
    return f"{name} cannot be changed at run time (allowed: {', '.join(RUNTIME_FIELDS)})"
