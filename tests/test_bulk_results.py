"""Reading a bulk job's results file, and splitting a refused request (pure, no HTTP).

The forms a line is read in are exactly the ones tested here: anything else is unknown,
and an unknown line never forgets a person nor releases an opt-in.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from target_attentive.client import Answer
from target_attentive.jobs import reconcile
from target_attentive.ledger import JobRecord, Ledger
from target_attentive.rejects import RejectsFile
from target_attentive.results import read_results
from target_attentive.sending import post_in_halves

KEYS = {"email:a@example.com", "email:b@example.com"}
LOG = logging.getLogger("test")


def line(email: str = "a@example.com", **response: Any) -> bytes:
    request = {"identifiers": {"email": email}}
    return json.dumps({"request": request, "response": response}).encode()


def test_the_known_forms() -> None:
    lines = [
        line(status=202, message="ok"),
        line("b@example.com", statusCode=400, body={"error": "Tier is a number"}),
        b"",
    ]
    outcomes, unreadable = read_results(lines, KEYS)
    assert unreadable == 0
    a, b = outcomes["email:a@example.com"], outcomes["email:b@example.com"]
    assert (a.accepted, a.status, a.message) == (True, 202, "ok")
    assert (b.accepted, b.status) == (False, 400)
    assert json.loads(b.message) == {"error": "Tier is a number"}
    assert b.request == {"identifiers": {"email": "b@example.com"}}


@pytest.mark.parametrize(
    "raw",
    [
        line(status="SUCCESS"),
        line(status="400"),
        line(status={"code": 202}),
        line(code=202),
        line(status=True),
        line(status=202.0),
        line(status=500),
        line(status=429),
        line(status=404),
        line("stranger@example.com", status=400),
        json.dumps({"request": {}, "response": {"status": 400}}).encode(),
        json.dumps({"response": {"status": 400}}).encode(),
        json.dumps(["a@example.com", 400]).encode(),
        b"not json",
    ],
    ids=[
        "text",
        "numeric-text",
        "object",
        "other-key",
        "bool",
        "float",
        "5xx",
        "429",
        "404",
        "not-in-the-job",
        "no-identifiers",
        "no-request",
        "array",
        "not-json",
    ],
)
def test_anything_else_is_unknown(raw: bytes) -> None:
    assert read_results([raw], KEYS) == ({}, 1)


def test_two_lines_that_disagree_settle_nobody() -> None:
    lines = [
        line(status=202),
        line(status=400),
        line(status=202),
        line("b@example.com", status=202),
    ]
    outcomes, unreadable = read_results(lines, KEYS)
    assert list(outcomes) == ["email:b@example.com"]
    assert unreadable == 3


def _answer(status: int) -> Answer:
    return Answer(status, {"batchJobId": "j"} if status == 202 else {}, "", 1)


def test_a_refused_request_is_halved_until_the_bad_people_are_alone() -> None:
    bad = {5, 6, 13}
    posted: list[list[int]] = []
    answered: list[tuple[list[int], int]] = []
    splits: list[list[int]] = []

    def post(part: list[int]) -> Answer:
        posted.append(part)
        return _answer(400 if bad & set(part) else 202)

    post_in_halves(
        list(range(16)),
        post,
        lambda part, answer: answered.append((part, answer.status)),
        split=lambda part, _answer: splits.append(part),
    )
    refused = [part for part, status in answered if status == 400]
    assert refused == [[5], [6], [13]]
    assert sorted(i for part, status in answered if status == 202 for i in part) == sorted(
        set(range(16)) - bad
    )
    assert len(posted) <= 2 * len(bad) * 4 + 1  # log2(16) levels per bad person, at most
    assert splits[0] == list(range(16))


def test_a_failure_midway_abandons_the_parts_never_sent() -> None:
    abandoned: list[list[int]] = []

    def post(part: list[int]) -> Answer:
        if part == [0, 1]:
            raise RuntimeError("outage")
        return _answer(400 if 0 in part else 202)

    with pytest.raises(RuntimeError):
        post_in_halves(list(range(4)), post, lambda *_: None, abandoned=abandoned.append)
    assert abandoned == [[2, 3]]


class _Attentive:
    """A stand-in client: one COMPLETED job whose results file the test writes."""

    def __init__(self) -> None:
        self.results = b""

    def get(self, path: str) -> Answer:
        return Answer(200, {"status": "COMPLETED", "url": "https://results.example/x"}, "", 1)

    def download(self, url: str) -> bytes:
        return self.results


def test_a_job_read_in_part_is_finished_by_a_later_reconcile(tmp_path: Path) -> None:
    entries = [
        [f"email:{n}@example.com", f"h{n}", {"identifiers": {"email": f"{n}@example.com"}}, []]
        for n in ("a", "b")
    ]
    people = [(e[0], e[1]) for e in entries]
    attentive = _Attentive()
    rejects = RejectsFile(str(tmp_path / "rejects.jsonl"))
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.record_bulk([JobRecord("job-1", "users", people, entries)], people, [])
        attentive.results = line(status=202) + b"\n" + line("b@example.com", status="SUCCESS")
        first = reconcile(ledger, attentive, rejects, LOG)  # type: ignore[arg-type]
        assert (first.people_accepted, first.lines_unreadable, first.jobs_finished) == (1, 1, 0)
        attentive.results = line(status=202) + b"\n" + line("b@example.com", status=202)
        second = reconcile(ledger, attentive, rejects, LOG)  # type: ignore[arg-type]
        assert (second.people_accepted, second.lines_unreadable, second.jobs_finished) == (1, 0, 1)
        assert ledger.unreconciled_jobs() == []
    rejects.close()
