"""The 100-attribute cap through the real CLI (issue 11, case 7).

The cap counts configured types, ledger types and a batch's new names together; a name
over it is left out of the person (an omission line), not a reason to reject the person;
a claimed name is confirmed when Attentive accepts a payload carrying it and released
when none was accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from targetrun import base_config, person, read_lines, run_target, singer_lines, write_input

from target_attentive.ledger import Ledger
from target_attentive.sandbox.process import SandboxProcess


def seed(sb: SandboxProcess, custom: dict[str, Any]) -> None:
    """Attributes the account has already, created by someone else."""
    body = {"identifiers": {"email": "seed@example.com"}, "attributes": {"custom": custom}}
    answer = requests.post(
        sb.url + "/v2/user/attributes", json=body, headers=sb.auth_headers, timeout=5
    )
    assert answer.status_code == 202, answer.text


def test_configured_types_count_toward_the_cap_and_the_rest_is_left_out(tmp_path: Path) -> None:
    """60 configured types and 50 new names a stream map builds (the settings check at
    start-up cannot see those): 40 are created, the other 10 left out of each person."""
    existing = {f"Old {n:02d}": "string" for n in range(60)}
    new_names = [f"New {n:02d}" for n in range(50)]
    built = ", ".join(f"'{name}': 'v' + str(id)" for name in new_names)
    records = [person(i) for i in range(5)]
    with SandboxProcess() as sb:
        seed(sb, dict.fromkeys(existing, "x"))
        config = base_config(
            sb,
            tmp_path,
            mapping={"identifiers": {"email": "email"}},
            custom_attribute_types=existing,
            stream_maps={"people": {"attributes": "{'custom': {" + built + "}}"}},
        )
        result = run_target(config, write_input(tmp_path / "in", singer_lines(records)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        report = sb.report()
        arrived = [a["payload"] for a in sb.accepted()[1:]]
    assert report["custom_attribute_count"] == 100
    assert report["counts"].get("400", 0) == 0, "Attentive had to refuse the 101st"
    summary = result.summary()
    assert (summary["accepted"], summary["rejected"]) == (5, 0)
    lines = read_lines(tmp_path / "rejects.jsonl")
    assert {line["outcome"] for line in lines} == {"omitted"}
    assert sorted({line["field"] for line in lines}) == [
        f"attributes.custom.{name}" for name in new_names[40:]
    ]
    assert len(lines) == 5 * 10 and all("101" in line["reason"] for line in lines)
    assert all(set(p["attributes"]["custom"]) == set(new_names[:40]) for p in arrived)
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        assert set(ledger.custom_types()) == set(new_names[:40])
        assert ledger.counts()["custom_attributes_claimed"] == 0  # all confirmed


def test_a_claimed_type_is_released_when_no_payload_with_it_was_accepted(tmp_path: Path) -> None:
    mapping = {
        "identifiers": {"email": "email"},
        "custom_attributes": {"Fresh": "tier"},
        "subscriptions": [{"channel": "EMAIL", "signUpSourceId": "nope", "when": "sms_opt_in"}],
    }
    with SandboxProcess(sign_up_source_ids=["4242"]) as sb:
        config = base_config(sb, tmp_path, mapping=mapping, subscriptions_enabled=True)
        refused = [person(1, tier="gold", sms_opt_in=True)]  # a sign-up source it lacks
        result = run_target(config, write_input(tmp_path / "1", singer_lines(refused)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.summary()["rejected"] == 1
        with Ledger(config["ledger_url"], read_only=True) as ledger:
            assert ledger.custom_types() == {}  # nothing carrying it was accepted
            assert ledger.counts()["custom_attributes"] == 0
        accepted = [person(2, tier="gold", sms_opt_in=False)]
        result = run_target(config, write_input(tmp_path / "2", singer_lines(accepted)), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert sb.report()["custom_attribute_count"] == 1
    with Ledger(config["ledger_url"], read_only=True) as ledger:
        assert ledger.custom_types() == {"Fresh": "string"}
        assert ledger.counts()["custom_attributes_claimed"] == 0
