"""What the steps of one reconcile share: the ledger, the client, the rejects file, and
the account of what they did (`Reconciled`).

Following jobs (jobs.py), settling a completed one (jobs_completed.py) and sending a
failed one's people again (jobs_failed.py) each add to the same account, and each may
leave a job for the next reconcile or write a person Attentive refused to the rejects
file.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from target_attentive.client import AttentiveClient
from target_attentive.keys import optin_key
from target_attentive.ledger.records import JobEntry
from target_attentive.rejects import RejectsFile
from target_attentive.results import LineOutcome

MAX_SUBMISSIONS = 8  # of the same people, after failed jobs
Claim = tuple[str, str, str]


@dataclass
class Reconciled:
    """What one reconcile did and found, in jobs and in people."""

    jobs_finished: int = 0  # reconciled: every person settled
    jobs_pending: int = 0  # still running at Attentive
    jobs_resubmitted: int = 0  # failed jobs whose people were sent again
    jobs_given_up: int = 0  # failed MAX_SUBMISSIONS times: unreconciled, listed
    jobs_unavailable: int = 0  # no status or no results file this time
    jobs_unreadable: int = 0  # results with lines in a form not known
    people_accepted: int = 0
    people_refused: int = 0
    people_resubmitted: int = 0
    lines_unreadable: int = 0
    people_without_line: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)  # people refused per stream
    problems: list[str] = field(default_factory=list)  # why jobs stay unreconciled

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}


def claims_of(payload: dict | None) -> list[Claim]:
    """The opt-ins a payload carries, as the ledger keys them."""
    if not payload:
        return []
    return [
        (optin_key(payload, s["channel"]), s["channel"], s["signUpSourceId"])
        for s in payload.get("subscriptions") or ()
    ]


def given_up(job: dict[str, Any]) -> bool:
    """A job whose people failed MAX_SUBMISSIONS times: listed, never sent again."""
    return job["status"] == "FAILED" and (job.get("attempt") or 1) >= MAX_SUBMISSIONS


class JobContext:
    """One reconcile's ledger, client and rejects file, and its account so far."""

    def __init__(
        self,
        ledger: Any,
        client: AttentiveClient,
        rejects: RejectsFile,
        logger: logging.Logger,
        stop: threading.Event | None,
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.rejects = rejects
        self.logger = logger
        self.stop = stop or threading.Event()
        self.result = Reconciled()
        self.left: set[str] = set()  # jobs with a problem: left for the next reconcile

    def leave(self, job: dict[str, Any], why: str, unavailable: bool) -> str:
        """Leave the job for the next reconcile, and say why (`unavailable`: Attentive
        gave no status or results this time, noted in the ledger)."""
        self.left.add(job["job_id"])
        if unavailable:
            self.result.jobs_unavailable += 1
            self.ledger.note_job(job["job_id"], job["status"], why)
        message = f"bulk job {job['job_id']}: {why}; left for the next reconcile"
        self.result.problems.append(message)
        self.logger.warning("%s", message)
        return "left"

    def reject(self, job: dict[str, Any], entry: JobEntry, outcome: LineOutcome) -> None:
        """A person Attentive refused in the job, to the rejects file with their record."""
        position, record = entry.sources[-1] if entry.sources else (None, None)
        self.rejects.add(
            stream=job["stream"],
            position=position,  # type: ignore[arg-type]
            record=record,
            payload=entry.payload or outcome.request,
            reason=f"Attentive refused it in bulk job {job['job_id']}: {outcome.message}",
            reason_key="Attentive refused it in a bulk job",
            status=outcome.status,
            api_message=outcome.message,
            attempts=job.get("attempt") or 1,
        )
