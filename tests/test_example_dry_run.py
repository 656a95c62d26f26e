"""The example (examples/, sample_config.json, meltano.yml) through the real CLI, dry run.

One run of `target-attentive --config sample_config.json --input examples/customers.singer`
is shared by most tests here: every good customer must become exactly one valid payload,
every deliberately bad one a line naming its field (left out, or rejected), the run
report must add up, and stdout must carry the final state and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from example_customers import BAD, PEOPLE, SAMPLE_CONFIG, examples
from targetrun import TARGET, Result, read_lines, run_target, write_input

from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.mapping import compile_mapping
from target_attentive.settings import check_settings
from target_attentive.validation import validate_payload

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SINGER = EXAMPLES / "customers.singer"
# A bad value costs the field, not the customer: only those without an identifier are rejected.
REJECTED = examples.rejected_positions()
OMITTED = sorted(p for p in BAD if p not in REJECTED)
SENT = [p for p in range(1, len(PEOPLE) + 1) if p not in REJECTED]


# What `meltano config test target-attentive` pipes into a loader (Meltano's
# LoaderTestService), which fails the test when any output line says "error" or "exception".
MELTANO_TEST_INPUT = [
    json.dumps(
        {
            "type": "SCHEMA",
            "stream": "meltano_test_stream",
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
            "key_properties": ["id"],
        }
    ),
    json.dumps(
        {
            "type": "RECORD",
            "stream": "meltano_test_stream",
            "record": {
                "id": 1,
                "name": "Meltano Test Record",
                "created_at": "2025-09-29T00:00:00Z",
            },
        }
    ),
    json.dumps(
        {"type": "STATE", "value": {"bookmarks": {"meltano_test_stream": {"last_record": 1}}}}
    ),
]


def example_config(**overrides: Any) -> dict[str, Any]:
    """sample_config.json as it is (its paths are relative: the run's cwd is its tmp dir)."""
    return {**SAMPLE_CONFIG, **overrides}


class ExampleRun:
    def __init__(self, result: Result, directory: Path) -> None:
        self.result = result
        self.payloads = read_lines(directory / SAMPLE_CONFIG["dry_run_path"])
        lines = read_lines(directory / SAMPLE_CONFIG["rejects_path"])
        self.rejects = [line for line in lines if line.get("outcome") != "omitted"]
        self.omissions = [line for line in lines if line.get("outcome") == "omitted"]
        self.summary = result.summary()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> ExampleRun:
    directory = tmp_path_factory.mktemp("example")
    result = run_target(example_config(), SINGER, directory)
    assert result.returncode == 0, result.stderr[-3000:]
    return ExampleRun(result, directory)


# --- the example files and configs agree with each other -----------------------------------


def test_example_files_are_what_make_examples_writes() -> None:
    for name, text in examples.render_all().items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, (
            f"examples/{name} is stale: run python examples/make_examples.py"
        )


def test_jsonl_and_singer_hold_the_same_people() -> None:
    jsonl = [json.loads(line) for line in (EXAMPLES / "customers.jsonl").read_text().splitlines()]
    messages = [json.loads(line) for line in SINGER.read_text().splitlines()]
    assert messages[0]["type"] == "SCHEMA" and messages[-1]["type"] == "STATE"
    assert [m["record"] for m in messages[1:-1]] == jsonl == PEOPLE
    assert len(PEOPLE) >= 40 and 8 <= len(BAD) < len(PEOPLE) // 2


def test_sample_config_is_a_dry_run_that_compiles() -> None:
    assert check_settings(SAMPLE_CONFIG) == []
    assert SAMPLE_CONFIG["dry_run"] is True
    assert "api_key" not in SAMPLE_CONFIG
    assert not SAMPLE_CONFIG.get("subscriptions_enabled")


def test_meltano_yml_declares_every_setting_and_the_same_example_config() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    assert project["default_environment"] == "dev"
    (loader,) = project["plugins"]["loaders"]
    assert loader["name"] == "target-attentive"
    assert loader["namespace"] == "target_attentive"
    assert loader["pip_url"] == "-e ."
    assert loader["executable"] == "target-attentive"
    settings = {s["name"]: s for s in loader["settings"]}
    properties = CONFIG_SCHEMA["properties"]
    missing = sorted(set(properties) - set(settings))
    assert not missing, f"settings of target.py not declared in meltano.yml: {missing}"
    kinds = {"string": "string", "boolean": "boolean", "integer": "integer", "object": "object"}
    for name, prop in properties.items():
        setting = settings[name]
        assert setting.get("label") and setting.get("description"), name
        declared = next(t for t in prop["type"] if t != "null")
        expected = "options" if "enum" in prop else kinds[declared]
        assert setting["kind"] == expected, name
        assert setting.get("sensitive", False) == bool(prop.get("secret")), name
    assert settings["api_key"]["sensitive"] is True

    config = loader["config"]
    assert config["dry_run"] is True
    for key in ("dry_run_path", "rejects_path"):
        assert config[key] == SAMPLE_CONFIG[key]
    # meltano.yml holds the nested form Meltano would make of the dotted keys anyway.
    assert compile_mapping(config["mapping"]) == compile_mapping(SAMPLE_CONFIG["mapping"])

    # Meltano runs the console script; its --about must agree with the declared plugin.
    script = Path(sys.executable).with_name("target-attentive")
    about = json.loads(
        subprocess.run(
            [str(script), "--about", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    # validate-records is not a capability Meltano accepts in meltano.yml.
    assert set(loader["capabilities"]) == set(about["capabilities"]) - {"validate-records"}
    undeclared = sorted(set(about["settings"]["properties"]) - set(settings) - {"load_method"})
    assert not undeclared, f"SDK settings not declared in meltano.yml: {undeclared}"

    (tap,) = project["plugins"]["extractors"]
    assert tap["name"] == "tap-jsonl" and tap["pip_url"] == "tap-jsonl"
    assert (ROOT / tap["config"]["path"]).resolve() == EXAMPLES / "customers.jsonl"
    assert tap["config"]["stream_name"] == "customers"


# --- the example run ------------------------------------------------------------------------


def test_every_customer_with_an_identifier_becomes_exactly_one_valid_payload(
    example: ExampleRun,
) -> None:
    positions = [line["position"] for line in example.payloads]
    assert sorted(positions) == SENT, "one payload per customer with a valid identifier"
    for line in example.payloads:
        record = PEOPLE[line["position"] - 1]
        payload = line["payload"]
        assert line["stream"] == "customers"
        assert validate_payload(payload) == [], (line["position"], payload)
        assert payload["identifiers"]["clientUserId"] == record["id"]
        assert "subscriptions" not in payload, "opt-ins go out only with subscriptions_enabled"
        custom = payload["attributes"]["custom"]
        assert custom["VIP"] is record["vip"]
        bad = BAD.get(line["position"])
        if bad and bad.field == "attributes.custom.Lifetime Value":
            assert set(custom) == {"VIP"}, "the bad value is left out, the rest is sent"
        else:
            assert custom["Lifetime Value"] == record["lifetime_value"]
            assert set(custom) == {"Lifetime Value", "VIP"}
        if bad:  # the field named is not in the payload
            part, *rest = bad.field.split(".")
            node = payload[part]
            for name in rest[:-1]:
                node = node.get(name, {})
            assert rest[-1] not in node, (line["position"], bad.field)


def test_payloads_are_normalised(example: ExampleRun) -> None:
    by_id = {
        line["payload"]["identifiers"]["clientUserId"]: line["payload"] for line in example.payloads
    }
    assert by_id["cus_1001"] == {
        "identifiers": {
            "email": "olivia.bennett@example.com",
            "phone": "+12015550123",
            "clientUserId": "cus_1001",
            "customIdentifiers": [{"key": "loyalty_id", "value": "LOY-100231"}],
        },
        "attributes": {
            "firstName": "Olivia",
            "lastName": "Bennett",
            "location": {"city": "Jersey City", "country": "US"},
            "demographic": {"dateOfBirth": "1988-04-12"},
            "custom": {"Lifetime Value": 1249.9, "VIP": True},
        },
    }
    assert by_id["cus_1002"]["identifiers"]["email"] == "liam.carter@example.com"
    assert by_id["cus_1027"]["identifiers"]["email"] == "emma.schmidt@example.com"
    assert by_id["cus_1006"]["identifiers"]["phone"] == "+12015550143"  # a JSON number
    assert by_id["cus_1019"]["identifiers"]["phone"] == "+16175550111"  # padded
    assert by_id["cus_1021"]["identifiers"]["phone"] == "+12015550110"  # leading 1
    assert by_id["cus_1013"]["identifiers"]["phone"] == "+4915123456789"
    assert by_id["cus_1011"]["identifiers"]["phone"] == "+447911123456"
    assert "email" not in by_id["cus_1031"]["identifiers"]  # "" is left out, never sent
    assert by_id["cus_1048"]["identifiers"] == {
        "clientUserId": "cus_1048",
        "customIdentifiers": [{"key": "loyalty_id", "value": "LOY-100434"}],
    }
    assert "dateOfBirth" not in by_id["cus_1003"]["attributes"].get("demographic", {})
    for payload in by_id.values():
        phone = payload["identifiers"].get("phone")
        assert phone is None or (phone.startswith("+") and phone[1:].isdigit())


def test_only_customers_without_an_identifier_are_rejected_with_a_reason_naming_it(
    example: ExampleRun,
) -> None:
    positions = [line["position"] for line in example.rejects]
    assert sorted(positions) == REJECTED, "one reject per customer with no identifier left"
    for line in example.rejects:
        position = line["position"]
        expected = BAD[position]
        assert line["stream"] == "customers"
        assert line["record"] == PEOPLE[position - 1]
        reason = line["reason"]
        assert f"{expected.field}:" in reason, (position, reason)
        assert len(reason) > len(expected.field) + 10, "a reason says what to change"
        assert_quotes_nobody(position, reason)


def test_every_field_left_out_has_its_own_line_naming_field_and_reason(
    example: ExampleRun,
) -> None:
    by_position: dict[int, list[dict]] = {}
    for line in example.omissions:
        by_position.setdefault(line["position"], []).append(line)
        assert line["stream"] == "customers"
        assert line["record"] == PEOPLE[line["position"] - 1]
        assert len(line["reason"]) > 10, "a reason says what to change"
        assert_quotes_nobody(line["position"], line["reason"])
    assert sorted(by_position) == OMITTED
    for position, lines in by_position.items():
        assert [line["field"] for line in lines] == [BAD[position].field], position
    household = [by_position[p][0]["reason"] for p in OMITTED if "household" in BAD[p].why]
    assert len(household) == 2 and all("another person's" in r for r in household)


def assert_quotes_nobody(position: int, reason: str) -> None:
    for value in PEOPLE[position - 1].values():  # reasons never quote people's data
        if isinstance(value, str) and len(value.strip()) >= 3:
            assert value.strip() not in reason, (position, reason)


def test_run_report_adds_up_and_matches_the_files(example: ExampleRun) -> None:
    summary = example.summary
    assert summary["read"] == len(PEOPLE)
    settled = sum(summary[k] for k in ("written", "accepted", "unchanged", "rejected", "filtered"))
    assert summary["read"] == settled
    assert summary["unsettled"] == 0
    assert summary["written"] == len(example.payloads) == len(SENT)
    assert summary["rejected"] == len(example.rejects) == len(REJECTED)
    assert summary["accepted"] == summary["unchanged"] == summary["filtered"] == 0
    assert sum(summary["top_reject_reasons"].values()) == len(REJECTED)
    omissions = summary["omissions"]
    assert omissions["records"] == omissions["fields"] == len(example.omissions) == len(OMITTED)
    assert summary["rejects_path"] == SAMPLE_CONFIG["rejects_path"]
    stderr = example.result.stderr
    assert "run report" in stderr
    assert f"records sent with a field left out: {len(OMITTED)}, fields left out: " in stderr


def test_stdout_is_the_final_state_and_nothing_else(example: ExampleRun) -> None:
    lines = example.result.stdout.splitlines()
    assert lines, "the final STATE must be written"
    for line in lines:
        assert json.loads(line) == examples.final_state()


def test_opt_ins_appear_only_when_enabled_and_only_for_those_who_opted_in(
    tmp_path: Path,
) -> None:
    result = run_target(example_config(subscriptions_enabled=True), SINGER, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payloads = read_lines(tmp_path / SAMPLE_CONFIG["dry_run_path"])
    assert sorted(line["position"] for line in payloads) == SENT
    phone_left_out = {p for p in OMITTED if BAD[p].field == "identifiers.phone"}
    for line in payloads:
        position = line["position"]
        opted_in = PEOPLE[position - 1]["sms_opt_in"] is True and position not in phone_left_out
        expected = [{"signUpSourceId": "12345", "channel": "TEXT"}] if opted_in else None
        assert line["payload"].get("subscriptions") == expected, position
        assert validate_payload(line["payload"]) == []
    # A TEXT opt-in whose phone was left out is not sent (it would subscribe whatever phone
    # Attentive holds), and the omission says so.
    lines = read_lines(tmp_path / SAMPLE_CONFIG["rejects_path"])
    dropped = sorted(x["position"] for x in lines if x.get("field") == "subscriptions.TEXT")
    assert dropped == sorted(p for p in phone_left_out if PEOPLE[p - 1]["sms_opt_in"] is True)
    assert dropped, "the example has opted-in customers whose phone is left out"


# --- edges of a run -------------------------------------------------------------------------


def test_meltano_config_test_input_passes_and_its_record_is_rejected(tmp_path: Path) -> None:
    """Meltano's test record is rejected by its stream name, whatever the mapping says."""
    config = {k: v for k, v in example_config().items() if k != "mapping"}
    source = write_input(tmp_path / "meltano_test.singer", MELTANO_TEST_INPUT)
    result = run_target(config, source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    output = (result.stdout + result.stderr).splitlines()
    flagged = [line for line in output if "error" in line.lower() or "exception" in line.lower()]
    assert not flagged, f"meltano config test fails on these lines: {flagged}"
    assert result.states == [{"bookmarks": {"meltano_test_stream": {"last_record": 1}}}]
    (reject,) = read_lines(tmp_path / SAMPLE_CONFIG["rejects_path"])
    assert reject["stream"] == "meltano_test_stream" and reject["position"] == 1
    assert reject["record"]["id"] == 1
    assert reject["reason"] == "Meltano's connection-test record, never sent to Attentive"
    assert read_lines(tmp_path / SAMPLE_CONFIG["dry_run_path"]) == []
    summary = result.summary()
    assert (summary["read"], summary["rejected"], summary["written"]) == (1, 1, 0)


def test_meltano_test_record_is_never_sent_with_the_example_mapping(tmp_path: Path) -> None:
    source = write_input(tmp_path / "meltano_test.singer", MELTANO_TEST_INPUT)
    result = run_target(example_config(), source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_lines(tmp_path / SAMPLE_CONFIG["dry_run_path"]) == []
    rejects = read_lines(tmp_path / SAMPLE_CONFIG["rejects_path"])
    assert [r["reason"] for r in rejects] == [
        "Meltano's connection-test record, never sent to Attentive"
    ]


def test_config_error_exits_before_reading_input_and_names_api_key(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config = {k: v for k, v in example_config(dry_run=False).items() if k != "api_key"}
    config_path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ATTENTIVE_")}
    # stdin stays open and empty: a target that read its input first would hang here.
    with subprocess.Popen(
        [*TARGET, "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    ) as proc:
        try:
            stdout, stderr = _wait(proc)
        finally:
            proc.kill()
    assert proc.returncode != 0
    assert "api_key" in stderr
    assert stdout == ""
    assert not (tmp_path / "output").exists(), "nothing is written on a config error"


def _wait(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for the process without closing its stdin, then collect what it printed."""
    proc.wait(timeout=30)
    assert proc.stdout is not None and proc.stderr is not None
    return proc.stdout.read(), proc.stderr.read()


def test_max_rejects_stops_the_run_without_state(tmp_path: Path) -> None:
    result = run_target(example_config(max_rejects=1), SINGER, tmp_path)
    assert result.returncode != 0
    assert "max_rejects" in result.stderr
    assert result.stdout == "", "no state may be written for a run that failed"
    rejects = read_lines(tmp_path / SAMPLE_CONFIG["rejects_path"])
    assert [x["position"] for x in rejects if x.get("outcome") != "omitted"] == REJECTED[:2]
