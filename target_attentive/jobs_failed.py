"""A FAILED bulk job: Attentive does not say whether it applied anyone.

So its people are sent again from the payloads the ledger kept, without their opt-ins
(now in doubt), up to `MAX_SUBMISSIONS` times; then the job stays unreconciled, listed,
and nobody is written off to the rejects file.
"""

from __future__ import annotations

from typing import Any

from target_attentive.bulk import BULK_PATH, job_id_of, post_in_halves
from target_attentive.client import FatalAPIError, RetriesExhausted
from target_attentive.jobs_context import MAX_SUBMISSIONS, JobContext, claims_of
from target_attentive.jsonl import dumps
from target_attentive.ledger.records import JobEntry, JobRecord
from target_attentive.outgoing import without_subscriptions
from target_attentive.results import LineOutcome

BULK_MAX = 256


def settle_failed(ctx: JobContext, job: dict[str, Any]) -> str:
    """A FAILED job: its people sent again, or given up after MAX_SUBMISSIONS."""
    job_id, attempt = job["job_id"], job.get("attempt") or 1
    entries = ctx.ledger.job_entries(job_id)
    doubt = [c for e in entries for c in claims_of(e.payload)]
    if attempt >= MAX_SUBMISSIONS:
        note = (
            f"FAILED {attempt} times; its {len(entries)} people are not sent again "
            "automatically (none was written to the rejects file)"
        )
        ctx.ledger.settle_job(job_id, {}, doubt=doubt, note=("FAILED", note))
        ctx.logger.warning("Bulk job %s %s", job_id, note)
        return "given up"
    current = ctx.ledger.last_hashes([e.key for e in entries])
    resend = [e for e in entries if e.payload and current.get(e.key) == e.digest]
    outcomes = {e.key: "superseded" for e in entries if e.payload and e not in resend}
    outcomes |= {e.key: "forgotten" for e in entries if not e.payload}
    not_kept = [(e.key, e.digest) for e in entries if not e.payload]
    # Opt-ins in doubt before anything goes again: the job may have applied them.
    ctx.ledger.settle_job(
        job_id, outcomes, doubt=doubt, forget=not_kept, note=("FAILED", "sending again")
    )
    return _resubmit(ctx, job, resend)


def _resubmit(ctx: JobContext, job: dict[str, Any], resend: list[JobEntry]) -> str:
    """Send the people still current again, without opt-ins, as new jobs that carry the
    failed one on; one Attentive refuses outright goes to the rejects file."""
    job_id, attempt = job["job_id"], job.get("attempt") or 1
    stripped = [
        JobEntry(e.key, e.digest, without_subscriptions(e.payload or {}), e.sources) for e in resend
    ]
    new_jobs: list[JobRecord] = []
    outcomes: dict[str, str] = {}
    refused: list[JobEntry] = []

    def post(part: list[JobEntry]) -> Any:
        return ctx.client.post(BULK_PATH, dumps({"users": [e.payload for e in part]}))

    def answered(part: list[JobEntry], answer: Any) -> None:
        new_id = job_id_of(answer) if answer.accepted else None
        if new_id:
            payloads = [[e.key, e.digest, e.payload, e.sources] for e in part]
            people = [(e.key, e.digest) for e in part]
            new_jobs.append(JobRecord(new_id, job["stream"], people, payloads, attempt + 1, job_id))
            outcomes.update(dict.fromkeys((e.key for e in part), "resent"))
        elif not answer.accepted:  # Attentive refused this very person
            for entry in part:
                outcome = LineOutcome(False, answer.status, answer.message, entry.payload)
                ctx.reject(job, entry, outcome)
                refused.append(entry)
                outcomes[entry.key] = "refused"

    problem = None
    try:
        for start in range(0, len(stripped), BULK_MAX):
            post_in_halves(stripped[start : start + BULK_MAX], post, answered)
    except (FatalAPIError, RetriesExhausted) as exc:
        problem = f"sending its people again failed ({exc})"
    if refused:
        ctx.rejects.make_durable()
    complete = len(outcomes) == len(resend) and problem is None
    if not complete and problem is None:
        problem = "Attentive took its people again without a batchJobId"
    ctx.ledger.settle_job(
        job_id,
        outcomes,
        new_jobs=new_jobs,
        forget=[(e.key, e.digest) for e in refused],
        finished="FAILED" if complete else None,
        note=None if complete else ("FAILED", problem),
    )
    resent = sum(1 for o in outcomes.values() if o == "resent")
    ctx.result.people_resubmitted += resent
    ctx.result.people_refused += len(refused)
    ctx.result.jobs_resubmitted += 1 if new_jobs else 0
    ctx.logger.warning(
        "Bulk job %s FAILED (submission %d): %d people sent again in %d jobs, without "
        "their opt-ins (now in doubt)",
        job_id,
        attempt,
        resent,
        len(new_jobs),
    )
    if complete:
        ctx.result.jobs_finished += 1
        return "done"
    return ctx.leave(job, problem or "", True)
