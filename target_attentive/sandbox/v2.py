"""The sandbox's v2 endpoints: the single and bulk user upserts, bulk job reads and ``/v2/me``.

Reached through ``gate.Gate`` like every API path. Bulk items are validated and applied when
the job completes, in submission order; the results file (``GET url``, no auth) has one line
per user: ``{"request": <item as sent>, "response": {"status": 202 | 400, "message": str}}``.
A bulk request with a person that breaks a stateless rule (``rules.validate_user``) is
answered 400 as a whole, naming the first such person (``users[3].identifiers.phone: ...``);
the stateful checks (custom attribute types and cap) happen in the job (all of them with
``bulk_checks_in_job``).
"""

from __future__ import annotations

import time
from typing import Protocol

import orjson

from . import rules
from .encoding import dumps_line
from .gate import Route
from .jobs import COMPLETED
from .reply import Reply, error
from .state import BULK, JOB, ME, OTHER, SINGLE, SandboxState
from .traffic import Traffic

JOB_PATH = "/v2/bulk/job/"
RESULTS_PREFIX = "/_sandbox/jobs/"
RESULTS_SUFFIX = "/results.jsonl"
WRITE_SCOPES = "attributes:write, subscriptions:write"
ROUTES: dict[str, Route] = {
    "/v2/user/attributes": Route(SINGLE, "POST", "rate_limit", WRITE_SCOPES),
    "/v2/bulk/user/attributes": Route(BULK, "POST", "bulk_rate_limit", WRITE_SCOPES),
    "/v2/me": Route(ME, "GET", "rate_limit", "any"),
}
JOB_ROUTE = Route(JOB, "GET", "job_rate_limit", WRITE_SCOPES)
UNKNOWN = Route(OTHER, None, "rate_limit", "any")
ME_BODY = orjson.dumps(
    {
        "applicationName": "target-attentive sandbox",
        "attentiveDomainName": "sandbox.attn.tv",
        "companyName": "Sandbox Company",
        "contactEmail": "sandbox@example.com",
        "companyId": "sandbox-company-0001",
    }
)


class V2Config(Protocol):
    """The fields of ``SandboxConfig`` read here, on every request (they change at run time)."""

    job_delay_seconds: float
    job_fail_rate: float
    job_fail_applies: float
    jobs_forgotten: bool
    bulk_omit_job_id: bool
    bulk_checks_in_job: bool


class V2Endpoints:
    """The v2 request bodies, apart from the app's dispatch and the gate's checks; the people,
    jobs and counts live in ``SandboxState``."""

    def __init__(self, state: SandboxState, config: V2Config, sources: frozenset[str]) -> None:
        self.state = state
        self.config = config
        self.sources = sources
        self.base_url = ""  # where results links point; set once the server is bound

    @property
    def traffic(self) -> Traffic:
        return self.state.traffic

    def route(self, path: str) -> tuple[Route, str]:
        """The route of a path, and the job id for a job read."""
        route = ROUTES.get(path)
        if route is not None:
            return route, ""
        if path.startswith(JOB_PATH) and path.count("/") == 4 and len(path) > len(JOB_PATH):
            return JOB_ROUTE, path[len(JOB_PATH) :]
        return UNKNOWN, ""

    def serve(self, endpoint: str, arg: str, body: bytes, path: str, t: float) -> Reply:
        """Answer an admitted request and count its answer."""
        if endpoint == SINGLE:
            return self._single(body, path, t)  # counts under the lock that applies it
        if endpoint == BULK:
            reply = self._bulk(body, path, t)
        elif endpoint == JOB:
            reply = self._job(arg, path)
        else:
            reply = Reply(200, ME_BODY)
        with self.state.lock:
            self.traffic.record_locked(endpoint, str(reply.status), t)
        return reply

    def _single(self, body: bytes, path: str, t: float) -> Reply:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            payload, problem = None, f"body: not valid JSON ({exc})"
        else:
            problem = rules.validate_user(payload, self.sources)
        state = self.state
        if problem:
            status, message = 400, problem
            with state.lock:
                state.traffic.record_locked(SINGLE, "400", t)
        else:
            line = dumps_line(payload)
            with state.lock:
                status, message, _ = state.apply_locked(payload, line, SINGLE, t)
                state.traffic.record_locked(SINGLE, str(status), t)
        if status != 202:
            return error(status, message, path)
        return Reply(202, b'{"success":true,"message":"User attributes accepted for processing"}')

    def _bulk(self, body: bytes, path: str, t: float) -> Reply:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return error(400, f"body: not valid JSON ({exc})", path)
        problem = rules.validate_bulk_envelope(payload)
        if problem:
            return error(400, problem, path)
        cfg = self.config
        for index, user in enumerate(() if cfg.bulk_checks_in_job else payload["users"]):
            problem = rules.validate_user(user, self.sources)
            if problem:  # the whole request is refused, naming the first bad person
                return error(400, f"users[{index}].{problem}", path)
        fail = False
        if cfg.job_fail_rate:
            with self.state.lock:
                fail = self.state.rng.random() < cfg.job_fail_rate
        job = self.state.create_job(
            payload["users"], t, cfg.job_delay_seconds, fail, cfg.job_fail_applies
        )
        if cfg.bulk_omit_job_id:
            return Reply(202, b'{"message":"Bulk job submitted"}')
        return Reply(202, orjson.dumps({"message": "Bulk job submitted", "batchJobId": job.id}))

    def _job(self, job_id: str, path: str) -> Reply:
        state = self.state
        with state.lock:
            job = state.jobs.get(job_id)
        if job is None or self.config.jobs_forgotten:
            return error(404, f"No bulk job {job_id}", path)
        now = time.time()
        if job.state != "done" and now >= job.due_at:
            state.run_job(job, self.sources)
        status = job.status_at(now)
        url = None
        if status == COMPLETED:
            url = f"{self.base_url}{RESULTS_PREFIX}{job.id}{RESULTS_SUFFIX}"
        body = {"bulkJobId": job.id, "status": status, "totalRecords": job.total, "url": url}
        return Reply(200, orjson.dumps(body))
