"""The sandbox enforces and records what the Attentive contract says, over real loopback HTTP.

Most tests share one sandbox process (reset and reconfigured before each test); the ones that
need different start-up options or the exit path start their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import requests

from target_attentive.sandbox import rules
from target_attentive.sandbox.process import SandboxError, SandboxProcess

SOURCES = ["src-1", "src-2"]
RUNTIME_DEFAULTS: dict[str, Any] = {
    "rate_limit": 150,
    "bulk_rate_limit": 100,
    "job_rate_limit": 100,
    "event_rate_limit": 150,
    "unsubscribe_rate_limit": 5,
    "retry_after": False,
    "latency_ms": 0,
    "fault_5xx_rate": 0,
    "fault_drop_rate": 0,
    "fault_slow_rate": 0,
    "slow_seconds": 30,
    "job_delay_seconds": 0.4,
    "job_fail_rate": 0,
    "job_fail_applies": 0,
    "fault_status": 0,
    "results_status_form": "number",
    "results_expired": False,
    "jobs_forgotten": False,
    "bulk_omit_job_id": False,
    "bulk_checks_in_job": False,
}
SINGLE = "/v2/user/attributes"
BULK = "/v2/bulk/user/attributes"


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxProcess]:
    with SandboxProcess(
        seed=7,
        enum_attributes={"Tier": ["gold", "silver"]},
        sign_up_source_ids=SOURCES,
        job_delay_seconds=0.4,
    ) as sb:
        yield sb


@pytest.fixture
def sb(shared: SandboxProcess) -> SandboxProcess:
    shared.reset()
    shared.configure(**RUNTIME_DEFAULTS)
    return shared


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def post(http: requests.Session, sb: SandboxProcess, path: str, body: Any, **kw: Any):
    return http.post(sb.url + path, json=body, headers=sb.auth_headers, **kw)


def person(email: str = "ann@example.com", **extra: Any) -> dict[str, Any]:
    return {"identifiers": {"email": email}, **extra}


# --------------------------------------------------------------------- auth and routing


def test_auth_and_routing(sb: SandboxProcess, http: requests.Session) -> None:
    body = person()
    assert http.post(sb.url + SINGLE, json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert http.post(sb.url + SINGLE, json=body, headers=wrong).status_code == 401
    forbidden = {"Authorization": f"Bearer {sb.forbidden_key}"}
    r = http.post(sb.url + SINGLE, json=body, headers=forbidden)
    assert r.status_code == 403
    error = r.json()
    assert set(error) == {"timestamp", "status", "error", "message", "path"}
    assert error["status"] == 403 and error["path"] == SINGLE
    assert http.get(sb.url + "/v2/nothing", headers=sb.auth_headers).status_code == 404
    assert http.get(sb.url + "/elsewhere").status_code == 404
    assert http.get(sb.url + "/v2/me").status_code == 401
    me = http.get(sb.url + "/v2/me", headers=sb.auth_headers)
    assert me.status_code == 200
    keys = {"applicationName", "attentiveDomainName", "companyName", "contactEmail", "companyId"}
    assert set(me.json()) == keys
    assert sb.report()["accepted"] == 0  # refused requests applied nothing


def test_keep_alive_and_content_length(sb: SandboxProcess) -> None:
    conn = HTTPConnection("127.0.0.1", sb.port, timeout=5)
    try:
        sockets = set()
        for path in ("/v2/me", "/v2/nothing", "/v2/me"):  # several requests, one connection
            conn.request("GET", path, headers=sb.auth_headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status in (200, 404)
            assert int(response.getheader("Content-Length")) == len(body)
            assert not response.will_close
            sockets.add(id(conn.sock))
        assert len(sockets) == 1
    finally:
        conn.close()


# --------------------------------------------------------------------- single upsert


def test_valid_upsert_is_accepted_and_recorded(sb: SandboxProcess, http: requests.Session) -> None:
    body = {
        "identifiers": {"email": "ann@example.com", "phone": "+19148440001"},
        "attributes": {
            "firstName": "Ann",
            "demographic": {"dateOfBirth": "1990-02-28", "age": 35},
            "location": {"city": "Boston", "latitude": "42.36"},
            "locale": {"language": "en", "country": "US"},
            "custom": {"Points": 12, "VIP": True},
        },
        "subscriptions": [{"signUpSourceId": "src-1", "channel": "TEXT", "singleOptIn": True}],
    }
    r = post(http, sb, SINGLE, body)
    assert r.status_code == 202, r.text
    assert r.json()["success"] is True
    accepted = sb.accepted()
    assert len(accepted) == 1
    assert accepted[0]["payload"] == body
    assert accepted[0]["endpoint"] == "single"
    report = sb.report()
    assert report["counts"] == {"202": 1}
    assert report["endpoints"]["single"]["busiest_second"]["accepted"] == 1
    assert report["custom_attributes"]["Points"]["type"] == "number"


INVALID: list[tuple[Any, str]] = [
    ([], "body"),
    ({"identifiers": {"email": "a@b.co"}, "extra": 1}, "extra"),
    ({"attributes": {"firstName": "A"}}, "identifiers"),
    ({"identifiers": {}}, "identifiers"),
    ({"identifiers": {"email": None}}, "identifiers.email"),
    ({"identifiers": {"phone": ""}}, "identifiers.phone"),
    ({"identifiers": {"phone": "19148440001"}}, "identifiers.phone"),
    ({"identifiers": {"phone": "+1---914---844---0001"}}, "identifiers.phone"),
    ({"identifiers": {"email": "not-an-email"}}, "identifiers.email"),
    ({"identifiers": {"clientUserId": "x" * 101}}, "identifiers.clientUserId"),
    ({"identifiers": {"shopifyId": 123}}, "identifiers.shopifyId"),
    ({"identifiers": {"Email": "a@b.co"}}, "identifiers.Email"),
    ({"identifiers": {"customIdentifiers": [{"key": "k"}]}}, "customIdentifiers[0].value"),
    ({"identifiers": {"customIdentifiers": [{"name": "k", "value": "v"}]}}, "[0].name"),
    ({"identifiers": {"customIdentifiers": [{"key": "k", "value": ""}]}}, "[0].value"),
    ({"identifiers": {"customIdentifiers": []}}, "identifiers.customIdentifiers"),
    (person(attributes={"firstName": 5}), "attributes.firstName"),
    (person(attributes={"nickname": "A"}), "attributes.nickname"),
    (person(attributes={"demographic": {"height": "1"}}), "attributes.demographic.height"),
    (person(attributes={"demographic": {"dateOfBirth": "11/08/2022"}}), "dateOfBirth"),
    (person(attributes={"demographic": {"dateOfBirth": "2023-02-30"}}), "dateOfBirth"),
    (person(attributes={"demographic": {"age": "29"}}), "attributes.demographic.age"),
    (person(attributes={"location": {"latitude": 40.1}}), "attributes.location.latitude"),
    (person(attributes={"locale": {"currency": "USD"}}), "attributes.locale.currency"),
    (person(attributes={"custom": {"tags": ["a"]}}), "attributes.custom.tags"),
    (person(attributes={"custom": {"meta": {"a": 1}}}), "attributes.custom.meta"),
    (person(subscriptions={"channel": "TEXT"}), "subscriptions"),
    (person(subscriptions=[{"channel": "TEXT"}]), "subscriptions[0].signUpSourceId"),
    (person(subscriptions=[{"signUpSourceId": "src-1", "channel": "SMS"}]), "[0].channel"),
    (
        person(subscriptions=[{"signUpSourceId": "src-1", "channel": "TEXT", "singleOptIn": 1}]),
        "subscriptions[0].singleOptIn",
    ),
    (
        person(subscriptions=[{"signUpSourceId": "src-1", "channel": "TEXT", "type": "M"}]),
        "subscriptions[0].type",
    ),
    (person(subscriptions=[{"signUpSourceId": "src-9", "channel": "TEXT"}]), "src-9"),
]


def test_each_rule_gives_400_naming_the_field(sb: SandboxProcess, http: requests.Session) -> None:
    for body, field in INVALID:
        r = post(http, sb, SINGLE, body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["message"], (body, r.json()["message"])
    raw = http.post(sb.url + SINGLE, data=b"{not json", headers=sb.auth_headers)
    assert raw.status_code == 400 and "body" in raw.json()["message"]
    report = sb.report()
    assert report["accepted"] == 0 and report["people"] == 0
    assert report["counts"] == {"400": len(INVALID) + 1}


def test_custom_attribute_cap_is_100_and_case_sensitive(
    sb: SandboxProcess, http: requests.Session
) -> None:
    many = {f"attr{i}": "x" for i in range(97)}
    assert post(http, sb, SINGLE, person(attributes={"custom": many})).status_code == 202
    # 97 + the predefined enum "Tier" = 98; two more fit, differing only by case.
    for name in ("Favorite color", "Favorite Color"):
        r = post(http, sb, SINGLE, person(attributes={"custom": {name: "blue"}}))
        assert r.status_code == 202, r.text
    assert sb.report()["custom_attribute_count"] == 100
    r = post(http, sb, SINGLE, person(attributes={"custom": {"attr0": "y", "one more": "z"}}))
    assert r.status_code == 400
    assert "one more" in r.json()["message"] and "100" in r.json()["message"]
    report = sb.report()
    assert report["custom_attribute_count"] == 100
    assert "one more" not in report["custom_attributes"]
    # Existing attributes keep working at the cap.
    r = post(http, sb, SINGLE, person(attributes={"custom": {"attr5": "new"}}))
    assert r.status_code == 202


@pytest.mark.parametrize(
    ("first", "ok", "bad", "stored"),
    [
        ("24", 30, "thirty", "number"),
        (True, False, "yes", "boolean"),
        ("2024-01-01T10:00:00Z", "2024-06-01", "soon", "date"),
        ("red", "42", 42, "string"),
    ],
)
def test_first_value_locks_the_type(
    sb: SandboxProcess, http: requests.Session, first: Any, ok: Any, bad: Any, stored: str
) -> None:
    assert (
        post(http, sb, SINGLE, person(attributes={"custom": {"Thing": first}})).status_code == 202
    )
    assert sb.report()["custom_attributes"]["Thing"]["type"] == stored
    assert post(http, sb, SINGLE, person(attributes={"custom": {"Thing": ok}})).status_code == 202
    r = post(http, sb, SINGLE, person(attributes={"custom": {"Thing": bad}}))
    assert r.status_code == 400
    message = r.json()["message"]
    assert "Thing" in message and stored in message
    assert rules.infer_custom_type(bad) in message


def test_enum_attribute_accepts_only_its_values(sb: SandboxProcess, http: requests.Session) -> None:
    assert (
        post(http, sb, SINGLE, person(attributes={"custom": {"Tier": "gold"}})).status_code == 202
    )
    r = post(http, sb, SINGLE, person(attributes={"custom": {"Tier": "bronze"}}))
    assert r.status_code == 400 and "Tier" in r.json()["message"]


# --------------------------------------------------------------------- limits and faults


def test_rate_limit_429_and_headers_everywhere(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(rate_limit=5)
    statuses = []
    remaining = []
    for i in range(20):
        r = post(http, sb, SINGLE, person(f"u{i}@example.com"))
        statuses.append(r.status_code)
        assert r.headers["x-ratelimit-limit"] == "5"
        remaining.append(int(r.headers["x-ratelimit-remaining"]))
        if r.status_code == 429:
            assert "Retry-After" not in r.headers
    assert statuses.count(429) >= 10  # 20 requests span at most two one-second windows
    assert statuses.count(202) <= 10
    assert remaining[0] == 4 and min(remaining) == 0
    assert sb.report()["counts"]["429"] == statuses.count(429)
    # Other answers carry the headers too.
    others = [
        http.get(sb.url + "/v2/me", headers=sb.auth_headers),
        http.get(sb.url + "/v2/me"),
        http.get(sb.url + "/v2/bulk/job/unknown", headers=sb.auth_headers),
        post(http, sb, BULK, {"users": []}),
    ]
    for r in others:
        assert "x-ratelimit-limit" in r.headers and "x-ratelimit-remaining" in r.headers
    assert [r.status_code for r in others] == [200, 401, 404, 400]


def test_retry_after_only_when_asked(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(rate_limit=1, retry_after=True)
    responses = [post(http, sb, SINGLE, person()) for _ in range(4)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert all(r.headers.get("Retry-After") == "1" for r in limited)


def test_5xx_fault_applies_nothing(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(fault_5xx_rate=1.0)
    codes = {post(http, sb, SINGLE, person()).status_code for _ in range(10)}
    assert codes <= {500, 502, 503} and codes
    assert post(http, sb, BULK, {"users": [person()]}).status_code in {500, 502, 503}
    report = sb.report()
    assert report["accepted"] == 0 and not report["jobs"]


def test_drop_fault_closes_without_applying(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(fault_drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(http, sb, SINGLE, person())
    with pytest.raises(requests.ConnectionError):
        post(http, sb, BULK, {"users": [person()]})
    report = sb.report()
    assert report["counts"] == {"dropped": 2}
    assert report["accepted"] == 0 and not report["jobs"]


def test_slow_fault_applies_then_times_out(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(fault_slow_rate=1.0, slow_seconds=1.5)
    with pytest.raises(requests.Timeout):
        post(http, sb, SINGLE, person(), timeout=0.4)
    accepted = sb.accepted()  # the client never saw an answer, yet it was applied
    assert [a["payload"] for a in accepted] == [person()]


def test_latency_delays_posts(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(latency_ms=200)
    start = time.monotonic()
    assert post(http, sb, SINGLE, person()).status_code == 202
    assert time.monotonic() - start >= 0.2


def test_control_config_rejects_bad_values(sb: SandboxProcess) -> None:
    for change in ({"bogus": 1}, {"fault_5xx_rate": 2}, {"rate_limit": 0}, {"api_key": "x"}):
        with pytest.raises(SandboxError):
            sb.configure(**change)


# --------------------------------------------------------------------- bulk jobs


def test_bulk_job_lifecycle(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(job_delay_seconds=1.0)
    users = [
        person("a@example.com"),
        person("z@example.com", attributes={"custom": {"Tier": "platinum"}}),
        person("b@example.com", attributes={"custom": {"Tier": "bronze"}}),
        person("c@example.com", subscriptions=[{"signUpSourceId": "src-1", "channel": "EMAIL"}]),
    ]
    created = time.monotonic()
    r = post(http, sb, BULK, {"users": users})
    assert r.status_code == 202, r.text
    job_id = r.json()["batchJobId"]

    def status() -> dict[str, Any]:
        answer = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers)
        assert answer.status_code == 200
        return answer.json()

    first = status()
    assert first == {"bulkJobId": job_id, "status": "PENDING", "totalRecords": 4, "url": None}
    assert sb.report()["people"] == 0  # nothing applied before completion
    seen = ["PENDING"]
    while seen[-1] != "COMPLETED" and time.monotonic() < created + 5:
        time.sleep(0.05)
        done = status()
        if done["status"] != seen[-1]:
            seen.append(done["status"])
            if done["status"] == "COMPLETED":
                assert time.monotonic() - created >= 1.0
            else:
                assert done["url"] is None
    assert seen == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    assert done["url"] == f"{sb.url}/_sandbox/jobs/{job_id}/results.jsonl"
    lines = requests.get(done["url"]).text.splitlines()  # no auth, like a pre-signed URL
    parsed = [json.loads(line) for line in lines]
    assert [p["request"] for p in parsed] == users
    assert [p["response"]["status"] for p in parsed] == [202, 400, 400, 202]
    assert "Tier" in parsed[1]["response"]["message"]  # stateful rules: checked in the job
    assert "Tier" in parsed[2]["response"]["message"]
    accepted = sb.accepted()
    assert [a["endpoint"] for a in accepted] == ["bulk", "bulk"]
    assert [a["payload"] for a in accepted] == [users[0], users[3]]
    report = sb.report()
    assert report["bulk_items_failed"] == 2
    assert report["jobs_by_status"] == {"COMPLETED": 1}
    unknown = http.get(f"{sb.url}/v2/bulk/job/no-such-job", headers=sb.auth_headers)
    assert unknown.status_code == 404


def test_bulk_jobs_complete_without_being_polled(
    sb: SandboxProcess, http: requests.Session
) -> None:
    sb.configure(job_delay_seconds=0.2)
    assert post(http, sb, BULK, {"users": [person()]}).status_code == 202
    time.sleep(0.8)
    (job,) = sb.report()["jobs"]
    created, completed = (
        datetime.fromisoformat(job[k].replace("Z", "+00:00"))
        for k in ("created_at", "completed_at")
    )
    assert (completed - created).total_seconds() < 0.6  # the background thread, not the report
    assert len(sb.accepted()) == 1


@pytest.mark.parametrize(
    "envelope",
    [{"users": {}}, {"users": []}, {"users": [person()] * 257}, {"people": [person()]}, []],
)
def test_bulk_envelope_errors(sb: SandboxProcess, http: requests.Session, envelope: Any) -> None:
    r = post(http, sb, BULK, envelope)
    assert r.status_code == 400
    assert sb.report()["jobs"] == []


def test_a_bulk_request_with_one_invalid_person_is_refused_whole(
    sb: SandboxProcess, http: requests.Session
) -> None:
    users = [person("a@example.com"), {"identifiers": {"phone": "914-844-0001"}}, person()]
    r = post(http, sb, BULK, {"users": users})
    assert r.status_code == 400
    assert r.json()["message"].startswith("users[1].identifiers.phone:")
    unknown = person(subscriptions=[{"signUpSourceId": "src-9", "channel": "TEXT"}])
    r = post(http, sb, BULK, {"users": [person("b@example.com"), unknown]})
    assert r.status_code == 400 and "users[1].subscriptions[0].signUpSourceId" in r.text
    assert sb.report()["jobs"] == []
    sb.configure(bulk_checks_in_job=True, job_delay_seconds=0)
    job_id = post(http, sb, BULK, {"users": users}).json()["batchJobId"]
    url = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).json()["url"]
    statuses = [json.loads(x)["response"]["status"] for x in requests.get(url).text.splitlines()]
    assert statuses == [202, 400, 202]


def test_failed_jobs_may_apply_some_first(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(job_fail_rate=1.0, job_fail_applies=0.5, job_delay_seconds=0)
    users = [person(f"p{i}@example.com") for i in range(4)]
    job_id = post(http, sb, BULK, {"users": users}).json()["batchJobId"]
    job = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).json()
    assert job["status"] == "FAILED" and job["url"] is None
    assert sorted(a["payload"]["identifiers"]["email"] for a in sb.accepted()) == [
        "p0@example.com",
        "p1@example.com",
    ]


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ("number", 202),
        ("text", "SUCCESS"),
        ("object", {"code": 202}),
        ("other_key", None),
    ],
)
def test_results_lines_in_other_forms(
    sb: SandboxProcess, http: requests.Session, form: str, status: Any
) -> None:
    sb.configure(job_delay_seconds=0, results_status_form=form)
    job_id = post(http, sb, BULK, {"users": [person()]}).json()["batchJobId"]
    url = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).json()["url"]
    (line,) = [json.loads(raw) for raw in requests.get(url).text.splitlines()]
    assert line["response"].get("status") == status
    if form == "other_key":
        assert line["response"]["code"] == 202


def test_expired_results_forgotten_jobs_and_missing_job_ids(
    sb: SandboxProcess, http: requests.Session
) -> None:
    sb.configure(job_delay_seconds=0, results_expired=True)
    job_id = post(http, sb, BULK, {"users": [person()]}).json()["batchJobId"]
    url = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).json()["url"]
    assert requests.get(url).status_code == 403
    sb.configure(results_expired=False, jobs_forgotten=True)
    assert http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).status_code == 404
    sb.configure(jobs_forgotten=False, bulk_omit_job_id=True)
    r = post(http, sb, BULK, {"users": [person("b@example.com")]})
    assert r.status_code == 202 and "batchJobId" not in r.json()
    assert len(sb.report()["jobs"]) == 2  # the job runs all the same


def test_fault_status_picks_the_injected_answer(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(fault_5xx_rate=1.0, fault_status=503)
    assert {post(http, sb, SINGLE, person()).status_code for _ in range(5)} == {503}
    with pytest.raises(SandboxError):
        sb.configure(fault_status=404)


def test_failed_jobs_apply_nothing(sb: SandboxProcess, http: requests.Session) -> None:
    sb.configure(job_fail_rate=1.0, job_delay_seconds=0.1)
    job_id = post(http, sb, BULK, {"users": [person()]}).json()["batchJobId"]
    time.sleep(0.2)
    job = http.get(f"{sb.url}/v2/bulk/job/{job_id}", headers=sb.auth_headers).json()
    assert job["status"] == "FAILED" and job["url"] is None
    assert sb.report()["accepted"] == 0


# --------------------------------------------------------------------- state


def test_duplicate_optins_are_counted(sb: SandboxProcess, http: requests.Session) -> None:
    text = {"signUpSourceId": "src-1", "channel": "TEXT"}
    for _ in range(3):
        assert post(http, sb, SINGLE, person(subscriptions=[text])).status_code == 202
    other = [{"signUpSourceId": "src-1", "channel": "EMAIL"}, {**text, "signUpSourceId": "src-2"}]
    assert post(http, sb, SINGLE, person(subscriptions=other)).status_code == 202
    assert (
        post(http, sb, SINGLE, person("bob@example.com", subscriptions=[text])).status_code == 202
    )
    report = sb.report()
    assert report["duplicate_optins"] == 2
    counts = sorted(o["count"] for o in report["optins"])
    assert counts == [1, 1, 1, 3]


def test_people_resolve_by_any_identifier(sb: SandboxProcess, http: requests.Session) -> None:
    def upsert(identifiers: dict[str, Any], **attributes: Any) -> None:
        body: dict[str, Any] = {"identifiers": identifiers}
        if attributes:
            body["attributes"] = attributes
        assert post(http, sb, SINGLE, body).status_code == 202

    upsert({"email": "ann@example.com"}, firstName="Ann", location={"city": "Boston"})
    upsert({"email": "ANN@example.com", "phone": "+19148440001"}, lastName="Lee")
    upsert({"phone": "+19148440001"}, location={"zip": "02134"}, custom={"Points": 3})
    upsert({"clientUserId": "c-2"}, firstName="Bob")
    upsert({"customIdentifiers": [{"key": "loyalty", "value": "L1"}], "shopifyId": "s-1"})
    upsert({"customIdentifiers": [{"key": "loyalty", "value": "L1"}], "klaviyoId": "k-1"})
    people = {p["id"]: p for p in sb.people()}
    assert len(people) == 3
    ann = next(p for p in people.values() if p["identifiers"].get("email"))
    assert ann["identifiers"]["phone"] == "+19148440001"
    assert ann["attributes"] == {
        "firstName": "Ann",
        "lastName": "Lee",
        "location": {"city": "Boston", "zip": "02134"},
        "custom": {"Points": 3},
    }
    loyal = next(p for p in people.values() if "customIdentifiers" in p["identifiers"])
    assert loyal["identifiers"]["shopifyId"] == "s-1" and loyal["identifiers"]["klaviyoId"] == "k-1"
    # One payload naming two known people merges them, as Attentive does.
    upsert({"email": "ann@example.com", "clientUserId": "c-2"})
    report = sb.report()
    assert report["people"] == 2 and report["merged_people"] == 1
    accepted_people = {a["person"] for a in sb.accepted()}
    assert len(accepted_people) == 3  # ids at arrival time are kept in the log


def test_reset_forgets_everything(sb: SandboxProcess, http: requests.Session) -> None:
    post(http, sb, SINGLE, person(attributes={"custom": {"Color": "red"}}))
    sb.reset()
    report = sb.report()
    assert report["people"] == 0 and report["accepted"] == 0 and report["counts"] == {}
    assert set(report["custom_attributes"]) == {"Tier"}


# --------------------------------------------------------------------- process lifecycle


def test_record_file_written_on_sigterm() -> None:
    sandbox = SandboxProcess(job_delay_seconds=0.1)
    with sandbox, requests.Session() as http:
        assert post(http, sandbox, SINGLE, person()).status_code == 202
        assert post(http, sandbox, BULK, {"users": [person("b@example.com")]}).status_code == 202
        time.sleep(0.3)
    assert sandbox.returncode == 0
    record = sandbox.record()
    assert record["report"]["accepted"] == 2
    assert [a["payload"] for a in record["accepted"]] == [person(), person("b@example.com")]
    assert "sandbox listening on http://127.0.0.1:" in sandbox.log()
    sandbox.close()


def test_refuses_non_loopback_host() -> None:
    cmd = [sys.executable, "-m", "target_attentive.sandbox.server", "--host", "8.8.8.8"]
    root = Path(rules.__file__).resolve().parents[2]  # works wherever pytest is started
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=root)
    assert result.returncode == 2
    assert "non-loopback" in result.stderr


def test_rules_type_inference() -> None:
    assert rules.infer_custom_type("24") == "number"
    assert rules.infer_custom_type(2.5) == "number"
    assert rules.infer_custom_type(False) == "boolean"
    assert rules.infer_custom_type("2024-01-01") == "date"
    assert rules.infer_custom_type("2024-01-01T10:00:00+02:00") == "date"
    assert rules.infer_custom_type("2024-13-01") == "string"
    assert rules.infer_custom_type("nan") == "string"
