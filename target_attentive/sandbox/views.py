"""What the sandbox shows of its state: the accepted log, the people, and the report.

Read by the control endpoints and the tests (app.py); each view is taken under the state's
lock, so it is consistent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from .encoding import iso
from .endpoints import BULK, SINGLE

if TYPE_CHECKING:
    from .state import SandboxState


def accepted_lines(state: SandboxState, offset: int = 0) -> bytes:
    """The accepted log from `offset` on: one JSON line per accepted payload."""
    with state.lock:
        rows = state.accepted[offset:]
    out = bytearray()
    for t, pid, endpoint, line in rows:
        out += b'{"t":%.6f,"person":%d,"endpoint":"%s","payload":' % (
            t,
            pid,
            endpoint.encode(),
        )
        out += line
        out += b"}\n"
    return bytes(out)


def people_json(state: SandboxState) -> list[dict[str, Any]]:
    """Everyone the sandbox knows, with their opt-ins."""
    with state.lock:
        subs: dict[int, list[dict[str, Any]]] = {}
        for (pid, channel, source), count in state.optins.items():
            subs.setdefault(pid, []).append(
                {
                    "channel": channel,
                    "signUpSourceId": source,
                    "singleOptIn": state.optin_first.get((pid, channel, source), False),
                    "arrivals": count,
                }
            )
        people = []
        for person in state.directory.people.values():
            identifiers: dict[str, Any] = dict(person.identifiers)
            if person.custom_identifiers:
                identifiers["customIdentifiers"] = [
                    {"key": k, "value": v} for k, v in person.custom_identifiers.items()
                ]
            people.append(
                {
                    "id": person.id,
                    "identifiers": identifiers,
                    "attributes": orjson.loads(orjson.dumps(person.attributes)),
                    "subscriptions": subs.get(person.id, []),
                    "upserts": person.upserts,
                    "created_at": iso(person.created_at),
                    "updated_at": iso(person.updated_at),
                }
            )
    return people


def report(state: SandboxState, now: float | None = None) -> dict[str, Any]:
    """Traffic, people, opt-ins, custom attributes and jobs, as counts and lists."""
    now = time.time() if now is None else now
    with state.lock:
        by_status: dict[str, int] = {}
        jobs = []
        for job in state.jobs.values():
            status = job.status_at(now)
            by_status[status] = by_status.get(status, 0) + 1
            failed = sum(1 for s, _ in job.outcomes if s != 202)
            jobs.append(
                {
                    "bulkJobId": job.id,
                    "status": status,
                    "totalRecords": job.total,
                    "applied": len(job.outcomes) - failed,
                    "failed": failed,
                    "created_at": iso(job.created_at),
                    "completed_at": iso(job.completed_at),
                }
            )
        accepted_by: dict[str, int] = {SINGLE: 0, BULK: 0}
        for row in state.accepted:
            accepted_by[row[2]] += 1
        return {
            "started_at": iso(state.started_at),
            "now": iso(now),
            **state.traffic.as_json(),
            "people": len(state.directory.people),
            "merged_people": state.directory.merged_people,
            "accepted": len(state.accepted),
            "accepted_by_endpoint": accepted_by,
            "bulk_items_failed": state.items_failed,
            "duplicate_optins": state.duplicate_optins,
            "optins": [
                {"person": pid, "channel": ch, "signUpSourceId": src, "count": n}
                for (pid, ch, src), n in state.optins.items()
            ],
            "custom_attributes": {
                name: {
                    "type": entry["type"],
                    "values": entry["values"],
                    "created_at": iso(entry["created_at"]),
                }
                for name, entry in state.registry.items()
            },
            "custom_attribute_count": len(state.registry),
            "max_custom_attributes": state.max_custom_attributes,
            "jobs_by_status": by_status,
            "jobs": jobs,
        }
