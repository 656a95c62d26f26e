"""`target-attentive-jobs`: reconcile every bulk job the ledger has not reconciled yet.

Whichever run submitted them: refused people go to the rejects file, failed jobs' people
are sent again, and what cannot be settled is listed. Reads the same config file as the
target (api_url, api_key, ledger_url, rejects_path), or, without --config, the
`TARGET_ATTENTIVE_<SETTING>` variables Meltano sets for a plugin command, so `meltano
invoke target-attentive:jobs` works with the loader's settings.

Prints one JSON object: what this reconcile did (in jobs and in people), `unreconciled`
(each job still open, with why), `rejects_path`. Exit status 0 when every job is
reconciled or still running at Attentive, 1 when a job is left for another reason (its
results could not be read or had, or it failed too often), 2 on a usage problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from target_attentive import masking
from target_attentive.client import AttentiveClient
from target_attentive.jobs import reconcile
from target_attentive.ledger import Ledger
from target_attentive.rejects import RejectsFile
from target_attentive.report import Tally
from target_attentive.settings import Settings

ENV_SETTINGS = ("api_key", "api_url", "ledger_url", "rejects_path")
ENV_INTEGERS = ("request_timeout_seconds", "max_retry_seconds")


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings this command needs, from `TARGET_ATTENTIVE_<SETTING>` variables."""
    config: dict[str, Any] = {}
    for name in ENV_SETTINGS + ENV_INTEGERS:
        value = environ.get(f"TARGET_ATTENTIVE_{name.upper()}")
        if value:
            config[name] = int(value) if name in ENV_INTEGERS else value
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="target-attentive-jobs", description=__doc__)
    parser.add_argument("--config", help="the target's config JSON file (default: env)")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for jobs")
    parser.add_argument(
        "--list", action="store_true", help="only list the unreconciled jobs; ask nothing"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logger = logging.getLogger("target_attentive.jobs")
    if args.config:
        with open(args.config) as handle:
            config = json.load(handle)
    else:
        config = config_from_env(os.environ)
    settings = Settings.from_config(config)
    if args.list:
        with Ledger(settings.ledger_url, read_only=True) as ledger:
            sys.stdout.write(json.dumps({"unreconciled": _listing(ledger)}) + "\n")
        return 0
    if not settings.api_key:
        logger.error("api_key: required to ask Attentive about bulk jobs")
        return 2
    masking.install((settings.api_key,))
    tally = Tally()
    client = AttentiveClient(
        settings.api_url,
        settings.api_key,
        requests_per_second=10,
        concurrency=1,
        timeout_seconds=settings.request_timeout_seconds,
        max_retry_seconds=settings.max_retry_seconds,
        tally=tally,
        logger=logger,
    )
    ledger = Ledger(settings.ledger_url)
    rejects = RejectsFile(settings.rejects_path)
    try:
        result = reconcile(ledger, client, rejects, logger, wait_seconds=args.wait)
        unreconciled = _listing(ledger)
    finally:
        rejects.close()
        client.close()
        ledger.close()
    summary: dict[str, Any] = {
        **result.counts(),
        "unreconciled": unreconciled,
        "rejects_path": rejects.path,
    }
    for problem in result.problems:
        logger.warning("%s", problem)
    logger.info(
        "%d jobs reconciled, %d still running, %d left; %d people refused, %d sent again; "
        "%d results lines could not be read",
        result.jobs_finished,
        result.jobs_pending,
        len(unreconciled) - result.jobs_pending,
        result.people_refused,
        result.people_resubmitted,
        result.lines_unreadable,
    )
    sys.stdout.write(json.dumps(summary) + "\n")
    return 1 if len(unreconciled) > result.jobs_pending else 0


def _listing(ledger: Any) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job["job_id"],
            "stream": job["stream"],
            "status": job["status"],
            "submitted": job["attempt"],
            "people": job["people"],
            "created_at": job["created_at"].isoformat(),
            "why": job["note"] or "still running at Attentive (or not asked yet)",
        }
        for job in ledger.unreconciled_jobs()
    ]


if __name__ == "__main__":
    sys.exit(main())
