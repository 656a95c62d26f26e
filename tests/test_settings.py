"""settings.py: every start-up error names its setting, and good settings give none."""

from __future__ import annotations

import pytest

from target_attentive.settings import (
    _check_api_url,
    check_settings,
    connected_url,
    is_loopback,
)

BASE = {"api_key": "test-key"}


def errors_of(**config: object) -> list[str]:
    return check_settings({**BASE, **config})


def only(**config: object) -> str:
    errors = errors_of(**config)
    assert len(errors) == 1, errors
    return errors[0]


def test_minimal_settings_are_fine() -> None:
    assert check_settings(BASE) == []


def test_typical_settings_are_fine() -> None:
    config = {
        **BASE,
        "api_url": "https://api.attentivemobile.com",
        "default_phone_region": "GB",
        "mode": "bulk",
        "bulk_batch_size": 256,
        "max_requests_per_second": 150,
        "max_concurrency": 16,
        "request_timeout_seconds": 30,
        "max_retry_seconds": 0,
        "max_rejects": 0,
        "checkpoint_interval_seconds": 300,
        "rejects_path": "rejects.jsonl",
        "dry_run_path": "dry.jsonl",
        "mapping": {"custom_attributes": {"VIP": "vip"}},
        "stream_mappings": {"customers": {"identifiers": {"email": "mail"}}},
        "custom_attribute_types": {"VIP": "boolean", "Tier": "enum"},
        "custom_attribute_enums": {"Tier": ["gold", "silver"]},
    }
    assert check_settings(config) == []


# --- api_key


@pytest.mark.parametrize("config", [{}, {"api_key": ""}, {"api_key": None, "dry_run": False}])
def test_api_key_required_unless_dry_run(config: dict) -> None:
    errors = check_settings(config)
    assert len(errors) == 1
    assert errors[0].startswith("api_key: required")
    assert "dry_run" in errors[0]


def test_api_key_not_needed_for_dry_run() -> None:
    assert check_settings({"dry_run": True}) == []


def test_api_key_never_in_messages() -> None:
    config = {"api_key": "sk-secret-123", "api_url": "http://example.com", "bulk_batch_size": 0}
    assert all("sk-secret-123" not in e for e in check_settings(config))


# --- api_url


@pytest.mark.parametrize(
    "url",
    [
        "http://api.attentivemobile.com",
        "http://example.com:8080",
        "http://10.0.0.5",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8000",
    ],
)
def test_plain_http_refused_for_other_hosts(url: str) -> None:
    error = only(api_url=url)
    assert error.startswith("api_url: plain http is allowed only for loopback hosts")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "http://127.0.0.2",
        "https://api.attentivemobile.com",
        "https://attentive.example.com/proxy",
        None,
        "",
    ],
)
def test_loopback_http_and_any_https_are_fine(url: str | None) -> None:
    assert errors_of(api_url=url) == []


@pytest.mark.parametrize("url", ["ftp://example.com", "api.attentivemobile.com", "https://", 5])
def test_api_url_that_is_not_an_http_url(url: object) -> None:
    assert only(api_url=url).startswith("api_url: ")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("[::1]", True), ("::1", True), ("10.0.0.1", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- numbers


@pytest.mark.parametrize("size", [0, 257, 1000, -1, "many", True])
def test_bulk_batch_size_out_of_range(size: object) -> None:
    error = only(bulk_batch_size=size)
    assert error.startswith("bulk_batch_size: ")
    assert "1 to 256" in error


@pytest.mark.parametrize("size", [1, 100, 256])
def test_bulk_batch_size_in_range(size: int) -> None:
    assert errors_of(bulk_batch_size=size) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_requests_per_second", 0),
        ("max_concurrency", 0),
        ("request_timeout_seconds", -5),
        ("max_retry_seconds", -1),
        ("max_rejects", -1),
        ("bulk_wait_seconds", -1),
        ("checkpoint_interval_seconds", 0),
        ("max_concurrency", "eight"),
    ],
)
def test_limits_out_of_range(name: str, value: object) -> None:
    assert only(**{name: value}).startswith(f"{name}: ")


# --- default_phone_region


@pytest.mark.parametrize("region", ["us", "USA", "XX", "", "United States"])
def test_unknown_phone_region(region: str) -> None:
    error = only(default_phone_region=region)
    assert error.startswith("default_phone_region: ")
    assert "ISO 3166-1" in error


@pytest.mark.parametrize("region", ["US", "GB", "DE", "BR", "IN", "JP"])
def test_known_phone_region(region: str) -> None:
    assert errors_of(default_phone_region=region) == []


# --- mappings


def test_mapping_errors_are_reported_under_mapping() -> None:
    errors = errors_of(mapping={"identifiers": {"mail": "email"}, "attributes": {"age": "age"}})
    assert [e.split(":")[0] for e in errors] == [
        "mapping.identifiers.mail",
        "mapping.attributes.age",
    ]


def test_stream_mapping_errors_name_the_stream() -> None:
    errors = errors_of(
        stream_mappings={
            "customers": {"identifiers": {"email": "email"}},
            "leads": {"subscriptions": [{"channel": "SMS", "signUpSourceId": "1"}]},
            "orders": {"custom_attributes": {"custom": {"x": []}}},
        }
    )
    assert [e.split(":")[0] for e in errors] == [
        "stream_mappings.leads.subscriptions[0].channel",
        "stream_mappings.orders.custom_attributes.custom.x",
    ]


def test_errors_in_mapping_and_stream_mappings_all_reported() -> None:
    errors = errors_of(
        mapping={"extras": 1}, stream_mappings={"users": {"identifiers": {"id": "id"}}}
    )
    assert [e.split(":")[0] for e in errors] == [
        "mapping.extras",
        "stream_mappings.users.identifiers.id",
    ]


def test_stream_mappings_must_be_an_object() -> None:
    assert only(stream_mappings=["users"]).startswith("stream_mappings: must be an object")


def test_more_than_100_custom_attributes_across_mappings_and_types() -> None:
    mapping = {"custom_attributes": {f"a{n}": "x" for n in range(40)}}
    streams = {"s": {"custom_attributes": {f"b{n}": "x" for n in range(40)}}}
    types = {f"c{n}": "string" for n in range(21)}
    error = only(mapping=mapping, stream_mappings=streams, custom_attribute_types=types)
    assert error.startswith("mapping.custom_attributes: 101 custom attributes across all mappings")
    assert "100" in error


def test_the_same_custom_attribute_in_several_places_counts_once() -> None:
    names = {f"a{n}": "x" for n in range(100)}
    config = {
        "mapping": {"custom_attributes": names},
        "stream_mappings": {"s": {"custom_attributes": names}},
        "custom_attribute_types": dict.fromkeys(names, "string"),
        "custom_attribute_enums": {"a1": ["x"]},
    }
    assert errors_of(**config) == []


def test_enum_names_count_towards_100() -> None:
    config = {
        "mapping": {"custom_attributes": {f"a{n}": "x" for n in range(100)}},
        "custom_attribute_enums": {"Tier": ["gold"]},
    }
    assert only(**config).startswith("mapping.custom_attributes: 101 custom attributes")


# --- custom attribute types


@pytest.mark.parametrize("kind", ["text", "int", "Boolean", None, ["string"]])
def test_bad_custom_attribute_type(kind: object) -> None:
    error = only(custom_attribute_types={"VIP": kind})
    assert error.startswith("custom_attribute_types.VIP: ")
    assert "string, number, boolean, date, enum" in error


@pytest.mark.parametrize("kind", ["string", "number", "boolean", "date", "enum"])
def test_good_custom_attribute_type(kind: str) -> None:
    assert errors_of(custom_attribute_types={"VIP": kind}) == []


def test_custom_attribute_types_must_be_an_object() -> None:
    assert only(custom_attribute_types=["VIP"]).startswith("custom_attribute_types: must be")


@pytest.mark.parametrize("values", ["gold", [1, 2], {"gold": 1}])
def test_bad_custom_attribute_enums(values: object) -> None:
    assert only(custom_attribute_enums={"Tier": values}).startswith(
        "custom_attribute_enums.Tier: must be a list"
    )


def test_custom_attribute_enums_must_be_an_object() -> None:
    assert only(custom_attribute_enums="Tier").startswith("custom_attribute_enums: must be")


# --- paths


@pytest.mark.parametrize(
    ("rejects", "dry"), [("out.jsonl", "out.jsonl"), ("./out.jsonl", "out.jsonl"), ("a/../b", "b")]
)
def test_rejects_path_must_differ_from_dry_run_path(rejects: str, dry: str) -> None:
    assert only(rejects_path=rejects, dry_run_path=dry).startswith(
        "rejects_path: must differ from dry_run_path"
    )


def test_different_paths_are_fine() -> None:
    assert errors_of(rejects_path="rejects.jsonl", dry_run_path="dry.jsonl") == []


def test_all_errors_found_at_once() -> None:
    errors = check_settings(
        {
            "api_url": "http://example.com",
            "bulk_batch_size": 300,
            "mapping": {"identifiers": {"mail": "email"}},
            "custom_attribute_types": {"VIP": "flag"},
            "rejects_path": "x",
            "dry_run_path": "x",
        }
    )
    assert [e.split(":")[0] for e in errors] == [
        "api_key",
        "api_url",
        "bulk_batch_size",
        "mapping.identifiers.mail",
        "custom_attribute_types.VIP",
        "rejects_path",
    ]


def test_opt_ins_need_the_ledger() -> None:
    error = only(subscriptions_enabled=True, ledger_enabled=False)
    assert error.startswith("subscriptions_enabled: opt-ins need the ledger")
    assert errors_of(subscriptions_enabled=True, ledger_enabled=True) == []
    assert errors_of(subscriptions_enabled=False, ledger_enabled=False) == []


# --- api_url as the HTTP library reads it (issue 13)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://attacker.example\\@127.0.0.1:8787", "backslash"),
        ("https://attacker.example\\@api.attentivemobile.com", "backslash"),
        ("http://user:pw@127.0.0.1:1/", "user name or password"),
        ("https://token@api.attentivemobile.com", "user name or password"),
        ("http://example.com", "use https for example.com"),
        ("http://127.0.0.1.example.com:8787", "use https"),
        ("ftp://127.0.0.1", "http(s)"),
        ("https://api.attentivemobile.com/?x=1", "query"),
    ],
)
def test_api_url_refused_as_requests_would_connect(url: str, says: str) -> None:
    error = only(api_url=url)
    assert error.startswith("api_url: ")
    assert says in error
    assert "pw" not in error and "token" not in error and "attacker" not in error


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "https://api.attentivemobile.com", "http://[::1]:1/v2"]
)
def test_api_url_accepted(url: str) -> None:
    assert _check_api_url(url) == []


def test_the_parser_of_the_check_is_the_one_that_connects() -> None:
    """urlsplit sees 127.0.0.1 here; requests would connect to attacker.example."""
    assert connected_url("http://attacker.example\\@127.0.0.1:8787").host == "attacker.example"
    assert _check_api_url("http://attacker.example\\@127.0.0.1:8787") != []
