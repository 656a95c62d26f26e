"""A logging filter that keeps secrets and people's addresses out of every log line.

The target's own messages never quote values; this catches what other code logs (the SDK,
urllib3 at debug level, an exception's text): the API key is removed, emails keep their
first letter and domain, E.164 phones their last two digits.
"""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_PHONE = re.compile(r"(?<![\w.])\+\d{5,13}(\d{2})\b")


def mask(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "[api key]")
    text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(r"+***\1", text)


class MaskingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
        return True


def install(secrets: tuple[str, ...]) -> None:
    """On every handler in place, so records from any logger pass through it."""
    masking = MaskingFilter(secrets)
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(masking)
