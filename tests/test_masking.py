"""People's data and the API key stay out of the logs, even at debug level."""

from __future__ import annotations

import logging
from pathlib import Path

from targetrun import base_config, person, run_target, singer_lines, write_input

from target_attentive.masking import MaskingFilter, mask
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
