"""Bulk jobs: follow every unreconciled job to its end, whichever run submitted it.

A bulk request answers 202 before Attentive looked at anybody; each person is checked
later, inside the job. Reconciling a job:

- COMPLETED: its results file is read (`results.py`). A success line confirms the
  person's opt-ins; a refusal line writes the person to the rejects file, with the record
  they came from, forgets them (the next run sends them again once fixed) and releases
  their opt-ins. A line in any other form settles nobody: the job stays unreconciled.
- FAILED: Attentive does not say whether it applied anyone, so its people are sent again
  from the payloads the ledger kept, without their opt-ins (now in doubt), up to
  `MAX_SUBMISSIONS` times; then the job stays unreconciled, listed, and nobody is written
  off to the rejects file.
- A status or results file that cannot be had (an expired link, a job Attentive no longer
  knows, an outage) is reported for that job and left for the next reconcile.

The results file lives at a pre-signed address on another host: it is fetched without the
API key, and its address never reaches a log (`AttentiveClient.download`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from target_attentive.bulk import BULK_PATH, job_id_of, post_in_halves
from target_attentive.client import (
    AttentiveClient,
    FatalAPIError,
    ResultsUnavailable,
    RetriesExhausted,
)
from target_attentive.jsonl import dumps
from target_attentive.keys import optin_key
from target_attentive.ledger.records import JobEntry, JobRecord
from target_attentive.outgoing import without_subscriptions
from target_attentive.rejects import RejectsFile
from target_attentive.results import LineOutcome, read_results

FINISHED = ("COMPLETED", "FAILED")
MAX_SUBMISSIONS = 8  # of the same people, after failed jobs
POLL_FIRST_SECONDS = 0.25
POLL_MAX_SECONDS = 5.0
BULK_MAX = 256
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
    return Reconciliation(ledger, client, rejects, logger, stop).run(wait_seconds)


class Reconciliation:
    """One pass over the ledger's unreconciled jobs, repeated while some are running."""

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
        self._left: set[str] = set()  # jobs with a problem: left for the next reconcile

    def run(self, wait_seconds: float) -> Reconciled:
        deadline = time.monotonic() + wait_seconds
        delay = POLL_FIRST_SECONDS
        running: set[str] = set()
        while True:
            jobs = [j for j in self.ledger.unreconciled_jobs() if j["job_id"] not in self._left]
            active = [j for j in jobs if not _given_up(j)]
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
        given_up = [j for j in unreconciled if _given_up(j)]
        self.result.jobs_given_up = len(given_up)
        self.result.jobs_pending = sum(
            1 for j in unreconciled if j["job_id"] not in self._left and not _given_up(j)
        )
        for job in given_up:
            self.result.problems.append(f"bulk job {job['job_id']}: {job['note']}")
        return self.result

    def _one(self, job: dict[str, Any]) -> str:
        """Ask Attentive about one job and act on it: running, done or left."""
        job_id = job["job_id"]
        if job["status"] == "FAILED":  # known failed; its people not all sent again yet
            return self._failed(job)
        try:
            answer = self.client.get(f"/v2/bulk/job/{job_id}")
        except (FatalAPIError, RetriesExhausted) as exc:
            if " 404 " in str(exc):
                return self._leave(job, "Attentive does not know this job (HTTP 404)", True)
            return self._leave(job, f"Attentive did not say how it went ({exc})", True)
        body = answer.body if isinstance(answer.body, dict) else {}
        status = body.get("status")
        if not answer.accepted or not isinstance(status, str):
            return self._leave(job, f"its status could not be read (HTTP {answer.status})", True)
        if status == "FAILED":
            return self._failed(job)
        if status != "COMPLETED":
            return "running"
        url = body.get("url")
        if not isinstance(url, str) or not url:
            return self._leave(job, "it COMPLETED without a results file", True)
        try:
            content = self.client.download(url)
        except ResultsUnavailable as exc:
            note = f"{exc}; the link may have expired (Attentive keeps results two weeks)"
            return self._leave(job, note, True)
        return self._completed(job, content)

    def _leave(self, job: dict[str, Any], why: str, unavailable: bool) -> str:
        self._left.add(job["job_id"])
        if unavailable:
            self.result.jobs_unavailable += 1
            self.ledger.note_job(job["job_id"], job["status"], why)
        message = f"bulk job {job['job_id']}: {why}; left for the next reconcile"
        self.result.problems.append(message)
        self.logger.warning("%s", message)
        return "left"

    # -- a completed job --------------------------------------------------------------------

    def _completed(self, job: dict[str, Any], content: bytes) -> str:
        job_id = job["job_id"]
        entries = {e.key: e for e in self.ledger.job_entries(job_id)}
        carried = {key for key, _digest in self.ledger.job_people(job_id)}
        outcomes, unreadable = read_results(content.splitlines(), carried)
        outcomes = {k: o for k, o in outcomes.items() if k in entries}  # not settled before
        refused = [(entries[k], o) for k, o in outcomes.items() if not o.accepted]
        accepted = [entries[k] for k, o in outcomes.items() if o.accepted]
        for entry, outcome in refused:
            self._reject(job, entry, outcome)
        if refused:
            self.rejects.make_durable()  # before the ledger forgets them
        missing = len(entries) - len(outcomes)
        complete = not unreadable and not missing
        note = None
        if not complete:
            note = (
                f"{unreadable} results lines could not be read and {missing} people have no "
                "line: they stay as they are (not forgotten; their opt-ins stay submitted)"
            )
        self.ledger.settle_job(
            job_id,
            {e.key: "accepted" for e in accepted} | {e.key: "refused" for e, _ in refused},
            confirm=[c for e in accepted for c in claims_of(e.payload)],
            release=[c for e, o in refused for c in claims_of(e.payload or o.request)],
            forget=[(e.key, e.digest) for e, _ in refused],
            finished="COMPLETED" if complete else None,
            note=("COMPLETED", note) if note else None,
        )
        result = self.result
        result.people_accepted += len(accepted)
        result.people_refused += len(refused)
        stream = job["stream"]
        result.by_stream[stream] = result.by_stream.get(stream, 0) + len(refused)
        self.logger.info(
            "Bulk job %s COMPLETED: %d people accepted, %d refused by Attentive",
            job_id,
            len(accepted),
            len(refused),
        )
        if complete:
            result.jobs_finished += 1
            return "done"
        result.jobs_unreadable += 1
        result.lines_unreadable += unreadable
        result.people_without_line += missing
        return self._leave(job, note or "", False)

    def _reject(self, job: dict[str, Any], entry: JobEntry, outcome: LineOutcome) -> None:
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

    # -- a failed job -----------------------------------------------------------------------

    def _failed(self, job: dict[str, Any]) -> str:
        job_id, attempt = job["job_id"], job.get("attempt") or 1
        entries = self.ledger.job_entries(job_id)
        doubt = [c for e in entries for c in claims_of(e.payload)]
        if attempt >= MAX_SUBMISSIONS:
            note = (
                f"FAILED {attempt} times; its {len(entries)} people are not sent again "
                "automatically (none was written to the rejects file)"
            )
            self.ledger.settle_job(job_id, {}, doubt=doubt, note=("FAILED", note))
            self.logger.warning("Bulk job %s %s", job_id, note)
            return "given up"
        current = self.ledger.last_hashes([e.key for e in entries])
        resend = [e for e in entries if e.payload and current.get(e.key) == e.digest]
        outcomes = {e.key: "superseded" for e in entries if e.payload and e not in resend}
        outcomes |= {e.key: "forgotten" for e in entries if not e.payload}
        not_kept = [(e.key, e.digest) for e in entries if not e.payload]
        # Opt-ins in doubt before anything goes again: the job may have applied them.
        self.ledger.settle_job(
            job_id, outcomes, doubt=doubt, forget=not_kept, note=("FAILED", "sending again")
        )
        return self._resubmit(job, resend)

    def _resubmit(self, job: dict[str, Any], resend: list[JobEntry]) -> str:
        job_id, attempt = job["job_id"], job.get("attempt") or 1
        stripped = [
            JobEntry(e.key, e.digest, without_subscriptions(e.payload or {}), e.sources)
            for e in resend
        ]
        new_jobs: list[JobRecord] = []
        outcomes: dict[str, str] = {}
        refused: list[JobEntry] = []

        def post(part: list[JobEntry]) -> Any:
            return self.client.post(BULK_PATH, dumps({"users": [e.payload for e in part]}))

        def answered(part: list[JobEntry], answer: Any) -> None:
            new_id = job_id_of(answer) if answer.accepted else None
            if new_id:
                payloads = [[e.key, e.digest, e.payload, e.sources] for e in part]
                people = [(e.key, e.digest) for e in part]
                new_jobs.append(
                    JobRecord(new_id, job["stream"], people, payloads, attempt + 1, job_id)
                )
                outcomes.update(dict.fromkeys((e.key for e in part), "resent"))
            elif not answer.accepted:  # Attentive refused this very person
                for entry in part:
                    outcome = LineOutcome(False, answer.status, answer.message, entry.payload)
                    self._reject(job, entry, outcome)
                    refused.append(entry)
                    outcomes[entry.key] = "refused"

        problem = None
        try:
            for start in range(0, len(stripped), BULK_MAX):
                post_in_halves(stripped[start : start + BULK_MAX], post, answered)
        except (FatalAPIError, RetriesExhausted) as exc:
            problem = f"sending its people again failed ({exc})"
        if refused:
            self.rejects.make_durable()
        complete = len(outcomes) == len(resend) and problem is None
        if not complete and problem is None:
            problem = "Attentive took its people again without a batchJobId"
        self.ledger.settle_job(
            job_id,
            outcomes,
            new_jobs=new_jobs,
            forget=[(e.key, e.digest) for e in refused],
            finished="FAILED" if complete else None,
            note=None if complete else ("FAILED", problem),
        )
        resent = sum(1 for o in outcomes.values() if o == "resent")
        self.result.people_resubmitted += resent
        self.result.people_refused += len(refused)
        self.result.jobs_resubmitted += 1 if new_jobs else 0
        self.logger.warning(
            "Bulk job %s FAILED (submission %d): %d people sent again in %d jobs, without "
            "their opt-ins (now in doubt)",
            job_id,
            attempt,
            resent,
            len(new_jobs),
        )
        if complete:
            self.result.jobs_finished += 1
            return "done"
        return self._leave(job, problem or "", True)


def _given_up(job: dict[str, Any]) -> bool:
    return job["status"] == "FAILED" and (job.get("attempt") or 1) >= MAX_SUBMISSIONS
