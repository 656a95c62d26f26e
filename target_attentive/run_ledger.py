"""The ledger as a run opens it, and what the run says first about what it holds."""

from __future__ import annotations

import logging
from typing import Any

from target_attentive.settings import Settings


def open_ledger(settings: Settings) -> Any:
    """The ledger, read-only on a dry run (a dry run shows what would be sent).

    A dry run on a SQLite file not made yet reads an empty ledger that needs no SQLAlchemy.
    """
    if settings.dry_run:
        from target_attentive.ledger.url import unmade_sqlite_file

        path = unmade_sqlite_file(settings.ledger_url)
        if path is not None:
            from target_attentive.ledger.empty import AbsentLedger

            return AbsentLedger(path)
    from target_attentive.ledger import Ledger

    return Ledger(settings.ledger_url, read_only=settings.dry_run)


def warn_unsure_optins(ledger: Any, logger: logging.Logger) -> None:
    """Opt-ins whose fate an earlier run did not learn: each status said for what it is.

    None of them is ever resent automatically.
    """
    optins = ledger.counts()["optins"]
    what = {
        "pending": "were claimed right before a request whose answer was never recorded "
        "(a run killed, or one going on now): they may or may not have been sent",
        "in_doubt": "were sent without a clear answer (a timeout, a 5xx, a failed bulk job): "
        "they may or may not have been applied",
        "submitted": "are in bulk jobs whose results were not read yet: "
        "`target-attentive-jobs` reads them (or set bulk_wait_seconds)",
    }
    for status, meaning in what.items():
        if optins.get(status):
            logger.warning(
                "%d opt-ins %s. They are never resent automatically; list them with "
                "`target-attentive-ledger optins --status %s`.",
                optins[status],
                meaning,
                status,
            )
