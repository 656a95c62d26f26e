"""jsonl.dumps writes whatever a record can hold, and jsonl.loads reads it back (hypothesis).

Records reach every file and frame through `dumps`; a value it refused once crashed a load
(numbers beyond 64 bits, lone surrogates, deep nesting: see the tests named for each).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from target_attentive.jsonl import dumps, loads

# Text of any characters, and often a lone surrogate, which random text seldom holds.
any_text = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.builds("".join, st.lists(st.sampled_from(["a", "é", "\ud800", "\udfff", "😀"]))),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.floats(),  # NaN and infinities too
    st.decimals(allow_nan=False, allow_infinity=False),
    any_text,  # lone surrogates too
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
    ),
    max_leaves=20,
)


texts = st.recursive(
    st.one_of(st.none(), st.booleans(), any_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_any_value_is_written_as_json(value: object) -> None:
    loads(dumps({"record": value}))  # neither raises


@settings(max_examples=400, deadline=None)
@given(texts)
def test_text_comes_back_whole_lone_surrogates_and_all(value: object) -> None:
    # As the standard library reads its own writing: a surrogate pair, two chars in a str,
    # is one character in JSON.
    assert loads(dumps({"record": value})) == json.loads(json.dumps({"record": value}))
