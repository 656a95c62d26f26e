"""What a batch's answered requests come to: who was accepted and who refused, and the
accepted (with the bulk jobs they became) written to the ledger in one go.

Kept apart from the sending loop (sending.py): the workers only collect answers, and the
batch is recorded once, when its requests are done or the first one failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from target_attentive.answers import Answer
from target_attentive.bulk import job_id_of
from target_attentive.ledger.records import JobRecord
from target_attentive.outgoing import Claim, Outgoing, Refusal, Sent
from target_attentive.report import Tally


@dataclass
class Leaf:
    """One request that got a final answer: the people it carried (with their index in
    the batch) and the answer."""

    unit: list[tuple[int, Outgoing]]
    answer: Answer


@dataclass
class UnitResult:
    """What became of one unit of work: its answered requests, and what stopped it."""

    leaves: list[Leaf]
    error: BaseException | None = None


def kept_sources(person: Outgoing) -> orjson.Fragment:
    """A person's source records as the job keeps them: the JSON text the reading process
    wrote, put in the job's payloads as it is."""
    return orjson.Fragment(person.sources_json or "[]")


def record(
    results: list[UnitResult], stream: str, *, bulk: bool, ledger: Any | None, tally: Tally
) -> Sent:
    """Who was accepted and refused; the accepted (and bulk jobs) into the ledger."""
    sent = Sent()
    accepted: list[tuple[str, str]] = []
    owners: list[tuple[str, str]] = []
    records: list[JobRecord] = []
    submitted: list[Claim] = []
    for leaf in (leaf for result in results for leaf in result.leaves):
        answer = leaf.answer
        if not answer.accepted:
            sent.refused += [
                Refusal(i, answer.status, answer.message, answer.attempts) for i, _ in leaf.unit
            ]
            continue
        sent.accepted += [i for i, _ in leaf.unit]
        accepted += [(p.key, p.digest) for _, p in leaf.unit]
        owners += [(i, p.key) for _, p in leaf.unit for i in p.identity_keys()]
        job_id = job_id_of(answer)
        if bulk and job_id:
            sent.job_ids.append(job_id)
        if bulk and job_id and ledger is not None:
            people = [p for _, p in leaf.unit]
            records.append(
                JobRecord(
                    job_id,
                    stream,
                    [(p.key, p.digest) for p in people],
                    [[p.key, p.digest, p.payload, kept_sources(p)] for p in people],
                )
            )
            if not answer.optins_in_doubt:
                submitted += [c for p in people for c in p.claims]
    sent.accepted.sort()
    if ledger is not None and accepted:
        if bulk:
            ledger.record_bulk(records, accepted, submitted, owners)
        else:
            ledger.record_accepted(accepted, owners)
    if sent.job_ids:
        tally.request("bulk_jobs", len(sent.job_ids))
    if submitted:
        tally.request("optins_submitted", len(submitted))
    return sent
