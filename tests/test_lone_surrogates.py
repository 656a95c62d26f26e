"""Text that is not Unicode (a lone surrogate) never stops, hangs or garbles a run.

A tap's JSON can carry one as an escape (`"\\ud800"`), and Python reads it as a str no
UTF-8 encoder takes. Found by trying it: every mode crashed writing the record to the
rejects file, and single and bulk mode hung when the sending process could not read the
frame carrying it. Now a mapped field holding one is left out with a reason, and the
record is written and kept (rejects file, bulk jobs) with the escape, losing nothing.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import threading
from pathlib import Path

import pytest
from targetrun import (
    read_lines,
    run_in_mode,
)

from target_attentive.frames import read_frame, write_frame
from target_attentive.jsonl import dumps
from target_attentive.kinds.values import to_property
from target_attentive.ledger import Ledger
from target_attentive.outgoing import Outgoing
from target_attentive.problems import Invalid
from target_attentive.report import Tally
from target_attentive.sender import SenderDied, SenderProcess
from target_attentive.settings import Settings
from target_attentive.values import to_custom_value, to_text

LONE = "Bo\ud83dx"  # a high surrogate with no low one after it

RECORDS = [
    {"id": 1, "email": "one@example.com", "first_name": "Ann", "extra": "x\ud800y"},  # unmapped
    {"id": 2, "email": "two@example.com", "first_name": LONE},  # mapped: left out
    {"id": 3, "email": "three@example.com", "tier": "\udfff"},  # a custom attribute
    {"id": 4, "email": "four@example.com", "first_name": "Zoë 😀"},  # real non-ASCII text
]
MAPPING = {
    "identifiers": {"email": "email", "clientUserId": "id"},
    "attributes": {"firstName": "first_name"},
    "custom_attributes": {"Note": "tier"},
}


@pytest.mark.parametrize("mode", ["dry run", "single", "bulk"])
def test_a_lone_surrogate_costs_its_field_and_nothing_else(tmp_path: Path, mode: str) -> None:
    run = run_in_mode(mode, RECORDS, tmp_path, mapping=MAPPING, max_retry_seconds=5)
    result, config, in_jobs = run.result, run.config, run.in_jobs  # a hang fails in it
    assert result.returncode == 0, result.stderr[-3000:]
    sent = {p["identifiers"]["clientUserId"]: p["attributes"] for p in run.people}
    assert result.states == [{"last_id": 4}]
    summary = result.summary()
    done = summary["written"] if mode == "dry run" else summary["accepted"]
    assert (summary["read"], done, summary["rejected"]) == (4, 4, 0)
    omitted = {line["position"]: line for line in read_lines(tmp_path / "rejects.jsonl")}
    assert sorted(omitted) == [2, 3]
    assert omitted[2]["field"] == "attributes.firstName"
    assert omitted[3]["field"] == "attributes.custom.Note"
    assert "lone surrogate" in omitted[2]["reason"]
    assert omitted[2]["record"]["first_name"] == LONE  # written with the escape, read back whole
    if mode == "single":
        assert sent["2"] == {} and sent["4"] == {"firstName": "Zoë 😀"}
    if mode == "dry run":
        payloads = {p["position"]: p["payload"] for p in read_lines(tmp_path / "dry.jsonl")}
        assert "attributes" not in payloads[2] and "attributes" not in payloads[3]
        assert payloads[4]["attributes"] == {"firstName": "Zoë 😀"}
    if mode == "bulk":  # Attentive took them into a job; the job keeps each record whole
        assert in_jobs == 4
        with Ledger(config["ledger_url"], read_only=True) as ledger:
            (job,) = ledger.unreconciled_jobs()
            kept = {e.key: e.sources for e in ledger.job_entries(job["job_id"])}
        assert kept["clientUserId:1"] == [[1, RECORDS[0]]]
        assert kept["clientUserId:2"] == [[2, RECORDS[1]]]


def test_text_conversions_refuse_a_lone_surrogate_and_keep_real_text() -> None:
    for convert in (to_text, to_custom_value, to_property):
        with pytest.raises(Invalid, match="lone surrogate"):
            convert(LONE)
        assert convert("Zoë 😀") == "Zoë 😀"
    with pytest.raises(Invalid, match="lone surrogate"):
        to_property({"a": {"\udc00": 1}})  # a key too


def test_json_lines_and_frames_carry_a_lone_surrogate_whole() -> None:
    value = {"name": LONE, "big": 2**70, "ok": "é"}
    assert json.loads(dumps(value)) == {"name": LONE, "big": str(2**70), "ok": "é"}
    stream = io.BytesIO()
    write_frame(stream, {"kind": "batch", "people": [value]})
    stream.seek(0)
    assert read_frame(stream) == {"kind": "batch", "people": [json.loads(dumps(value))]}


def test_a_frame_the_sending_process_cannot_read_fails_the_batch_rather_than_hang() -> None:
    """Whatever ends the sending process's reading ends the process: the batch waiting on
    it fails with SenderDied, where it used to wait for ever."""
    settings = Settings.from_config(
        {"api_key": "k", "api_url": "http://127.0.0.1:9", "ledger_enabled": False}
    )
    sender = SenderProcess(settings, logging.getLogger("test"), Tally())
    try:
        # Bytes no JSON reader takes, framed as the parent frames a batch (frames.py).
        sender._to_child.write(struct.pack(">I", 5) + b"{bad}")
        sender._to_child.flush()
        people = [Outgoing("email:a", "", {"identifiers": {"email": "a@example.com"}})]
        raised: list[BaseException] = []

        def wait() -> None:
            try:
                sender.wait(sender.submit(people, "people"), threading.Event(), lambda: None)
            except BaseException as exc:
                raised.append(exc)

        waiting = threading.Thread(target=wait, daemon=True)
        waiting.start()
        waiting.join(30)  # a hang fails the test, not the suite
        assert not waiting.is_alive(), "the batch waited for a process that reads nothing"
        assert [type(exc) for exc in raised] == [SenderDied]
    finally:
        sender.close(timeout=10)
