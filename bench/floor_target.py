"""The SDK's floor: a singer-sdk target whose sink does nothing with its batches.

Whatever this target spends per record (reading, parsing, validating against the stream's
schema, batching, state) every singer-sdk target spends too, so the records/s it reaches is
the ceiling the dry-run path is compared with. Default settings on purpose.

    python bench/floor_target.py --config '{}' --input people.singer
"""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target


class NullSink(BatchSink):
    """Collects records into batches like any BatchSink, then drops them."""

    def process_batch(self, context: dict) -> None:
        """Nothing: the floor is the SDK's own cost."""


class FloorTarget(Target):
    """A target with no settings whose every stream goes to NullSink."""

    name = "target-floor"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NullSink


if __name__ == "__main__":
    FloorTarget.cli()
