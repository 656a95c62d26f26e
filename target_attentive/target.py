"""target-attentive: the settings, the sink class and the checkpoint cadence."""

from __future__ import annotations

import copy
import sys
from types import FrameType
from typing import IO

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.target_base import Target

from target_attentive import masking
from target_attentive.run import Run
from target_attentive.settings import DEFAULT_API_URL, check_settings
from target_attentive.sinks import UsersSink

_MAPPING_HELP = (
    "How a record becomes an Attentive payload: an object with `identifiers` (email, "
    "phone, clientUserId, shopifyId, klaviyoId, customIdentifiers: {name: field}), "
    "`attributes` (firstName, lastName, demographic.*, location.*, locale.*; dotted or "
    "nested), `custom_attributes` ({attribute name: field}; only these are ever created) "
    "and `subscriptions` ([{channel, signUpSourceId, when: field}]). Values name source "
    "fields (or lists of them, first present wins). Unset: fields named like the API's "
    "(email, phone, client_user_id, first_name, ...) are used."
)


class TargetAttentive(Target):
    """Loads people from any Singer tap into Attentive with its v2 user upsert API."""

    name = "target-attentive"
    default_sink_class = UsersSink

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            secret=True,
            title="API key",
            description="Private app API key, sent as a bearer token; needs the "
            "attributes:write scope (and subscriptions:write for opt-ins). Required unless "
            "dry_run.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default=DEFAULT_API_URL,
            title="API URL",
            description="Base URL of the Attentive API. Plain http is accepted only for "
            "loopback hosts, such as the local sandbox (target-attentive-sandbox).",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            title="Dry run",
            description="Build, normalise and validate every payload and write them to "
            "dry_run_path; send nothing.",
        ),
        th.Property(
            "dry_run_path",
            th.StringType,
            default="attentive_dry_run.jsonl",
            title="Dry-run file",
            description="Where a dry run writes the payloads it would send (JSON lines).",
        ),
        th.Property(
            "default_phone_region",
            th.StringType,
            default="US",
            title="Default phone region",
            description="ISO 3166-1 region used to read phone numbers written without a "
            "country code; numbers are sent in E.164.",
        ),
        th.Property(
            "mapping",
            th.ObjectType(additional_properties=True),
            title="Mapping",
            description=_MAPPING_HELP,
        ),
        th.Property(
            "stream_mappings",
            th.ObjectType(additional_properties=True),
            title="Per-stream mappings",
            description="{stream name: mapping}, overriding `mapping` for those streams.",
        ),
        th.Property(
            "ignore_unmapped_streams",
            th.BooleanType,
            default=False,
            title="Ignore unmapped streams",
            description="When true, streams not named in stream_mappings are counted as "
            "filtered instead of loaded with `mapping`.",
        ),
        th.Property(
            "subscriptions_enabled",
            th.BooleanType,
            default=False,
            title="Send opt-ins",
            description="Send subscriptions (opt-ins) only when true. Each opt-in is sent "
            "at most once per person, channel and sign-up source, across runs.",
        ),
        th.Property(
            "mode",
            th.StringType,
            default="single",
            allowed_values=["single", "bulk"],
            title="Mode",
            description="single: POST /v2/user/attributes, one person a request. bulk: "
            "POST /v2/bulk/user/attributes, up to bulk_batch_size people a request.",
        ),
        th.Property(
            "bulk_batch_size",
            th.IntegerType,
            default=256,
            title="Bulk batch size",
            description="People per bulk request, 1 to 256.",
        ),
        th.Property(
            "bulk_wait_seconds",
            th.IntegerType,
            default=0,
            title="Wait for bulk jobs",
            description="At the end of a bulk run, wait up to this long for the run's jobs "
            "and write the people Attentive refused to the rejects file.",
        ),
        th.Property(
            "max_requests_per_second",
            th.IntegerType,
            title="Requests per second",
            description="Upper bound on requests a second; unset: Attentive's published "
            "limit (150 single, 100 bulk).",
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType,
            default=16,
            title="Concurrent requests",
            description="Requests in flight at once.",
        ),
        th.Property(
            "request_timeout_seconds",
            th.IntegerType,
            default=30,
            title="Request timeout",
            description="Seconds to wait for an answer before retrying.",
        ),
        th.Property(
            "max_retry_seconds",
            th.IntegerType,
            default=600,
            title="Retry budget",
            description="How long one request may keep retrying 429s, 5xx, timeouts and "
            "dropped connections before the run fails (no state is written past it).",
        ),
        th.Property(
            "rejects_path",
            th.StringType,
            default="attentive_rejects.jsonl",
            title="Rejects file",
            description="JSON-lines file of records set aside, each with its reason.",
        ),
        th.Property(
            "max_rejects",
            th.IntegerType,
            title="Most rejects tolerated",
            description="Fail the run once more records than this are rejected; unset: no limit.",
        ),
        th.Property(
            "ledger_url",
            th.StringType,
            title="Ledger URL",
            description="SQLAlchemy URL of the sync ledger (what was delivered, opt-ins "
            "sent, custom attribute types). Unset: a SQLite file target_attentive_ledger.db "
            "in the working directory. Use PostgreSQL (postgresql+psycopg://...) for runs "
            "on several machines.",
        ),
        th.Property(
            "ledger_enabled",
            th.BooleanType,
            default=True,
            title="Use the ledger",
            description="Keep the sync ledger. Without it every person is sent on every run "
            "and opt-ins cannot be sent (nothing would stop a second send).",
        ),
        th.Property(
            "skip_unchanged",
            th.BooleanType,
            default=True,
            title="Skip unchanged people",
            description="Do not resend a person whose payload is the one last accepted.",
        ),
        th.Property(
            "custom_attribute_types",
            th.ObjectType(additional_properties=True),
            title="Existing custom attribute types",
            description="{attribute name: string|number|boolean|date|enum} for custom "
            "attributes that already exist in the Attentive account.",
        ),
        th.Property(
            "custom_attribute_enums",
            th.ObjectType(additional_properties=True),
            title="Enum attribute values",
            description="{attribute name: [allowed values]} for enum custom attributes; "
            "other values are rejected before sending.",
        ),
        th.Property(
            "checkpoint_interval_seconds",
            th.IntegerType,
            default=300,
            title="Checkpoint interval",
            description="Deliver what is pending and write state at least this often "
            "during long loads.",
        ),
    ).to_dict()

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        errors = check_settings(self.config)
        if errors:
            raise ConfigValidationError(
                "target-attentive settings are not usable", errors=errors, schema=None
            )
        masking.install((self.config.get("api_key") or "",))
        self.run = Run(self.config, self.logger)
        self.run.on_settled = self._write_state_message
        self._state_written: dict | None = None
        self._MAX_RECORD_AGE_IN_MINUTES = self.config["checkpoint_interval_seconds"] / 60
        # Sinks drain one after the other: delivery is concurrent already, and one drain
        # at a time is what makes the re-entry guard of process_batch sound.
        self.max_parallelism = 1

    def _process_record_message(self, message_dict: dict) -> None:
        """Count every RECORD read (stream-map filtering included) and checkpoint early.

        The SDK writes state only when it drains every sink at once; a sink that fills
        up drains alone and writes none. When that drain leaves no records pending in
        any sink, the latest state is covered by the batch just handed to delivery: it
        goes out as soon as that batch has settled. So a killed load resumes from its
        last delivered batch, not from its start.
        """
        run = self.run
        run.tally.count_read(message_dict.get("stream", ""))
        reached, batches = run.reached, run.batches
        super()._process_record_message(message_dict)
        if run.reached == reached:
            run.tally.filtered("dropped by a stream map")
        if (
            run.batches != batches
            and self._latest_state != self._state_written
            and all(sink.current_size == 0 for sink in self._sinks_active.values())
        ):
            run.pending_state = copy.deepcopy(self._latest_state)
        if run.in_flight is not None and run.in_flight.done():
            run.settle()  # raises what the batch raised, else writes the state it covers
        run.collector.tick()

    def _write_state_message(self, state: dict) -> None:
        """No state line before the batches it covers are settled and their rejects durable."""
        self.run.settle()
        self.run.make_durable()
        super()._write_state_message(state)
        self._state_written = state
        self.run.pending_state = None

    def listen(self, file_input: IO[str] | None = None) -> None:
        """The run report is printed however the run ends."""
        try:
            with self.run.collector:
                super().listen(file_input)
        finally:
            self.run.finish()

    def process_endofpipe(self) -> None:
        try:
            super().process_endofpipe()
            self.run.reconcile_jobs()
        finally:
            self.run.finish()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT stop promptly, and the last state line written stays true.

        In the middle of a delivery, requests in flight finish and the batch then fails:
        nothing is written for it (the SDK's own handler would drain again from inside
        the drain, meltano/sdk#3775). Between batches, the pending records are left for
        the next run, which resumes from the last state.
        """
        if self.run.busy:
            self.logger.warning(
                "Signal %d during delivery: finishing the requests in flight, then stopping "
                "without state for this batch. Rerun to resume.",
                signum,
            )
            self.run.stop()
            return
        self.logger.warning(
            "Signal %d: stopping. Records since the last state line are sent by the next run.",
            signum,
        )
        if self.run.pending_state is not None:
            self._write_state_message(self.run.pending_state)  # its batch has settled
        self.run.finish()
        sys.exit(128 + signum)


if __name__ == "__main__":
    TargetAttentive.cli()
