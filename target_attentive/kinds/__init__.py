"""Kinds of mapping beyond the user upsert: custom events, ecommerce events and opt-outs.

A mapping's `kind` routes a stream to a v1 endpoint. Everything here is pure: compile a
mapping at start-up, plan each record into a checked body with one outcome, and name the
ledger keys the sending side records once Attentive has taken a body.
"""

from target_attentive.kinds.compile import compile_kind_mapping
from target_attentive.kinds.custom_event import build_custom_event
from target_attentive.kinds.ecommerce import build_ecommerce_event
from target_attentive.kinds.ledger_keys import (
    OptOutKey,
    derive_event_id,
    event_id,
    event_key,
    optout_keys,
)
from target_attentive.kinds.outcome import FILTERED, REJECTED, SEND, Built, KindContext
from target_attentive.kinds.plan import build_kind_payload, plan_record
from target_attentive.kinds.rules import EventAge, event_age
from target_attentive.kinds.shapes import (
    ENDPOINTS,
    KINDS,
    CustomEventMapping,
    EcommerceMapping,
    Endpoint,
    KindMapping,
    KindMappingError,
    UnsubscribeMapping,
    UsersKind,
)
from target_attentive.kinds.unsubscribe import build_unsubscribe
from target_attentive.kinds.validate import (
    validate_custom_event,
    validate_ecommerce_event,
    validate_kind_payload,
    validate_unsubscribe,
)

__all__ = [
    "ENDPOINTS",
    "FILTERED",
    "KINDS",
    "REJECTED",
    "SEND",
    "Built",
    "CustomEventMapping",
    "EcommerceMapping",
    "Endpoint",
    "EventAge",
    "KindContext",
    "KindMapping",
    "KindMappingError",
    "OptOutKey",
    "UnsubscribeMapping",
    "UsersKind",
    "build_custom_event",
    "build_ecommerce_event",
    "build_kind_payload",
    "build_unsubscribe",
    "compile_kind_mapping",
    "derive_event_id",
    "event_age",
    "event_id",
    "event_key",
    "optout_keys",
    "plan_record",
    "validate_custom_event",
    "validate_ecommerce_event",
    "validate_kind_payload",
    "validate_unsubscribe",
]
