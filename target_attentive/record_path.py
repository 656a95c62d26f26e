"""A RECORD of a stream without stream maps, straight to its sink: the SDK's steps, leaner.

singer-sdk's `Target._process_record_message` is written for any number of stream maps
per stream: it copies every record, runs each map, looks the sink up, and reads on every
record what cannot change during a run (whether to add `_sdc_` columns, the sink's
timestamp handling). For a stream with no stream map (one map that returns the record as
it is) `StraightPath` takes the same steps, in the same order, with what is fixed decided
once per sink (the target's logger too, which the SDK builds anew on each read): a dry run
went from 0.356 to 0.401 of the SDK's floor (bench part c, 100,000 records). Streams with
stream maps keep the SDK's path. `tests/test_sdk_overrides.py` compares these steps with
the SDK's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import Sink


def unmapped_sink(stream_maps: dict, sinks: dict, message_dict: dict) -> Sink | None:
    """The sink of a RECORD whose stream has no stream map, else None (the SDK's path)."""
    maps = stream_maps.get(message_dict.get("stream"))
    if maps is None or len(maps) != 1 or "record" not in message_dict:
        return None
    only = maps[0]
    if type(only) is not SameRecordTransform or only.flattening_enabled:
        return None
    return sinks.get(only.stream_alias)


class StraightPath:
    """One sink's per-record steps, with what a run cannot change read once.

    Only for the target's own sinks: they silence the SDK's timestamp parsing and its
    after-record hook, and their validator (`sinks.RecordCheck`) keeps every problem for
    the sink instead of raising, so validating is the validator's call alone.
    """

    def __init__(
        self,
        sink: Sink,
        drain: Callable[[Sink], None],
        logger: logging.Logger,
        maps: list,
    ) -> None:
        self.sink = sink
        self.maps = maps  # the stream's list of maps this path was made for
        self.drain = drain  # the target's `drain_one`
        self.logger = logger  # the target's: singer-sdk makes it anew on each read
        self.add_metadata = sink.include_sdc_metadata_properties
        validator = sink._validator
        self.validate: Callable[[dict], None] | None = (
            validator.validate if validator is not None else None
        )
        self.key_properties = tuple(sink._key_properties)
        self.preprocess = type(sink).preprocess_record is not Sink.preprocess_record

    def serves(self, maps: list | None, sinks: dict, message_dict: dict) -> bool:
        """Whether this path still takes the stream's records: the SDK replaces a stream's
        list of maps, and its sink, when a new schema comes; the list is not changed once
        a record was read. Cheaper than `unmapped_sink` on every record."""
        return (
            maps is self.maps
            and "record" in message_dict
            and sinks.get(self.sink.stream_name) is self.sink
        )

    def take(self, message_dict: dict) -> None:
        """The record of `message_dict` through the sink; drained when its batch is full."""
        sink = self.sink
        record = message_dict["record"]  # one map that hands it over as it is: no copy
        context = sink._get_context(record)
        if self.add_metadata:
            sink._add_sdc_metadata_to_record(record, message_dict, context)
        else:
            sink._remove_sdc_metadata_from_record(record)
        if self.validate is not None:
            self.validate(record)
        if self.preprocess:
            record = sink.preprocess_record(record, context)
        for key in self.key_properties:
            if key not in record:
                sink._singer_validate_message(record)  # raises the SDK's own error
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.is_full:
            _log_full(self.logger, sink)
            self.drain(sink)


def _log_full(logger: logging.Logger, sink: Sink) -> None:
    logger.info(
        "Target sink for '%s' is full. Current size is '%s'. Draining...",
        sink.stream_name,
        sink.current_size,
    )
