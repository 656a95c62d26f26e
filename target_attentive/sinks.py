"""UsersSink: each record becomes a validated payload or a reject; batches are delivered."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from target_attentive.mapping import PAYLOAD_PARTS, build_payload
from target_attentive.normalize import Invalid, normalize_payload
from target_attentive.problems import Problem, describe
from target_attentive.validation import validate_payload

MELTANO_TEST_STREAM = "meltano_test_stream"  # what `meltano config test` sends


@dataclass
class Item:
    """A record that became a valid payload, waiting for its batch to be delivered."""

    position: int
    record: dict
    payload: dict


class RecordCheck(BaseJSONSchemaValidator):
    """Checks records against the stream's schema without stopping the run.

    The SDK's validator raises on the first bad record and the run dies; here the
    problem is kept for the sink, which sets the record aside with it. The payload parts
    a stream map may build (`identifiers`, ...) are not checked, since the SDK types
    every new stream-map property `string` although it holds an object. Messages name
    the field and the rule, never the value. jsonschema-rs does this in a fraction of
    the time the SDK's validator takes.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        relaxed = copy.deepcopy(schema)
        properties = relaxed.get("properties") or {}
        for part in PAYLOAD_PARTS:
            if part in properties:
                properties[part] = {}
        try:
            self._validator = jsonschema_rs.Draft7Validator(relaxed, validate_formats=False)
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            raise InvalidJSONSchema(f"the stream's schema is not valid JSON Schema: {exc}") from exc
        self.problem: Problem | None = None

    @override
    def validate(self, record: dict[str, Any]) -> None:
        if self._validator.is_valid(record):
            return
        error = next(iter(self._validator.iter_errors(record)))
        where = ".".join(str(p) for p in error.instance_path) or "record"
        rule = type(error.kind).__name__
        self.problem = Problem(
            where, f"does not match the stream's schema (rule {rule}); fix the tap's data"
        )

    def take(self) -> Problem | None:
        problem, self.problem = self.problem, None
        return problem


class UsersSink(BatchSink):
    """One stream of people. Per record: map, normalise, validate; per batch: deliver."""

    MAX_SIZE_DEFAULT = 10000

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.run = target.run
        self.mapping = self.run.mapping_for(stream_name)
        self.position = 0
        self._warned_optins = False
        if self.mapping is not None:
            unmapped = sorted(set(schema.get("properties") or {}) - self.mapping.source_fields)
            if unmapped:
                self.logger.info(
                    "Stream %s: fields not mapped, so not sent: %s", stream_name, unmapped
                )
        else:
            self.logger.info("Stream %s has no mapping: its records are filtered", stream_name)

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return RecordCheck(self.schema) if self.validate_schema else None

    @override
    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        """Dates are read by normalize.py, and only in the fields that are sent.

        The SDK would parse every date field and stop the run on one it cannot read.
        """

    @override
    def _after_process_record(self, context: dict) -> None:
        """The SDK logs the whole batch context here at debug level: every record so far,
        people's data included, once per record. Nothing is logged instead."""

    @override
    def process_record(self, record: dict, context: dict) -> None:
        run = self.run
        run.reached += 1
        self.position += 1
        if self.mapping is None:
            run.tally.filtered(f"stream {self.stream_name} not in stream_mappings")
            return
        if self.stream_name == MELTANO_TEST_STREAM:
            reason = Problem("", "Meltano's connection-test record, never sent to Attentive")
            self.reject(self.position, record, [reason])
            return
        problem = self._validator.take() if isinstance(self._validator, RecordCheck) else None
        if problem is not None:
            self.reject(self.position, record, [problem])
            return
        try:
            payload = build_payload(record, self.mapping)
        except Invalid as exc:
            self.reject(self.position, record, [Problem("", str(exc))])
            return
        payload, problems = normalize_payload(payload, run.region)
        if not problems:
            problems = validate_payload(payload)
        if problems:
            self.reject(self.position, record, problems, payload)
            return
        if "subscriptions" in payload and not run.subscriptions_enabled:
            del payload["subscriptions"]
            run.tally.request("optins_not_enabled")
            if not self._warned_optins:
                self._warned_optins = True
                self.logger.warning(
                    "Stream %s carries opt-ins, which are not sent: subscriptions_enabled is false",
                    self.stream_name,
                )
        if "hold" not in context:  # the batch's first record waiting for delivery
            context["hold"] = run.keeper.hold()
        context.setdefault("records", []).append(Item(self.position, record, payload))

    def reject(
        self,
        position: int,
        record: dict,
        problems: list[Problem],
        payload: dict | None = None,
        **api: Any,
    ) -> None:
        reason = describe(problems)
        self.run.rejects.add(
            stream=self.stream_name,
            position=position,
            record=record,
            reason=reason,
            payload=payload,
            **api,
        )
        self.run.tally.add("rejected")
        self.run.rejects.check_limit()

    @override
    def process_batch(self, context: dict) -> None:
        """Hand the batch to delivery (a dry run: write it out).

        Delivery goes on in the background while the next batch is read; the batch's
        hold keeps the checkpoint keeper from writing a state past it until it settled.
        """
        items: list[Item] = context.get("records", [])
        if not items:
            return
        if self.run.dry_run:
            self.run.write(items, self.stream_name, self.reject, context["hold"])
        else:
            self.run.send(items, self.stream_name, self.reject, context["hold"])
