"""Bulk jobs: follow them to the end and set aside the people Attentive refused.

A bulk request answers 202 before Attentive has looked at the people in it; each person
is validated later, inside the job, and the job's results file (`url`, JSON lines of each
request with its response) is where a refusal shows. Reconciling reads that file, writes
every refused person to the rejects file with Attentive's reason, and drops them from
the ledger so a later run sends them again once the data is fixed.

The results file lives at a pre-signed address on another host: it is fetched without
the API key, and its address is kept out of the logs (`AttentiveClient.download`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from target_attentive.client import AttentiveClient
from target_attentive.keys import optin_key, person_key
from target_attentive.rejects import RejectsFile

FINISHED = ("COMPLETED", "FAILED")
POLL_SECONDS = 2.0


@dataclass
class Reconciled:
    jobs_finished: int = 0
    jobs_pending: int = 0
    people_refused: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)


def refused_people(lines: Iterable[bytes]) -> list[tuple[dict, int | None, str]]:
    """(request, status, message) of each person the job did not accept (pure).

    The line format is read defensively: `{"request": ..., "response": {"status" or
    "statusCode", "message" or "body"}}`.
    """
    refused = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        response = line.get("response") or {}
        status = response.get("status", response.get("statusCode"))
        try:
            status = int(status) if status is not None else None
        except (TypeError, ValueError):
            status = None
        if status is not None and 200 <= status < 300:
            continue
        message = response.get("message") or response.get("body") or "no reason given"
        if not isinstance(message, str):
            message = orjson.dumps(message).decode()
        refused.append((line.get("request") or {}, status, message))
    return refused


def reconcile(
    ledger: Any,
    client: AttentiveClient,
    rejects: RejectsFile,
    logger: logging.Logger,
    *,
    job_ids: set[str] | None = None,
    wait_seconds: float = 0.0,
) -> Reconciled:
    """Poll unfinished jobs (those of `job_ids`, or all) until done or out of time."""
    deadline = time.monotonic() + wait_seconds
    result = Reconciled()
    pending = [j for j in ledger.unfinished_jobs() if job_ids is None or j["job_id"] in job_ids]
    while pending:
        still = []
        for job in pending:
            answer = client.get(f"/v2/bulk/job/{job['job_id']}")
            body = answer.body if isinstance(answer.body, dict) else {}
            status = str(body.get("status") or "UNKNOWN")
            if status not in FINISHED or not answer.accepted:
                still.append(job)
                continue
            refused = []
            if status == "FAILED" and not body.get("url"):
                refused = [
                    ({"identifiers": _identifiers_of(key)}, None, "the whole bulk job failed")
                    for key, _digest in ledger.job_people(job["job_id"])
                ]
            elif body.get("url"):
                content = client.download(body["url"])
                refused = refused_people(content.splitlines())
            _settle(ledger, rejects, job, status, refused)
            result.jobs_finished += 1
            result.people_refused += len(refused)
            result.by_stream[job["stream"]] = result.by_stream.get(job["stream"], 0) + len(refused)
            logger.info(
                "Bulk job %s %s: %d people refused by Attentive",
                job["job_id"],
                status,
                len(refused),
            )
        pending = still
        if pending and time.monotonic() + POLL_SECONDS <= deadline:
            time.sleep(POLL_SECONDS)
        else:
            break
    result.jobs_pending = len(pending)
    return result


def _identifiers_of(key: str) -> dict:
    """Identifiers back from a person key (`email:ann@example.com`)."""
    name, _, value = key.partition(":")
    if name == "custom":
        custom_key, _, custom_value = value.partition("=")
        return {"customIdentifiers": [{"key": custom_key, "value": custom_value}]}
    return {name: value}


def _settle(
    ledger: Any,
    rejects: RejectsFile,
    job: dict,
    status: str,
    refused: list[tuple[dict, int | None, str]],
) -> None:
    failed_keys = []
    released = []
    for request, http_status, message in refused:
        identifiers = request.get("identifiers") or {}
        try:
            key = person_key(identifiers)
        except (ValueError, KeyError, TypeError):
            key = None
        if key:
            failed_keys.append(key)
            for sub in request.get("subscriptions") or ():
                released.append(
                    (optin_key(request, sub["channel"]), sub["channel"], sub["signUpSourceId"])
                )
        rejects.add(
            stream=job["stream"],
            position=None,
            record=None,
            payload=request,
            reason=f"Attentive refused it in bulk job {job['job_id']}: {message}",
            reason_key="Attentive refused it in a bulk job",
            status=http_status,
            api_message=message,
            attempts=1,
        )
    rejects.make_durable()
    if released:
        ledger.release_optins(released)
    ledger.finish_job(job["job_id"], status, failed_keys)
