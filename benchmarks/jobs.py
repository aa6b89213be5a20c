"""Scheduling benchmark for background jobs: do interactive requests stay fast while a large catalog is translated,
and does the catalog still progress?

It starts ``xlt serve`` itself (``load.Server``: 127.0.0.1, a free port, stopped by PID) with ``XLT_DATA_DIR`` in a
temporary folder, builds a ``--units`` (5,000) unit gettext catalog from real catalog strings -- the distinct
English msgids of the machine's ``/usr/share/locale/*/LC_MESSAGES/*.mo`` files (read with translate-toolkit), or a
``.po`` given with ``--catalog`` -- and measures, round after round:

- ``idle``: single-sentence ``POST /translate`` requests (short everyday and UI sentences) from 1 and 8 closed-loop
  clients, ``--seconds`` each, on the otherwise idle server: p50, p95, sentences/s;
- ``job alone``: the catalog as a background job (``POST /jobs``) with no other traffic: segments/s from the POST
  to ``done`` (the POST's round trip plus the server's ``duration_s``);
- ``job under load``: the same job again, once per client count, with that many clients sending the same requests
  for as long as it runs: their latencies while it runs, and the job's segments/s under that load.

The phases take turns within each round, in reverse order every other round (the machine's speed drifts over
minutes); each figure is the median of the rounds. The goals (issue 29): p50 during the job within 1.5x of idle at
1 and 8 clients, and the job's throughput under load at least 0.8 of the job alone. Results, with the CPU model,
go to ``benchmarks/results/jobs.json`` and ``jobs.md`` (``jobs-<label>.*`` with ``--label``). Other ``XLT_*``
variables pass through to the server.

    python benchmarks/jobs.py --models-dir models
    python benchmarks/jobs.py --models-dir models --units 100 --seconds 3 --rounds 1 --out /tmp/jobs-smoke
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from load import Server, host_meta, run_cell, warm_up
from wire import session

HERE = Path(__file__).parent
FINISHED = ("done", "failed", "cancelled")

# What people type into a translation box, and the short strings of an interface: the interactive traffic.
EVERYDAY = (
    "Where is the nearest train station?",
    "The meeting has been moved to Thursday.",
    "Could you send me the invoice again?",
    "Your password must contain at least eight characters.",
    "We will arrive a little later than planned.",
    "The file could not be saved.",
    "Thank you for your patience.",
    "Please restart the application to apply the changes.",
    "Is there a pharmacy open on Sunday?",
    "I would like to book a table for two.",
    "Your order has been shipped.",
    "Do you want to delete this folder?",
    "The weather will be sunny tomorrow.",
    "Check your internet connection and try again.",
    "My flight was cancelled this morning.",
    "How much does the ticket cost?",
    "The printer is out of paper.",
    "You have three unread messages.",
    "Can we talk about this tomorrow?",
    "The update will take a few minutes.",
    "Please enter a valid email address.",
    "The children are playing in the garden.",
    "I left my keys at home.",
    "This field is required.",
    "The store closes at eight in the evening.",
    "Your session has expired, please sign in again.",
    "We need more milk and bread.",
    "The report is due next Monday.",
    "Turn left at the second traffic light.",
    "Changes you made may not be saved.",
    "The doctor will see you in ten minutes.",
    "Select the language of the document.",
)


def catalog_strings(locale_dir: Path, count: int, seed: int = 1234) -> tuple[list[str], dict[str, Any]]:
    """``count`` distinct English msgids from the ``.mo`` files under ``locale_dir`` (singular units, 2-300
    characters), sampled across files in a fixed order, at most a twentieth from one file (the lists of language
    and country names are long); what was read, for the record."""
    from translate.storage import base, mo

    files = sorted(glob.glob(str(locale_dir / "*" / "LC_MESSAGES" / "*.mo")))
    random.Random(seed).shuffle(files)  # many packages' strings, not the first package's alone
    found: dict[str, str] = {}
    per_file = max(20, count // 20)
    for path in files:
        try:
            store = mo.mofile.parsefile(path)
        except (base.ParseError, OSError, ValueError):
            continue  # an MO version translate-toolkit does not read, or an unreadable file
        taken = 0
        for unit in store.units:
            text = str(unit.source)
            wanted = not unit.hasplural() and text.isascii() and 2 <= len(text) <= 300
            if wanted and taken < per_file and text not in found:
                found[text] = Path(path).stem
                taken += 1
        if len(found) >= 4 * count:
            break
    if len(found) < count:
        raise SystemExit(
            f"only {len(found)} distinct msgids under {locale_dir} (wanted {count}): give --catalog FILE.po, "
            "or fewer --units"
        )
    chosen = random.Random(seed).sample(sorted(found), count)
    lengths = [len(s) for s in chosen]
    record = {
        "source": f"{locale_dir}/*/LC_MESSAGES/*.mo",
        "domains": len({found[s] for s in chosen}),
        "mean_chars": round(statistics.mean(lengths), 1),
        "median_chars": statistics.median(lengths),
    }
    return chosen, record


def build_catalog(strings: list[str]) -> bytes:
    """An untranslated ``.po`` with one unit per string (what a team sends to be translated)."""
    from translate.storage import pypo

    store = pypo.pofile()
    store.updateheader(add=True, Content_Type="text/plain; charset=UTF-8", Language="")
    for text in strings:
        store.addsourceunit(text)
    return bytes(store)


def given_catalog(path: Path) -> tuple[bytes, dict[str, Any]]:
    from translate.storage import pypo

    data = path.read_bytes()
    units = [u for u in pypo.pofile.parsestring(data).units if not u.isheader() and u.source]
    return data, {"source": str(path), "units": len(units)}


@dataclass
class Latencies:
    """One phase's single-sentence requests at one client count."""

    phase: str  # "idle" or "job"
    clients: int
    requests: int
    errors: int
    seconds: float
    sentences_per_s: float
    p50_ms: float
    p95_ms: float


@dataclass
class JobRun:
    phase: str  # "alone" or "under load"
    state: str
    segments: int
    seconds: float  # from the POST to done
    segments_per_s: float


async def latencies(
    url: str, phase: str, clients: int, seconds: float, args: argparse.Namespace, stop: asyncio.Event | None = None
) -> Latencies:
    """``clients`` clients sending one of ``EVERYDAY`` a request (``load.run_cell``), until ``seconds`` pass or
    ``stop`` is set."""
    bounds = argparse.Namespace(
        duration=seconds, requests=sys.maxsize, timeout=args.timeout, source=args.source, target=args.target,
        model=args.model, options=None,
    )  # fmt: skip
    cell = await run_cell(url, "dynamic", clients, list(EVERYDAY), bounds, batch_metrics=False, stop=stop)
    return Latencies(
        phase=phase,
        clients=clients,
        requests=cell.requests,
        errors=cell.errors,
        seconds=cell.seconds,
        sentences_per_s=cell.sentences_per_s,
        p50_ms=cell.p50_ms,
        p95_ms=cell.p95_ms,
    )


async def start_job(http: aiohttp.ClientSession, catalog: bytes, args: argparse.Namespace) -> tuple[str, float]:
    """The job's id and the POST's round trip in seconds."""
    form = aiohttp.FormData()
    form.add_field("file", catalog, filename="catalog.po", content_type="text/x-gettext-translation")
    for key, value in {
        "source": args.source,
        "target": args.target,
        **({"model": args.model} if args.model else {}),
    }.items():
        form.add_field(key, value)
    t0 = time.perf_counter()
    async with http.post("/jobs", data=form) as response:
        body = await response.read()
        if response.status != 202:
            raise RuntimeError(f"POST /jobs answered {response.status}: {body[:500]!r}")
    return json.loads(body)["id"], time.perf_counter() - t0


async def wait_job(http: aiohttp.ClientSession, job_id: str, args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.job_timeout
    while True:
        async with http.get(f"/jobs/{job_id}") as response:
            body: dict[str, Any] = await response.json()
        if body["state"] in FINISHED:
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} not finished after {args.job_timeout} s: {body}")
        await asyncio.sleep(args.poll)


async def check_result(http: aiohttp.ClientSession, job_id: str) -> int:
    """How many units of the job's catalog came back translated (a job that did nothing is not a benchmark)."""
    from translate.storage import pypo

    async with http.get(f"/jobs/{job_id}/result") as response:
        data = await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET /jobs/{job_id}/result answered {response.status}: {data[:500]!r}")
    return sum(1 for u in pypo.pofile.parsestring(data).units if not u.isheader() and u.target)


async def run_job(url: str, catalog: bytes, args: argparse.Namespace, clients: int = 0) -> dict[str, Any]:
    """The catalog as one job; with ``clients``, that many clients send requests for as long as it runs."""
    async with session(url, 2, args.timeout) as http:
        job_id, post_s = await start_job(http, catalog, args)
        waiting = asyncio.ensure_future(wait_job(http, job_id, args))
        ended = asyncio.Event()
        waiting.add_done_callback(lambda _: ended.set())
        load = await latencies(url, "job", clients, args.job_timeout, args, stop=ended) if clients else None
        body = await waiting
        if body["state"] != "done":
            raise RuntimeError(f"job {job_id} ended {body['state']}: {body['errors']}")
        translated = await check_result(http, job_id)
    total = int(body["progress"]["total"])
    if translated < total // 2:
        raise RuntimeError(f"job {job_id}: only {translated} of {total} units came back translated")
    seconds = post_s + float(body["duration_s"])
    phase = f"under {clients} client(s)" if clients else "alone"
    found: dict[str, Any] = {"job": JobRun(phase, body["state"], total, round(seconds, 3), round(total / seconds, 2))}
    if load is not None:
        found["latency"] = load
    return found


async def one_round(url: str, catalog: bytes, args: argparse.Namespace, reverse: bool) -> dict[str, Any]:
    """Idle requests at each client count, the job alone, the job under each client count: in this order, or
    reversed."""
    phases: list[tuple[str, int]] = [
        *(("idle", c) for c in args.levels),
        ("alone", 0),
        *(("loaded", c) for c in args.levels),
    ]
    found: dict[str, Any] = {"idle": {}, "loaded": {}}
    for phase, clients in reversed(phases) if reverse else phases:
        if phase == "idle":
            result: Any = await latencies(url, "idle", clients, args.seconds, args)
            found["idle"][clients] = result
        elif phase == "alone":
            result = found["alone"] = (await run_job(url, catalog, args))["job"]
        else:
            result = found["loaded"][clients] = await run_job(url, catalog, args, clients)
        print(json.dumps({"phase": phase, "clients": clients, "result": plain(result)}), flush=True)
    return found


def plain(value: Any) -> Any:
    """``value`` with its dataclasses as dicts and its keys as strings, for JSON."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


GOAL_P50, GOAL_JOB = 1.5, 0.8  # issue 29: p50 during a job / idle, and the job's segments/s under load / alone


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v == v]  # NaN: a cell without answers
    return round(statistics.median(values), 2) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _latency_row(phase: str, clients: int, cells: list[Latencies]) -> dict[str, Any]:
    return {
        "phase": phase,
        "clients": clients,
        "requests": sum(c.requests for c in cells),
        "errors": sum(c.errors for c in cells),
        "sentences_per_s": _median([c.sentences_per_s for c in cells]),
        "p50_ms": _median([c.p50_ms for c in cells]),
        "p95_ms": _median([c.p95_ms for c in cells]),
    }


def _job_row(phase: str, runs: list[JobRun]) -> dict[str, Any]:
    rates = [r.segments_per_s for r in runs]
    return {"phase": phase, "segments": runs[0].segments, "segments_per_s": _median(rates),
            "range": [min(rates), max(rates)]}  # fmt: skip


def summary(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Medians over the rounds, and the goals: p50 under load within 1.5x of idle, and the job's throughput under
    load at least 0.8 of alone, at each client count."""
    latency, jobs, goals = [], [_job_row("alone", [r["alone"] for r in rounds])], []
    for clients in args.levels:
        idle = _latency_row("idle", clients, [r["idle"][clients] for r in rounds])
        loaded = _latency_row("job", clients, [r["loaded"][clients]["latency"] for r in rounds])
        latency += [idle, loaded]
        row = _job_row(f"under {clients} client(s)", [r["loaded"][clients]["job"] for r in rounds])
        # What the two cores did in all: a job slowed by requests that took its place is scheduling doing its job; a
        # sum well under the job alone would be capacity lost (a short interactive sentence costs more than a
        # segment of a batch, so the sum is no exact measure of work).
        row["requests_per_s"] = loaded["sentences_per_s"]
        row["with_requests_over_alone"] = _ratio(
            (row["segments_per_s"] or 0) + (loaded["sentences_per_s"] or 0), jobs[0]["segments_per_s"]
        )
        # The least the two goals ask of the machine together, in job-alone time: 0.8 of it for the job, and the
        # requests' sentences at two thirds of their idle rate, each counted as cheap as a segment of a full job
        # batch (their best case). Over 1, no scheduling meets both goals on this machine at this load.
        row["both_goals_need"] = _ratio(
            GOAL_JOB * (jobs[0]["segments_per_s"] or 0) + (idle["sentences_per_s"] or 0) / GOAL_P50,
            jobs[0]["segments_per_s"],
        )
        jobs.append(row)
        ratio = _ratio(loaded["p50_ms"], idle["p50_ms"])
        goals.append({"goal": f"p50 at {clients} client(s): during the job / idle", "ratio": ratio,
                      "target": f"<= {GOAL_P50}", "met": ratio is not None and ratio <= GOAL_P50})  # fmt: skip
    for row in jobs[1:]:
        ratio = _ratio(row["segments_per_s"], jobs[0]["segments_per_s"])
        goals.append({"goal": f"job segments/s: {row['phase']} / alone", "ratio": ratio, "target": f">= {GOAL_JOB}",
                      "met": ratio is not None and ratio >= GOAL_JOB})  # fmt: skip
    return {"latency": latency, "job": jobs, "goals": goals}


def write_results(
    meta: dict[str, Any], rounds: list[dict[str, Any]], result: dict[str, Any], out: Path, stem: str
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {"meta": meta, "summary": result, "rounds": plain(rounds)}
    (out / f"{stem}.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    catalog, cpu = meta["catalog"], meta["host"]["cpu"]
    model = f", model `{meta['model']}`" if meta["model"] else ""
    lines = [
        "# Scheduling benchmark: interactive requests while a catalog is translated as a job",
        "",
        f"{meta['date']}, {cpu['model']} ({cpu['int8_isa']}, {meta['host']['cpus']} CPUs), model dir "
        f"`{meta['models_dir']}`"
        f"{model}, {meta['direction']}, load generator on the same machine.",
        "",
        f"The job: a {meta['units']}-unit `.po` ({catalog.get('mean_chars', '?')} characters per unit on average, "
        f"from `{catalog['source']}`), with the server's defaults (`XLT_JOB_CHUNK_SIZE`, `XLT_BULK_SHARE`...). "
        "Interactive traffic: single-sentence `POST /translate` requests of short everyday and UI sentences from "
        f"closed-loop clients. *idle*: nothing else runs ({meta['seconds']} s per cell). *job*: the same clients "
        "for as long as the job runs (one job per client count). The job's segments/s count from its `POST /jobs` "
        f"to `done`. Each figure is the median of {meta['rounds']} rounds (phases in turn, reversed every other "
        "round); *range* is the lowest and highest of the rounds.",
        "",
        "| phase | clients | requests | errors | sentences/s | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def text(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    for row in result["latency"]:
        lines.append(
            f"| {row['phase']} | {row['clients']} | {row['requests']} | {row['errors']} | "
            f"{text(row['sentences_per_s'])} | {text(row['p50_ms'])} | {text(row['p95_ms'])} |"
        )
    lines += [
        "",
        "| job | segments | segments/s | range | requests' sentences/s | (job + requests) / job alone | both goals "
        "need |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["job"]:
        low, high = row["range"]
        lines.append(
            f"| {row['phase']} | {row['segments']} | {text(row['segments_per_s'])} | {low:g}-{high:g} | "
            f"{text(row.get('requests_per_s'))} | {text(row.get('with_requests_over_alone'))} | "
            f"{text(row.get('both_goals_need'))} |"
        )
    lines += [
        "",
        f"*both goals need*: the job at {GOAL_JOB} of its alone rate plus the requests at 1/{GOAL_P50} of their idle "
        "rate, in job-alone time, counting each request's sentence as cheap as a segment of a full job batch (its "
        "best case). Over 1, no scheduling meets both goals on this machine at that load.",
    ]
    lines += ["", "| goal | ratio | target | met |", "|---|---:|---|---|"]
    for goal in result["goals"]:
        met = "yes" if goal["met"] else "**no**"
        lines.append(f"| {goal['goal']} | {text(goal['ratio'])} | {goal['target']} | {met} |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--model", help="model name (default: the server's default)")
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de")
    parser.add_argument("--units", type=int, default=5000, help="units of the catalog built from .mo files")
    parser.add_argument("--catalog", type=Path, help="translate this .po instead of building one")
    parser.add_argument("--locale-dir", type=Path, default=Path("/usr/share/locale"))
    parser.add_argument("--clients", default="1,8", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per cell of interactive requests")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between polls of the job")
    parser.add_argument("--job-timeout", type=float, default=3600.0, help="seconds a job may take at most")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout per request")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--label", help="results go to jobs-LABEL.json/.md")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.clients.split(",") if c]
    args.options = None  # request_body's decoding options: the server's defaults
    if not args.levels or min(args.levels) < 1 or args.seconds <= 0 or args.rounds < 1 or args.units < 1:
        parser.error("bad --clients/--seconds/--rounds/--units")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.catalog:
        catalog, record = given_catalog(args.catalog)
        args.units = record["units"]
    else:
        strings, record = catalog_strings(args.locale_dir, args.units)
        catalog = build_catalog(strings)
    log_dir = HERE / "tmp"  # the server's log and the catalog; git-ignored
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "jobs-catalog.po").write_bytes(catalog)
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="xlt-jobs-bench-") as data_dir:
        os.environ["XLT_DATA_DIR"] = data_dir  # jobs in a SQLite file of their own, removed at the end
        os.environ.pop("XLT_MEMORY_STORE_URL", None)
        server = Server(args.models_dir, True, log_dir / "serve-jobs.log", args.ready_timeout)
        try:
            asyncio.run(warm_up(server.url, list(EVERYDAY), args))
            for index in range(args.rounds):
                rounds.append(asyncio.run(one_round(server.url, catalog, args, reverse=index % 2 == 1)))
        finally:
            server.stop()
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host_meta(),  # CPU model and int8 instructions, cores, Python
        "models_dir": str(args.models_dir),
        "model": args.model,
        "direction": f"{args.source}->{args.target}",
        "units": args.units,
        "catalog": record,
        "clients": args.levels,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("XLT_") and k != "XLT_DATA_DIR"},
        "argv": sys.argv[1:],
    }
    result = summary(rounds, args)
    stem = f"jobs-{args.label}" if args.label else "jobs"
    write_results(meta, rounds, result, args.out, stem)
    print(json.dumps(result["goals"]), flush=True)
    print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
