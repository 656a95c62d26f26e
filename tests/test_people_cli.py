"""Issue 12, "people, not records": each case that was seen, through the real CLI.

1. a bad field cost the whole person; 2. national numbers were read with one global
region; 3. households sharing a phone were merged into one person; 4. a number beyond 64
bits crashed every run; 5. CSV text was sent as text; 6. an attribute Attentive refused
over its cap was sent again and again; 7. a dry run did not merge records of one person.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from targetrun import base_config, read_lines, run_target, write_input

from target_attentive.sandbox.process import SandboxProcess
from target_attentive.validation import validate_payload

LOOSE = {"type": ["number", "string", "null"]}  # a JSON-lines tap's guess at a mixed column
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "birthday": {"type": ["string", "null"]},
        "lifetime_value": LOOSE,
        "vip": {"type": ["boolean", "string", "null"]},
        "score": {"type": ["number", "null"]},
        "email_opt_in": {"type": ["boolean", "null"]},
    },
}
MAPPING: dict[str, Any] = {
    "identifiers": {"email": "email", "phone": "phone", "clientUserId": "id"},
    "attributes": {"firstName": "first_name", "demographic.dateOfBirth": "birthday"},
    "custom_attributes": {"Lifetime Value": "lifetime_value", "VIP": "vip", "Score": "score"},
}


def lines(records: list[dict[str, Any]], schema: dict[str, Any] = SCHEMA) -> list[str]:
    out = [json.dumps({"type": "SCHEMA", "stream": "customers", "schema": schema})]
    out += [json.dumps({"type": "RECORD", "stream": "customers", "record": r}) for r in records]
    out.append(json.dumps({"type": "STATE", "value": {"done": len(records)}}))
    return out


def run(config: dict[str, Any], text: list[str] | str, tmp_path: Path) -> Any:
    source = tmp_path / "in.singer"
    if isinstance(text, str):
        source.write_text(text)
    else:
        write_input(source, text)
    result = run_target(config, source, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def outcomes(tmp_path: Path) -> tuple[list[dict], list[dict]]:
    """(reject lines, omission lines) of the rejects file."""
    found = read_lines(tmp_path / "rejects.jsonl")
    return (
        [x for x in found if x.get("outcome") != "omitted"],
        [x for x in found if x.get("outcome") == "omitted"],
    )


def dry_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "dry_run": True,
        "dry_run_path": str(tmp_path / "dry.jsonl"),
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.db'}",
        "mapping": MAPPING,
        **overrides,
    }


@pytest.fixture
def sandbox():
    with SandboxProcess(latency_ms=2) as sb:
        yield sb


def by_email(sandbox: SandboxProcess) -> dict[str, dict]:
    return {
        a["payload"]["identifiers"].get("email", f"#{i}"): a["payload"]
        for i, a in enumerate(sandbox.accepted())
    }


# 1 ------------------------------------------------------------------------------------


def test_a_bad_field_costs_that_field_not_the_person(sandbox, tmp_path: Path) -> None:
    records = [
        {"id": 1, "email": "ann@example.com", "lifetime_value": 1249.9, "vip": True},
        {"id": 2, "email": "bo@example.com", "phone": "(202) 555-01"},  # unreadable phone
        {"id": 3, "email": "no-domain@", "phone": "+12025550188"},  # invalid email
        {"id": 4, "email": "cy@example.com", "birthday": "1990-02-30"},
        {"id": 5, "email": "di@example.com", "lifetime_value": "$99"},
        {"id": 6, "email": "ed@example.com", "lifetime_value": "1,234.50"},
        {"id": 7, "email": "fa@example.com", "lifetime_value": "NaN"},
        {"id": 8, "email": "gu@example.com", "vip": "yes"},  # plainly a boolean: converted
        {"id": 9, "email": "hu@example.com", "score": "$99"},  # breaks the tap's own schema
        {"email": "not-an-email", "phone": "12"},  # nothing valid: rejected
    ]
    result = run(base_config(sandbox, tmp_path, mapping=MAPPING), lines(records), tmp_path)
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (9, 1)
    rejects, omissions = outcomes(tmp_path)
    assert [r["position"] for r in rejects] == [10]
    left_out = {(o["record"]["id"], o["field"]) for o in omissions}
    assert left_out == {
        (2, "identifiers.phone"),
        (3, "identifiers.email"),
        (4, "attributes.demographic.dateOfBirth"),
        (5, "attributes.custom.Lifetime Value"),
        (6, "attributes.custom.Lifetime Value"),
        (7, "attributes.custom.Lifetime Value"),
        (9, "attributes.custom.Score"),
    }
    assert summary["omissions"]["records"] == summary["omissions"]["fields"] == 7
    assert "records sent with a field left out: 7, fields left out: 7" in result.stderr
    sent = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in sandbox.accepted()}
    assert sorted(sent, key=int) == [str(i) for i in range(1, 10)]
    assert sent["2"]["identifiers"] == {"email": "bo@example.com", "clientUserId": "2"}
    assert sent["3"]["identifiers"] == {"phone": "+12025550188", "clientUserId": "3"}
    assert sent["8"]["attributes"]["custom"] == {"VIP": True}
    for payload in sent.values():
        assert validate_payload(payload) == []
    for line in omissions:  # reasons name the field, never the value
        assert "$99" not in line["reason"] and "1990-02-30" not in line["reason"]


def test_invalid_fields_reject_keeps_the_record_whole(tmp_path: Path) -> None:
    records = [
        {"id": 1, "email": "ann@example.com", "phone": "(202) 555-01"},
        {"id": 2, "email": "bo@example.com", "score": "$99"},
        {"id": 3, "email": "cy@example.com"},
    ]
    run(dry_config(tmp_path, invalid_fields="reject"), lines(records), tmp_path)
    rejects, omissions = outcomes(tmp_path)
    assert [r["record"]["id"] for r in rejects] == [1, 2] and omissions == []
    assert [x["position"] for x in read_lines(tmp_path / "dry.jsonl")] == [3]


# 2 ------------------------------------------------------------------------------------


def test_national_numbers_are_read_in_the_persons_own_region(tmp_path: Path) -> None:
    mapping = {**MAPPING, "phone_region": ["country", "first_name"]}
    records = [
        {"id": 1, "email": "a@example.co.uk", "phone": "020 7183 8750", "country": "GB"},
        {"id": 2, "email": "b@example.co.uk", "phone": "07911 123456", "country": "uk"},
        {"id": 3, "email": "c@example.de", "phone": "030 12345678", "country": " de "},
        {"id": 4, "email": "d@example.com", "phone": "(202) 555-0123", "country": "ZZ"},
        {"id": 5, "email": "e@example.com", "phone": "(202) 555-0124"},
    ]
    result = run(dry_config(tmp_path, mapping=mapping), lines(records), tmp_path)
    phones = {
        x["position"]: x["payload"]["identifiers"].get("phone")
        for x in read_lines(tmp_path / "dry.jsonl")
    }
    assert phones == {
        1: "+442071838750",
        2: "+447911123456",
        3: "+493012345678",
        4: "+12025550123",  # an unknown code: default_phone_region, counted
        5: "+12025550124",  # no country at all: the same
    }
    assert outcomes(tmp_path) == ([], [])
    assert result.summary()["omissions"]["phone_region_defaulted"] == 2
    assert "2 phones read with default_phone_region" in result.stderr


# 3 ------------------------------------------------------------------------------------

OPT_IN_MAPPING = {
    **MAPPING,
    "subscriptions": [{"channel": "EMAIL", "signUpSourceId": "55", "when": "email_opt_in"}],
}
HOUSEHOLD = [
    {"id": 1, "email": "ann@example.com", "phone": "+12025550123", "email_opt_in": True},
    {"id": 2, "email": "bob@example.com", "phone": "(202) 555-0123", "email_opt_in": False},
    {"email": "ann@example.com", "first_name": "Ann"},  # Ann again: one person with record 1
    {"phone": "202.555.0123", "first_name": "Who?"},  # only the shared phone: rejected
    {"id": 5, "email": "cy@example.com", "phone": "+12025550199", "email_opt_in": True},
]


def test_households_stay_two_people_and_opt_ins_stay_with_their_record(
    sandbox, tmp_path: Path
) -> None:
    config = base_config(sandbox, tmp_path, mapping=OPT_IN_MAPPING, subscriptions_enabled=True)
    result = run(config, lines(HOUSEHOLD), tmp_path)
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (4, 1)
    people = {p["identifiers"].get("email"): p for p in sandbox.people()}
    assert set(people) == {"ann@example.com", "bob@example.com", "cy@example.com"}
    assert "phone" not in people["ann@example.com"]["identifiers"]
    assert "phone" not in people["bob@example.com"]["identifiers"]
    assert people["cy@example.com"]["identifiers"]["phone"] == "+12025550199"
    assert people["ann@example.com"]["attributes"]["firstName"] == "Ann"
    assert [s["channel"] for s in people["ann@example.com"]["subscriptions"]] == ["EMAIL"]
    assert people["bob@example.com"]["subscriptions"] == [], "Bob said no"
    rejects, omissions = outcomes(tmp_path)
    assert [r["position"] for r in rejects] == [4]
    assert rejects[0]["reason"].startswith("identifiers: every identifier of this record")
    assert sorted((o["position"], o["field"]) for o in omissions) == [
        (1, "identifiers.phone"),
        (2, "identifiers.phone"),
    ]
    assert "another person's" in omissions[0]["reason"]


@pytest.mark.parametrize("split", ["two runs", "two batches"])
def test_a_household_split_across_batches_or_runs_stays_two_people(
    sandbox, tmp_path: Path, split: str
) -> None:
    """The ledger keeps who each identifier value was last sent with: the batch alone
    cannot see that Bob's phone went out with Ann before."""
    ann = {"id": 1, "email": "ann@example.com", "phone": "+12025550123", "email_opt_in": True}
    bob = {"id": 2, "email": "bob@example.com", "phone": "202-555-0123", "email_opt_in": True}
    ann_again = {"phone": "(202) 555-0123", "first_name": "Ann?"}  # agrees with Ann: sent
    config = base_config(
        sandbox, tmp_path, mapping=OPT_IN_MAPPING, subscriptions_enabled=True, batch_size_rows=1
    )
    if split == "two runs":
        run(config, lines([ann]), tmp_path)
        run({**config, "rejects_path": str(tmp_path / "r2.jsonl")}, lines([bob]), tmp_path)
        omissions = read_lines(tmp_path / "r2.jsonl")
        positions = [1]
    else:
        run(config, lines([ann, bob, ann_again]), tmp_path)
        omissions = outcomes(tmp_path)[1]
        positions = [2]
    sent = [a["payload"]["identifiers"] for a in sandbox.accepted()]
    assert sent[:2] == [
        {"email": "ann@example.com", "phone": "+12025550123", "clientUserId": "1"},
        {"email": "bob@example.com", "clientUserId": "2"},
    ]
    if split == "two batches":
        assert sent[2:] == [{"phone": "+12025550123"}], "nothing disagrees with Ann"
    assert [(o["position"], o["field"]) for o in omissions] == [
        (n, "identifiers.phone") for n in positions
    ]
    assert "last sent with another person" in omissions[0]["reason"]
    emails = [s["identifiers"]["email"] for s in sandbox.people() if s.get("subscriptions")]
    assert sorted(emails) == ["ann@example.com", "bob@example.com"], "opt-ins stay put"


def test_shared_identifiers_send_leaves_the_bridging_to_attentive(tmp_path: Path) -> None:
    config = dry_config(tmp_path, mapping=OPT_IN_MAPPING, shared_identifiers="send")
    run(config, lines(HOUSEHOLD[:2]), tmp_path)
    payloads = [x["payload"]["identifiers"] for x in read_lines(tmp_path / "dry.jsonl")]
    assert payloads == [
        {"email": "ann@example.com", "phone": "+12025550123", "clientUserId": "1"},
        {"email": "bob@example.com", "phone": "+12025550123", "clientUserId": "2"},
    ], "two people, each with the phone: never merged into one by the target"
    assert outcomes(tmp_path) == ([], [])


# 4 ------------------------------------------------------------------------------------

BIG_NUMBERS = (
    '{"type": "SCHEMA", "stream": "customers", "schema": '
    + json.dumps(SCHEMA)
    + "}\n"
    + "".join(
        f'{{"type": "RECORD", "stream": "customers", "record": {{"id": {i}, '
        f'"email": "n{i}@example.com", "lifetime_value": {value}}}}}\n'
        for i, value in enumerate(["1e20", "1e308", "123456789012345678901234567890", "1e400"], 1)
    )
    + '{"type": "STATE", "value": {"done": 4}}\n'
)


def test_numbers_beyond_64_bits_never_crash_a_dry_run(tmp_path: Path) -> None:
    run(dry_config(tmp_path), BIG_NUMBERS, tmp_path)
    values = [
        x["payload"].get("attributes", {}).get("custom", {}).get("Lifetime Value")
        for x in read_lines(tmp_path / "dry.jsonl")
    ]
    assert values == [1e20, 1e308, 1.2345678901234568e29, None]
    _, omissions = outcomes(tmp_path)
    assert [(o["position"], o["field"]) for o in omissions] == [
        (4, "attributes.custom.Lifetime Value")
    ]
    assert "largest number" in omissions[0]["reason"]


def test_numbers_beyond_64_bits_never_crash_a_run(sandbox, tmp_path: Path) -> None:
    result = run(base_config(sandbox, tmp_path, mapping=MAPPING), BIG_NUMBERS, tmp_path)
    assert result.summary()["accepted"] == 4
    sent = [a["payload"]["attributes"]["custom"] for a in sandbox.accepted()[:3]]
    assert [c["Lifetime Value"] for c in sent] == [1e20, 1e308, 1.2345678901234568e29]
    rerun = run(base_config(sandbox, tmp_path, mapping=MAPPING), BIG_NUMBERS, tmp_path)
    assert rerun.summary()["unchanged"] == 4, "the ledger's digest holds them too"


# 5 ------------------------------------------------------------------------------------

TEXT_ONLY = {  # what a CSV tap declares: every column text
    "type": "object",
    "properties": {
        name: {"type": ["string", "null"]}
        for name in ("id", "email", "lifetime_value", "vip", "score")
    },
}


def test_csv_text_becomes_numbers_and_booleans_and_the_report_names_new_types(
    sandbox, tmp_path: Path
) -> None:
    records = [
        {"id": "1", "email": "a@example.com", "lifetime_value": "1517.01", "vip": "false"},
        {"id": "2", "email": "b@example.com", "lifetime_value": "-3", "vip": "TRUE"},
        {"id": "3", "email": "c@example.com", "lifetime_value": "12 EUR", "vip": "yes"},
        {"id": "4", "email": "d@example.com", "score": "gold"},
    ]
    mapping = {**MAPPING, "identifiers": {"email": "email", "clientUserId": "id"}}
    result = run(
        base_config(sandbox, tmp_path, mapping=mapping), lines(records, TEXT_ONLY), tmp_path
    )
    sent = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in sandbox.accepted()}
    custom = {k: p["attributes"]["custom"] for k, p in sent.items()}
    assert custom == {
        "1": {"Lifetime Value": 1517.01, "VIP": False},
        "2": {"Lifetime Value": -3, "VIP": True},
        "3": {"VIP": True},
        "4": {"Score": "gold"},
    }
    registry = sandbox.report()["custom_attributes"]
    assert {k: v["type"] for k, v in registry.items()} == {
        "Lifetime Value": "number",
        "VIP": "boolean",
        "Score": "string",
    }
    _, omissions = outcomes(tmp_path)
    assert [(o["position"], o["field"]) for o in omissions] == [
        (3, "attributes.custom.Lifetime Value")
    ]
    assert "Lifetime Value (number), VIP (boolean), Score (string)" in result.stderr
    assert result.summary()["custom_attributes_created"] == {
        "Lifetime Value": "number",
        "VIP": "boolean",
        "Score": "string",
    }


# 6 ------------------------------------------------------------------------------------


def test_an_attribute_refused_over_the_cap_costs_that_attribute_not_the_person(
    tmp_path: Path,
) -> None:
    """Refused over the cap, a person is sent again at once without the attribute; later
    batches leave it out before sending."""
    records = [
        {"id": i, "email": f"p{i}@example.com", "lifetime_value": i, "vip": i % 2 == 0}
        for i in range(1, 41)
    ]
    with SandboxProcess(latency_ms=2, max_custom_attributes=1) as sandbox:
        config = base_config(sandbox, tmp_path, mapping=MAPPING, batch_size_rows=5)
        result = run(config, lines(records), tmp_path)
        accepted = sandbox.accepted()
    summary = result.summary()
    assert summary["custom_attributes_capped"] == ["Lifetime Value"]
    first = next(line for line in result.stderr.splitlines() if "run report" in line)
    assert "Attentive refused Lifetime Value as over its custom attribute limit" in first
    assert (summary["accepted"], summary["rejected"]) == (40, 0)
    landed = {a["payload"]["identifiers"]["clientUserId"]: a["payload"] for a in accepted}
    assert sorted(landed, key=int) == [str(i) for i in range(1, 41)], "everyone, once"
    assert all(p["attributes"]["custom"] == {"VIP": int(k) % 2 == 0} for k, p in landed.items())
    rejects, omissions = outcomes(tmp_path)
    assert rejects == []
    assert sorted(o["position"] for o in omissions) == list(range(1, 41))
    assert {o["field"] for o in omissions} == {"attributes.custom.Lifetime Value"}


# 7 ------------------------------------------------------------------------------------


def test_a_dry_run_plans_exactly_what_a_run_sends(sandbox, tmp_path: Path) -> None:
    records = [
        {"id": 1, "email": "ann@example.com", "first_name": "Ann"},
        {"id": 1, "email": "ann@example.com", "birthday": "1990-01-02"},
        {"id": 2, "email": "bob@example.com", "phone": "+12025550123"},
        {"id": 3, "email": "cy@example.com", "phone": "(202) 555-0123"},
    ]
    dry = tmp_path / "dry"
    dry.mkdir()
    run(dry_config(dry), lines(records), dry)
    planned = [x["payload"] for x in read_lines(dry / "dry.jsonl")]
    run(base_config(sandbox, tmp_path, mapping=MAPPING), lines(records), tmp_path)
    sent = [a["payload"] for a in sandbox.accepted()]
    key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
    assert sorted({key(p) for p in planned}) == sorted(key(p) for p in sent)
    assert len(sent) == 3, "Ann's two records are one person"
    untimed = [[{k: v for k, v in x.items() if k != "time"} for x in o] for o in outcomes(dry)]
    assert untimed == [
        [{k: v for k, v in x.items() if k != "time"} for x in o] for o in outcomes(tmp_path)
    ]
    assert [x["field"] for x in untimed[1]] == ["identifiers.phone"] * 2, "a shared phone"
