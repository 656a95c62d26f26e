"""target-attentive: the target class, where singer-sdk meets the run (run.py)."""

from __future__ import annotations

import copy
import sys
from types import FrameType
from typing import IO, ClassVar

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target
from typing_extensions import override

from target_attentive import masking
from target_attentive.batch_files import UnsupportedBatch, batch_records
from target_attentive.client import RetriesExhausted
from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.kind_sink import KindSink
from target_attentive.reader import InputReader
from target_attentive.record_path import StraightPath, unmapped_sink
from target_attentive.rejects import TooManyRejects
from target_attentive.run import Run, Stopped
from target_attentive.sender import SenderDied
from target_attentive.settings import Settings, check_settings
from target_attentive.sinks import UsersSink

# Failures whose message says all a user needs: reported without a traceback.
EXPECTED_FAILURES = (
    FatalAPIError,
    RetriesExhausted,
    TooManyRejects,
    InvalidInputLine,
    SenderDied,
    UnsupportedBatch,
)


class TargetAttentive(Target):
    """Loads people from any Singer tap into Attentive with its v2 user upsert API."""

    name = "target-attentive"
    default_sink_class = UsersSink
    message_reader_class = InputReader
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.BATCH,
    ]

    # A copy: singer-sdk adds its built-in settings (load_method, ...) to this dict in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        errors = check_settings(self.config)
        if errors:
            raise ConfigValidationError(
                "target-attentive settings are not usable", errors=errors, schema=None
            )
        self.settings = Settings.from_config(self.config)
        masking.install((self.settings.api_key or "",))
        self.run = Run(self.settings, self.logger, self._print_state)
        self.message_reader.waiting = self.run.waits  # type: ignore[attr-defined]
        self._MAX_RECORD_AGE_IN_MINUTES = self.settings.checkpoint_interval_seconds / 60
        # Sinks drain one after the other: delivery is concurrent already.
        self.max_parallelism = 1
        self._paths: dict[str | None, StraightPath] = {}  # by stream

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """A stream whose mapping names a kind other than users goes to events or opt-outs."""
        return KindSink if self.run.is_kind_stream(stream_name) else UsersSink

    # -- reading -------------------------------------------------------------------------

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        """Private in the SDK; overridden to number and count every RECORD read, and to
        take a record of a stream without stream maps straight to its sink."""
        run = self.run
        run.tally.count_read(message_dict.get("stream", ""))
        run.keeper.record_read()
        path = self._straight_path(message_dict)
        if path is not None:
            path.take(message_dict)
            self._handle_max_record_age()
        else:
            reached = run.reached
            super()._process_record_message(message_dict)
            if run.reached == reached:
                run.tally.filtered("dropped by a stream map")
        run.check()  # a failed batch in the background stops the run here
        run.collector.tick()

    def _straight_path(self, message_dict: dict) -> StraightPath | None:
        """The steps of a record of one of this target's sinks without a stream map."""
        stream_maps, sinks = self.mapper.stream_maps, self._sinks_active
        stream = message_dict.get("stream")
        path = self._paths.get(stream)
        if path is not None and path.serves(stream_maps.get(stream), sinks, message_dict):
            return path
        sink = unmapped_sink(stream_maps, sinks, message_dict)
        if not isinstance(sink, (UsersSink, KindSink)):
            return None
        # A new stream, or a new schema (the SDK makes a new list of maps and a new sink).
        path = StraightPath(sink, self.drain_one, self.logger, stream_maps[stream])
        self._paths[stream] = path
        return path

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        """Private in the SDK; overridden to hand every STATE to the checkpoint keeper."""
        super()._process_state_message(message_dict)
        self.run.check()
        if message_dict["value"]:  # an empty state would reset the tap's bookmarks
            self.run.keeper.state(message_dict["value"])

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        """Private in the SDK, which skips the per-record path for batch files: each of
        their records becomes a RECORD message here (counted, mapped, checked, held)."""
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        for record in batch_records(message_dict, self.settings.batch_config):
            self._process_record_message({"type": "RECORD", "stream": stream, "record": record})

    # -- state ---------------------------------------------------------------------------

    @override
    def _write_state_message(self, state: dict) -> None:
        """Private in the SDK, which calls it after draining every sink; the keeper
        decides instead, since the drained batches may still be in delivery."""
        self.run.keeper.flush()

    def _print_state(self, state: dict) -> None:
        """The one place a state line is printed (called by the checkpoint keeper)."""
        Target._write_state_message(self, state)

    # -- the run's life ------------------------------------------------------------------

    @override
    def listen(self, file_input: IO[str] | None = None) -> None:
        """However the run ends, what settled is in the state and the report says so."""
        run = self.run
        try:
            with run.collector:
                super().listen(file_input)
        except BaseException as exc:
            run.abort()
            run.finish()
            if run.signalled:
                sys.exit(128 + run.signalled)
            if isinstance(exc, EXPECTED_FAILURES):
                self.logger.error("The run failed: %s", exc)
                sys.exit(1)
            raise
        run.finish()

    @override
    def process_endofpipe(self) -> None:
        super().process_endofpipe()  # every sink drained: its batch handed to delivery
        self.run.wait()  # the last batch settles, and the keeper writes the last state
        self.run.keeper.flush()
        self.run.reconcile_jobs()
        self.run.finish()  # also when the SDK's test runner calls this without listen()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: nothing new is sent, requests out finish, what settled is kept.

        The SDK's handler drains every sink, sending more (and re-entering a drain in
        progress, meltano/sdk#3775); this one only stops and unwinds the reading.
        """
        if self.run.stopping or self.run.finished:
            self.logger.warning("Signal %d: already stopping", signum)
            return
        self.logger.warning(
            "Signal %d: sending nothing new; requests already out finish, then the run stops",
            signum,
        )
        self.run.stop(signum)
        if self.run.waiting:  # blocked on input or on a batch: unwind now
            raise Stopped(signum)


if __name__ == "__main__":
    TargetAttentive.cli()
