"""A COMPLETED bulk job: its results file says, person by person, what Attentive did.

A success line confirms the person's opt-ins; a refusal line writes the person to the
rejects file, with the record they came from, forgets them (the next run sends them
again once fixed) and releases their opt-ins. A line in any other form settles nobody:
the job stays unreconciled.
"""

from __future__ import annotations

from typing import Any

from target_attentive.jobs_context import JobContext, claims_of
from target_attentive.results import read_results


def settle_completed(ctx: JobContext, job: dict[str, Any], content: bytes) -> str:
    """A COMPLETED job: its results file settles each person it carries."""
    job_id = job["job_id"]
    entries = {e.key: e for e in ctx.ledger.job_entries(job_id)}
    carried = {key for key, _digest in ctx.ledger.job_people(job_id)}
    outcomes, unreadable = read_results(content.splitlines(), carried)
    outcomes = {k: o for k, o in outcomes.items() if k in entries}  # not settled before
    refused = [(entries[k], o) for k, o in outcomes.items() if not o.accepted]
    accepted = [entries[k] for k, o in outcomes.items() if o.accepted]
    for entry, outcome in refused:
        ctx.reject(job, entry, outcome)
    if refused:
        ctx.rejects.make_durable()  # before the ledger forgets them
    missing = len(entries) - len(outcomes)
    complete = not unreadable and not missing
    note = None
    if not complete:
        note = (
            f"{unreadable} results lines could not be read and {missing} people have no "
            "line: they stay as they are (not forgotten; their opt-ins stay submitted)"
        )
    ctx.ledger.settle_job(
        job_id,
        {e.key: "accepted" for e in accepted} | {e.key: "refused" for e, _ in refused},
        confirm=[c for e in accepted for c in claims_of(e.payload)],
        release=[c for e, o in refused for c in claims_of(e.payload or o.request)],
        forget=[(e.key, e.digest) for e, _ in refused],
        finished="COMPLETED" if complete else None,
        note=("COMPLETED", note) if note else None,
    )
    result = ctx.result
    result.people_accepted += len(accepted)
    result.people_refused += len(refused)
    stream = job["stream"]
    result.by_stream[stream] = result.by_stream.get(stream, 0) + len(refused)
    ctx.logger.info(
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
    return ctx.leave(job, note or "", False)
