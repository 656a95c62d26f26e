"""Benchmarks of target-attentive, every figure a ratio against a baseline from the same run.

    python bench/run.py [--quick] [--only NAME ...] [--json OUT] [--keep]

The machine is small (2 cores) and shared, so an absolute records/s means little from one
run to the next; what is compared is always measured minutes apart, in the same run, on the
same input. Parts (NAME or letter):

  a single    single mode at the sandbox's 150/s limit with 40 ms latency: fraction of the
              limit used and share of requests answered 429
  b baseline  a naive one-POST-at-a-time singer-sdk sink on the same input and sandbox; the
              target's speed-up over it
  c dryrun    the dry-run path's records/s against a do-nothing singer-sdk target (the SDK's
              floor), best of 3 interleaved runs each
  d memory    peak RSS of a 1,000,000-record dry run fed through a pipe
  e ledger    dry-run records/s with the ledger against without it (shares c's runs)
  f bulk      bulk mode's people/s against the sandbox beside the dry run's, same input

Every child process is bounded in time; the sandbox always runs in its own process. Progress
goes to stderr, the table to stdout. See bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

import conditions
import people

log = logging.getLogger("bench")

BENCH = Path(__file__).resolve().parent
TARGET = [sys.executable, "-m", "target_attentive.target"]
FLOOR = [sys.executable, str(BENCH / "floor_target.py")]
NAIVE = [sys.executable, str(BENCH / "naive_target.py")]
PRODUCER = [sys.executable, str(BENCH / "people.py")]

SINGLE_LIMIT = 150  # requests/s of POST /v2/user/attributes (sandbox rate_limit)
BULK_LIMIT = 100  # requests/s of POST /v2/bulk/user/attributes (sandbox bulk_rate_limit)
LATENCY_MS = 40
GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL of a child past its time

PARTS = {
    "a": "single",
    "b": "baseline",
    "c": "dryrun",
    "d": "memory",
    "e": "ledger",
    "f": "bulk",
    "g": "hung",
    "h": "hungfail",
    "i": "account20",
}


@dataclass(frozen=True)
class Sizes:
    """How much each part does; --quick scales everything down to stay under ~3 minutes."""

    single: int  # people sent in single mode (>= 40 s at 150/s in a full run)
    baseline_seconds: float  # how long the naive sink runs (its rate is steady after 1 s)
    dryrun: int  # records per dry-run comparison run
    rounds: int  # interleaved runs per variant in c and e (best of each kept)
    bulk_rounds: int  # interleaved runs per variant in f
    memory: int  # records of the piped dry run
    bulk: int  # people sent in bulk mode
    conditions: int  # people sent in each of g and h
    account: int  # people sent into the 20/s account (i)
    memory_small: int  # records of the smaller piped dry run, for the memory profile


FULL = Sizes(
    single=6100,
    baseline_seconds=30,
    dryrun=200_000,
    rounds=3,
    memory=1_000_000,
    bulk=100_000,
    bulk_rounds=3,
    conditions=10_000,
    account=1_200,
    memory_small=100_000,
)
QUICK = Sizes(
    single=1500,
    baseline_seconds=10,
    dryrun=40_000,
    rounds=3,
    memory=100_000,
    bulk=20_000,
    bulk_rounds=3,
    conditions=1_500,
    account=300,
    memory_small=20_000,
)


# --------------------------------------------------------------------- child processes


@dataclass
class Child:
    """One finished child process, with what the kernel measured for it alone (wait4)."""

    name: str
    returncode: int
    wall: float  # seconds from spawn to exit
    cpu: float  # user + system seconds
    maxrss_mb: float
    timed_out: bool
    log_path: Path

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def summary(self) -> dict[str, Any] | None:
        """The target's end-of-run `METRIC: {"type": "summary", ...}` line, if it printed one."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return None
        for line in reversed(text.splitlines()):
            if '"type": "summary"' in line and "METRIC: " in line:
                try:
                    return json.loads(line.split("METRIC: ", 1)[1])["value"]
                except (ValueError, KeyError):
                    return None
        return None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """One line saying how it ended, with the last error-looking stderr line."""
        how = f"timed out after {self.wall:.0f} s" if self.timed_out else f"exit {self.returncode}"
        tail = [ln for ln in self.stderr_tail(40).splitlines() if ln.strip()]
        errors = [ln for ln in tail if "Error" in ln or "error" in ln or "CRITICAL" in ln]
        last = (errors or tail or ["(no stderr)"])[-1].rsplit(" | ", 1)[-1].strip()
        return f"{self.name}: {how}: {last[:300]}"


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def run_child(
    name: str,
    argv: list[str],
    *,
    log_path: Path,
    timeout: float,
    cwd: Path,
    stdin: Any = subprocess.DEVNULL,
    hard_stop: bool = False,
) -> Child:
    """Run one child in its own session, reaped with wait4 for its own CPU time and max RSS.

    Past `timeout` the child's process group gets SIGTERM, then SIGKILL after a grace period
    (`hard_stop`: SIGKILL at once, for runs stopped on purpose when their time is up).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ATTENTIVE_")}
    with open(log_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    deadline = start + timeout
    kill_at: float | None = None
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if kill_at is None and now > deadline:
                kill_at = now if hard_stop else now + GRACE_SECONDS
                if not hard_stop:
                    log.warning("%s: past its %.0f s, sending SIGTERM", name, timeout)
                    _kill_group(proc.pid, signal.SIGTERM)
            if kill_at is not None and now >= kill_at:
                _kill_group(proc.pid, signal.SIGKILL)
                kill_at = float("inf")
            time.sleep(0.01)
    except BaseException:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(
        name=name,
        returncode=proc.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        timed_out=kill_at is not None,
        log_path=log_path,
    )


# --------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the table: a figure, the goal it is held to (if any) and whether it meets it."""

    part: str
    label: str
    value: str
    goal: str = ""
    ok: bool | None = None


@dataclass
class Part:
    """What one part measured: table rows, raw figures for --json, or why it has none."""

    name: str
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | failed | not available
    note: str = ""
    seconds: float = 0.0

    def add(self, label: str, value: str, goal: str = "", ok: bool | None = None) -> None:
        self.rows.append(Row(self.name, label, value, goal, ok))


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def rate(x: float) -> str:
    return f"{x:,.0f}/s" if x >= 100 else f"{x:,.1f}/s"


def parse_iso(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------- the run


class Bench:
    """Inputs, configs and child runs shared by the parts of one benchmark run."""

    def __init__(self, sizes: Sizes, workdir: Path) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.inputs: dict[int, Path] = {}
        self.results: dict[str, Part] = {}
        self.dry_runs: dict[str, list[Measured]] = {}  # c and e share these
        self.bulk_runs: dict[str, list[Measured]] = {}  # f and e share these
        self._seq = 0

    def input(self, count: int) -> Path:
        """The first `count` benchmark people as a Singer file (written once per size)."""
        if count not in self.inputs:
            path = self.workdir / f"people-{count}.singer"
            started = time.perf_counter()
            with open(path, "wb") as handle:
                people.write(handle, count)
            log.info("input: %d records in %s (%.1f s)", count, path, time.perf_counter() - started)
            self.inputs[count] = path
        return self.inputs[count]

    def scratch(self, name: str) -> Path:
        """A fresh directory for one child: its config, ledger, dry-run and rejects files."""
        self._seq += 1
        path = self.workdir / f"{self._seq:02d}-{name}"
        path.mkdir()
        return path

    def target_config(self, where: Path, **settings: Any) -> dict[str, Any]:
        """The target's settings for the benchmark people: a fresh ledger, files in `where`."""
        return {
            "mapping": people.MAPPING,
            "rejects_path": str(where / "rejects.jsonl"),
            "dry_run_path": str(where / "dry_run.jsonl"),
            "ledger_url": f"sqlite:///{where / 'ledger.db'}",
            **settings,
        }

    def run(
        self,
        name: str,
        command: list[str],
        config: Callable[[Path], dict[str, Any]],
        *,
        input_path: Path | None,
        timeout: float,
        stdin: Any = subprocess.DEVNULL,
        hard_stop: bool = False,
        keep_files: bool = False,
    ) -> Child:
        """Run a Singer target on an input file (or `stdin`); its output files are deleted.

        `config` makes the settings from the child's own fresh directory.
        """
        where = self.scratch(name.replace(" ", "-").replace("#", "").replace(":", ""))
        config_path = where / "config.json"
        config_path.write_text(json.dumps(config(where)))
        argv = [*command, "--config", str(config_path)]
        if input_path is not None:
            argv += ["--input", str(input_path)]
        log.info("%s: running (at most %.0f s)", name, timeout)
        child = run_child(
            name,
            argv,
            log_path=where / "stderr.log",
            timeout=timeout,
            cwd=where,
            stdin=stdin,
            hard_stop=hard_stop,
        )
        log.info(
            "%s: exit %d after %.1f s wall, %.1f s CPU, max RSS %.0f MB",
            name,
            child.returncode,
            child.wall,
            child.cpu,
            child.maxrss_mb,
        )
        if not keep_files:
            for leftover in ("dry_run.jsonl", "rejects.jsonl", "ledger.db"):
                (where / leftover).unlink(missing_ok=True)
        return child


def _sandbox(**options: Any) -> Any:
    """The sandbox in its own process (imported late: it is code other people are changing)."""
    from target_attentive.sandbox.process import SandboxProcess

    return SandboxProcess(**options)


def _span(report: dict[str, Any], endpoint: str, accepted: list[dict] | None = None) -> float:
    """Sending seconds: from the sandbox's first to its last request.

    The report's times cover every endpoint; when others were called too (a key check,
    job polls), the accepted payloads' own arrival times of `endpoint` are used instead.
    """
    others = sum(
        stats["requests"]
        for name, stats in report["endpoints"].items()
        if name != endpoint and name != "other"
    )
    if others and accepted:
        times = [row["t"] for row in accepted if row["endpoint"] == endpoint]
        return max(times) - min(times) if len(times) > 1 else 0.0
    first = parse_iso(report.get("first_request_at"))
    last = parse_iso(report.get("last_request_at"))
    return (last - first) if first is not None and last is not None else 0.0


# --------------------------------------------------------------------- a: single mode


def part_single(bench: Bench, part: Part) -> None:
    """The target against the 150/s limit: how much of it is used, and how often it overshoots."""
    count = bench.sizes.single
    path = bench.input(count)
    with _sandbox(latency_ms=LATENCY_MS, rate_limit=SINGLE_LIMIT) as sb:
        child = bench.run(
            "single",
            TARGET,
            lambda where: bench.target_config(
                where, api_key=sb.api_key, api_url=sb.url, mode="single"
            ),
            input_path=path,
            timeout=count / SINGLE_LIMIT * 2 + 60,
        )
        report = sb.report()
        accepted_rows = sb.accepted()
    summary = child.summary() or {}
    if not child.ok:
        part.status, part.note = "failed", child.failure()
        return
    stats = report["endpoints"]["single"]
    requests = stats["requests"]
    accepted = stats["counts"].get("202", 0)
    throttled = stats["counts"].get("429", 0)
    span = _span(report, "single", accepted_rows)
    fraction = accepted / (SINGLE_LIMIT * span) if span else 0.0
    share = throttled / requests if requests else 0.0
    per_second = accepted / span if span else 0.0
    part.figures = {
        "records": count,
        "sandbox_requests": requests,
        "sandbox_counts": stats["counts"],
        "sandbox_accepted": accepted,
        "target_accepted": summary.get("accepted"),
        "target_rejected": summary.get("rejected"),
        "target_unsettled": summary.get("unsettled"),
        "sending_seconds": round(span, 3),
        "accepted_per_second": round(per_second, 2),
        "fraction_of_limit": round(fraction, 4),
        "share_429": round(share, 5),
        "busiest_second_requests": stats["busiest_second"]["requests"],
        "wall_seconds": round(child.wall, 2),
        "cpu_seconds": round(child.cpu, 2),
    }
    part.add("people sent (accepted by sandbox)", f"{accepted:,} in {span:.1f} s sending")
    part.add("accepted requests/s", rate(per_second))
    part.add(f"fraction of the {SINGLE_LIMIT}/s limit", pct(fraction), ">= 95%", fraction >= 0.95)
    part.add(
        "429 share of requests",
        f"{100 * share:.2f}% ({throttled}/{requests})",
        "< 1%",
        share < 0.01,
    )
    part.add("busiest second (requests)", str(stats["busiest_second"]["requests"]))
    if summary.get("accepted") != accepted:
        part.add(
            "target's count matches the sandbox's",
            f"no: target {summary.get('accepted')}, sandbox {accepted}",
            "equal",
            False,
        )


# --------------------------------------------------------------------- b: naive baseline


def part_baseline(bench: Bench, part: Part) -> None:
    """A naive sink on the same input and sandbox settings, stopped when its time is up."""
    path = bench.input(bench.sizes.single)
    budget = bench.sizes.baseline_seconds
    with _sandbox(latency_ms=LATENCY_MS, rate_limit=SINGLE_LIMIT) as sb:
        child = bench.run(
            "baseline",
            NAIVE,
            lambda where: {"api_url": sb.url, "api_key": sb.api_key},
            input_path=path,
            timeout=budget,
            hard_stop=True,
        )
        report = sb.report()
    stats = report["endpoints"]["single"]
    requests = stats["requests"]
    if (child.returncode != 0 and not child.timed_out) or requests < 2:
        part.status, part.note = "failed", child.failure()
        return
    accepted = stats["counts"].get("202", 0)
    span = _span(report, "single")
    per_second = requests / span if span else 0.0
    accepted_per_second = accepted / span if span else 0.0
    part.figures = {
        "seconds_allowed": budget,
        "sandbox_requests": requests,
        "sandbox_counts": stats["counts"],
        "sending_seconds": round(span, 3),
        "requests_per_second": round(per_second, 2),
        "accepted_per_second": round(accepted_per_second, 2),
        "fraction_of_limit": round(per_second / SINGLE_LIMIT, 4),
    }
    part.add("naive sink: requests/s", f"{rate(per_second)} ({requests:,} in {span:.1f} s)")
    part.add(f"naive sink: fraction of the {SINGLE_LIMIT}/s limit", pct(per_second / SINGLE_LIMIT))
    single = bench.results.get("single")
    if single is not None and single.status == "ok" and accepted_per_second:
        speedup = single.figures["accepted_per_second"] / accepted_per_second
        part.figures["target_speedup"] = round(speedup, 2)
        part.add("target's speed-up (accepted people/s)", f"{speedup:.1f}x")
    else:
        part.add("target's speed-up", "n/a (part a did not run)")


# --------------------------------------------------------------------- measured runs


@dataclass
class Measured:
    """One timed run of a comparison: how many records (or people) in how much time."""

    variant: str
    round: int
    count: int
    wall: float
    cpu: float
    maxrss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.wall

    @property
    def per_cpu_second(self) -> float:
        return self.count / self.cpu if self.cpu else 0.0


def _best(runs: list[Measured]) -> Measured:
    """The fastest run: noise on a shared machine only ever slows a run down."""
    return max(runs, key=lambda r: r.per_second)


def _ratios(part: Part, key: str, top: Measured, bottom: Measured) -> tuple[float, float]:
    """top/bottom on wall clock and per CPU second, kept in the part's figures."""
    ratio = top.per_second / bottom.per_second
    cpu_ratio = top.per_cpu_second / bottom.per_cpu_second if bottom.cpu else 0.0
    part.figures[key] = round(ratio, 4)
    part.figures[f"{key}_cpu"] = round(cpu_ratio, 4)
    return ratio, cpu_ratio


# --------------------------------------------------------------------- c + e: dry-run rounds


def dry_run_rounds(bench: Bench, variants: list[str]) -> dict[str, list[Measured]]:
    """Interleave the variants round by round, so that a noisy minute hits all of them."""
    count = bench.sizes.dryrun
    path = bench.input(count)
    commands: dict[str, tuple[list[str], Callable[[Path], dict[str, Any]]]] = {
        "floor": (FLOOR, lambda where: {"validate_records": False}),
        "ledger on": (TARGET, lambda where: bench.target_config(where, dry_run=True)),
        "ledger off": (
            TARGET,
            lambda where: bench.target_config(where, dry_run=True, ledger_enabled=False),
        ),
    }
    runs: dict[str, list[Measured]] = {v: [] for v in variants}
    for n in range(1, bench.sizes.rounds + 1):
        for variant in variants:
            command, make_config = commands[variant]
            child = bench.run(
                f"dryrun {variant} #{n}",
                command,
                make_config,
                input_path=path,
                timeout=count / 1000 + 60,
            )
            if not child.ok:
                raise RuntimeError(child.failure())
            if command is TARGET:
                read = (child.summary() or {}).get("read")
                if read != count:
                    raise RuntimeError(f"dryrun {variant}: read {read} of {count} records")
            run = Measured(variant, n, count, child.wall, child.cpu, child.maxrss_mb)
            runs[variant].append(run)
            log.info("dryrun %s #%d: %.0f records/s", variant, n, run.per_second)
    return runs


def part_dryrun(bench: Bench, part: Part) -> None:
    """The dry-run path against the SDK's floor over the same records."""
    runs = bench.dry_runs
    floor, target = _best(runs["floor"]), _best(runs["ledger on"])
    part.figures = {
        "records": bench.sizes.dryrun,
        "runs": [asdict(r) for v in ("floor", "ledger on") for r in runs[v]],
        "floor_records_per_second": round(floor.per_second, 1),
        "target_records_per_second": round(target.per_second, 1),
    }
    ratio, cpu_ratio = _ratios(part, "ratio", target, floor)
    n = len(runs["floor"])
    part.add(
        f"SDK floor (do-nothing BatchSink, validate_records off), best of {n}",
        rate(floor.per_second),
    )
    part.add(f"target dry run, best of {n}", rate(target.per_second))
    part.add("dry run / floor (wall clock)", pct(ratio), ">= 50%", ratio >= 0.5)
    part.add("dry run / floor (per CPU second)", pct(cpu_ratio))


def part_ledger(bench: Bench, part: Part) -> None:
    """What the ledger costs: dry runs with and without it, and bulk loads if they ran.

    A dry run only reads the ledger, and a fresh one does not exist yet, so the dry-run
    figure is the ledger's fixed cost; the bulk loads write every accepted person and job.
    """
    runs = bench.dry_runs
    on, off = _best(runs["ledger on"]), _best(runs["ledger off"])
    part.figures = {
        "records": bench.sizes.dryrun,
        "runs": [asdict(r) for v in ("ledger on", "ledger off") for r in runs[v]],
        "dry_run_with_ledger_records_per_second": round(on.per_second, 1),
        "dry_run_without_ledger_records_per_second": round(off.per_second, 1),
    }
    ratio, cpu_ratio = _ratios(part, "dry_run_ratio", on, off)
    n = len(runs["ledger on"])
    part.add(f"dry run without ledger, best of {n}", rate(off.per_second))
    part.add(f"dry run with a fresh SQLite ledger, best of {n}", rate(on.per_second))
    part.add("dry run: with / without ledger (wall; CPU)", f"{pct(ratio)}; {pct(cpu_ratio)}")
    bulk = bench.bulk_runs
    if bulk.get("bulk") and bulk.get("bulk, no ledger"):
        on, off = _best(bulk["bulk"]), _best(bulk["bulk, no ledger"])
        part.figures["bulk_with_ledger_people_per_second"] = round(on.per_second, 1)
        part.figures["bulk_without_ledger_people_per_second"] = round(off.per_second, 1)
        ratio, cpu_ratio = _ratios(part, "bulk_ratio", on, off)
        n = len(bulk["bulk"])
        part.add(f"bulk load without ledger, best of {n}", rate(off.per_second))
        part.add(f"bulk load with a fresh SQLite ledger, best of {n}", rate(on.per_second))
        part.add("bulk load: with / without ledger (wall; CPU)", f"{pct(ratio)}; {pct(cpu_ratio)}")
    elif "bulk" in bench.results:
        part.add("bulk load with / without ledger", "n/a (bulk mode not available)")


# --------------------------------------------------------------------- d: memory


def _piped_dry_run(bench: Bench, count: int) -> Child:
    """A dry run whose input streams from bench/people.py through a pipe (no file)."""
    producer = subprocess.Popen(
        [*PRODUCER, "--count", str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert producer.stdout is not None
    try:
        return bench.run(
            f"memory {count}",
            TARGET,
            lambda where: bench.target_config(where, dry_run=True),
            input_path=None,
            stdin=producer.stdout,
            timeout=count / 2000 + 60,
        )
    finally:
        producer.stdout.close()
        try:
            producer.wait(10)
        except subprocess.TimeoutExpired:
            producer.kill()
            producer.wait()


def part_memory(bench: Bench, part: Part) -> None:
    """Peak RSS of a long dry run, and of one a tenth as long: the profile must be flat."""
    sizes = [bench.sizes.memory_small, bench.sizes.memory]
    children = [_piped_dry_run(bench, count) for count in sizes]
    for count, child in zip(sizes, children, strict=True):
        summary = child.summary() or {}
        if not child.ok or summary.get("read") != count:
            part.status = "failed"
            part.note = (
                child.failure() if not child.ok else f"read {summary.get('read')} of {count}"
            )
    small, large = children
    growth = large.maxrss_mb / small.maxrss_mb - 1 if small.maxrss_mb else 0.0
    part.figures = {
        "records": sizes,
        "max_rss_mb": [round(c.maxrss_mb, 1) for c in children],
        "growth": round(growth, 4),
        "records_per_second": round(sizes[1] / large.wall, 1),
    }
    part.add(f"max RSS, {sizes[0]:,}-record dry run", f"{small.maxrss_mb:.0f} MB")
    part.add(
        f"max RSS, {sizes[1]:,}-record dry run",
        f"{large.maxrss_mb:.0f} MB",
        "<= 120 MB",
        large.maxrss_mb <= 120,
    )
    part.add("growth from the smaller run", pct(growth), "<= 10%", growth <= 0.10)
    part.add("records/s of the longer run (input from a pipe)", rate(sizes[1] / large.wall))


# --------------------------------------------------------------------- f: bulk


class NotAvailable(RuntimeError):
    """Bulk mode did not run (not implemented yet, or broken right now)."""


def _bulk_load(bench: Bench, name: str, path: Path, count: int, *, ledger: bool) -> Measured:
    """One bulk-mode load into a fresh sandbox whose jobs stay parked (see part_bulk); the
    sandbox checks people only in the jobs, so nothing of Attentive's work is timed."""
    options = {"job_delay_seconds": 3600, "bulk_checks_in_job": True}
    with _sandbox(latency_ms=LATENCY_MS, bulk_rate_limit=BULK_LIMIT, **options) as sb:
        child = bench.run(
            name,
            TARGET,
            lambda where: bench.target_config(
                where, api_key=sb.api_key, api_url=sb.url, mode="bulk", ledger_enabled=ledger
            ),
            input_path=path,
            timeout=count / 500 + 60,
        )
        report = sb.report()
    stats = report["endpoints"]["bulk"]
    if not child.ok or not stats["requests"]:
        raise NotAvailable(child.failure() if not child.ok else "the target sent no bulk request")
    summary = child.summary() or {}
    accepted = summary.get("accepted") or 0
    in_jobs = sum(job["totalRecords"] for job in report["jobs"])
    return Measured(
        name,
        0,
        accepted,
        child.wall,
        child.cpu,
        child.maxrss_mb,
        {
            "requests": stats["requests"],
            "counts": stats["counts"],
            "people_in_sandbox_jobs": in_jobs,
            "rejected": summary.get("rejected"),
            "unsettled": summary.get("unsettled"),
        },
    )


def part_bulk(bench: Bench, part: Part, *, with_ledger_off: bool) -> None:
    """Bulk mode against the sandbox beside a dry run over the same people, interleaved.

    The sandbox parks bulk jobs (a long job delay) during the timed runs: on 2 cores its
    asynchronous validation of every person, work Attentive's servers do, would otherwise
    take CPU from the target. The people it received are counted from the jobs' totals.
    People/s: dry run, payloads written; bulk, people accepted; over the child's wall time.
    """
    count = bench.sizes.bulk
    path = bench.input(count)
    variants = ["dry run", "bulk"] + (["bulk, no ledger"] if with_ledger_off else [])
    runs: dict[str, list[Measured]] = {v: [] for v in variants}
    bench.bulk_runs = runs
    for n in range(1, bench.sizes.bulk_rounds + 1):
        for variant in variants:
            label = f"{variant} #{n}"
            if variant == "dry run":
                child = bench.run(
                    f"bulk: {label}",
                    TARGET,
                    lambda where: bench.target_config(where, dry_run=True),
                    input_path=path,
                    timeout=count / 1000 + 60,
                )
                if not child.ok:
                    raise RuntimeError(child.failure())
                written = (child.summary() or {}).get("written") or 0
                run = Measured(variant, n, written, child.wall, child.cpu, child.maxrss_mb)
            else:
                try:
                    run = _bulk_load(bench, label, path, count, ledger=variant == "bulk")
                except NotAvailable as exc:
                    bench.bulk_runs = {}
                    part.status, part.note = "not available", str(exc)
                    return
                run.variant, run.round = variant, n
            runs[variant].append(run)
            log.info("%s: %.0f people/s", label, run.per_second)
    dry, bulk = _best(runs["dry run"]), _best(runs["bulk"])
    part.figures = {
        "records": count,
        "runs": [asdict(r) for v in variants for r in runs[v]],
        "dry_run_people_per_second": round(dry.per_second, 1),
        "bulk_people_per_second": round(bulk.per_second, 1),
    }
    ratio, cpu_ratio = _ratios(part, "ratio", bulk, dry)
    n = len(runs["bulk"])
    requests = bulk.extra["requests"]
    throttled = bulk.extra["counts"].get("429", 0)
    part.add(f"dry run over the same people, best of {n}", rate(dry.per_second))
    part.add(
        f"bulk mode, accepted people/s, best of {n}",
        f"{rate(bulk.per_second)} ({requests:,} requests, {throttled} answered 429)",
    )
    part.add("bulk / dry run (wall clock)", pct(ratio), ">= 90%", ratio >= 0.9)
    part.add("bulk / dry run (per CPU second)", pct(cpu_ratio))
    # Attentive's limit caps bulk mode whatever the CPU: requests/s times people a request.
    per_request = bulk.count / max(requests, 1)
    ceiling = BULK_LIMIT * per_request
    part.figures["bulk_limit_ceiling_people_per_second"] = round(ceiling, 1)
    part.add(
        f"what the bulk limit allows ({BULK_LIMIT} requests/s, {per_request:.0f} a request)",
        f"{rate(ceiling)}; bulk at {pct(bulk.per_second / ceiling)} of it",
    )
    lost = [
        r
        for v in variants
        if v != "dry run"
        for r in runs[v]
        if r.extra["people_in_sandbox_jobs"] != r.count
    ]
    if lost:
        part.add(
            "people in sandbox jobs = accepted",
            f"no: {lost[0].extra['people_in_sandbox_jobs']:,} vs {lost[0].count:,}",
            "equal",
            False,
        )


# --------------------------------------------------------------------- table and main


def machine() -> dict[str, Any]:
    try:
        sdk = version("singer-sdk")
    except PackageNotFoundError:
        sdk = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "singer_sdk": sdk,
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(info: dict[str, Any], parts: list[Part], seconds: float, out: TextIO) -> None:
    print(
        f"machine: nproc {info['nproc']}, Python {info['python']}, singer-sdk "
        f"{info['singer_sdk']}, {info['platform']}, load {info['loadavg_at_start']}",
        file=out,
    )
    print(f"run: {info['mode']}, {seconds:.0f} s in all", file=out)
    rows: list[tuple[str, str, str, str, str]] = []
    letter = {name: key for key, name in PARTS.items()}
    for part in parts:
        tag = f"({letter[part.name]}) {part.name}"
        for row in part.rows:
            verdict = "" if row.ok is None else ("yes" if row.ok else "NO")
            rows.append((tag, row.label, row.value, row.goal, verdict))
        if part.status != "ok":
            rows.append((tag, part.status.upper(), part.note, "", ""))
    header = ("part", "measure", "value", "goal", "met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    widths[2] = min(widths[2], 60)
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line.format(*row).rstrip(), file=out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark target-attentive; see bench/README.md",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under ~3 minutes")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help=f"parts to run, by name or letter: {', '.join(f'{k}/{v}' for k, v in PARTS.items())}",
    )
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    wanted = []
    for name in args.only or PARTS.values():
        name = PARTS.get(name, name)
        if name not in PARTS.values():
            parser.error(f"unknown part {name!r}; use one of {', '.join(PARTS.values())}")
        wanted.append(name)
    args.parts = [name for name in PARTS.values() if name in wanted]
    return args


# Execution order: the ledger's figures use the dry-run rounds and the bulk loads.
EXECUTION_ORDER = (
    "single",
    "hung",
    "hungfail",
    "account20",
    "baseline",
    "dryrun",
    "memory",
    "bulk",
    "ledger",
)


def run_part(bench: Bench, name: str, selected: list[str]) -> Part:
    """Run one part; a failure is kept in the part, so the others' figures survive it."""
    part = Part(name)
    started = time.perf_counter()
    log.info("part %s: start", name)
    try:
        if name in ("dryrun", "ledger") and not bench.dry_runs:
            variants = ["floor"] if "dryrun" in selected else []
            variants += ["ledger on"] + (["ledger off"] if "ledger" in selected else [])
            bench.dry_runs = dry_run_rounds(bench, variants)
        if name == "single":
            part_single(bench, part)
        elif name == "baseline":
            part_baseline(bench, part)
        elif name == "dryrun":
            part_dryrun(bench, part)
        elif name == "memory":
            part_memory(bench, part)
        elif name == "bulk":
            part_bulk(bench, part, with_ledger_off="ledger" in selected)
        elif name == "ledger":
            part_ledger(bench, part)
        elif name in conditions.CONDITIONS:
            condition = conditions.CONDITIONS[name]
            count = bench.sizes.account if name == "account20" else bench.sizes.conditions
            conditions.part_condition(
                bench,
                part,
                condition,
                count=count,
                sandbox=_sandbox,
                target=TARGET,
                pct=pct,
                rate=rate,
            )
    except Exception as exc:
        log.exception("part %s failed", name)
        part.status, part.note = "failed", f"{type(exc).__name__}: {exc}"[:300]
    part.seconds = round(time.perf_counter() - started, 1)
    log.info("part %s: %s in %.0f s", name, part.status, part.seconds)
    return part


def compile_target() -> None:
    """Byte-compile the target's package, as an install from PyPI has it.

    pip compiles what it installs, so the SDK under the floor runs from bytecode. A source
    checkout with PYTHONDONTWRITEBYTECODE set (some CI images and sandboxes) would compile
    the target's 120-odd modules on every start instead: about 0.1 s a run, which a user
    never pays. Compiled into the checkout's own (ignored) `__pycache__` directories.
    """
    package = BENCH.parent / "target_attentive"
    if not compileall.compile_dir(str(package), quiet=1):
        raise RuntimeError(f"compiling {package} failed")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s bench %(message)s"
    )
    compile_target()
    sizes = QUICK if args.quick else FULL
    info = machine()
    info["mode"] = "quick" if args.quick else "full"
    info["sizes"] = asdict(sizes)
    log.info("machine: %s", info)
    workdir = Path(tempfile.mkdtemp(prefix="target-attentive-bench-"))
    bench = Bench(sizes, workdir)
    started = time.perf_counter()
    try:
        for name in EXECUTION_ORDER:
            if name in args.parts:
                bench.results[name] = run_part(bench, name, args.parts)
    finally:
        if args.keep:
            log.info("work directory kept: %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    parts = [bench.results[name] for name in args.parts]
    print_table(info, parts, seconds, sys.stdout)
    if args.json:
        document = {
            "machine": info,
            "seconds": round(seconds, 1),
            "parts": {
                p.name: {
                    "status": p.status,
                    "note": p.note,
                    "seconds": p.seconds,
                    "figures": p.figures,
                    "rows": [asdict(r) for r in p.rows],
                }
                for p in parts
            },
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
        log.info("figures written to %s", args.json)
    return 0 if all(p.status == "ok" for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
