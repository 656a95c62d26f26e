"""What a run does once its last state line is out: reconcile bulk jobs, report.

Nothing here fails the run: the state is written by then.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from target_attentive.delivery import Delivery
from target_attentive.jobs import reconcile
from target_attentive.rejects import RejectsFile
from target_attentive.report import Tally, render
from target_attentive.settings import Settings


def reconcile_jobs(
    settings: Settings,
    ledger: Any,
    delivery: Delivery,
    rejects: RejectsFile,
    tally: Tally,
    logger: logging.Logger,
) -> None:
    """With bulk_wait_seconds, reconcile every unreconciled bulk job in the ledger (this
    run's and earlier ones'). It runs after the last state line: nothing it meets
    fails the run; what it cannot settle is left for `target-attentive-jobs`."""
    wait_seconds = settings.bulk_wait_seconds
    if not wait_seconds or ledger is None or settings.dry_run:
        return
    if not ledger.unreconciled_jobs():
        return
    logger.info("Reconciling bulk jobs, waiting up to %s s for them", wait_seconds)
    try:
        result = reconcile(
            ledger,
            delivery.api_client(),
            rejects,
            logger,
            wait_seconds=wait_seconds,
            stop=delivery.stop,
        )
    except Exception as exc:  # the state is written: report it, do not fail the run
        logger.warning(
            "Reconciling bulk jobs stopped (%s: %s); `target-attentive-jobs --config <file>` "
            "goes on from there",
            type(exc).__name__,
            exc,
        )
        return
    for name, count in result.counts().items():
        if count:
            tally.request(f"bulk_{name}", count)
    if result.jobs_pending or result.problems:
        logger.warning(
            "%d bulk jobs still running, %d left unreconciled; `target-attentive-jobs "
            "--config <file>` reconciles them later",
            result.jobs_pending,
            len(result.problems),
        )


def log_report(summary: dict[str, Any], dry_run: bool, logger: logging.Logger) -> None:
    """The run report, its summary as a METRIC line, and a warning when records stay
    unsettled."""
    logger.info("%s", render(summary, dry_run=dry_run))
    logger.info("METRIC: %s", json.dumps({"type": "summary", "value": summary}))
    if summary["unsettled"]:
        logger.warning(
            "%d records were not sent or not settled; a rerun from the last state line "
            "resumes with them (people Attentive accepted are skipped as unchanged).",
            summary["unsettled"],
        )
