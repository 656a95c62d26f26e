"""Start-up checks of the settings that a JSON Schema cannot express (pure).

Every message starts with the setting's name and says what to change, and all of them
are found before the first record is read or anything is sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping as MappingABC
from typing import Any
from urllib.parse import urlsplit

from target_attentive.mapping import MAX_CUSTOM_ATTRIBUTES, MappingError, compile_mapping

DEFAULT_API_URL = "https://api.attentivemobile.com"
MAX_BULK_BATCH = 256
CUSTOM_TYPES = ("string", "number", "boolean", "date", "enum")


def is_loopback(host: str) -> bool:
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
    batch = config.get("bulk_batch_size")
    if batch is not None and not 1 <= int(batch) <= MAX_BULK_BATCH:
        errors.append(f"bulk_batch_size: {batch} is out of range; Attentive takes 1 to 256")
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
            compiled = compile_mapping(raw, where)
        except MappingError as exc:
            errors += exc.problems
            continue
        custom_names.update(compiled.custom_attribute_names)
    types = config.get("custom_attribute_types") or {}
    for name, kind in types.items():
        if kind not in CUSTOM_TYPES:
            errors.append(
                f"custom_attribute_types.{name}: {kind!r} is not a type; use one of "
                f"{', '.join(CUSTOM_TYPES)}"
            )
    enums = config.get("custom_attribute_enums") or {}
    for name, values in enums.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"custom_attribute_enums.{name}: must be a list of allowed values")
    all_names = custom_names | set(types) | set(enums)
    if len(all_names) > MAX_CUSTOM_ATTRIBUTES:
        errors.append(
            f"mapping.custom_attributes: {len(all_names)} custom attributes across all "
            f"mappings and custom_attribute_types; Attentive allows {MAX_CUSTOM_ATTRIBUTES}"
        )
    if config.get("subscriptions_enabled") and config.get("ledger_enabled") is False:
        errors.append(
            "subscriptions_enabled: opt-ins need the ledger (ledger_enabled: true), which "
            "is what stops a second send"
        )
    if config.get("rejects_path") and config.get("rejects_path") == config.get("dry_run_path"):
        errors.append("rejects_path: must differ from dry_run_path")
    return errors


def _check_api_url(url: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"api_url: {url!r} is not an http(s) URL"]
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return [
            f"api_url: plain http is allowed only for loopback hosts (the sandbox); "
            f"use https for {parts.hostname}"
        ]
    return []
