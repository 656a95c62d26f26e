"""The baseline: a naive singer-sdk target that posts each record as it arrives.

This is how the existing Segment and RudderStack Singer integrations deliver: a RecordSink
whose ``process_record`` calls ``requests.post`` once per record and waits for the answer.
No session (a new connection a request), no concurrency, no retries, no rate limiter. The
benchmark compares the real target's requests/s with this one's, on the same input and the
same sandbox settings.

    python bench/naive_target.py --config '{"api_url": "...", "api_key": "..."}' --input f
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import requests
from singer_sdk import typing as th
from singer_sdk.sinks import RecordSink
from singer_sdk.target_base import Target

PATH = "/v2/user/attributes"


def e164(value: Any) -> str | None:
    """The phone in E.164, or None: the sandbox, like Attentive, refuses anything else."""
    if value is None:
        return None
    try:
        number = phonenumbers.parse(str(value), "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def payload(record: dict[str, Any]) -> dict[str, Any]:
    """The upsert body, built field by field the way a hand-written integration would."""
    identifiers: dict[str, Any] = {"clientUserId": str(record["id"])}
    if record.get("email"):
        identifiers["email"] = record["email"].strip().lower()
    phone = e164(record.get("phone"))
    if phone:
        identifiers["phone"] = phone
    attributes: dict[str, Any] = {}
    if record.get("first_name"):
        attributes["firstName"] = record["first_name"]
    if record.get("last_name"):
        attributes["lastName"] = record["last_name"]
    if record.get("city"):
        attributes["location"] = {"city": record["city"]}
    if record.get("lifetime_value") is not None:
        attributes["custom"] = {"Lifetime Value": float(record["lifetime_value"])}
    return {"identifiers": identifiers, "attributes": attributes}


class PostEachSink(RecordSink):
    """One blocking POST per record."""

    def process_record(self, record: dict, context: dict) -> None:
        response = requests.post(
            self.config["api_url"].rstrip("/") + PATH,
            json=payload(record),
            headers={"Authorization": f"Bearer {self.config['api_key']}"},
            timeout=30,
        )
        if response.status_code >= 500 or response.status_code in (401, 403, 404):
            response.raise_for_status()
        # A 400 or 429 is logged and the record is lost, as in the integrations it imitates.
        if response.status_code >= 400:
            self.logger.warning("HTTP %d for record %s", response.status_code, record.get("id"))


class NaiveTarget(Target):
    """api_url and api_key, nothing else."""

    name = "target-naive-attentive"
    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, required=True),
        th.Property("api_key", th.StringType, required=True, secret=True),
    ).to_dict()
    default_sink_class = PostEachSink


if __name__ == "__main__":
    NaiveTarget.cli()
