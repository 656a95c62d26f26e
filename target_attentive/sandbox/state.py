"""What the sandbox remembers: people, custom attributes, opt-ins, jobs and traffic counts.

One lock guards everything; every method that ends in ``_locked`` expects the caller to hold it.
Payloads are kept as compact JSON bytes (one line each), not as dicts, so that a long benchmark
does not exhaust memory and the accepted log and job results can be streamed by concatenation.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from . import rules, views
from .encoding import dumps_line
from .endpoints import BULK, ENDPOINTS, JOB, ME, OTHER, SINGLE
from .jobs import COMPLETED, FAILED, Job, results_lines
from .people import Directory, merge_attributes
from .traffic import Traffic

# Names other modules import from here, some of them defined elsewhere.
__all__ = ["BULK", "ENDPOINTS", "JOB", "ME", "OTHER", "SINGLE", "SandboxState"]


class SandboxState:
    """All sandbox state plus the thread-safe operations the HTTP layer needs."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        enum_attributes: dict[str, list[str]] | None = None,
        max_custom_attributes: int = rules.MAX_CUSTOM_ATTRIBUTES,
    ) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.enum_attributes = {k: list(v) for k, v in (enum_attributes or {}).items()}
        self.max_custom_attributes = max_custom_attributes
        self.generation = 0
        self.job_wakeup = threading.Event()
        # Told of each opt-in as it is applied (lock held): the person's identifiers, channel.
        self.optin_listener: Callable[[dict[str, str], str], None] | None = None
        self._reset_locked()

    # ----------------------------------------------------------------- bookkeeping

    def _reset_locked(self) -> None:
        now = time.time()
        self.started_at = now
        self.generation += 1
        self.directory = Directory()
        self.registry: dict[str, dict[str, Any]] = {
            name: {"type": rules.ENUM, "values": list(values), "created_at": now}
            for name, values in self.enum_attributes.items()
        }
        self.optins: dict[tuple[int, str, str], int] = {}
        self.optin_first: dict[tuple[int, str, str], bool] = {}
        self.duplicate_optins = 0
        # (t, person id, endpoint, payload json)
        self.accepted: list[tuple[float, int, str, bytes]] = []
        self.items_failed = 0
        self.traffic = Traffic(ENDPOINTS)
        self.jobs: dict[str, Job] = {}
        self.job_heap: list[tuple[float, str]] = []
        self.running: dict[str, Job] = {}

    def reset(self) -> None:
        """Forget everything (enum attributes given at start are defined again)."""
        with self.lock:
            self._reset_locked()

    # ----------------------------------------------------------------- people

    def apply_locked(
        self, payload: dict[str, Any], line: bytes, endpoint: str, t: float
    ) -> tuple[int, str, int | None]:
        """Apply a payload that passed :func:`rules.validate_user`; (status, message, person)."""
        attributes = payload.get("attributes") or {}
        custom = attributes.get("custom")
        if custom:
            error, new = rules.plan_custom_attributes(
                custom, self.registry, self.max_custom_attributes
            )
            if error:
                return 400, error, None
            for name, kind in new.items():
                self.registry[name] = {"type": kind, "values": None, "created_at": t}
        person, merged = self.directory.resolve(payload["identifiers"], t)
        for other_id in merged:
            self._move_optins_locked(other_id, person.id)
        person.upserts += 1
        person.updated_at = t
        if attributes:
            merge_attributes(person.attributes, attributes)
        for sub in payload.get("subscriptions") or ():
            key = (person.id, sub["channel"], sub["signUpSourceId"])
            count = self.optins.get(key, 0)
            if count:
                self.duplicate_optins += 1
            else:
                self.optin_first[key] = bool(sub.get("singleOptIn", False))
            self.optins[key] = count + 1
            if self.optin_listener is not None:
                self.optin_listener(person.identifiers, sub["channel"])
        self.accepted.append((t, person.id, endpoint, line))
        return 202, "User attributes accepted", person.id

    def _move_optins_locked(self, old_id: int, new_id: int) -> None:
        """A merged person's opt-ins become the surviving person's."""
        for key in [k for k in self.optins if k[0] == old_id]:
            count = self.optins.pop(key)
            first = self.optin_first.pop(key, False)
            new_key = (new_id, key[1], key[2])
            if new_key not in self.optins:
                self.optin_first[new_key] = first
            self.optins[new_key] = self.optins.get(new_key, 0) + count

    # ----------------------------------------------------------------- jobs

    def create_job(
        self,
        users: list[Any],
        t: float,
        delay: float,
        fail: bool = False,
        fail_applies: float = 0.0,
    ) -> Job:
        job = Job(
            id=str(uuid.uuid4()),
            created_at=t,
            due_at=t + max(0.0, delay),
            users=users,
            total=len(users),
            generation=self.generation,
            fail=fail,
            fail_applies=fail_applies,
        )
        with self.lock:
            job.generation = self.generation
            self.jobs[job.id] = job
            heapq.heappush(self.job_heap, (job.due_at, job.id))
        self.job_wakeup.set()
        return job

    def _pop_due_locked(self, now: float) -> Job | None:
        """One job whose delay has passed; popped one at a time so that the jobs not yet
        started stay visible to other threads, which can then complete them too."""
        while self.job_heap and self.job_heap[0][0] <= now:
            _, job_id = heapq.heappop(self.job_heap)
            job = self.jobs.get(job_id)
            if job is not None and job.state == "waiting":
                return job
        return None

    def next_due(self) -> float | None:
        with self.lock:
            return self.job_heap[0][0] if self.job_heap else None

    def run_job(self, job: Job, sign_up_sources: Iterable[str] = ()) -> None:
        """Validate and apply a job's items; if another thread is at it, wait until it is done.

        Either way the job is final when this returns, so a reader never sees a job that is
        past its delay but not finished.
        """
        with self.lock:
            mine = job.state == "waiting"
            if mine:
                job.state = "processing"
                self.running[job.id] = job
                users = job.users or []
        if not mine:
            job.done.wait()  # already set when the job is done
            return
        sources = frozenset(sign_up_sources)
        lines = [dumps_line(user) for user in users]
        errors = [rules.validate_user(user, sources) for user in users]
        with self.lock:
            now = time.time()
            if job.generation == self.generation:
                if job.fail:  # what it applied before failing is not told
                    applied = int(len(users) * job.fail_applies)
                    for user, line, error in list(zip(users, lines, errors, strict=True))[:applied]:
                        if error is None:
                            self.apply_locked(user, line, BULK, now)
                    job.outcomes = []
                    job.status = FAILED
                else:
                    outcomes = []
                    for user, line, error in zip(users, lines, errors, strict=True):
                        if error is None:
                            status, message, _ = self.apply_locked(user, line, BULK, now)
                        else:
                            status, message = 400, error
                        if status != 202:
                            self.items_failed += 1
                        outcomes.append((status, message))
                    job.outcomes = outcomes
                    job.status = COMPLETED
                job.items = lines
            job.users = None
            job.completed_at = now
            job.state = "done"
            self.running.pop(job.id, None)
        job.done.set()

    def run_due_jobs(self, sign_up_sources: Iterable[str] = (), wait: bool = True) -> int:
        """Complete every job whose delay has passed; with ``wait``, also wait for the ones other
        threads are completing, so that a report taken afterwards includes them all."""
        now = time.time()
        count = 0
        while True:
            with self.lock:
                job = self._pop_due_locked(now)
            if job is None:
                break
            self.run_job(job, sign_up_sources)
            count += 1
        if wait:
            with self.lock:
                running = list(self.running.values())
            for job in running:
                job.done.wait()
        return count

    def job_results(self, job_id: str, form: str = "number") -> bytes | None:
        """The results file of a finished job: one line per user, in submission order."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.state != "done" or job.status != COMPLETED:
                return None
            items, outcomes = job.items, job.outcomes
        return results_lines(items, outcomes, form)

    # ----------------------------------------------------------------- views (views.py)

    def accepted_lines(self, offset: int = 0) -> bytes:
        return views.accepted_lines(self, offset)

    def people_json(self) -> list[dict[str, Any]]:
        return views.people_json(self)

    def report(self, now: float | None = None) -> dict[str, Any]:
        return views.report(self, now)
