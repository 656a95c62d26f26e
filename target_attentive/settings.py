"""Start-up checks of the settings that a JSON Schema cannot express (pure).

Every message starts with the setting's name and says what to change, and all of them
are found before the first record is read or anything is sent.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, fields
from typing import Any

import requests
from requests.models import PreparedRequest
from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from target_attentive.config_schema import CONFIG_SCHEMA, DEFAULT_API_URL
from target_attentive.kinds.compile import compile_kind_mapping
from target_attentive.kinds.shapes import KindMapping, UsersKind
from target_attentive.mapping import (
    MAX_CUSTOM_ATTRIBUTES,
    Mapping,
    MappingError,
    compile_mapping,
)
from target_attentive.phonelib import phonenumbers

MAX_BULK_BATCH = 256
CUSTOM_TYPES = ("string", "number", "boolean", "date", "enum")
# Integer settings and the least each may be; the SDK's schema only checks they are integers.
_AT_LEAST = {
    "max_requests_per_second": 1,
    "max_concurrency": 1,
    "request_timeout_seconds": 1,
    "max_retry_seconds": 0,
    "max_rejects": 0,
    "bulk_wait_seconds": 0,
    "checkpoint_interval_seconds": 1,
}


def is_loopback(host: str) -> bool:
    """Plain http is safe only when the request never leaves the machine."""
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_settings(config: MappingABC[str, Any]) -> list[str]:
    """Every problem with the settings, each naming its setting; empty when all is well."""
    errors: list[str] = []
    dry_run = bool(config.get("dry_run"))
    if not dry_run and not config.get("api_key"):
        errors.append(
            "api_key: required to send to Attentive (a private app key with the "
            "attributes:write and subscriptions:write scopes); set it, or set dry_run: true"
        )
    errors += _check_api_url(config.get("api_url") or DEFAULT_API_URL)
    for name in ("invalid_fields", "shared_identifiers"):
        value = config.get(name)
        allowed = CONFIG_SCHEMA["properties"][name]["enum"]
        if value is not None and value not in allowed:
            errors.append(f"{name}: {value!r} is not a choice; use {' or '.join(allowed)}")
    region = config.get("default_phone_region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        errors.append(
            f"default_phone_region: {region!r} is not a region code; use an ISO 3166-1 "
            "alpha-2 code in capitals, such as US, GB or DE"
        )
    batch = config.get("bulk_batch_size")
    if batch is not None and not (_is_int(batch) and 1 <= batch <= MAX_BULK_BATCH):
        errors.append(
            f"bulk_batch_size: {batch!r} is out of range; Attentive takes 1 to {MAX_BULK_BATCH}"
        )
    for name, least in _AT_LEAST.items():
        value = config.get(name)
        if value is not None and not (_is_int(value) and value >= least):
            errors.append(f"{name}: {value!r} is out of range; use a whole number >= {least}")
    custom_names: set[str] = set()
    mappings = {"mapping": config.get("mapping")}
    stream_mappings = config.get("stream_mappings") or {}
    if not isinstance(stream_mappings, MappingABC):
        errors.append("stream_mappings: must be an object of stream name to mapping")
        stream_mappings = {}
    for stream, mapping in stream_mappings.items():
        mappings[f"stream_mappings.{stream}"] = mapping
    for where, raw in mappings.items():
        try:
            compiled = compile_route(raw, where)
        except MappingError as exc:
            errors += exc.problems
            continue
        if isinstance(compiled, Mapping):
            custom_names.update(compiled.custom_attribute_names)
    errors += _check_kind_settings(config)
    types = config.get("custom_attribute_types") or {}
    if not isinstance(types, MappingABC):
        errors.append("custom_attribute_types: must be an object of attribute name to type")
        types = {}
    for name, kind in types.items():
        if kind not in CUSTOM_TYPES:
            errors.append(
                f"custom_attribute_types.{name}: {kind!r} is not a type; use one of "
                f"{', '.join(CUSTOM_TYPES)}"
            )
    enums = config.get("custom_attribute_enums") or {}
    if not isinstance(enums, MappingABC):
        errors.append("custom_attribute_enums: must be an object of attribute name to values")
        enums = {}
    for name, values in enums.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"custom_attribute_enums.{name}: must be a list of allowed values")
    all_names = custom_names | set(types) | set(enums)
    if len(all_names) > MAX_CUSTOM_ATTRIBUTES:
        errors.append(
            f"mapping.custom_attributes: {len(all_names)} custom attributes across all "
            "mappings, custom_attribute_types and custom_attribute_enums; Attentive allows "
            f"{MAX_CUSTOM_ATTRIBUTES} in an account, ever"
        )
    if config.get("subscriptions_enabled") and config.get("ledger_enabled") is False:
        errors.append(
            "subscriptions_enabled: opt-ins need the ledger (ledger_enabled: true), which "
            "is what stops a second send"
        )
    rejects, dry = config.get("rejects_path"), config.get("dry_run_path")
    if rejects and dry and os.path.normpath(rejects) == os.path.normpath(dry):
        errors.append("rejects_path: must differ from dry_run_path (both name one file)")
    return errors


def compile_route(raw: Any, where: str = "mapping") -> Mapping | KindMapping:
    """A mapping compiled for its kind: the user upsert's `Mapping`, or a v1 kind's.

    `kind: users` (or no kind) is compiled exactly as before issue 15 added kinds.
    """
    compiled = compile_kind_mapping(raw, where)
    if isinstance(compiled, UsersKind):
        return compile_mapping(compiled.raw, where)
    return compiled


def _check_kind_settings(config: MappingABC[str, Any]) -> list[str]:
    """The settings of events and opt-outs (issue 15)."""
    errors = []
    currency = config.get("default_currency")
    if currency is not None and not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
        and currency.isupper()
    ):
        errors.append(
            f"default_currency: {currency!r} is not a currency code; use an ISO 4217 code "
            "of three capital letters, such as USD or EUR"
        )
    age = config.get("max_event_age_hours")
    if age is not None and not (_is_int(age) and age >= 1):
        errors.append(
            f"max_event_age_hours: {age!r} is out of range; use a whole number >= 1, or "
            "leave it unset to send every event"
        )
    if config.get("unsubscribe_notifications") and config.get("ledger_enabled") is False:
        errors.append(
            "unsubscribe_notifications: confirmation texts need the ledger (ledger_enabled: "
            "true), which is what stops a second text"
        )
    return errors


def _is_int(value: Any) -> bool:
    """An integer setting; True is not one, though Python says bool is an int."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_api_url(url: str) -> list[str]:
    """The URL as requests and urllib3 will connect to it, not as another parser reads it.

    `urlsplit` and urllib3 disagree on backslashes and userinfo, and the one that
    connects is the one that counts. Messages never quote the URL: it may hold a password.
    """
    if not isinstance(url, str):
        return ["api_url: must be text, an http(s) URL"]
    if "\\" in url:
        return ["api_url: contains a backslash; write the address with forward slashes only"]
    try:
        parts = connected_url(url)
    except (requests.exceptions.RequestException, LocationParseError, ValueError):
        return [
            "api_url: is not a full http(s) URL; write it as https://api.attentivemobile.com "
            "(or http://127.0.0.1:<port> for the sandbox)"
        ]
    if parts.scheme not in ("http", "https") or not parts.host:
        return ["api_url: is not an http(s) URL; use https://api.attentivemobile.com"]
    if parts.auth is not None:
        return [
            "api_url: must not carry a user name or password (user@host); remove them, "
            "the API key is the only credential"
        ]
    if parts.query is not None or parts.fragment is not None:
        return ["api_url: must not have a query (?) or fragment (#); give the base address"]
    if parts.scheme == "http" and not is_loopback(parts.host):
        return [
            "api_url: plain http is allowed only for loopback hosts (the sandbox); "
            f"use https for {parts.host}"
        ]
    return []


def connected_url(url: str) -> Url:
    """The parts of `url` that requests will connect to (its own normalisation, then urllib3's)."""
    prepared = PreparedRequest()
    prepared.prepare_url(url, None)
    return parse_url(prepared.url or "")


# Attentive's published per-second limits, used when max_requests_per_second is unset.
PUBLISHED_LIMITS = {"single": 150, "bulk": 100}


@dataclass(frozen=True)
class Settings:
    """The settings of a run, read once after the start-up checks.

    Every module reads this object, never the raw config: a default lives in the settings
    schema (config_schema.py) alone, and a 0 stays a 0. It crosses to the sending process
    as `to_wire()` in the first frame.
    """

    api_key: str | None
    api_url: str
    dry_run: bool
    dry_run_path: str
    default_phone_region: str
    mapping: dict | None
    stream_mappings: dict | None
    ignore_unmapped_streams: bool
    subscriptions_enabled: bool
    mode: str
    bulk_batch_size: int
    bulk_wait_seconds: int
    max_requests_per_second: int | None
    max_concurrency: int
    request_timeout_seconds: int
    max_retry_seconds: int
    rejects_path: str
    max_rejects: int | None
    ledger_url: str | None
    ledger_enabled: bool
    skip_unchanged: bool
    custom_attribute_types: dict | None
    custom_attribute_enums: dict | None
    checkpoint_interval_seconds: int
    invalid_fields: str
    shared_identifiers: str
    default_currency: str
    max_event_age_hours: int | None
    unsubscribe_notifications: bool
    batch_config: dict | None = None

    @classmethod
    def from_config(cls, config: MappingABC[str, Any]) -> Settings:
        """Given values, else the schema's default (None where the schema has none)."""
        properties = CONFIG_SCHEMA["properties"]
        values = {}
        for field in fields(cls):
            value = config.get(field.name)
            if value is None:
                value = properties.get(field.name, {}).get("default")
            values[field.name] = value
        return cls(**values)

    def to_wire(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Settings:
        return cls(**wire)

    @property
    def requests_per_second(self) -> int:
        """The pace asked for, else Attentive's published limit for the mode."""
        return self.max_requests_per_second or PUBLISHED_LIMITS[self.mode]
