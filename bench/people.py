"""Deterministic, realistic customer records as a Singer stream, for the benchmarks.

    python bench/people.py --count 1000000 | target-attentive --config c.json

Every figure of the benchmark compares two programs over the same input, so the input must
be the same bytes every time: record ``i`` depends only on ``i`` (no clock, no global random
state). Phones come in the formats exports really carry (national, dotted, padded, +1,
JSON numbers, a few EU numbers); emails vary in case and padding; about 1 in 100 records is
bad (placeholder phone, cut-short email, no identifier) so the reject path costs what it does
in real loads. People are unique: no two records share an email, phone or id.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import IO, Any

import orjson

STREAM = "customers"
STATE_EVERY = 10_000
SCHEMA: dict[str, Any] = {
    "type": "SCHEMA",
    "stream": STREAM,
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "phone": {"type": ["string", "integer", "null"]},
            "first_name": {"type": ["string", "null"]},
            "last_name": {"type": ["string", "null"]},
            "city": {"type": ["string", "null"]},
            "lifetime_value": {"type": ["number", "null"]},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "key_properties": ["id"],
}
# The target's mapping for these records (the benchmark configs use it).
MAPPING: dict[str, Any] = {
    "identifiers": {"email": "email", "phone": "phone", "clientUserId": "id"},
    "attributes": {"firstName": "first_name", "lastName": "last_name", "location.city": "city"},
    "custom_attributes": {"Lifetime Value": "lifetime_value"},
}

# fmt: off
FIRST = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Isabella", "Mason",
    "Mia", "Ethan", "Amelia", "Logan", "Harper", "James", "Evelyn", "Aiden", "Abigail", "Jackson",
    "Emily", "Sebastian", "Ella", "Mateo", "Chloe", "Henry", "Grace", "Leo", "Zoe", "Jack",
    "Nora", "Owen", "Lily", "Wyatt", "Hannah", "Samuel", "Aria", "José", "Zoë", "Renée",
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Nguyen", "Hill", "O'Brien", "Müller",
)
# fmt: on
CITIES = (
    "New York",
    "Los Angeles",
    "Chicago",
    "Houston",
    "Phoenix",
    "Philadelphia",
    "San Antonio",
    "San Diego",
    "Dallas",
    "Austin",
    "Jersey City",
    "Boston",
    "Seattle",
    "Denver",
    "Portland",
    "Miami",
    None,
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
# Area codes in service, so that phonenumbers calls the numbers valid.
AREAS = (201, 212, 213, 303, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 713, 718, 773)
US_FORMATS = (
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "+1 ({a}) {e}-{l}",
    "{a} {e} {l}",
    "+1-{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "1{a}{e}{l}",
    "+1{a}{e}{l}",
    "  ({a}) {e}-{l} ",
)


def _mix(i: int) -> int:
    """A well-spread hash of the index (splitmix64), so choices do not march in step."""
    z = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E5BB) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _exchange(n: int) -> int:
    """The n-th usable US exchange: 200-999 without N11 codes and 555."""
    e = 200 + n % 700
    if e % 100 == 11 or e == 555:
        e += 1
    return e


def phone(i: int, h: int) -> str | int | None:
    """A unique phone for person i, in one of the formats exports carry (or none)."""
    kind = h % 100
    if kind < 18:
        return None
    line = i % 10_000
    rest = i // 10_000
    if kind < 26:  # EU mobiles, written with their country code
        if kind < 22:
            return f"+44 7911 {i % 1_000_000:06d}"
        return f"+49 151 {i % 100_000_000:08d}"
    area, exchange = AREAS[rest % len(AREAS)], _exchange(rest // len(AREAS))
    if kind < 31:  # a JSON number, as some warehouses export them
        return int(f"{area}{exchange}{line:04d}")
    fmt = US_FORMATS[(h >> 8) % len(US_FORMATS)]
    return fmt.format(a=area, e=exchange, l=f"{line:04d}")


def email(i: int, h: int, first: str, last: str) -> str | None:
    kind = (h >> 16) % 100
    if kind < 9:
        return None
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    address = f"{local}{i}@{DOMAINS[(h >> 24) % len(DOMAINS)]}"
    if kind < 14:
        return address.title()
    if kind < 17:
        return f" {address} "
    return address


def record(i: int) -> dict[str, Any]:
    """Customer number i (0-based); about 1% are deliberately bad."""
    h = _mix(i)
    first = FIRST[(h >> 32) % len(FIRST)]
    last = LAST[(h >> 40) % len(LAST)]
    rec: dict[str, Any] = {
        "id": f"cus_{i:07d}",
        "email": email(i, h, first, last),
        "phone": phone(i, h),
        "first_name": first,
        "last_name": last,
        "city": CITIES[(h >> 48) % len(CITIES)],
        "lifetime_value": round(((h >> 20) % 500_000) / 100, 2),
        "updated_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
    }
    bad = (h >> 56) % 200
    if bad == 0:
        rec["phone"] = "n/a"
    elif bad == 1:
        rec["email"] = rec["email"] and rec["email"].split("@")[0] + "@"
        rec["phone"] = rec["phone"] or "n/a"
    if rec["email"] is None and rec["phone"] is None:
        rec["email"] = f"{first.lower()}{i}@example.com"
    return rec


def singer_lines(count: int, start: int = 0) -> Iterator[bytes]:
    """SCHEMA, `count` RECORDs from `start`, a STATE every STATE_EVERY and at the end."""
    yield orjson.dumps(SCHEMA) + b"\n"
    for n, i in enumerate(range(start, start + count), 1):
        yield orjson.dumps({"type": "RECORD", "stream": STREAM, "record": record(i)}) + b"\n"
        if n % STATE_EVERY == 0:
            yield orjson.dumps({"type": "STATE", "value": {"last_id": i}}) + b"\n"
    if count % STATE_EVERY:
        yield orjson.dumps({"type": "STATE", "value": {"last_id": start + count - 1}}) + b"\n"


def write(out: IO[bytes], count: int, start: int = 0) -> None:
    """Write the stream in chunks of lines (one write call per chunk)."""
    chunk: list[bytes] = []
    for line in singer_lines(count, start):
        chunk.append(line)
        if len(chunk) >= 1000:
            out.write(b"".join(chunk))
            chunk.clear()
    out.write(b"".join(chunk))
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True, help="records to write")
    parser.add_argument("--start", type=int, default=0, help="index of the first record")
    parser.add_argument("--out", help="file to write (default stdout)")
    args = parser.parse_args(argv)
    try:
        if args.out:
            with open(args.out, "wb") as handle:
                write(handle, args.count, args.start)
        else:
            write(sys.stdout.buffer, args.count, args.start)
    except BrokenPipeError:  # the reader stopped early (a time-bounded run): not an error
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
