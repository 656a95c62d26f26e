"""Bulk jobs: follow every unreconciled job to its end, whichever run submitted it.

A bulk request answers 202 before Attentive looked at anybody; each person is checked
later, inside the job. Reconciling a job:

- COMPLETED: its results file settles each person it carries (jobs_completed.py).
- FAILED: Attentive does not say whether it applied anyone, so its people are sent again
  without their opt-ins, up to `MAX_SUBMISSIONS` times (jobs_failed.py).
- A status or results file that cannot be had (an expired link, a job Attentive no longer
  knows, an outage) is reported for that job and left for the next reconcile.

The results file lives at a pre-signed address on another host: it is fetched without the
API key, and its address never reaches a log (`AttentiveClient.download`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from target_attentive.client import (
    AttentiveClient,
    FatalAPIError,
    ResultsUnavailable,
    RetriesExhausted,
)
from target_attentive.jobs_completed import settle_completed
from target_attentive.jobs_context import MAX_SUBMISSIONS, JobContext, Reconciled, given_up
from target_attentive.jobs_failed import settle_failed
from target_attentive.rejects import RejectsFile

# Names other modules import from here, some of them defined elsewhere.
__all__ = ["MAX_SUBMISSIONS", "Reconciled", "reconcile"]

FINISHED = ("COMPLETED", "FAILED")
POLL_FIRST_SECONDS = 0.25
POLL_MAX_SECONDS = 5.0


def reconcile(
    ledger: Any,
    client: AttentiveClient,
    rejects: RejectsFile,
    logger: logging.Logger,
    *,
    wait_seconds: float = 0.0,
    stop: threading.Event | None = None,
) -> Reconciled:
    """Reconcile every unreconciled job in the ledger; wait up to `wait_seconds` for
    those still running (and for the jobs that carry a failed job's people on)."""
    context = JobContext(ledger, client, rejects, logger, stop)
    return Reconciliation(context).run(wait_seconds)


class Reconciliation:
    """One pass over the ledger's unreconciled jobs, repeated while some are running."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.ledger = ctx.ledger
        self.client = ctx.client
        self.stop = ctx.stop
        self.result = ctx.result

    def run(self, wait_seconds: float) -> Reconciled:
        deadline = time.monotonic() + wait_seconds
        delay = POLL_FIRST_SECONDS
        running: set[str] = set()
        while True:
            jobs = [j for j in self.ledger.unreconciled_jobs() if j["job_id"] not in self.ctx.left]
            active = [j for j in jobs if not given_up(j)]
            running.clear()
            resubmitted = self.result.jobs_resubmitted
            for job in active:
                if self.stop.is_set():
                    break
                if self._one(job) == "running":
                    running.add(job["job_id"])
            if self.result.jobs_resubmitted > resubmitted:
                delay = POLL_FIRST_SECONDS  # the new jobs: follow them from the start
            elif not running:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stop.wait(min(delay, remaining)):
                break
            delay = min(delay * 2, POLL_MAX_SECONDS)
        unreconciled = self.ledger.unreconciled_jobs()
        abandoned = [j for j in unreconciled if given_up(j)]
        self.result.jobs_given_up = len(abandoned)
        self.result.jobs_pending = sum(
            1 for j in unreconciled if j["job_id"] not in self.ctx.left and not given_up(j)
        )
        for job in abandoned:
            self.result.problems.append(f"bulk job {job['job_id']}: {job['note']}")
        return self.result

    def _one(self, job: dict[str, Any]) -> str:
        """Ask Attentive about one job and act on it: running, done or left."""
        job_id = job["job_id"]
        if job["status"] == "FAILED":  # known failed; its people not all sent again yet
            return settle_failed(self.ctx, job)
        try:
            answer = self.client.get(f"/v2/bulk/job/{job_id}")
        except (FatalAPIError, RetriesExhausted) as exc:
            if " 404 " in str(exc):
                return self.ctx.leave(job, "Attentive does not know this job (HTTP 404)", True)
            return self.ctx.leave(job, f"Attentive did not say how it went ({exc})", True)
        body = answer.body if isinstance(answer.body, dict) else {}
        status = body.get("status")
        if not answer.accepted or not isinstance(status, str):
            return self.ctx.leave(job, f"its status could not be read (HTTP {answer.status})", True)
        if status == "FAILED":
            return settle_failed(self.ctx, job)
        if status != "COMPLETED":
            return "running"
        url = body.get("url")
        if not isinstance(url, str) or not url:
            return self.ctx.leave(job, "it COMPLETED without a results file", True)
        try:
            content = self.client.download(url)
        except ResultsUnavailable as exc:
            note = f"{exc}; the link may have expired (Attentive keeps results two weeks)"
            return self.ctx.leave(job, note, True)
        return settle_completed(self.ctx, job, content)
