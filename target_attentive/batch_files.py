"""The records of a BATCH message's files (singer-sdk's batch capability), one at a time.

singer-sdk hands a batch file to the sink's `process_batch` whole, skipping the per-record
path (counting, stream maps, the target's mapping and validation). The target reads the
files itself instead, so that each of their records becomes a RECORD message like any
other. JSON lines, gzip-compressed or not, as singer-sdk's own batch writer makes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from gzip import GzipFile
from typing import Any

from singer_sdk.helpers._batch import (
    BaseBatchFileEncoding,
    BatchConfig,
    BatchFileFormat,
    StorageTarget,
)
from singer_sdk.singerlib.json import deserialize_json


class UnsupportedBatch(ValueError):
    """A BATCH message in a format the target does not read."""


def batch_records(message: dict[str, Any], batch_config: dict | None) -> Iterator[dict]:
    """Every record of every file in the message's manifest, in order."""
    encoding = BaseBatchFileEncoding.from_dict(message["encoding"])
    if encoding.format != BatchFileFormat.JSONL:
        raise UnsupportedBatch(
            f"BATCH message of stream {message.get('stream')!r}: format {encoding.format} is "
            "not read by target-attentive; have the tap write jsonl batches"
        )
    config = BatchConfig.from_dict(batch_config) if batch_config else None
    for url in message["manifest"]:
        head, tail = StorageTarget.split_url(url)
        storage = config.storage if config else StorageTarget.from_url(head)
        with storage.open(tail, mode="rb") as raw:
            lines = GzipFile(fileobj=raw) if encoding.compression == "gzip" else raw
            for line in lines:
                if line.strip():
                    yield deserialize_json(line)
