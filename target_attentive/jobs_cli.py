"""`target-attentive-jobs`: follow a bulk run's jobs and set aside the people refused.

Reads the same config file as the target (api_url, api_key, ledger_url, rejects_path),
so `meltano invoke target-attentive:jobs` works with the loader's settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from target_attentive.client import AttentiveClient
from target_attentive.jobs import reconcile
from target_attentive.ledger import Ledger
from target_attentive.rejects import RejectsFile
from target_attentive.report import Tally
from target_attentive.settings import DEFAULT_API_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="target-attentive-jobs", description=__doc__)
    parser.add_argument("--config", required=True, help="the target's config JSON file")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logger = logging.getLogger("target_attentive.jobs")
    with open(args.config) as handle:
        config = json.load(handle)
    if not config.get("api_key"):
        logger.error("api_key: required to ask Attentive about bulk jobs")
        return 2
    tally = Tally()
    client = AttentiveClient(
        config.get("api_url") or DEFAULT_API_URL,
        config["api_key"],
        requests_per_second=10,
        concurrency=1,
        timeout_seconds=config.get("request_timeout_seconds") or 30,
        max_retry_seconds=config.get("max_retry_seconds") or 600,
        tally=tally,
        logger=logger,
    )
    ledger = Ledger(config.get("ledger_url"))
    rejects = RejectsFile(config.get("rejects_path") or "attentive_rejects.jsonl")
    try:
        result = reconcile(ledger, client, rejects, logger, wait_seconds=args.wait)
    finally:
        rejects.close()
        client.close()
    summary = {
        "jobs_finished": result.jobs_finished,
        "jobs_pending": result.jobs_pending,
        "people_refused": result.people_refused,
        "rejects_path": rejects.path,
    }
    logger.info("%s", json.dumps(summary))
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
