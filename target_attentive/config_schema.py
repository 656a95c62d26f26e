"""The target's settings: names, types, defaults and descriptions, declared once.

This schema is the one source of every setting's default: `--about`, the Hub listing,
meltano.yml's loader block and the README's settings table are generated from it, and
`settings.Settings` reads defaults from it.
"""

from __future__ import annotations

from singer_sdk import typing as th

DEFAULT_API_URL = "https://api.attentivemobile.com"

_MAPPING_HELP = (
    "How a record becomes an Attentive payload, as an object with up to five keys. "
    "Under identifiers, name the fields for email, phone, clientUserId, shopifyId and "
    "klaviyoId, and under its customIdentifiers map each identifier name to a field. "
    "Under attributes, name the fields for firstName, lastName and the demographic, "
    "location and locale attributes, written dotted or nested. Under custom_attributes, "
    "map each custom attribute name to a field; only these are ever created. Under "
    "subscriptions, list the opt-ins, each with a channel, a signUpSourceId and the field "
    "that says when to send it. Under phone_region, name the field holding the person's "
    "country (an ISO 3166-1 code such as GB, any case), used to read phone numbers written "
    "without a country code. Each value names a source field, or a list of fields of "
    "which the first present wins. Unset: fields named like the API's (email, phone, "
    "client_user_id, first_name and so on) are used."
)


CONFIG_SCHEMA: dict = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        title="API key",
        description="Private app API key, sent as a bearer token; needs the "
        "attributes:write scope (and subscriptions:write for opt-ins). Required unless "
        "dry_run.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Attentive API. Plain http is accepted only for "
        "loopback hosts, such as the local sandbox (target-attentive-sandbox).",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        title="Dry run",
        description="Build, normalise and validate every payload and write them to "
        "dry_run_path; send nothing.",
    ),
    th.Property(
        "dry_run_path",
        th.StringType,
        default="attentive_dry_run.jsonl",
        title="Dry-run file",
        description="Where a dry run writes the payloads it would send (JSON lines).",
    ),
    th.Property(
        "default_phone_region",
        th.StringType,
        default="US",
        title="Default phone region",
        description="ISO 3166-1 region used to read phone numbers written without a "
        "country code; numbers are sent in international form, a plus sign and the "
        "country code first.",
    ),
    th.Property(
        "mapping",
        th.ObjectType(additional_properties=True),
        title="Mapping",
        description=_MAPPING_HELP,
    ),
    th.Property(
        "stream_mappings",
        th.ObjectType(additional_properties=True),
        title="Per-stream mappings",
        description="Mappings for particular streams, an object from stream name to a "
        "mapping that replaces the mapping setting for that stream.",
    ),
    th.Property(
        "ignore_unmapped_streams",
        th.BooleanType,
        default=False,
        title="Ignore unmapped streams",
        description="When true, streams not named in stream_mappings are counted as "
        "filtered instead of loaded with the mapping setting.",
    ),
    th.Property(
        "subscriptions_enabled",
        th.BooleanType,
        default=False,
        title="Send opt-ins",
        description="Send subscriptions (opt-ins) only when true. Each opt-in is sent "
        "at most once per person, channel and sign-up source, across runs.",
    ),
    th.Property(
        "mode",
        th.StringType,
        default="single",
        allowed_values=["single", "bulk"],
        title="Mode",
        description="Single sends one person a request to POST /v2/user/attributes. "
        "Bulk sends up to bulk_batch_size people a request to POST "
        "/v2/bulk/user/attributes.",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=2560,
        title="Batch size rows",
        description="Records read into one batch before it is planned and sent; state "
        "is written as batches are delivered. The default, ten full bulk requests, keeps "
        "a batch's records in the processor's cache (singer-sdk's own default is 10000).",
    ),
    th.Property(
        "bulk_batch_size",
        th.IntegerType,
        default=256,
        title="Bulk batch size",
        description="People per bulk request, 1 to 256.",
    ),
    th.Property(
        "bulk_wait_seconds",
        th.IntegerType,
        default=0,
        title="Wait for bulk jobs",
        description="At the end of a bulk run, wait up to this long for the run's jobs "
        "and write the people Attentive refused to the rejects file.",
    ),
    th.Property(
        "max_requests_per_second",
        th.IntegerType,
        title="Requests per second",
        description="Upper bound on requests a second; unset: Attentive's published "
        "limit (150 single, 100 bulk).",
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=16,
        title="Concurrent requests",
        description="Requests in flight at once.",
    ),
    th.Property(
        "request_timeout_seconds",
        th.IntegerType,
        default=30,
        title="Request timeout",
        description="Seconds to wait for an answer before retrying.",
    ),
    th.Property(
        "max_retry_seconds",
        th.IntegerType,
        default=600,
        title="Retry budget",
        description="How long one request may keep retrying 429s, 5xx, timeouts and "
        "dropped connections before the run fails (no state is written past it).",
    ),
    th.Property(
        "rejects_path",
        th.StringType,
        default="attentive_rejects.jsonl",
        title="Rejects file",
        description="JSON-lines file of records set aside, each with its reason.",
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        title="Most rejects tolerated",
        description="Fail the run once more records than this are rejected; unset: no limit.",
    ),
    th.Property(
        "ledger_url",
        th.StringType,
        title="Ledger URL",
        description="SQLAlchemy URL of the sync ledger (what was delivered, opt-ins "
        "sent, custom attribute types). Unset: a SQLite file in the working directory, "
        "named target_attentive_ledger with the db extension. Use a PostgreSQL URL with "
        "the postgresql+psycopg driver for runs on several machines.",
    ),
    th.Property(
        "ledger_enabled",
        th.BooleanType,
        default=True,
        title="Use the ledger",
        description="Keep the sync ledger. Without it every person is sent on every run "
        "and opt-ins cannot be sent (nothing would stop a second send).",
    ),
    th.Property(
        "skip_unchanged",
        th.BooleanType,
        default=True,
        title="Skip unchanged people",
        description="Do not resend a person whose payload is the one last accepted.",
    ),
    th.Property(
        "custom_attribute_types",
        th.ObjectType(additional_properties=True),
        title="Existing custom attribute types",
        description="Types of the custom attributes that already exist in the Attentive "
        "account, an object from attribute name to string, number, boolean, date or enum.",
    ),
    th.Property(
        "custom_attribute_enums",
        th.ObjectType(additional_properties=True),
        title="Enum attribute values",
        description="Allowed values of enum custom attributes, an object from attribute "
        "name to the list of its values; other values are rejected before sending.",
    ),
    th.Property(
        "invalid_fields",
        th.StringType,
        default="omit",
        allowed_values=["omit", "reject"],
        title="Invalid fields",
        description="What a value that cannot be sent costs. With omit, the field is left "
        "out and the person is sent as long as one valid identifier remains; each field left "
        "out is a line of its own in the rejects file. With reject, the whole record is "
        "rejected.",
    ),
    th.Property(
        "shared_identifiers",
        th.StringType,
        default="omit",
        allowed_values=["omit", "send"],
        title="Shared identifiers",
        description="What to do with an identifier value carried by different people, such "
        "as a household's phone. With omit, it is left out of each of them, since Attentive "
        "would merge people who share it. With send, it is sent with each, and Attentive "
        "decides.",
    ),
    th.Property(
        "default_currency",
        th.StringType,
        default="USD",
        title="Default currency",
        description="ISO 4217 code of the prices of ecommerce events whose mapping names "
        "neither currency nor currency_field.",
    ),
    th.Property(
        "max_event_age_hours",
        th.IntegerType,
        title="Oldest event sent",
        description="Events that occurred more than this many hours before the run are "
        "set aside as filtered. Unset: every event is sent; Attentive accepts events older "
        "than 12 hours but starts no journey for them.",
    ),
    th.Property(
        "unsubscribe_notifications",
        th.BooleanType,
        default=False,
        title="Text opt-out confirmations",
        description="When true, Attentive texts a confirmation to each person a TEXT "
        "opt-out unsubscribes, and each opt-out is sent at most once across runs. When "
        "false, opt-outs are sent with notifications disabled and may be repeated.",
    ),
    th.Property(
        "checkpoint_interval_seconds",
        th.IntegerType,
        default=300,
        title="Checkpoint interval",
        description="Deliver what is pending and write state at least this often "
        "during long loads.",
    ),
).to_dict()
