"""`target-attentive-ledger`: look into the sync ledger, or make it forget.

    target-attentive-ledger counts                       # JSON: people, opt-ins, ...
    target-attentive-ledger forget --email ann@example.com
    target-attentive-ledger forget --key clientUserId:42
    target-attentive-ledger forget-all --yes
    target-attentive-ledger optins --status in_doubt     # JSON lines, oldest first
    target-attentive-ledger optins --status all          # every claim, with its status

The ledger is `--ledger-url`, else the `ledger_url` of the target config given with
`--config`, else `$TARGET_ATTENTIVE_LEDGER_URL` (how Meltano passes the setting), else the
default file `target_attentive_ledger.db` in the working directory. Results go to stdout
as JSON, messages to stderr. Exit status 0, or 2 when the command cannot be done.

`optins` also says on stderr how many claims each status holds, and what the status means:
none of them is ever sent again; only `forget` lets an opt-in go once more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.ledger import OPTIN_STATUSES, Ledger, LedgerError

ENV_URL = "TARGET_ATTENTIVE_LEDGER_URL"
MEANINGS = {
    "pending": "claimed right before a request whose answer was never recorded (a run "
    "killed, or one going on now); may or may not have been sent",
    "submitted": "in bulk jobs Attentive took, results not read yet (target-attentive-jobs)",
    "confirmed": "accepted by Attentive",
    "in_doubt": "sent without a clear answer (a timeout, a 5xx, a failed bulk job); "
    "may or may not have been applied",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-attentive-ledger",
        description="Show or edit the target-attentive sync ledger.",
    )
    parser.add_argument("--ledger-url", help=f"SQLAlchemy URL (default: ${ENV_URL}, else ./...)")
    parser.add_argument("--config", help="a target config JSON file; its ledger_url is used")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("counts", help="people, opt-ins by status, custom attributes, jobs")
    forget = commands.add_parser(
        "forget", help="forget one person: their payload hash and their opt-in claims"
    )
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--email")
    who.add_argument("--phone")
    who.add_argument("--client-user-id")
    who.add_argument("--key", help="a ledger key as stored, e.g. email:ann@example.com")
    forget.add_argument(
        "--region",
        default=CONFIG_SCHEMA["properties"]["default_phone_region"]["default"],
        help="region of a phone number written without +country code",
    )
    everything = commands.add_parser("forget-all", help="empty the ledger")
    everything.add_argument("--yes", action="store_true", help="yes, forget everything")
    listing = commands.add_parser("optins", help="list opt-in claims of one status (or all)")
    listing.add_argument("--status", choices=(*OPTIN_STATUSES, "all"), default="in_doubt")
    return parser


class UsageProblem(Exception):
    """A message for the person at the terminal; exit status 2."""


def _ledger_url(args: argparse.Namespace) -> str | None:
    if args.ledger_url:
        return args.ledger_url
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            raise UsageProblem(f"cannot read config {args.config}: {exc}") from None
        if not isinstance(config, dict):
            raise UsageProblem(f"config {args.config} is not a JSON object")
        if config.get("ledger_url"):
            return str(config["ledger_url"])
    return os.environ.get(ENV_URL) or None


def _key(args: argparse.Namespace) -> str:
    """The ledger key, built the way the target builds it."""
    if args.key:
        return args.key
    from target_attentive.keys import person_key
    from target_attentive.normalize import Invalid, normalize_email, normalize_phone

    try:
        if args.email:
            identifiers = {"email": normalize_email(args.email)}
        elif args.phone:
            identifiers = {"phone": normalize_phone(args.phone, args.region)}
        else:
            identifiers = {"clientUserId": args.client_user_id.strip()}
    except Invalid as exc:
        raise UsageProblem(f"that identifier {exc}") from None
    if not any(identifiers.values()):
        raise UsageProblem("an empty identifier names nobody")
    return person_key(identifiers)


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, sort_keys=True) + "\n")


def _run(args: argparse.Namespace) -> int:
    url = _ledger_url(args)
    if args.command in ("counts", "optins"):
        # Reading must not create an empty ledger where none was.
        with Ledger(url, read_only=True) as ledger:
            print(f"ledger: {ledger.location}", file=sys.stderr)
            if args.command == "counts":
                _emit(ledger.counts())
            else:
                found = ledger.list_optins(None if args.status == "all" else args.status)
                for claim in found:
                    _emit(claim)
                counts = ledger.counts()["optins"]
                for status in OPTIN_STATUSES:
                    print(f"{counts[status]} {status}: {MEANINGS[status]}", file=sys.stderr)
                print(f"listed: {len(found)} ({args.status})", file=sys.stderr)
        return 0
    if args.command == "forget-all" and not args.yes:
        raise UsageProblem(
            "forget-all empties the ledger: every person is sent again and "
            "every opt-in may be sent again. Add --yes to do it."
        )
    key = _key(args) if args.command == "forget" else ""
    with Ledger(url) as ledger:
        print(f"ledger: {ledger.location}", file=sys.stderr)
        if args.command == "forget":
            removed = ledger.forget_person(key)
            _emit(removed)
            if removed["hash_removed"] or removed["optins_removed"] or removed["optouts_removed"]:
                optins, optouts = len(removed["optins_removed"]), len(removed["optouts_removed"])
                message = (
                    f"forgot {key}: sent again by the next run, with {optins} opt-in(s) and "
                    f"{optouts} opt-out(s)"
                )
                print(message + " if the data still asks", file=sys.stderr)
            else:
                print(f"the ledger knows nothing under {key}", file=sys.stderr)
        else:
            before = ledger.counts()
            ledger.forget_everything()
            _emit({"forgotten": before})
            print("ledger emptied", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (UsageProblem, LedgerError) as exc:
        print(f"target-attentive-ledger: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a database that cannot be reached, a bad URL
        print(f"target-attentive-ledger: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
