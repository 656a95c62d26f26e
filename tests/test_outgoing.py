"""What crosses to the sending process comes out equal, digest included (outgoing.py).

The reading process digests only the people it compares with the ledger; the sending
process digests the rest from the payload it received (sending.py). A later run compares
the ledger's digest with one made before the crossing, so the two must agree for every
payload a plan can make.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from target_attentive.frames import read_frame, write_frame
from target_attentive.keys import payload_hash
from target_attentive.outgoing import Outgoing

INT64 = 2**63
scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-INT64, max_value=INT64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.fixed_dictionaries(
    {"identifiers": st.fixed_dictionaries({"email": st.emails()})},
    optional={
        "properties": st.dictionaries(st.text(max_size=12), values, max_size=5),
        "attributes": st.dictionaries(st.text(max_size=12), scalars, max_size=5),
        "subscriptions": st.just([{"type": "MARKETING", "channel": "TEXT"}]),
    },
)


class _Pipe:
    """A byte stream a frame is written to and read back from."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        pass

    def read(self, n: int) -> bytes:
        head, self.data = self.data[:n], self.data[n:]
        return head


@settings(max_examples=300, deadline=None)
@given(payloads, st.lists(st.tuples(st.integers(1, 10**6), values), max_size=3))
def test_a_payload_digests_the_same_after_crossing(payload: dict, sources: list) -> None:
    before = payload_hash(payload)
    sent = Outgoing("email:x", "", payload, sources_json=orjson.dumps(sources).decode())
    pipe = _Pipe()
    write_frame(pipe, {"people": [sent.to_wire()]})  # type: ignore[arg-type]
    frame = read_frame(pipe)  # type: ignore[arg-type]
    assert frame is not None
    received = Outgoing.from_wire(frame["people"][0])
    assert payload_hash(received.payload) == before
    assert orjson.loads(received.sources_json) == orjson.loads(orjson.dumps(sources))
