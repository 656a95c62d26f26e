"""What the request logic hands the HTTP layer, and the error body Attentive answers with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http import HTTPStatus

import orjson

from .encoding import iso

JSON = "application/json"
JSONL = "application/x-ndjson"
NO_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass
class Reply:
    """What to answer (or that the connection must be dropped), and how long to wait first;
    apart from the handler so that the request logic can be tested without sockets."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drop: bool = False


def error_body(status: int, message: str, path: str) -> bytes:
    """The error shape seen from Attentive: timestamp, status, error, message, path."""
    return orjson.dumps(
        {
            "timestamp": iso(time.time()),
            "status": status,
            "error": HTTPStatus(status).phrase,
            "message": message,
            "path": path,
        }
    )


def error(status: int, message: str, path: str) -> Reply:
    return Reply(status, error_body(status, message, path))
