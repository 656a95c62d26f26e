"""The private singer-sdk methods the target overrides still exist, take the same
arguments and are still called where the target relies on them.

Each override of a private SDK method says in its docstring why it exists. If an SDK
release renames one, changes its arguments or stops calling it, the override would
silently stop working (state written by the SDK again, batch files skipping the record
path, records logged at debug level): these tests fail first.
"""

from __future__ import annotations

import inspect
import re

import pytest
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.target_base import Target

from target_attentive import record_path
from target_attentive.kind_sink import KindSink
from target_attentive.reader import InputReader
from target_attentive.record_path import StraightPath
from target_attentive.sinks import UsersSink
from target_attentive.target import TargetAttentive

PRIVATE_OVERRIDES = [
    (TargetAttentive, Target, "_process_record_message"),
    (TargetAttentive, Target, "_process_state_message"),
    (TargetAttentive, Target, "_process_batch_message"),
    (TargetAttentive, Target, "_write_state_message"),
    (TargetAttentive, Target, "_handle_termination"),
    (UsersSink, Sink, "_parse_timestamps_in_record"),
    (UsersSink, Sink, "_after_process_record"),
]


@pytest.mark.parametrize(
    ("ours", "base", "name"), PRIVATE_OVERRIDES, ids=[n for _, _, n in PRIVATE_OVERRIDES]
)
def test_each_private_override_matches_the_sdk_method(ours: type, base: type, name: str) -> None:
    assert name in vars(ours), f"{ours.__name__} no longer overrides {name}"
    sdk_method = getattr(base, name, None)
    assert sdk_method is not None, f"singer-sdk's {base.__name__} has no {name} any more"
    ours_params = list(inspect.signature(vars(ours)[name]).parameters)
    sdk_params = list(inspect.signature(sdk_method).parameters)
    assert ours_params == sdk_params, f"{name}: the SDK now takes {sdk_params}"
    assert getattr(vars(ours)[name], "__override__", False), f"{name} lacks @override"


@pytest.mark.parametrize(
    ("caller", "callee"),
    [
        (Target._process_record_message, "_after_process_record"),
        (Target._process_record_message, "_validate_and_parse"),
        (Target.drain_all, "_write_state_message"),
        (Target._process_batch_message, "process_batch_files"),
    ],
)
def test_the_sdk_still_calls_the_hooks_the_target_relies_on(caller: object, callee: str) -> None:
    source = inspect.getsource(caller)  # type: ignore[arg-type]
    assert f"{callee}(" in source, f"singer-sdk's {caller} no longer calls {callee}"


def test_the_sdk_validates_timestamps_in_the_method_the_sink_silences() -> None:
    assert "_parse_timestamps_in_record" in inspect.getsource(Sink._validate_and_parse)
    assert issubclass(UsersSink, BatchSink)


def test_the_reader_loop_takes_the_sdk_arguments_and_its_unknown_message_hook_exists() -> None:
    """reader.py runs the SDK's loop over the input itself, calling the SDK's handler of an
    unknown message type."""
    ours = list(inspect.signature(InputReader.process_lines).parameters)
    assert ours == list(inspect.signature(GenericSingerReader.process_lines).parameters)
    hook = GenericSingerReader._process_unknown_message
    assert list(inspect.signature(hook).parameters) == ["self", "message_dict"]


# The SDK's per-record steps on the sink, in order (`Target._process_record_message`), and
# what `record_path.StraightPath` does for each: the same call, or why not.
SDK_RECORD_STEPS = {
    "_get_context": (True, "called"),
    "include_sdc_metadata_properties": (False, "read once per sink (settings do not change)"),
    "_add_sdc_metadata_to_record": (True, "called"),
    "_remove_sdc_metadata_from_record": (True, "called"),
    "_validate_and_parse": (False, "its validator called (the target's sinks silence dates)"),
    "preprocess_record": (True, "called when a sink overrides it"),
    "_singer_validate_message": (True, "called when a key property is missing: it raises"),
    "tally_record_read": (True, "called"),
    "process_record": (True, "called"),
    "record_counter_metric": (True, "called"),
    "_after_process_record": (False, "silenced by the target's sinks"),
    "is_full": (True, "called"),
    "stream_name": (True, "logged"),
    "current_size": (True, "logged"),
}


def _sink_steps(function: object) -> list[str]:
    return re.findall(r"\bsink\.(\w+)", inspect.getsource(function))  # type: ignore[arg-type]


def test_the_straight_record_path_takes_the_sdk_steps_in_the_sdk_order() -> None:
    """A step added to, or moved in, the SDK's record path fails here first."""
    assert _sink_steps(Target._process_record_message) == list(SDK_RECORD_STEPS)
    ours = _sink_steps(StraightPath.take) + _sink_steps(record_path._log_full)
    called = [step for step, (calls, _) in SDK_RECORD_STEPS.items() if calls]
    assert [s for s in ours if s in SDK_RECORD_STEPS] == called
    for sink_class in (UsersSink, KindSink):
        for silenced in ("_after_process_record", "_parse_timestamps_in_record"):
            method = vars(sink_class)[silenced]
            assert not [n for n in method.__code__.co_names], f"{sink_class}.{silenced}"
        assert sink_class.get_validator is not Sink.get_validator


def test_the_sdk_validate_step_is_the_validator_and_the_timestamps_only() -> None:
    source = inspect.getsource(Sink._validate_and_parse)
    calls = re.findall(r"\bself\.(\w+)\(", source)
    assert calls == ["validate", "_parse_timestamps_in_record"] or calls == [
        "_parse_timestamps_in_record"
    ], calls
    assert "self._validator.validate(record)" in source
