"""From record to a checked v1 body and its one outcome, for any kind but users (pure).

The sink calls `plan_record` once per record: build the body of the mapping's kind,
check it against the kind's schema and rules, then judge the event's age. Whatever the
record holds, the answer is a `Built` with exactly one outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from target_attentive.kinds.custom_event import build_custom_event
from target_attentive.kinds.ecommerce import build_ecommerce_event
from target_attentive.kinds.outcome import SEND, Built, KindContext
from target_attentive.kinds.rules import event_age
from target_attentive.kinds.shapes import (
    CUSTOM_EVENT,
    ECOMMERCE_KINDS,
    EVENT_KINDS,
    UNSUBSCRIBE,
    KindMapping,
)
from target_attentive.kinds.unsubscribe import build_unsubscribe
from target_attentive.kinds.validate import validate_kind_payload

BUILDERS: dict[str, Callable[[Mapping, KindMapping, KindContext], Built]] = {
    CUSTOM_EVENT: build_custom_event,
    UNSUBSCRIBE: build_unsubscribe,
    **dict.fromkeys(ECOMMERCE_KINDS, build_ecommerce_event),
}


def build_kind_payload(record: Mapping, mapping: KindMapping, context: KindContext) -> Built:
    """The body the mapping makes of a record, normalised but not yet checked."""
    return BUILDERS[mapping.kind](record, mapping, context)


def plan_record(record: Mapping, mapping: KindMapping, context: KindContext) -> Built:
    """Build, check and date one record: a body to send, a reject or a filtered record."""
    built = build_kind_payload(record, mapping, context)
    if built.outcome != SEND:
        return built
    problems = validate_kind_payload(mapping.kind, built.payload)
    if problems:
        return built.reject(problems)
    if mapping.kind in EVENT_KINDS and context.now is not None:
        age = event_age(built.payload, context.now, context.max_event_age_hours)
        built.old = age.old
        if age.filtered:
            return built.filter(age.filtered)
    return built
