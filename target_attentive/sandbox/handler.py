"""The HTTP layer: a threading server on loopback only, and a handler that reads one body,
asks the app for a ``Reply`` and writes it as one buffer (or drops the connection)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
import tempfile
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any

from .app import SandboxApp
from .reply import Reply, error_body

log = logging.getLogger("target_attentive.sandbox")

MAX_BODY_BYTES = 16 * 1024 * 1024


class SandboxHandler(BaseHTTPRequestHandler):
    """Thin HTTP layer: read the body, ask the app, sleep if told to, write one buffer."""

    protocol_version = "HTTP/1.1"
    server_version = "target-attentive-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        t = time.time()
        body = self._read_body()
        if body is None:
            return
        app = self.server.app
        reply = app.handle(method, self.path, self.headers.get("Authorization"), body, t)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            if app.config.verbose:
                log.debug("%s %s -> dropped", method, self.path)
            return
        self._write(reply)
        if app.config.verbose:
            log.debug("%s %s -> %d (%.1f ms)", method, self.path, reply.status, _ms(t))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._fail(411, "Send a Content-Length (chunked bodies are not supported)")
            return None
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            self._fail(400, "Bad Content-Length")
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self._fail(413, f"Body larger than {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length)

    def _fail(self, status: int, message: str) -> None:
        self.close_connection = True
        path = self.path.partition("?")[0]
        self._write(Reply(status, error_body(status, message, path)))

    def _write(self, reply: Reply) -> None:
        body = reply.body
        head = [
            f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ]
        for name, value in reply.headers:
            head.append(f"{name}: {value}\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        try:
            self.wfile.write("".join(head).encode("latin-1") + body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.config.verbose:
            log.debug("%s " + format, self.address_string(), *args)


def _ms(t: float) -> float:
    return (time.time() - t) * 1000.0


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threading server whose handler threads die with the process."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: SandboxApp, family: int) -> None:
        self.address_family = family
        self.app = app
        super().__init__(address, SandboxHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall startup.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def loopback_address(host: str) -> tuple[int, str]:
    """The socket family and address to bind; refuses any host that is not loopback."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"cannot resolve host {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses or not all(a.is_loopback for a in addresses):
            raise ValueError(f"refusing to listen on non-loopback host {host!r}") from None
        ip = next((a for a in addresses if a.version == 4), addresses[0])
    if not ip.is_loopback:
        raise ValueError(f"refusing to listen on non-loopback host {host!r}")
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)


def write_atomically(path: str, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see a partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
