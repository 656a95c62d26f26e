"""The sandbox's request logic, independent of sockets: ``SandboxApp.handle`` turns a request
into a ``Reply``.

``/v1/`` and ``/v2/`` paths go through one ``Gate`` (auth, route, rate limit, fault) with
their version's endpoint table, then to that version's endpoints for the body. ``/_sandbox/``
paths are the control surface tests and benchmarks use: the report, accepted payloads,
people, opt-outs, the config (``POST`` changes the fields in ``RUNTIME_FIELDS``) and reset.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from .config import SandboxConfig, check_config_value
from .gate import Gate, Route
from .reply import JSONL, Reply, error
from .state import SandboxState
from .traffic import Traffic
from .v1 import V1Endpoints
from .v2 import RESULTS_PREFIX, RESULTS_SUFFIX, V2Endpoints

log = logging.getLogger("target_attentive.sandbox")


class Api(Protocol):
    """One API version: its endpoint table, its bodies and its counts."""

    @property
    def traffic(self) -> Traffic: ...

    def route(self, path: str) -> tuple[Route, str]: ...

    def serve(self, endpoint: str, arg: str, body: bytes, path: str, t: float) -> Reply: ...


class SandboxApp:
    """Dispatch by path prefix, plus the control endpoints; the API logic lives in ``gate``,
    ``v1`` and ``v2``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(
            seed=config.seed,
            enum_attributes=config.enum_attributes,
            max_custom_attributes=config.max_custom_attributes,
        )
        self.sources = frozenset(config.sign_up_source_ids)
        self.gate = Gate(config, self.state.lock, self.state.rng)
        self.v1 = V1Endpoints(self.state.lock)
        self.v2 = V2Endpoints(self.state, config, self.sources)
        self.state.optin_listener = self.v1.note_optin_locked
        self.apis: dict[str, Api] = {"/v1/": self.v1, "/v2/": self.v2}
        self.base_url = f"http://{config.host}:{config.port}"

    @property
    def base_url(self) -> str:
        return self.v2.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self.v2.base_url = url

    def handle(self, method: str, target: str, auth: str | None, body: bytes, t: float) -> Reply:
        path, _, query = target.partition("?")
        api = self.apis.get(path[:4])
        if api is not None:
            route, arg = api.route(path)
            admission = self.gate.admit(route, method, path, auth, t, api.traffic)
            if admission.reply is not None:
                return admission.reply
            return self.gate.finish(admission, api.serve(route.endpoint, arg, body, path, t))
        if path.startswith("/_sandbox/"):
            try:
                return self._control(method, path, query, body)
            except ValueError as exc:
                return error(400, str(exc), path)
        return error(404, "No such path", path)

    # ----------------------------------------------------------------- control

    def _control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        state = self.state
        if path.startswith(RESULTS_PREFIX) and path.endswith(RESULTS_SUFFIX) and method == "GET":
            if self.config.results_expired:  # what a pre-signed link says once expired
                return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
            state.run_due_jobs(self.sources)
            job_id = path[len(RESULTS_PREFIX) : -len(RESULTS_SUFFIX)]
            data = state.job_results(job_id, self.config.results_status_form)
            if data is None:
                return error(404, "No results for this job (yet)", path)
            return Reply(200, data, JSONL)
        action = (method, path)
        offset = int((parse_qs(query).get("offset") or ["0"])[0])
        if action == ("GET", "/_sandbox/report"):
            return Reply(200, orjson.dumps(self.report()))
        if action == ("GET", "/_sandbox/accepted"):
            state.run_due_jobs(self.sources)
            return Reply(200, state.accepted_lines(offset), JSONL)
        if action == ("GET", "/_sandbox/v1/accepted"):
            return Reply(200, self.v1.accepted_lines(offset), JSONL)
        if action == ("GET", "/_sandbox/v1/optouts"):
            return Reply(200, orjson.dumps(self.v1.optouts_json()))
        if action == ("GET", "/_sandbox/people"):
            state.run_due_jobs(self.sources)
            return Reply(200, orjson.dumps(state.people_json()))
        if action == ("GET", "/_sandbox/config"):
            return Reply(200, orjson.dumps(self.config.as_json()))
        if action == ("POST", "/_sandbox/config"):
            return self._configure(body, path)
        if action == ("POST", "/_sandbox/reset"):
            self.reset()
            return Reply(200, b'{"reset":true}')
        return error(404, "No such sandbox control path", path)

    def _configure(self, body: bytes, path: str) -> Reply:
        try:
            changes = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            return error(400, f"body: not valid JSON ({exc})", path)
        if not isinstance(changes, dict):
            return error(400, "body: must be a JSON object", path)
        for name, value in changes.items():
            problem = check_config_value(name, value)
            if problem:
                return error(400, problem, path)
        for name, value in changes.items():
            setattr(self.config, name, value)
        if "verbose" in changes:
            log.setLevel(logging.DEBUG if self.config.verbose else logging.INFO)
        log.info("config changed: %s", changes)
        return Reply(200, orjson.dumps(self.config.as_json()))

    def reset(self) -> None:
        """Forget people, jobs, events, opt-outs, counts and rate windows (not the config)."""
        self.state.reset()
        self.v1.reset()
        with self.state.lock:
            self.gate.reset_locked()

    def report(self) -> dict[str, Any]:
        """The report, with due bulk jobs completed first so that their outcomes count; the v2
        counters at the top (as before v1 existed), the v1 ones under ``v1``."""
        self.state.run_due_jobs(self.sources)
        report = self.state.report()
        report["v1"] = self.v1.report()
        report["config"] = self.config.as_json()
        report["url"] = self.base_url
        return report

    def record_bytes(self) -> bytes:
        """The report plus every accepted payload, as one JSON document."""
        report = orjson.dumps(self.report())
        lines = self.state.accepted_lines().splitlines()
        v1_lines = self.v1.accepted_lines().splitlines()
        return (
            b'{"report":'
            + report
            + b',"accepted":['
            + b",".join(lines)
            + b'],"v1_accepted":['
            + b",".join(v1_lines)
            + b"]}\n"
        )
