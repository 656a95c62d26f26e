"""The C heap keeps what a batch freed (heap.py): fewer page faults, the same peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from target_attentive.heap import keep_freed_memory
from tests.targetrun import person, singer_lines, write_input

# A dry run in a child, `heap.keep_freed_memory` made a no-op for the plain one.
_CHILD = """
import json, resource, sys
import target_attentive.heap as heap
if sys.argv[1] == "plain":
    heap.keep_freed_memory = lambda: False
from target_attentive.target import TargetAttentive
try:
    TargetAttentive.cli(["--config", sys.argv[2], "--input", sys.argv[3]])
except SystemExit as stop:
    assert not stop.code, stop.code
usage = resource.getrusage(resource.RUSAGE_SELF)
sys.stderr.write(json.dumps({"faults": usage.ru_minflt, "peak_kb": usage.ru_maxrss}) + "\\n")
"""


def _run(mode: str, tmp_path: Path, source: Path) -> dict:
    where = tmp_path / mode
    where.mkdir()
    config = where / "config.json"
    config.write_text(
        json.dumps(
            {
                "dry_run": True,
                "dry_run_path": str(where / "dry.jsonl"),
                "rejects_path": str(where / "rejects.jsonl"),
                "ledger_enabled": False,
                "mapping": {"identifiers": {"email": "email", "clientUserId": "id"}},
                "batch_size_rows": 1000,
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(config), str(source)],
        capture_output=True,
        text=True,
        cwd=where,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.skipif(not keep_freed_memory(), reason="the C library is not glibc")
def test_freed_batches_are_not_faulted_in_again(tmp_path: Path) -> None:
    records = (person(i, first_name=f"{i:0700d}") for i in range(30_000))  # malloc-sized texts
    source = write_input(tmp_path / "in.singer", singer_lines(records))
    plain, tuned = _run("plain", tmp_path, source), _run("tuned", tmp_path, source)
    assert plain["faults"] > 2 * tuned["faults"], (plain, tuned)
    assert tuned["peak_kb"] <= plain["peak_kb"] * 1.1, (plain, tuned)
