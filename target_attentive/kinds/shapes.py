"""What a compiled mapping of each kind holds, and where each kind goes (pure data).

A mapping's `kind` picks the Attentive endpoint a stream's records go to. Users keep the
v2 upsert path of `mapping.py`; the other kinds are v1 endpoints, each with its own body.
Sources are tuples of field names, the first one present winning, as in `mapping.py`;
an empty tuple means the mapping does not set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_attentive.mapping import MappingError

USERS = "users"
CUSTOM_EVENT = "custom_event"
PURCHASE = "purchase"
ADD_TO_CART = "add_to_cart"
PRODUCT_VIEW = "product_view"
UNSUBSCRIBE = "unsubscribe"
KINDS = (USERS, CUSTOM_EVENT, PURCHASE, ADD_TO_CART, PRODUCT_VIEW, UNSUBSCRIBE)
ECOMMERCE_KINDS = (PURCHASE, ADD_TO_CART, PRODUCT_VIEW)
EVENT_KINDS = (CUSTOM_EVENT, *ECOMMERCE_KINDS)

Sources = tuple[str, ...]


@dataclass(frozen=True)
class Endpoint:
    """Where a kind is sent and the rate Attentive publishes for it, per token."""

    path: str
    requests_per_second: float


ENDPOINTS: dict[str, Endpoint] = {
    CUSTOM_EVENT: Endpoint("/v1/events/custom", 150),
    PURCHASE: Endpoint("/v1/events/ecommerce/purchase", 150),
    ADD_TO_CART: Endpoint("/v1/events/ecommerce/add-to-cart", 150),
    PRODUCT_VIEW: Endpoint("/v1/events/ecommerce/product-view", 150),
    UNSUBSCRIBE: Endpoint("/v1/subscriptions/unsubscribe", 5),
}

CHANNELS = ("TEXT", "EMAIL")
ALL_CHANNELS = "ALL"
SUBSCRIPTION_TYPES = ("MARKETING", "TRANSACTIONAL", "CHECKOUT_ABANDONED")
DEFAULT_SUBSCRIPTION_TYPE = "MARKETING"
DEFAULT_CURRENCY = "USD"
# Attentive's published character rules for custom events.
EVENT_TYPE_FORBIDDEN = frozenset("\"'(){}[]\\|,")
PROPERTY_KEY_FORBIDDEN = frozenset('"{}[]\\|')
MAX_EVENT_PROPERTIES = 200
JOURNEY_WINDOW_HOURS = 12
ITEM_FIELDS = (
    "productId",
    "productVariantId",
    "price",
    "currency",
    "quantity",
    "name",
    "productImage",
    "productUrl",
)
REQUIRED_ITEM_FIELDS = ("productId", "productVariantId", "price")


class KindMappingError(MappingError):
    """A kind's mapping that cannot work; a `MappingError`, so start-up reports it the same way."""


@dataclass(frozen=True)
class UsersKind:
    """The marker for `kind: users`: the caller compiles `raw` with `compile_mapping` as today.

    `raw` is the mapping without its `kind` key (None when nothing else was set, which
    means the default mapping), since `compile_mapping` knows no `kind`.
    """

    raw: Mapping[str, Any] | None
    kind: str = USERS


@dataclass(frozen=True)
class UserMapping:
    """Which source fields identify the person of an event or an opt-out."""

    email: Sources = ()
    phone: Sources = ()
    client_user_id: Sources = ()
    custom: tuple[tuple[str, Sources], ...] = ()

    @property
    def sources(self) -> tuple[Sources, ...]:
        return (self.email, self.phone, self.client_user_id, *(s for _, s in self.custom))


@dataclass(frozen=True)
class CustomEventMapping:
    """A stream of application events sent to `POST /v1/events/custom`."""

    user: UserMapping
    event_type: str | None
    event_type_field: Sources
    properties: tuple[tuple[str, Sources], ...]
    occurred_at: Sources
    external_event_id: Sources
    kind: str = CUSTOM_EVENT

    @property
    def source_fields(self) -> frozenset[str]:
        """Every top-level source field read, so the caller can list the unmapped ones."""
        reads = (self.event_type_field, self.occurred_at, self.external_event_id)
        return _tops(*self.user.sources, *reads, *(s for _, s in self.properties))


@dataclass(frozen=True)
class EcommerceMapping:
    """A stream of purchases, cart additions or product views, with their products.

    `items` empty means one product per record, read from the record by `item`.
    """

    kind: str
    user: UserMapping
    items: Sources
    item: tuple[tuple[str, Sources], ...]
    occurred_at: Sources
    order_id: Sources
    currency: str | None
    currency_field: Sources

    @property
    def one_item_per_record(self) -> bool:
        return not self.items

    @property
    def source_fields(self) -> frozenset[str]:
        reads = (self.items, self.occurred_at, self.order_id, self.currency_field)
        item_reads = () if self.items else tuple(s for _, s in self.item)
        return _tops(*self.user.sources, *reads, *item_reads)


@dataclass(frozen=True)
class UnsubscribeMapping:
    """A stream of opt-outs sent to `POST /v1/subscriptions/unsubscribe`."""

    user: UserMapping
    channel: str | None
    channel_field: Sources
    subscription_type: str | None
    subscription_type_field: Sources
    when: Sources
    kind: str = UNSUBSCRIBE

    @property
    def source_fields(self) -> frozenset[str]:
        reads = (self.channel_field, self.subscription_type_field, self.when)
        return _tops(*self.user.sources, *reads)


KindMapping = CustomEventMapping | EcommerceMapping | UnsubscribeMapping


def _tops(*sources: Sources) -> frozenset[str]:
    return frozenset(name.split(".")[0] for group in sources for name in group)
