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

from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.custom_types import schema_kind
from target_attentive.jsonl import json_safe
from target_attentive.mapping import PAYLOAD_PARTS
from target_attentive.people import RecordPlan, prepare
from target_attentive.problems import Problem, describe

MELTANO_TEST_STREAM = "meltano_test_stream"  # what `meltano config test` sends


@dataclass(slots=True)
class Item:
    """A record that became a valid payload, waiting for its batch to be delivered."""

    position: int
    record: dict
    payload: dict
    omissions: tuple[Problem, ...] = ()  # fields left out, written once it is planned
    read_at: int = 0  # its place in the whole input: opt-ins and opt-outs are ordered by it


class RecordCheck(BaseJSONSchemaValidator):
    """Checks records against the stream's schema without stopping the run.

    The SDK's validator raises on the first bad record and the run dies; here every
    field at fault is kept for the sink, which leaves out the payload fields read from it
    (or, with `invalid_fields: reject`, sets the record aside). The payload parts a
    stream map may build (`identifiers`, ...) are not checked, since the SDK types every
    new stream-map property `string` although it holds an object. Problems name the field
    and the rule, never the value. jsonschema-rs does this in a fraction of the time the
    SDK's validator takes.
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
        self.problems: list[Problem] = []

    @override
    def validate(self, record: dict[str, Any]) -> None:
        if self._validator.is_valid(record):
            return
        for error in self._validator.iter_errors(record):
            rule = type(error.kind).__name__
            message = f"does not match the stream's schema (rule {rule}); fix the tap's data"
            for top in _fields_at_fault(error):
                where = ".".join(str(p) for p in error.instance_path) or top or "record"
                self.problems.append(Problem(where, message, (top, rule) if top else ()))

    def take(self) -> list[Problem]:
        """The problems of the record just validated; `path` is (its top field, the rule)."""
        problems = self.problems
        if problems:  # a valid record (the usual one) allocates no list
            self.problems = []
        return problems


def _fields_at_fault(error: Any) -> list[str]:
    """The record's top-level fields an error is about ("" for the record as a whole)."""
    if error.instance_path:
        return [str(error.instance_path[0])]
    name = type(error.kind).__name__
    if name == "Required":
        return [str(error.kind.property)]
    if name == "AdditionalProperties":
        return [str(key) for key in error.kind.unexpected]
    return [""]


# Records a batch holds when `batch_size_rows` is not set (its default in the schema): ten
# full bulk requests. Against the SDK's 10,000, a dry run reads 15-20% more records/s and
# bulk mode sends 27% more people/s (bench c and f): a batch's steps walk records still in
# the processor's cache.
BATCH_ROWS: int = CONFIG_SCHEMA["properties"]["batch_size_rows"]["default"]


class UsersSink(BatchSink):
    """One stream of people. Per record: map, normalise, validate; per batch: deliver."""

    MAX_SIZE_DEFAULT = BATCH_ROWS

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.run = target.run
        self.mapping = self.run.mapping_for(stream_name)
        self.position = 0
        self._warned_optins = False
        self.plan: RecordPlan | None = None
        if self.mapping is not None:
            settings = self.run.settings
            properties = schema.get("properties") or {}
            self.plan = RecordPlan(
                self.mapping,
                settings.default_phone_region,
                self.run.delivery.attribute_types(),
                omit_invalid=settings.invalid_fields != "reject",
                schema_kinds={
                    f.path[-1]: schema_kind(properties.get(f.sources[0].split(".")[0]))
                    for f in self.mapping.custom_attributes
                },
            )
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
        plan = self.plan
        assert plan is not None
        problems = self._validator.take() if isinstance(self._validator, RecordCheck) else []
        broken: dict[str, str] = {}
        if problems:
            if not plan.omit_invalid:
                self.reject(self.position, record, problems[:1])
                return
            mapped = self.mapping.source_fields
            broken = {p.path[0]: p.path[1] for p in problems if p.path and p.path[0] in mapped}
            ignored = len({p.path[0] if p.path else "" for p in problems} - set(broken))
            if ignored:
                run.tally.request("off_schema_unmapped", ignored)
        prepared = prepare(record, plan, broken)
        if prepared.region_defaulted:
            run.tally.request("phone_region_defaulted")
        if prepared.payload is None:
            self.reject(self.position, record, prepared.problems)
            return
        payload, omissions = prepared.payload, tuple(prepared.omitted)
        if not run.subscriptions_enabled and omissions:  # opt-ins are not sent anyway
            omissions = tuple(p for p in omissions if p.path[:1] != ("subscriptions",))
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
        item = Item(self.position, record, payload, omissions, run.keeper.position)
        context.setdefault("records", []).append(item)

    def reject(
        self,
        position: int,
        record: dict,
        problems: list[Problem],
        payload: dict | None = None,
        outcome: str = "rejected",
        **api: Any,
    ) -> None:
        """Set a record aside with its reasons; with `outcome="omitted"`, write the fields
        left out of a record that is still sent (not counted toward max_rejects)."""
        rejects = self.run.rejects
        if outcome == "omitted":
            for problem in problems:
                _write(
                    rejects.omit,
                    record,
                    stream=self.stream_name,
                    position=position,
                    field=problem.field,
                    reason=problem.message,
                )
            self.run.tally.omission([str(p) for p in problems])
            return
        _write(
            rejects.add,
            record,
            stream=self.stream_name,
            position=position,
            reason=describe(problems),
            payload=payload,
            **api,
        )
        self.run.tally.add("rejected")
        rejects.check_limit()

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


def _write(write: Any, record: dict, **entry: Any) -> None:
    """Write a line about a record, its numbers a double cannot hold as they are written as text.

    `jsonl.dumps` already never fails on a record; this keeps the tap's own digits of a
    number past a double's precision (a `Decimal` with an exponent beyond 18), which the
    file's usual encoding would round.
    """
    write(record=json_safe(record), **entry)
