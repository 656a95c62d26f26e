"""target-attentive: the settings, the sink class and the checkpoint cadence."""

from __future__ import annotations

import copy
import sys
from types import FrameType
from typing import IO

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.target_base import Target

from target_attentive import masking
from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.run import Run
from target_attentive.settings import check_settings
from target_attentive.sinks import UsersSink


class TargetAttentive(Target):
    """Loads people from any Singer tap into Attentive with its v2 user upsert API."""

    name = "target-attentive"
    default_sink_class = UsersSink

    config_jsonschema = CONFIG_SCHEMA

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
