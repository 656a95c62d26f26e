"""fields.py: the payload's fields declared once, from the project's JSON Schema."""

from __future__ import annotations

import copy
import json
from importlib.resources import files

from target_attentive import fields, keys, mapping, normalize, reading, validation


def test_the_table_is_read_from_the_schema() -> None:
    schema = json.loads(files("target_attentive").joinpath("schemas/user_upsert.json").read_text())
    identifiers = schema["properties"]["identifiers"]["properties"]
    assert tuple(k for k in identifiers if k != "customIdentifiers") == fields.SCALAR_IDENTIFIERS
    assert fields.KEY_ORDER == ("clientUserId", "email", "phone", "shopifyId", "klaviyoId")
    assert fields.CHANNEL_IDENTIFIER == {"EMAIL": "email", "TEXT": "phone"}
    by_name = {f.where: f.convert for f in fields.IDENTIFIERS + fields.ATTRIBUTES}
    assert by_name["identifiers.phone"] == "phone"
    assert by_name["attributes.demographic.dateOfBirth"] == "date"
    assert by_name["attributes.demographic.age"] == "integer"  # from the JSON type alone
    assert by_name["attributes.location.city"] == "text"
    assert set(fields.ATTRIBUTE_GROUPS) == {"demographic", "location", "locale"}


def test_every_reader_reads_the_one_table() -> None:
    assert fields.default_mapping() == mapping.DEFAULT_MAPPING
    assert mapping.DEFAULT_MAPPING["identifiers"]["clientUserId"] == [
        "clientUserId",
        "client_user_id",
    ]
    assert keys.KEY_ORDER is fields.KEY_ORDER
    assert validation.SCHEMA is fields.SCHEMA
    for name in fields.SCALAR_IDENTIFIERS:  # messages name every identifier
        assert name in validation.NO_IDENTIFIER
    for spec in fields.IDENTIFIERS + fields.ATTRIBUTES:
        assert spec.convert == "phone" or spec.convert in normalize.CONVERTERS, spec


def test_a_field_added_to_the_schema_reaches_mapping_and_normalising(monkeypatch) -> None:
    """What 'declared once' buys: a new attribute in the schema is mappable and converted."""
    schema = copy.deepcopy(fields.SCHEMA)
    schema["properties"]["attributes"]["properties"]["location"]["properties"]["floor"] = {
        "type": "integer"
    }
    monkeypatch.setattr(fields, "SCHEMA", schema)
    extra = fields._spec("attributes", ("location", "floor"), {"type": "integer"})
    monkeypatch.setitem(normalize.ATTRIBUTE_BY_PATH, ("location", "floor"), extra)
    monkeypatch.setitem(mapping.ATTRIBUTE_BY_PATH, ("location", "floor"), extra)
    compiled = mapping.compile_mapping({"attributes": {"location.floor": "floor"}})
    payload = reading.build_payload({"floor": "3"}, compiled)
    payload, problems = normalize.normalize_payload(payload, "US")
    assert problems == [] and payload["attributes"] == {"location": {"floor": 3}}
