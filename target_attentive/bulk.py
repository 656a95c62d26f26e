"""Bulk requests' own rules: the path, the job an accepted one became, and the halving of
a refused one.

Shared by the sending process (sending.py), which splits a refused batch of people, and
the reconciliation of failed jobs (jobs_resend.py), which sends their people again the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from target_attentive.answers import Answer
from target_attentive.retry import Outcome

BULK_PATH = "/v2/bulk/user/attributes"

T = TypeVar("T")


def post_in_halves(
    unit: list[T],
    post: Callable[[list[T]], Answer],
    answered: Callable[[list[T], Answer], None],
    *,
    split: Callable[[list[T], Answer], None] | None = None,
    abandoned: Callable[[list[T]], None] | None = None,
) -> None:
    """Post `unit`; when Attentive refuses it (a 4xx about the body) and it holds more than
    one person, post each half the same way, until the refused people are alone.

    `answered` gets every final answer with its part, `split` every refused part before
    it is halved; when a post raises, `abandoned` gets the parts never sent, then the
    exception goes on.
    """
    answer = post(unit)
    if answer.outcome is not Outcome.REFUSED or len(unit) < 2:
        answered(unit, answer)
        return
    if split is not None:
        split(unit, answer)
    half = (len(unit) + 1) // 2
    parts = [unit[:half], unit[half:]]
    for n, part in enumerate(parts):
        try:
            post_in_halves(part, post, answered, split=split, abandoned=abandoned)
        except BaseException:
            if abandoned is not None:
                for later in parts[n + 1 :]:
                    abandoned(later)
            raise


def job_id_of(answer: Answer) -> str | None:
    """The bulk job an accepted bulk request became."""
    if answer.accepted and isinstance(answer.body, dict) and answer.body.get("batchJobId"):
        return str(answer.body["batchJobId"])
    return None
