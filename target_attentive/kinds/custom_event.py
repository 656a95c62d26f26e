"""A record as the body of `POST /v1/events/custom` (pure).

The body is built, not yet checked: `plan.plan_record` runs the kind's schema and rules
after it. Every event carries an `externalEventId`, mapped or derived, so the ledger and
Attentive both see the same id for the same record in every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_attentive.kinds.ledger_keys import derive_event_id, event_id, event_key
from target_attentive.kinds.outcome import Built, KindContext
from target_attentive.kinds.people import NO_IDENTIFIER, build_user
from target_attentive.kinds.shapes import CUSTOM_EVENT, CustomEventMapping
from target_attentive.kinds.values import to_occurred_at, to_property
from target_attentive.normalize import Invalid, to_text
from target_attentive.problems import Problem
from target_attentive.reading import first_value

# Without its time, Attentive takes an event as happening now and may start a journey
# for something long past: a mapped time that is missing or unreadable rejects the event.
OCCURRED_AT_NEEDED = "the mapping names occurred_at; without it Attentive takes the event as now"


def build_custom_event(record: Mapping, mapping: CustomEventMapping, context: KindContext) -> Built:
    """The custom event body of one record, with its omissions and problems."""
    omissions: list[Problem] = []
    problems: list[Problem] = []
    payload: dict[str, Any] = {}
    event_type = mapping.event_type
    if event_type is None:
        try:
            event_type = to_text(first_value(record, mapping.event_type_field))
        except Invalid as exc:
            problems.append(Problem("type", str(exc)))
        else:
            if event_type is None:
                problems.append(Problem("type", "missing; the event type field has no value"))
    if event_type is not None:
        payload["type"] = event_type
    payload["user"] = build_user(record, mapping.user, context.phone_region, omissions)
    if not payload["user"]:
        problems.append(Problem("user", NO_IDENTIFIER))
    properties = {}
    for name, sources in mapping.properties:
        try:
            value = to_property(first_value(record, sources))
        except Invalid as exc:
            omissions.append(Problem(f"properties.{name}", str(exc)))
            continue
        if value is not None:
            properties[name] = value
    if properties:
        payload["properties"] = properties
    occurred = occurred_at(record, mapping.occurred_at, problems)
    if occurred is not None:
        payload["occurredAt"] = occurred
    derived = derive_event_id(context.stream, record, context.key_properties)
    payload["externalEventId"] = _external_id(record, mapping, omissions) or derived
    built = Built(CUSTOM_EVENT, payload, omissions)
    built.event_id = event_id(CUSTOM_EVENT, payload, derived, one_item_per_record=False)
    built.event_key = event_key(CUSTOM_EVENT, built.event_id)
    return built.reject(problems) if problems else built


def occurred_at(record: Mapping, sources: tuple[str, ...], problems: list[Problem]) -> str | None:
    """The event's time, when mapped; a mapped time that cannot be read is a problem."""
    if not sources:
        return None
    try:
        value = to_occurred_at(first_value(record, sources))
    except Invalid as exc:
        problems.append(Problem("occurredAt", f"{exc}; {OCCURRED_AT_NEEDED}"))
        return None
    if value is None:
        problems.append(Problem("occurredAt", f"missing; {OCCURRED_AT_NEEDED}"))
    return value


def _external_id(
    record: Mapping, mapping: CustomEventMapping, omissions: list[Problem]
) -> str | None:
    if not mapping.external_event_id:
        return None
    try:
        return to_text(first_value(record, mapping.external_event_id))
    except Invalid as exc:
        omissions.append(Problem("externalEventId", f"{exc}; a derived id was sent instead"))
        return None
