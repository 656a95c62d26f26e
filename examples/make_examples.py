"""Write the example customers the README, meltano.yml and the tests use.

    python examples/make_examples.py          # (re)write the files next to this script
    python examples/make_examples.py --check  # exit 1 if a file differs from what it would write

Writes, from the one table below, so they never drift apart:
- `customers.jsonl`: plain JSON lines, the file tap-jsonl reads;
- `customers.singer`: the same people as a Singer stream `customers` (SCHEMA, RECORDs, a
  final STATE), to run the target without any tap;
- `README.md`: which lines are deliberately bad, and why.

Everything here is fixed data (no randomness): the same script always writes the same bytes.
People, emails (example.com/.org/.net) and phone numbers (555-01xx and published example
ranges) are fictional.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
STREAM = "customers"
FIELDS = (
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "country",
    "birthday",
    "lifetime_value",
    "vip",
    "loyalty_number",
    "sms_opt_in",
    "updated_at",
)


class Bad(NamedTuple):
    """Why a row is deliberately bad: the payload field named, the story, and what becomes
    of the customer: sent with that field left out (`omitted`), or `rejected` (no valid
    identifier is left)."""

    field: str
    why: str
    outcome: str = "omitted"


# id, email, phone, first, last, city, country, birthday, lifetime_value, vip, loyalty, sms
# A row may end with a `Bad`; a missing value is None (written as null).
# fmt: off
ROWS: list[tuple[Any, ...]] = [
    ("cus_1001", "olivia.bennett@example.com", "(201) 555-0123", "Olivia", "Bennett",
     "Jersey City", "US", "1988-04-12", 1249.9, True, "LOY-100231", True),
    ("cus_1002", " Liam.Carter@Example.com ", "201-555-0147", "Liam", "Carter",
     "Hoboken", "US", "1992-11-03", 310.0, False, None, False),
    ("cus_1003", "sophia.nguyen@example.org", "+1 (312) 555-0134", "Sophia", "Nguyen",
     "Chicago", "US", None, 87.5, False, "LOY-100245", True),
    ("cus_1004", None, "312 555 0177", "Mason", "Rivera",
     "Chicago", "US", "1979-07-30", 2210.4, True, "LOY-100252", True),
    ("cus_1005", "ava.t@example.net", None, "Ava", "Thompson",
     "Boston", "US", "1995-01-19", 0, False, None, None),
    ("cus_1006", "ethan.brooks@example.com", 2015550143, "Ethan", "Brooks",
     "Newark", "US", "1983-09-09", 640.25, False, "LOY-100266", True),
    ("cus_1007", "noah.patel@example.com", "12345", "Noah", "Patel",
     "Chicago", "US", "1990-05-05", 120.0, False, None, True,
     Bad("identifiers.phone", "the phone field holds a 5-digit extension, not a number")),
    ("cus_1008", "isabella.kim@example.org", "(415) 555-0142", "Isabella", "Kim",
     "San Francisco", "US", "1990-02-14", 1580, True, "LOY-100281", True),
    ("cus_1009", "lucas.martin@example.com", "+1-646-555-0190", "Lucas", "Martin",
     "New York", "US", "1986-06-21", 455.1, False, None, False),
    ("cus_1010", "mia.johnson@example.net", "718.555.0156", "Mia", "Johnson",
     "Brooklyn", "US", "2001-12-01", 75, False, "LOY-100297", True),
    ("cus_1011", "amelia.clarke@example.com", "+44 7911 123456", "Amelia", "Clarke",
     "London", "GB", "1991-03-08", 980.0, True, "LOY-200113", True),
    ("cus_1012", "oliver.hughes@example.com", "07911 123457", "Oliver", "Hughes",
     "Leeds", "GB", "1987-10-02", 260.0, False, "LOY-200120", True,
     Bad("identifiers.phone", "a UK mobile written the national way (07911...), without +44: "
         "read with default_phone_region US it is not a valid number")),
    ("cus_1013", "jonas.mueller@example.com", "+49 151 23456789", "Jonas", "Müller",
     "Berlin", "DE", "1984-10-17", 1320.75, True, "LOY-300021", False),
    ("cus_1014", "lea.dubois@example.org", "+33 6 12 34 56 78", "Léa", "Dubois",
     "Paris", "FR", "1997-05-25", 210.4, False, "LOY-300034", True),
    ("cus_1015", "sofia.garcia@example.net", "+34 612 34 56 78", "Sofía", "García",
     "Madrid", "ES", "1989-08-02", 560, False, None, True),
    ("cus_1016", "daan.devries@example.com", "+31 6 12345678", "Daan", "de Vries",
     "Amsterdam", "NL", "1993-04-30", 389.99, False, "LOY-300051", False),
    ("cus_1017", "aoife.byrne@example.com", "+353 85 123 4567", "Aoife", "Byrne",
     "Dublin", "IE", "1996-09-14", 145.2, False, "LOY-300068", True),
    (None, None, None, "Walk-in", "Customer",
     "Chicago", "US", None, 42.0, False, None, False,
     Bad("identifiers", "no identifier at all: a point-of-sale guest checkout with no "
         "customer id, email, phone or loyalty number", "rejected")),
    ("cus_1019", "harper.lewis@example.com", "  (617) 555-0111 ", "Harper", "Lewis",
     "Cambridge", "US", "1987-12-24", 720.6, True, "LOY-100312", True),
    ("cus_1020", None, "+1 305 555 0163", "Benjamin", "Scott",
     "Miami", "US", "1975-03-03", 3100.0, True, "LOY-100327", True),
    ("cus_1021", "evelyn.adams@example.org", "1-201-555-0110", "Evelyn", "Adams",
     "Jersey City", "US", "1999-07-07", 64.3, False, None, False),
    ("cus_1022", "alex.wright@example.com", "+12015550199", "Alexander", "Wright",
     "Princeton", "US", "1982-01-28", 890, False, "LOY-100344", True),
    ("cus_1023", "charlotte.king@example.com", "201.555.0188", "Charlotte", "King",
     "Montclair", "US", "1994-03-15", [129.0, 89.5], False, "LOY-100358", False,
     Bad("attributes.custom.Lifetime Value", "lifetime_value is a list (the order totals "
         "were exported instead of their sum); custom attributes take only scalars")),
    ("cus_1024", "henry.green@example.net", "(212) 555-0100 ext 12", "Henry", "Green",
     "New York", "US", "1980-05-16", 1775.5, True, "LOY-100361", False,
     Bad("identifiers.phone", "the phone carries an extension (ext 12): letters in a phone "
         "field are refused, never guessed at")),
    ("cus_1025", "matteo.rossi@example.com", "+39 312 345 6789", "Matteo", "Rossi",
     "Milan", "IT", "1990-10-10", 430, False, "LOY-300077", True),
    ("cus_1026", "zoe.jansen@example.org", "+32 470 12 34 56", "Zoë", "Jansen",
     "Antwerp", "BE", "1994-06-06", 255.5, False, None, True),
    ("cus_1027", "EMMA.SCHMIDT@EXAMPLE.COM", "+43 664 1234567", "Emma", "Schmidt",
     "Vienna", "AT", "1985-11-11", 610, False, "LOY-300084", False),
    ("cus_1028", "lukasz.nowak@example.com", "+48 512 345 678", "Łukasz", "Nowak",
     "Warsaw", "PL", "1992-02-29", 178.3, False, "LOY-300091", True),
    ("cus_1029", "grace.turner@example.com", "+1 312 555 0164", "Grace", "Turner",
     "Evanston", "US", "1985-02-30", 505.0, False, "LOY-100370", True,
     Bad("attributes.demographic.dateOfBirth", "birthday 1985-02-30 has the right shape "
         "but is no date (February has no 30th)")),
    ("cus_1030", "jack.wilson@example.com", None, "Jack", "Wilson",
     "Seattle", "US", "1978-08-18", 990.9, True, "LOY-100378", None),
    ("cus_1031", "", "206-555-0129", "Chloe", "Davis",
     "Seattle", "US", "2000-01-01", 35, False, None, True),
    ("cus_1032", "samuel.moore@example.org", "+1 206 555 0175", "Samuel", "Moore",
     "Tacoma", "US", None, 120, False, "LOY-100385", False),
    ("cus_1033", "ella.martinez@", None, "Ella", "Martinez",
     "Austin", "US", "1993-08-08", 66.0, False, None, False,
     Bad("identifiers.email", "the email has no domain (typed into a form and cut short)")),
    ("cus_1034", "daniel.anderson@example.com", "512-555-0148", "Daniel", "Anderson",
     "Austin", "US", "1989-04-04", 805.45, False, "LOY-100399", True),
    ("cus_1035", "freya.andersen@example.com", "+45 20 12 34 56", "Freya", "Andersen",
     "Copenhagen", "DK", "1998-12-12", 299, False, None, True),
    ("cus_1036", "elias.lindqvist@example.net", "+46 70 123 45 67", "Elias", "Lindqvist",
     "Stockholm", "SE", "1983-03-23", 1410.0, True, "LOY-300105", False),
    ("cus_1037", "nina.keller@example.com", "+41 78 123 45 67", "Nina", "Keller",
     "Zurich", "CH", "1991-07-19", 2050.6, True, "LOY-300112", True),
    (None, "", "", "Sam", None,
     None, "US", None, 0, False, None, False,
     Bad("identifiers", "empty email and phone and no customer id: a newsletter form saved "
         "before the visitor typed anything", "rejected")),
    ("cus_1039", "lily.robinson@example.com", "(503) 555-0133", "Lily", "Robinson",
     "Portland", "US", "1994-10-31", 515.0, False, "LOY-100406", True,
     Bad("identifiers.phone", "a household landline, cus_1040's phone too: sent with both, "
         "it would merge two people in Attentive, so it is left out of each")),
    ("cus_1040", "james.walker@example.org", "503.555.0133", "James", "Walker",
     "Portland", "US", "1976-02-08", 1890.2, True, None, False,
     Bad("identifiers.phone", "the same household landline as cus_1039 (written with dots)")),
    ("cus_1041", "camille.laurent@example.com", "+33 1 23 45 67 89", "Camille", "Laurent",
     "Lyon", "FR", "1988-08-08", 330.3, False, "LOY-300129", False),
    ("cus_1042", "aiden.hall@example.com", "n/a", "Aiden", "Hall",
     "Denver", "US", "1981-11-30", 710.0, False, "LOY-100413", True,
     Bad("identifiers.phone", "the phone field holds the placeholder text n/a")),
    ("cus_1043", "scarlett.young@example.net", "617-555-0172", "Scarlett", "Young",
     "Boston", "US", "1993-05-05", 98.6, False, "LOY-100420", True),
    ("cus_1044", "finn.oconnor@example.com", "+353 1 234 5678", "Finn", "O'Connor",
     "Cork", "IE", "1987-01-15", 640, False, None, False),
    ("cus_1045", "hannah.weber@example.org", "+49 30 901820", "Hannah", "Weber",
     "Berlin", "DE", "1995-09-27", 275.25, False, "LOY-300136", True),
    ("cus_1046", "logan.price@example.com", "415-555-0193", "Logan", "Price",
     "Oakland", "US", "12/31/1990", 150.0, False, "LOY-100427", False,
     Bad("attributes.demographic.dateOfBirth", "birthday written month/day/year "
         "(12/31/1990) instead of YYYY-MM-DD")),
    ("cus_1047", "victoria.evans@example.com", "+44 161 496 0123", "Victoria", "Evans",
     "Manchester", "GB", "1984-04-22", 1130.4, True, "LOY-200127", False),
    ("cus_1048", None, None, "Owen", "Murphy",
     "Philadelphia", "US", "1990-09-09", 220.0, False, "LOY-100434", False),
    ("cus_1049", "ruby.foster@example.com", "+1 555 0100", "Ruby", "Foster",
     "Atlanta", "US", "1997-02-11", 80.0, False, None, True,
     Bad("identifiers.phone", "+1 555 0100 is too short: the area code is missing")),
    ("cus_1050", "leo.baker@example.com", "+1 (646) 555-0121", "Leo", "Baker",
     "New York", "US", "2002-06-30", 15.0, False, None, True),
]
# fmt: on

FIRST_UPDATE = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.timezone.utc)

# The SCHEMA a tap would send: loose enough to carry the bad values through to the target
# (a list in lifetime_value, a phone as a JSON number, nulls), so that the target, not the
# SDK's record validation, is what sets them aside.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "integer", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "city": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "birthday": {"type": ["string", "null"], "format": "date"},
        "lifetime_value": {"type": ["number", "array", "null"], "items": {"type": "number"}},
        "vip": {"type": ["boolean", "null"]},
        "loyalty_number": {"type": ["string", "null"]},
        "sms_opt_in": {"type": ["boolean", "null"]},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def customers() -> list[tuple[dict[str, Any], Bad | None]]:
    """Every row as a record (in file order), with its `Bad` when it is deliberately bad."""
    out = []
    for index, row in enumerate(ROWS):
        bad = row[-1] if isinstance(row[-1], Bad) else None
        values = row[:-1] if bad else row
        updated = FIRST_UPDATE + dt.timedelta(minutes=37 * index)
        stamp = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        record = dict(zip(FIELDS, (*values, stamp), strict=True))
        out.append((record, bad))
    return out


def bad_positions() -> dict[int, Bad]:
    """{1-based position in the stream (= line of customers.jsonl): why it is bad}."""
    return {i: bad for i, (_, bad) in enumerate(customers(), 1) if bad}


def rejected_positions() -> list[int]:
    """The customers no valid identifier is left of: rejected; every other one is sent."""
    return [i for i, bad in bad_positions().items() if bad.outcome == "rejected"]


def final_state() -> dict[str, Any]:
    last = max(record["updated_at"] for record, _ in customers())
    return {
        "bookmarks": {
            STREAM: {"replication_key": "updated_at", "replication_key_value": last},
        }
    }


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_jsonl() -> str:
    return "".join(_line(record) + "\n" for record, _ in customers())


def render_singer() -> str:
    lines = [
        _line({"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]})
    ]
    lines += [_line({"type": "RECORD", "stream": STREAM, "record": r}) for r, _ in customers()]
    lines.append(_line({"type": "STATE", "value": final_state()}))
    return "\n".join(lines) + "\n"


def _id(record: dict[str, Any]) -> str:
    return f"`{record['id']}`" if record["id"] is not None else "(none)"


def render_readme() -> str:
    people = customers()
    bad = bad_positions()
    rows = "\n".join(
        f"| {pos} | {pos + 1} | {_id(people[pos - 1][0])} | `{b.field}` | {b.outcome} | {b.why} |"
        for pos, b in bad.items()
    )
    rejected = rejected_positions()
    return f"""# Example: the customers of a small US/EU store

Generated by `make_examples.py` from one table; do not edit these files by hand, edit the
script and run `python examples/make_examples.py` (`--check` tells whether they are current).

- `customers.jsonl`: {len(people)} customers as plain JSON lines, the file `tap-jsonl` reads
  (see `meltano.yml`), with the fields {", ".join(FIELDS[:7])},
  {", ".join(FIELDS[7:])}.
- `customers.singer`: the same people as a Singer stream `{STREAM}`: a SCHEMA (line 1), one
  RECORD per customer (line = position + 1), and a STATE at the end. Its JSON Schema is loose
  on purpose (`lifetime_value` may be a list, `phone` a JSON number) so that the bad values
  reach the target, which leaves each out with a reason instead of stopping the run.

Run it without any tap, from the repository root (dry run: nothing is sent):

```sh
mkdir -p output
target-attentive --config sample_config.json --input examples/customers.singer > output/state.json
```

The payloads land in `output/attentive_dry_run.jsonl`, the rejects in
`output/attentive_rejects.jsonl`, and the run report on stderr. The dry-run file is
rewritten by each run; the rejects file is appended to (each line has its time).
Opt-ins (`sms_opt_in`) are only shown in the payloads with `"subscriptions_enabled": true`.

With tap-jsonl instead (what `meltano run tap-jsonl target-attentive` does):

```sh
tap-jsonl --config tap_jsonl_config.json | target-attentive --config sample_config.json
```

with `tap_jsonl_config.json` holding
`{{"path": "examples/customers.jsonl", "stream_name": "customers", "primary_keys": ["id"]}}`.
tap-jsonl adds `_sdc_last_modified`, `_sdc_filename` and `_sdc_stream` to each record (not
mapped, so not sent) and remembers the file's modification time in its state: a second run
with that state skips the file until it changes.

## The deliberately bad lines

{len(bad)} of the {len(people)} customers have a bad field. A bad value costs that field, not
the customer: {len(bad) - len(rejected)} of them are sent with the field left out (an
`"outcome": "omitted"` line in the rejects file names the field and why), and only the
{len(rejected)} with no valid identifier left are rejected. So {len(people) - len(rejected)}
customers become one payload each. Position = line of `customers.jsonl`.

| position | line in .singer | id | field named | outcome | why |
|---|---|---|---|---|---|
{rows}

Also worth a look, and good: `cus_1002` and `cus_1027` (emails with capitals or spaces,
lower-cased and trimmed), `cus_1006` (a phone as a JSON number), `cus_1019` (a padded phone),
`cus_1021` (a leading 1), `cus_1031` (an empty email next to a good phone: the email is
left out), `cus_1048` (no email or phone: identified by its id and loyalty number), and the
EU numbers written with their country code.
"""


def render_all() -> dict[str, str]:
    return {
        "customers.jsonl": render_jsonl(),
        "customers.singer": render_singer(),
        "README.md": render_readme(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = HERE / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8", newline="\n")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run {Path(__file__).name}", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {HERE.name}/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
