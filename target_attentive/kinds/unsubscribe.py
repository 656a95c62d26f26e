"""A record as the body of `POST /v1/subscriptions/unsubscribe` (pure).

Attentive finds text subscriptions by phone only and email subscriptions by email only,
and a body without `subscriptions` ends every subscription of every type. So channel ALL
is sent as the mapped type on each channel the person has an address for, never as an
empty list that would also end transactional messages. A TEXT opt-out texts the person a
confirmation unless `notification.disabled` is true: a sync sends it disabled unless the
setting `unsubscribe_notifications` asks for the text.
"""

from __future__ import annotations

from collections.abc import Mapping

from target_attentive.kinds.ledger_keys import optout_keys
from target_attentive.kinds.outcome import Built, KindContext
from target_attentive.kinds.people import NO_IDENTIFIER, build_user
from target_attentive.kinds.shapes import (
    ALL_CHANNELS,
    CHANNELS,
    DEFAULT_SUBSCRIPTION_TYPE,
    SUBSCRIPTION_TYPES,
    UNSUBSCRIBE,
    UnsubscribeMapping,
)
from target_attentive.normalize import Invalid, is_truthy, to_text
from target_attentive.problems import Problem
from target_attentive.reading import first_value

_ADDRESS = {"TEXT": "phone", "EMAIL": "email"}


def build_unsubscribe(record: Mapping, mapping: UnsubscribeMapping, context: KindContext) -> Built:
    """The unsubscribe body of one record; filtered when its `when` field does not say yes."""
    built = Built(UNSUBSCRIBE, {})
    if mapping.when:
        try:
            wanted = is_truthy(first_value(record, mapping.when))
        except Invalid as exc:
            return built.reject([Problem("when", f"the source field {mapping.when[0]} {exc}")])
        if not wanted:
            return built.filter(f"{mapping.when[0]} does not say yes to opting out")
    problems: list[Problem] = []
    user = build_user(record, mapping.user, context.phone_region, built.omissions)
    built.payload["user"] = user
    channel = _pick(record, mapping.channel, mapping.channel_field, None, "channel", problems)
    sub_type = _pick(
        record,
        mapping.subscription_type,
        mapping.subscription_type_field,
        DEFAULT_SUBSCRIPTION_TYPE,
        "type",
        problems,
    )
    if not user:
        problems.append(Problem("user", NO_IDENTIFIER))
    elif channel in CHANNELS and _ADDRESS[channel] not in user:
        problems.append(
            Problem(
                f"user.{_ADDRESS[channel]}",
                f"missing; Attentive finds {channel} subscriptions by {_ADDRESS[channel]} only",
            )
        )
    if problems or channel is None or sub_type is None:
        return built.reject(problems)
    channels = CHANNELS if channel == ALL_CHANNELS else (channel,)
    built.payload["subscriptions"] = [
        {"type": sub_type, "channel": each} for each in channels if _ADDRESS[each] in user
    ]
    if not context.unsubscribe_notifications:
        built.payload["notification"] = {"disabled": True}
    built.optout_keys = optout_keys(built.payload)
    return built


def _pick(
    record: Mapping,
    fixed: str | None,
    sources: tuple[str, ...],
    default: str | None,
    name: str,
    problems: list[Problem],
) -> str | None:
    """A channel or a type: the fixed value, else the record's, else the default."""
    if fixed is not None:
        return fixed
    choices = (*CHANNELS, ALL_CHANNELS) if name == "channel" else SUBSCRIPTION_TYPES
    where = f"subscriptions.{name}"
    try:
        text = to_text(first_value(record, sources))
    except Invalid as exc:
        problems.append(Problem(where, str(exc)))
        return None
    if text is None:
        if default is None:
            problems.append(Problem(where, "missing; the record must say which channel"))
        return default
    word = text.upper()
    if word not in choices:
        problems.append(Problem(where, f"must be one of {', '.join(choices)}"))
        return None
    return word
