"""People's data and the API key stay out of the logs, even at debug level."""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import pytest
from singer_sdk.logging import StructuredFormatter
from targetrun import base_config, person, run_target, singer_lines, write_input

from target_attentive.masking import MaskingFilter, hide, install, mask
from target_attentive.sandbox.process import SandboxProcess


def test_mask_hides_addresses_and_the_key_but_not_figures() -> None:
    text = "ann.lee@example.co.uk +14155550123 key-123 0.0005772113800048828 1000000 rows"
    assert mask(text, ("key-123",)) == (
        "a***@example.co.uk +***23 [api key] 0.0005772113800048828 1000000 rows"
    )


def test_the_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sent %s", ("bo@example.com",), None
    )
    try:
        raise ValueError("refused +14155550123")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    MaskingFilter(()).filter(record)
    assert record.getMessage() == "sent b***@example.com"
    assert "+14155550123" not in (record.exc_text or "") and "+***23" in (record.exc_text or "")


def test_a_debug_run_logs_no_email_phone_or_key(tmp_path: Path) -> None:
    people = [person(i, phone=f"+1212555{i:04d}") for i in range(30)]
    with SandboxProcess(api_key="key-9f8e7d") as sb:
        config = base_config(sb, tmp_path, batch_size_rows=10)
        source = write_input(tmp_path / "in", singer_lines(people))
        result = run_target(config, source, tmp_path, env={"LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr
    for p in people:
        assert p["email"] not in result.stderr
        assert p["phone"] not in result.stderr
    assert "key-9f8e7d" not in result.stderr


# --- every record, whoever writes it (issue 13)

SECRET = "key-0c1d2e3f"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("(914) 844-0001", "***01"),
        ("call (914) 844-0001 today", "call ***01 today"),
        ("020 7183 8750", "***50"),
        ("+44 20 7183 8750", "+***50"),
        ("+1 (914) 844-0001", "+***01"),
        ("914-844-0001", "***01"),
        ("914.844.0001", "***01"),
        ("07911 123456", "***56"),
        ("01 23 45 67 89", "***89"),
        ("9148440001", "***01"),
        ("19148440001", "***01"),
        ("+19148440001", "+***01"),
        ("phone=+19148440001, 1000000 rows", "phone=+***01, 1000000 rows"),
    ],
)
def test_phone_numbers_written_nationally_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "HTTP 503",
        '"POST /v2/user/attributes HTTP/1.1" 202 45',
        "POST /v2/user/attributes failed 8 times in 60.2 s since its first failure",
        "Retrying POST /v2/bulk/user/attributes in 0.37 s after HTTP 429",
        "read 1000000 = 999990 accepted + 10 rejected",
        "12.5 s, 24000.3 records/s, 130023424 bytes",
        "0.0005772113800048828",
        "1717171717.123",
        "2026-05-01T12:00:00Z and 2026-05-01 12:00:00,123",
        "Tue, 15 Nov 1994 08:12:31 GMT",
        "job 12345678-1234-1234-1234-123456789012 COMPLETED",
        "Starting new HTTP connection (1): 127.0.0.1:8787",
        "192.168.100.200 and 10.0.0.1",
        "1,234,567 people in batch 3 of 12",
        '{"read": 30, "accepted": 28, "seconds": 1.234, "records_per_second": 24.3}',
    ],
)
def test_our_own_figures_are_left_alone(text: str) -> None:
    assert mask(text, (SECRET,)) == text


def _capture(logger_name: str, formatter: logging.Formatter | None = None) -> io.StringIO:
    """A handler made after install(), on a logger made after it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return stream


def test_handlers_and_loggers_made_after_install_are_masked() -> None:
    install((SECRET,))
    name = f"late.{uuid.uuid4().hex}"
    out = _capture(name)
    logging.getLogger(name).debug(
        "sent %s to %s with %s", "ann.lee@example.com", "(914) 844-0001", SECRET
    )
    text = out.getvalue()
    assert "ann.lee@example.com" not in text and "844-0001" not in text
    assert SECRET not in text and "[api key]" in text and "a***@example.com" in text


def test_library_loggers_at_debug_are_masked() -> None:
    """The SDK's parse error, urllib3 and SQLAlchemy lines: names of loggers they use."""
    install((SECRET,))
    line = '{"type": "RECORD", "record": {"email": "bo@example.com", "phone": "020 7183 8750"'
    for name in ("singer_sdk.singerlib.encoding.simple", "urllib3.connectionpool", "sqlalchemy"):
        out = _capture(name)
        logging.getLogger(name).debug("Unable to parse:\n%s (Bearer %s)", line, SECRET)
        text = out.getvalue()
        assert "bo@example.com" not in text and "7183 8750" not in text, name
        assert SECRET not in text, name


def test_extra_fields_and_exceptions_are_masked_for_structured_logs() -> None:
    install((SECRET,))
    name = f"structured.{uuid.uuid4().hex}"
    out = _capture(name, StructuredFormatter())
    text = f"refused cy@example.com, +14155550123, {SECRET}"  # source lines are logged too
    try:
        raise ValueError(text)
    except ValueError:
        logging.getLogger(name).exception("failed", extra={"payload": {"email": "cy@example.com"}})
    text = out.getvalue()
    assert "cy@example.com" not in text and "+14155550123" not in text and SECRET not in text
    assert "c***@example.com" in text


def test_arguments_that_do_not_fit_are_not_printed_raw(capsys) -> None:
    install((SECRET,))
    name = f"broken.{uuid.uuid4().hex}"
    out = _capture(name)
    logging.getLogger(name).info("%s and %s", "dee@example.com")
    assert "dee@example.com" not in out.getvalue() + capsys.readouterr().err


def test_hidden_texts_are_replaced() -> None:
    hide("https://storage.example/b/j.jsonl?X-Amz-Signature=abc")
    name = f"hidden.{uuid.uuid4().hex}"
    out = _capture(name)
    logging.getLogger(name).debug("GET https://storage.example/b/j.jsonl?X-Amz-Signature=abc")
    assert "X-Amz-Signature" not in out.getvalue() and "[hidden]" in out.getvalue()
