"""KindSink: a stream routed by its mapping's `kind` to custom events, ecommerce events or
opt-outs. Per record: read it and hold it; per batch: plan every record into a checked
body with one outcome, then deliver the bodies to their v1 endpoint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from target_attentive.kinds import FILTERED, REJECTED, KindContext, KindMapping, plan_record
from target_attentive.mapping import Mapping
from target_attentive.problems import Problem
from target_attentive.sinks import BATCH_ROWS, MELTANO_TEST_STREAM, RecordCheck, UsersSink


@dataclass
class Pending:
    """A record read, waiting for its batch to be planned."""

    position: int  # its place in its stream (the rejects file's `position`)
    read_at: int  # its place in the whole input (opt-ins and opt-outs are ordered by it)
    record: dict


class KindSink(BatchSink):
    """One stream of events or opt-outs, with every promise of the users path.

    Each record ends in one outcome: sent and accepted, unchanged (sent before), rejected,
    or filtered, and every field left out is a line of the rejects file; state is written
    only once the batch is delivered (the batch's `Hold`). Records are planned per batch
    rather than as they are read, so an event's age is judged against one clock a batch.
    """

    MAX_SIZE_DEFAULT = BATCH_ROWS
    reject = UsersSink.reject  # the same rejects lines, counts and max_rejects

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.run = target.run
        mapping = self.run.route(stream_name)
        assert mapping is not None and not isinstance(mapping, Mapping)
        self.mapping: KindMapping = mapping
        self.position = 0
        settings = self.run.settings
        self.omit_invalid = settings.invalid_fields != "reject"
        self.context = KindContext(
            stream=stream_name,
            key_properties=tuple(key_properties or ()),
            phone_region=settings.default_phone_region,
            default_currency=settings.default_currency,
            unsubscribe_notifications=settings.unsubscribe_notifications,
            max_event_age_hours=settings.max_event_age_hours,
        )
        unmapped = sorted(set(schema.get("properties") or {}) - self.mapping.source_fields)
        if unmapped:
            self.logger.info("Stream %s: fields not mapped, so not sent: %s", stream_name, unmapped)

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return RecordCheck(self.schema) if self.validate_schema else None

    @override
    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        """Times are read by the kind's builder, and only in the fields that are sent."""

    @override
    def _after_process_record(self, context: dict) -> None:
        """The SDK logs the whole batch context here: people's data. Nothing is logged."""

    @override
    def process_record(self, record: dict, context: dict) -> None:
        run = self.run
        run.reached += 1
        self.position += 1
        problems = self._validator.take() if isinstance(self._validator, RecordCheck) else []
        if self.stream_name == MELTANO_TEST_STREAM:
            reason = Problem("", "Meltano's connection-test record, never sent to Attentive")
            self.reject(self.position, record, [reason])
            return
        mapped = self.mapping.source_fields
        problems = [p for p in problems if p.path and p.path[0] in mapped]
        if problems and not self.omit_invalid:  # else the builder judges each value it reads
            self.reject(self.position, record, problems[:1])
            return
        if "hold" not in context:  # the batch's first record waiting for delivery
            context["hold"] = run.keeper.hold()
        pending = Pending(self.position, run.keeper.position, record)
        context.setdefault("records", []).append(pending)

    @override
    def process_batch(self, context: dict) -> None:
        """Plan the batch with one clock; hand its bodies to delivery (a dry run: write
        them out). The batch's hold keeps the state back until it settled."""
        pending: list[Pending] = context.get("records", [])
        if not pending:
            return
        run = self.run
        batch_context = dataclasses.replace(self.context, now=dt.datetime.now(dt.timezone.utc))
        to_send = []
        for item in pending:
            built = plan_record(item.record, self.mapping, batch_context)
            if built.old:
                run.tally.request("old_events")
            if built.outcome == REJECTED:
                self.reject(item.position, item.record, built.problems, built.payload)
            elif built.outcome == FILTERED:
                run.tally.filtered(built.filtered or "filtered")
            else:
                if built.omissions:
                    self.reject(item.position, item.record, built.omissions, outcome="omitted")
                to_send.append((item.position, item.read_at, item.record, built))
        run.send_kinds(to_send, self.stream_name, self.reject, context["hold"])
