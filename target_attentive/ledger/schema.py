"""The ledger's tables, its schema version, and the names of the statuses it stores.

- `ledger_meta(name, value)`: `schema_version`.
- `people(person_key, payload_hash, updated_at)`: the digest of the last accepted payload
  (opt-ins left out) per person key.
- `optins(person_key, channel, sign_up_source_id, status, updated_at)`: every opt-in this
  ledger let through, keyed by the address it subscribes. A row of any status blocks a
  resend; a refused opt-in's row is deleted (released), so it may go once the data is fixed.
- `custom_attributes(name, type, created_at, status)`: each custom attribute's type as first
  sent; `claimed` until Attentive accepted a payload carrying it, then `confirmed`.
- `jobs(job_id, stream, status, created_at, finished_at, attempt, previous_job, note)`: bulk
  jobs; `finished_at` is set once the job is reconciled (every person settled). `attempt`
  counts submissions of the same people after failed jobs; `note` says why a job is not
  reconciled yet.
- `job_people(job_id, person_key, payload_hash, outcome)`: who a job carried; `outcome` is
  set once their results line (or the job's failure) was dealt with.
- `job_payloads(job_id, people)`: what a job carried, as JSON (`[key, digest, payload,
  sources]` per person, `sources` the `[position, record]` pairs it came from), kept until
  the job is reconciled: a failed job's people are sent again from it, and a refused
  person's rejects line is written from it.
- `identifier_owners(identity_key, person_key, updated_at)`: the person key each identifier
  value (`phone:+1...`, `email:...`, `custom:name=value`) was last accepted with, so a value
  another person carries later is seen as shared across runs (version 3).
- `events(event_key, kind, sent_at)` (version 3): each custom or ecommerce event Attentive
  took, keyed `kind:id` (`kinds.event_key`), so a rerun never sends it again.
- `optouts(person_key, channel, subscription_type, status, updated_at)` (version 3): each
  opt-out sent, keyed by the address it ends (`phone:+1...` for TEXT, `email:...` for
  EMAIL), like opt-ins. An opt-out sent deletes that address and channel's opt-in rows (the
  opt-in may go once more); an opt-in sent deletes its opt-out rows. With confirmation
  texts on, an opt-out is claimed (`pending`) before it is sent and never sent twice.

Times are Unix seconds (UTC). Keys and digests are strings made by the caller.
"""

from __future__ import annotations

import sqlalchemy as sa

# Opt-in statuses live in rows.py, where a ledger that does not exist yet reads them too.
from target_attentive.ledger.rows import CONFIRMED as CONFIRMED
from target_attentive.ledger.rows import IN_DOUBT as IN_DOUBT
from target_attentive.ledger.rows import OPTIN_STATUSES as OPTIN_STATUSES
from target_attentive.ledger.rows import PENDING as PENDING
from target_attentive.ledger.rows import SUBMITTED as SUBMITTED

SCHEMA_VERSION = 3

# Opt-out statuses: claimed before sending (with confirmation texts on), then sent.
OPTOUT_PENDING = "pending"
OPTOUT_SENT = "sent"
OPTOUT_IN_DOUBT = "in_doubt"

# Custom attribute statuses.
TYPE_CLAIMED = "claimed"
TYPE_CONFIRMED = "confirmed"

# Job statuses (Attentive's own words once known) and per-person outcomes.
JOB_SUBMITTED = "submitted"
JOB_COMPLETED = "COMPLETED"
JOB_FAILED = "FAILED"
PERSON_ACCEPTED = "accepted"
PERSON_REFUSED = "refused"
PERSON_RESENT = "resent"  # sent again in a later job after this one failed
PERSON_SUPERSEDED = "superseded"  # a newer payload was accepted since: not sent again
PERSON_FORGOTTEN = "forgotten"  # an older ledger kept no payload: the next run sends them

metadata = sa.MetaData()

ledger_meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
people = sa.Table(
    "people",
    metadata,
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("payload_hash", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
optins = sa.Table(
    "optins",
    metadata,
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("sign_up_source_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
custom_attributes = sa.Table(
    "custom_attributes",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default=TYPE_CONFIRMED),
)
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.BigInteger, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("previous_job", sa.Text, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
)
job_people = sa.Table(
    "job_people",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("payload_hash", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Index("job_people_person_key", "person_key"),
    sqlite_with_rowid=False,
)
job_payloads = sa.Table(
    "job_payloads",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("people", sa.LargeBinary, nullable=False),
)

identifier_owners = sa.Table(
    "identifier_owners",
    metadata,
    sa.Column("identity_key", sa.Text, primary_key=True),
    sa.Column("person_key", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_key", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("sent_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
optouts = sa.Table(
    "optouts",
    metadata,
    sa.Column("person_key", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("subscription_type", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

OPTIN_KEY = (optins.c.person_key, optins.c.channel, optins.c.sign_up_source_id)
OPTOUT_KEY = (optouts.c.person_key, optouts.c.channel, optouts.c.subscription_type)

# Columns added by each schema version, for ledgers made by an older one (new tables are
# made by `create_all` at every start: version 3 added `identifier_owners`, `events` and
# `optouts`).
ADDED_COLUMNS: dict[int, list[sa.Column]] = {
    2: [
        custom_attributes.c.status,
        jobs.c.attempt,
        jobs.c.previous_job,
        jobs.c.note,
        job_people.c.outcome,
    ],
}
