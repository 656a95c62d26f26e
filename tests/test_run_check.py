"""`Run.check`: a batch failed in the background stops the reading at the next record.

It looks at the batches only once one has ended (a flag their futures set), not on every
record; these tests hold it to what looking every time gave.
"""

from __future__ import annotations

import logging
import threading

import pytest

from target_attentive.answers import StopRequested
from target_attentive.run import Run
from target_attentive.settings import Settings


def _run(tmp_path) -> Run:
    settings = Settings.from_config(
        {
            "dry_run": True,
            "ledger_enabled": False,
            "rejects_path": str(tmp_path / "rejects.jsonl"),
            "dry_run_path": str(tmp_path / "dry.jsonl"),
        }
    )
    return Run(settings, logging.getLogger("test"), lambda state: None)


def _wait_ended(run: Run) -> None:
    for future in list(run._in_flight):
        future.exception(timeout=10)


def test_a_failed_batch_raises_at_every_check_until_handled(tmp_path) -> None:
    run = _run(tmp_path)
    try:
        release = threading.Event()

        def fails() -> None:
            release.wait(10)
            raise RuntimeError("batch 1 failed")

        run._launch(fails)
        run.check()  # still out: nothing to say
        release.set()
        _wait_ended(run)
        for _ in range(3):
            with pytest.raises(RuntimeError, match="batch 1 failed"):
                run.check()
    finally:
        run.abort()
        run.finish()


def test_batches_that_settled_never_raise(tmp_path) -> None:
    run = _run(tmp_path)
    try:
        for _ in range(3):
            run._launch(lambda: None)
        _wait_ended(run)
        run.check()
        run.check()
    finally:
        run.finish()


def test_a_failure_after_a_success_is_seen(tmp_path) -> None:
    """The flag a settled batch set and `check` cleared must not hide a later failure."""
    run = _run(tmp_path)
    try:
        run._launch(lambda: None)
        _wait_ended(run)
        run.check()
        release = threading.Event()

        def fails() -> None:
            release.wait(10)
            raise ValueError("later batch failed")

        run._launch(fails)
        run.check()
        release.set()
        _wait_ended(run)
        with pytest.raises(ValueError, match="later batch failed"):
            run.check()
    finally:
        run.abort()
        run.finish()


def _stopped_by_another_failure(run: Run, cause: BaseException | None) -> None:
    """The oldest batch ends in StopRequested after a newer one failed (or none did)."""
    newer_failed = threading.Event()

    def oldest() -> None:
        newer_failed.wait(10)
        raise StopRequested("stop requested")

    def newer() -> None:
        try:
            if cause is not None:
                raise cause
        finally:
            newer_failed.set()

    run._launch(oldest)
    run._launch(newer)
    _wait_ended(run)


@pytest.mark.parametrize("how", ["settle", "check"])
def test_a_batch_stopped_by_another_s_failure_reports_that_failure(tmp_path, how) -> None:
    run = _run(tmp_path)
    try:
        _stopped_by_another_failure(run, RuntimeError("batch 2 failed: Attentive kept failing"))
        with pytest.raises(RuntimeError, match="batch 2 failed"):
            run._pipeline.settle_oldest() if how == "settle" else run.check()
    finally:
        run.abort()
        run.finish()


def test_a_stop_with_no_failure_behind_it_stays_a_stop(tmp_path) -> None:
    run = _run(tmp_path)
    try:
        _stopped_by_another_failure(run, None)
        with pytest.raises(StopRequested):
            run._pipeline.settle_oldest()
    finally:
        run.abort()
        run.finish()
