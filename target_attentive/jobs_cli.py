"""`target-attentive-jobs`: follow a bulk run's jobs and set aside the people refused.

Reads the same config file as the target (api_url, api_key, ledger_url, rejects_path), or,
without --config, the `TARGET_ATTENTIVE_<SETTING>` variables Meltano sets for a plugin
command, so `meltano invoke target-attentive:jobs` works with the loader's settings.
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
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logger = logging.getLogger("target_attentive.jobs")
    if args.config:
        with open(args.config) as handle:
            config = json.load(handle)
    else:
        config = config_from_env(os.environ)
    settings = Settings.from_config(config)
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
