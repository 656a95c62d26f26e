"""Keep the API key, people's addresses and pre-signed links out of every log record.

The target's own messages never quote values; this catches what other code logs (the SDK,
requests and urllib3 at debug level, SQLAlchemy, an exception's text): the API key is
removed, emails keep their first letter and domain, phone numbers (E.164 or written
nationally, such as `(914) 844-0001` or `020 7183 8750`) their last two digits, and texts
given to `hide` (a results file's pre-signed address) are replaced whole.

`install` wraps `logging.Logger.callHandlers`, the one funnel every record passes through
on its way to any handler. Why there rather than elsewhere:
- a filter on each handler misses handlers made later (by the SDK, by `basicConfig` in the
  sending process, by pytest), and filters on loggers do not apply to propagated records;
- a log record factory runs before `extra=` fields are attached and is skipped by records
  rebuilt with `makeLogRecord`; `callHandlers` sees the finished record either way, and
  also feeds `logging.lastResort`.
A record is masked in place, once per logger that handles it (masking is idempotent).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

_EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_E164 = re.compile(r"(?<![\w.])\+\d{5,13}(\d{2})\b")
# A phone-like run: digits with single spaces, dots, hyphens or parentheses between them,
# not inside a larger token (a UUID, a decimal, a time, a path) on either side.
_PHONE_LIKE = re.compile(r"(?<![\w+.\-/:@%=*])\+?\(?\d[\d ().\-]{5,24}\d(?!\w|[.\-/:]\d)")
_SEPARATORS = re.compile(r"\D+")
_ALLOWED_SEPARATORS = frozenset({" ", "-", ".", "(", ")", ") ", " (", ")-", "-(", ". "})
_STANDARD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_secrets: tuple[str, ...] = ()
_hidden: tuple[str, ...] = ()
_lock = threading.Lock()


def mask(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` without the secrets, hidden texts, emails and phone numbers in it."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[api key]")
    for hidden in _hidden:
        text = text.replace(hidden, "[hidden]")
    text = _EMAIL.sub(r"\1***@\2", text)
    text = _E164.sub(r"+***\1", text)
    return _PHONE_LIKE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    """Mask the run if it looks like a phone number, else leave it as it is.

    E.164 (`+` and 7 to 15 digits) always; national forms with separators from 9 digits,
    bare runs from 10. Decimals (two groups split by a dot) and IPv4 addresses are spared,
    as are dates and times, which never pass the lookarounds with their own digit count.
    """
    run = match.group(0)
    plus = run.startswith("+")
    digits = re.sub(r"\D", "", run)
    separators = _SEPARATORS.findall(run.lstrip("+"))
    groups = [g for g in re.split(r"\D+", run) if g]
    if any(s not in _ALLOWED_SEPARATORS for s in separators):
        return run
    if not plus and set(separators) == {"."} and (len(groups) == 2 or _ipv4(groups)):
        return run
    if len(digits) > 15 and " " in run:  # a number next to it: try without the last group
        head, _, tail = run.rpartition(" ")
        return _PHONE_LIKE.sub(_mask_phone, head) + " " + tail
    least = 7 if plus else (9 if separators else 10)
    if not least <= len(digits) <= 15:
        return run
    return ("+" if plus else "") + "***" + digits[-2:]


def _ipv4(groups: list[str]) -> bool:
    return len(groups) == 4 and all(len(g) <= 3 and int(g) <= 255 for g in groups)


def mask_record(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    """Mask a record in place: its message, traceback, stack and `extra=` fields."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit: logging would print them raw
        message = f"{record.msg} (log arguments did not fit the message)"
        record.msg, record.args = message, ()
    masked = mask(message, secrets)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        masked_text = mask(text, secrets)
        record.exc_text = masked_text
        if masked_text != text:  # formatters that read exc_info itself see no values
            summary = masked_text.strip().splitlines()[-1]
            record.exc_info = (MaskedException, MaskedException(summary), record.exc_info[2])
    elif record.exc_text:
        record.exc_text = mask(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = mask(record.stack_info, secrets)
    for name, value in list(record.__dict__.items()):
        if name not in _STANDARD_FIELDS and value is not None:
            _mask_extra(record, name, value, secrets)


def _mask_extra(record: logging.LogRecord, name: str, value: Any, secrets: tuple[str, ...]) -> None:
    text = value if isinstance(value, str) else repr(value)
    masked = mask(text, secrets)
    if masked != text:
        setattr(record, name, masked)


class MaskedException(Exception):
    """Stands in for an exception whose text carried something masked."""


class MaskingFilter(logging.Filter):
    """The masking as a filter, for a handler that must mask records it is given directly."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record, self.secrets)
        return True


_original_call_handlers = logging.Logger.callHandlers


def _masked_call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    mask_record(record, _secrets)
    _original_call_handlers(self, record)


def install(secrets: tuple[str, ...]) -> None:
    """Mask every record logged from now on, by any logger, with any handler.

    Idempotent; secrets of several calls all stay masked.
    """
    global _secrets
    with _lock:
        _secrets = tuple(dict.fromkeys((*_secrets, *(s for s in secrets if s))))
        logging.Logger.callHandlers = _masked_call_handlers  # type: ignore[method-assign]


def hide(*texts: str) -> None:
    """Replace these texts wherever they appear in a log record (pre-signed links)."""
    global _hidden
    with _lock:
        _hidden = tuple(dict.fromkeys((*_hidden, *(t for t in texts if t))))
        logging.Logger.callHandlers = _masked_call_handlers  # type: ignore[method-assign]
