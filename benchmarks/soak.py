"""Reliability runs for ``xlt serve`` on loopback: a soak below capacity, an overload far above it, and SIGTERM
in the middle of load. Each run is bounded in time and starts and stops its own server (by PID).

- ``soak``: open-loop load at ``--load`` (default 80%) of the measured capacity for ``--duration`` seconds
  (default 600): passes with zero failed requests and RSS growth under 10% after warm-up.
- ``overload``: open-loop load at ``--factor`` (default 4) times capacity: passes when every request is answered
  200 or 429 (with Retry-After): no 5xx, no timeout, no dropped connection.
- ``sigterm``: closed-loop load, SIGTERM once sentences are queued: passes when every request the server
  accepted was answered and received, the rest got 503 ``not_ready`` (or 429 when the load passes capacity)
  or a refused connection after the socket closed, and the process exited within the drain timeout. The
  server's JSON log is the ledger.

Capacity is measured first (closed loop, ``--capacity-clients`` clients, one sentence per request, for
``--capacity-seconds``) unless ``--rate`` gives it in requests per second. The load generator shares the machine
with the server: its CPU counts against capacity, and the achieved offered rate is recorded. Results go to
``benchmarks/results/reliability-<mode>.json`` (``-<N>w`` added for ``--words N``) and a summary is appended
to ``benchmarks/RESULTS.md``.

    python benchmarks/soak.py soak --models-dir models
    python benchmarks/soak.py overload --models-dir models --duration 60
    python benchmarks/soak.py sigterm --models-dir models
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import platform
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from load import Server, make_sentences, percentile, request_body, run_cell, warm_up
from prometheus_client.parser import text_string_to_metric_families
from wire import TRANSPORT_ERRORS, get_text, post_json, session

HERE = Path(__file__).parent


@dataclass
class Shot:
    """One request and what came of it."""

    started: float  # seconds since the run began
    latency: float
    status: int | None = None  # None: no answer
    code: str | None = None
    retry_after: str | None = None
    error: str | None = None  # transport error class, e.g. ServerDisconnectedError, ClientConnectorError


@dataclass
class Report:
    mode: str
    passed: bool
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process from /proc (Linux), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def shoot(http: aiohttp.ClientSession, payload: dict[str, Any], begun: float, headers: dict[str, str]) -> Shot:
    t0 = time.perf_counter()
    shot = Shot(started=t0 - begun, latency=0.0)
    try:
        answer = await post_json(http, "/translate", payload, headers)
        shot.status = answer.status
        if answer.status != 200:
            try:
                shot.code = answer.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                shot.code = "unparsable"
            shot.retry_after = answer.retry_after
    except TRANSPORT_ERRORS as exc:
        shot.error = type(exc).__name__
    shot.latency = time.perf_counter() - t0
    return shot


async def open_loop(
    url: str, rate: float, duration: float, sentences: list[str], args: argparse.Namespace, pid: int
) -> tuple[list[Shot], int, list[tuple[float, float]]]:
    """Requests at a fixed rate whatever the answers (open loop); returns the shots, the requests not sent because
    ``--max-outstanding`` were already waiting (the generator's own limit), and RSS samples (t, MiB)."""
    shots: list[Shot] = []
    samples: list[tuple[float, float]] = []
    tasks: set[asyncio.Task[None]] = set()
    skipped = 0
    async with session(url, args.max_outstanding, args.timeout) as http:
        begun = time.perf_counter()

        async def one(n: int) -> None:
            shots.append(await shoot(http, request_body(sentences[n % len(sentences)], args), begun, {}))

        async def sample() -> None:
            while True:
                value = rss_mb(pid)
                if value is not None:
                    samples.append((time.perf_counter() - begun, value))
                await asyncio.sleep(args.sample_every)

        sampler = asyncio.create_task(sample())
        n = 0
        while (now := time.perf_counter() - begun) < duration:
            due = n / rate
            if due > now:
                await asyncio.sleep(min(due - now, 0.05))
                continue
            n += 1
            if len(tasks) >= args.max_outstanding:
                skipped += 1
                continue
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(list(tasks), timeout=args.timeout + 10)
        sampler.cancel()
        value = rss_mb(pid)
        if value is not None:
            samples.append((time.perf_counter() - begun, value))
    return shots, skipped, samples


async def measure_capacity(url: str, sentences: list[str], args: argparse.Namespace) -> float:
    """Requests per second of one-sentence requests that the server sustains under a closed loop."""
    cell_args = argparse.Namespace(
        source=args.source,
        target=args.target,
        model=args.model,
        timeout=args.timeout,
        duration=args.capacity_seconds,
        requests=10**9,
    )
    cell = await run_cell(url, "dynamic", args.capacity_clients, sentences, cell_args)
    return cell.sentences_per_s


def latency_ms(shots: list[Shot], q: float) -> float:
    return round(1000 * percentile(sorted(s.latency for s in shots), q), 1) if shots else float("nan")


def outcomes(shots: list[Shot]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in shots:
        key = s.error if s.error is not None else f"{s.status} {s.code or 'ok'}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


async def run_soak(server: Server, sentences: list[str], args: argparse.Namespace, capacity: float) -> Report:
    rate = capacity * args.load
    shots, skipped, samples = await open_loop(server.url, rate, args.duration, sentences, args, server.process.pid)
    ok = [s for s in shots if s.status == 200]
    failed = len(shots) - len(ok) + skipped
    warm = min(args.warmup, args.duration / 5)
    after_warmup = [mb for t, mb in samples if t >= warm]
    start_mb = after_warmup[0] if after_warmup else float("nan")
    end_mb = samples[-1][1] if samples else float("nan")
    growth = 100 * (end_mb - start_mb) / start_mb if after_warmup else float("nan")
    passed = failed == 0 and growth < 10
    figures = {
        "capacity_rps": round(capacity, 1),
        "offered_rps": round(rate, 1),
        "achieved_rps": round(len(shots) / args.duration, 1),
        "duration_s": args.duration,
        "requests": len(shots),
        "failed": failed,
        "not_sent": skipped,
        "outcomes": outcomes(shots),
        "p50_ms": latency_ms(ok, 50),
        "p95_ms": latency_ms(ok, 95),
        "p99_ms": latency_ms(ok, 99),
        "rss_after_warmup_mb": round(start_mb, 1),
        "rss_end_mb": round(end_mb, 1),
        "rss_max_mb": round(max((mb for _, mb in samples), default=float("nan")), 1),
        "rss_growth_pct": round(growth, 2),
        "rss_samples": [(round(t, 1), round(mb, 1)) for t, mb in samples],
    }
    summary = (
        f"{len(shots)} requests at {figures['achieved_rps']}/s ({args.load:.0%} of {capacity:.1f}/s) for "
        f"{args.duration:g} s: {failed} failed; p99 {figures['p99_ms']} ms; RSS {start_mb:.1f} -> {end_mb:.1f} MiB "
        f"({growth:+.1f}%)"
    )
    return Report("soak", passed, summary, figures)


async def run_overload(server: Server, sentences: list[str], args: argparse.Namespace, capacity: float) -> Report:
    rate = capacity * args.factor
    shots, skipped, samples = await open_loop(server.url, rate, args.duration, sentences, args, server.process.pid)
    ok = [s for s in shots if s.status == 200]
    shed = [s for s in shots if s.status == 429]
    other = [s for s in shots if s.status not in (200, 429)]
    no_retry_after = [s for s in shed if not s.retry_after]
    passed = not other and not no_retry_after and bool(shed)
    figures = {
        "capacity_rps": round(capacity, 1),
        "offered_rps": round(rate, 1),
        "achieved_rps": round(len(shots) / args.duration, 1),
        "duration_s": args.duration,
        "requests": len(shots),
        "ok": len(ok),
        "shed_429": len(shed),
        "other": len(other),
        "not_sent": skipped,
        "outcomes": outcomes(shots),
        "ok_p50_ms": latency_ms(ok, 50),
        "ok_p99_ms": latency_ms(ok, 99),
        "shed_p50_ms": latency_ms(shed, 50),
        "shed_p99_ms": latency_ms(shed, 99),
        "missing_retry_after": len(no_retry_after),
        "rss_max_mb": round(max((mb for _, mb in samples), default=float("nan")), 1),
    }
    summary = (
        f"{len(shots)} requests at {figures['achieved_rps']}/s ({args.factor:g}x {capacity:.1f}/s), {args.words}-word "
        f"sentences: {len(ok)} x 200 (p99 {figures['ok_p99_ms']} ms), {len(shed)} x 429 (p50 {figures['shed_p50_ms']} "
        f"ms, p99 {figures['shed_p99_ms']} ms), {len(other)} other"
        + ("" if shed else " (no 429: the generator could not reach the overload)")
    )
    return Report("overload", passed, summary, figures)


# --- sigterm ---------------------------------------------------------------------------------------------


def _epoch(ts: str) -> float:
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + int(ts[20:23]) / 1000


def _queued(text: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "xlt_queue_depth")


async def run_sigterm(server: Server, sentences: list[str], args: argparse.Namespace) -> Report:
    shots: dict[str, Shot] = {}
    stop = asyncio.Event()
    begun = time.perf_counter()

    async def client(index: int) -> None:
        # Fresh connections: a refused connect then means "not accepted", never a reused socket being closed.
        async with session(server.url, 4, args.timeout, keepalive=False) as http:
            n = 0
            while not stop.is_set():
                n += 1
                request_id = f"c{index}-{n}"
                texts = [sentences[(index * 7919 + n * 13 + k) % len(sentences)] for k in range(args.texts)]
                shot = await shoot(http, request_body(texts, args), begun, {"X-Request-ID": request_id})
                shot.latency += shot.started  # ended, on the run's clock
                shots[request_id] = shot
                if shot.error is not None:
                    return

    tasks = [asyncio.create_task(client(i)) for i in range(args.clients)]
    await asyncio.sleep(args.at)
    async with session(server.url, 1, 10) as probe:
        for _ in range(600):  # until sentences are queued (accepted work exists), bounded
            if _queued(await get_text(probe, "/metrics")) >= 1:
                break
    sent_wall, sent_run = time.time(), time.perf_counter() - begun
    server.process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.drain_timeout + 60)
    except TimeoutError:
        stop.set()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        server.process.wait(timeout=args.drain_timeout + 30)
        exit_s: float | None = time.time() - sent_wall
    except Exception:
        exit_s = None
    ended_wall = {rid: sent_wall + (s.latency - sent_run) for rid, s in shots.items()}  # on the server's clock

    lines = [json.loads(x) for x in server.log.read_text(errors="replace").splitlines() if x.startswith("{")]
    marks = {}
    for prefix in ("SIGTERM: draining", "drained", "drain timeout", "Shutting down"):
        found = [e for e in lines if str(e.get("msg", "")).startswith(prefix)]
        marks[prefix] = _epoch(found[0]["ts"]) if found else None
    in_flight = next((int(e["msg"].split()[2]) for e in lines if e.get("msg", "").startswith("SIGTERM")), None)
    answered = {
        e["request_id"]: e["status"]
        for e in lines
        if e.get("logger") == "service.access" and e.get("route") == "/translate"
    }
    lost = [rid for rid, status in answered.items() if rid in shots and shots[rid].status != status]
    statuses = outcomes(list(shots.values()))
    refusals = ((200, None), (503, "not_ready"), (429, "overloaded"))  # 429: more load than capacity, not accepted
    unexpected = [s for s in shots.values() if s.status is not None and (s.status, s.code) not in refusals]
    closed_at = marks["Shutting down"]
    early = [
        rid
        for rid, s in shots.items()
        if s.error is not None and (closed_at is None or ended_wall[rid] < closed_at - 0.01)
    ]
    drained_at = marks["drained"] or marks["drain timeout"]
    sigterm_at = marks["SIGTERM: draining"]
    passed = (
        not lost
        and not unexpected
        and not early
        and exit_s is not None
        and exit_s < args.drain_timeout + 30
        and marks["drained"] is not None
    )
    figures = {
        "clients": args.clients,
        "texts_per_request": args.texts,
        "requests": len(shots),
        "accepted_answered_by_server": len(answered),
        "in_flight_at_sigterm": in_flight,
        "lost": len(lost),
        "outcomes": statuses,
        "unexpected": len(unexpected),
        "failed_before_close": len(early),
        "drain_s": round(drained_at - sigterm_at, 3) if drained_at and sigterm_at else None,
        "sigterm_to_exit_s": round(exit_s, 2) if exit_s is not None else None,
        "drain_timeout_s": args.drain_timeout,
        "exit_code": server.process.returncode,
    }
    summary = (
        f"SIGTERM with {in_flight} requests in flight: {len(lost)} lost, drained in {figures['drain_s']} s, "
        f"exited after {figures['sigterm_to_exit_s']} s; outcomes {statuses}"
    )
    return Report("sigterm", passed, summary, figures)


# --- running and recording -------------------------------------------------------------------------------


def record(report: Report, args: argparse.Namespace) -> Path:
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
        "models_dir": str(args.models_dir),
        "model": args.model,
        "direction": f"{args.source}->{args.target}",
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("XLT_")},
        "argv": sys.argv[1:],
    }
    words = "" if args.words == 20 else f"-{args.words}w"  # both overload runs keep their figures
    path = args.out / f"reliability-{report.mode}{words}.json"
    path.write_text(json.dumps({"meta": meta, "passed": report.passed, **asdict(report)}, indent=2) + "\n")
    md = args.results_md
    if not md.exists():
        md.write_text(
            "# Reliability results\n\nAppended by `benchmarks/soak.py` (one line per run; the JSON of the latest run "
            "of each mode is in `benchmarks/results/reliability-<mode>.json`). Loopback, load generator on the "
            "same machine.\n\n| date | mode | CPUs | models | result | figures |\n|---|---|---:|---|---|---|\n"
        )
    with md.open("a") as out:
        verdict = "pass" if report.passed else "**FAIL**"
        out.write(f"| {meta['date']} | {report.mode} | {os.cpu_count()} | `{args.models_dir}` | {verdict} | "
                  f"{report.summary} |\n")  # fmt: skip
    return path


async def run(args: argparse.Namespace) -> Report:
    sentences = make_sentences(512, words=args.words)
    if args.mode == "sigterm":
        os.environ.setdefault("XLT_LOG_LEVEL", "info")  # the access lines are the server's ledger
        os.environ["XLT_LOG_FORMAT"] = "json"
        os.environ["XLT_DRAIN_TIMEOUT_S"] = str(args.drain_timeout)
    log_dir = HERE / "tmp"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = await asyncio.to_thread(
        Server, args.models_dir, True, log_dir / f"serve-reliability-{args.mode}.log", args.ready_timeout
    )
    try:
        await warm_up(server.url, sentences, args)
        if args.mode == "sigterm":
            return await run_sigterm(server, sentences, args)
        capacity = args.rate or await measure_capacity(server.url, sentences, args)
        print(f"capacity: {capacity:.1f} requests/s", flush=True)
        if args.mode == "soak":
            return await run_soak(server, sentences, args, capacity)
        return await run_overload(server, sentences, args, capacity)
    finally:
        if server.process.poll() is None:
            await asyncio.to_thread(server.stop)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["soak", "overload", "sigterm"])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--model", help="model name (default: the server's default)")
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de")
    parser.add_argument("--duration", type=float, help="seconds of load (soak 600, overload 60)")
    parser.add_argument("--rate", type=float, help="capacity in requests/s (default: measured)")
    parser.add_argument(
        "--words", type=int, default=20, help="words per sentence (longer: fewer requests/s reach capacity)"
    )
    parser.add_argument("--load", type=float, default=0.8, help="soak: fraction of capacity")
    parser.add_argument("--factor", type=float, default=4.0, help="overload: multiple of capacity")
    parser.add_argument("--warmup", type=float, default=60.0, help="soak: seconds before the RSS baseline")
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument("--capacity-clients", type=int, default=32)
    parser.add_argument("--max-outstanding", type=int, default=2000, help="open loop: requests waiting at most")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--clients", type=int, default=32, help="sigterm: concurrent clients")
    parser.add_argument("--texts", type=int, default=8, help="sigterm: texts per request")
    parser.add_argument("--at", type=float, default=5.0, help="sigterm: seconds of load before SIGTERM")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="sigterm: XLT_DRAIN_TIMEOUT_S")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout per request")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--results-md", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = {"soak": 600.0, "overload": 60.0, "sigterm": 0.0}[args.mode]
    if args.mode != "sigterm" and args.duration <= 0:
        parser.error("--duration must be > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per outstanding request
    bound = args.duration + args.capacity_seconds + args.drain_timeout + args.ready_timeout + 300
    report = asyncio.run(asyncio.wait_for(run(args), timeout=bound))
    path = record(report, args)
    print(json.dumps({"mode": report.mode, "passed": report.passed, "summary": report.summary}), flush=True)
    print(f"wrote {path} and appended to {args.results_md}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
