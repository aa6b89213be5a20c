"""``make bench-profile``: where ``xlt serve``'s CPU goes under load, with py-spy (issue 30: profile before optimizing).

For each client count of ``--clients`` (default 1 and 64), it starts ``xlt serve`` (``load.Server``), sends the peer
benchmark's workload (``peers.interface_strings``: distinct interface strings, one per request, closed loop,
``load.run_cell``), and records ``--seconds`` of samples with ``py-spy record --native --format raw`` (collapsed
stacks). It writes, per case, a flame graph (``profile-c<N>.svg``), and for all cases one table (``profile.md``,
``profile.json``) of the server's CPU by category.

How the table is made:
- The server's threads are counted apart from /proc: py-spy samples Python threads only, and CTranslate2 decodes in
  threads of its own. Their CPU is the row *engine: decoding (native threads ...)*; the JSON has each thread's CPU.
  Which threads are Python's comes from ``py-spy dump``.
- The Python threads' CPU is split by their samples. A sample whose innermost frames wait (a lock, a condition, a
  futex, epoll) is left out: with ``--native`` py-spy does not drop idle threads itself. Each other sample goes to
  the category of its innermost frame that has one (``CATEGORIES``, first matching pattern): the JSON decoder
  called by Starlette is *JSON*, Starlette's own code *ASGI framework*.
- *held-back pieces*: the engine call's argument copies on the calling thread (pybind11 converting the Python
  lists, ``TranslationOptions`` built and destroyed). The ~4,600 one-token ``suppress_sequences`` of each call are
  most of these; the source tokens are also in them. What the pieces cost inside the decoding threads cannot be
  seen here (``load.py --modes dynamic,no-held-back`` measures it).

py-spy needs ptrace rights on the server (root, or ``CAP_SYS_PTRACE``, or ``kernel.yama.ptrace_scope=0`` for a
child process); ``--native`` pauses the process at each sample, so the server runs slower while it is recorded:
compare shares, not speeds. The flame graph is drawn here from the same collapsed stacks (waits left out): py-spy
writes one format per recording, and no flame-graph renderer is installable offline.

    python benchmarks/profile_serve.py                      # 1 and 64 clients, 20 s each
    python benchmarks/profile_serve.py --clients 1 --seconds 3 --sentences 20 --out /tmp/profile
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from load import Cell, Server, host_meta, run_cell, warm_up
from peers import interface_strings

HERE = Path(__file__).resolve().parent

# Innermost frames that mean "not running": the thread waits. Checked on the last WAIT_DEPTH frames of a stack.
WAIT = re.compile(
    r"PyThread_acquire_lock|pthread_cond_(timed)?wait|sem_(timed)?wait|_M_futex_wait|futex_wait|epoll_(p)?wait|"
    r"\bpoll \(|\bselect \(|nanosleep|Condition\.wait|accept4? \("
)
WAIT_DEPTH = 6

# (category, pattern on one frame "function (file:line)"), first match wins; a stack's innermost frame with a
# category names it. Native frames are C/C++ symbols, or addresses with the library's name.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("garbage collector", re.compile(r"gc_collect")),
    (
        "held-back pieces (engine call's argument copies)",
        re.compile(r"TranslationOptions|argument_loader<ctranslate2|list_caster|vector<std::vector<std::__cxx11"),
    ),
    ("tokenization (SentencePiece)", re.compile(r"sentencepiece|SentencePiece|\.tokenize \(|\.detokenize \(")),
    ("engine call (calling thread)", re.compile(r"translate_batch|ctranslate2")),
    ("language id", re.compile(r"langid")),
    ("sentence splitting", re.compile(r"[(/]service/text\.py")),
    ("pydantic", re.compile(r"pydantic")),
    ("JSON", re.compile(r"[(/]json/|_json|orjson|jsonable_encoder|JSONResponse\.render")),
    ("HTTP parsing (uvicorn, httptools, h11)", re.compile(r"uvicorn/|httptools|[(/]h11/|parser\.c|HttpParser|llhttp")),
    ("batcher", re.compile(r"[(/]service/batching/")),
    ("metrics and logs", re.compile(r"prometheus_client|[(/]service/(metrics|access_log)\.py|[(/]logging/")),
    ("xlt middleware, routes and pipeline", re.compile(r"[(/]service/")),
    ("ASGI framework (starlette, fastapi, anyio)", re.compile(r"starlette/|fastapi/|anyio/")),
    ("event loop and sockets (uvloop, asyncio)", re.compile(r"uvloop|loop\.c|\buv_|\buv__|UVStream|asyncio")),
]
ENGINE_THREADS = "engine: decoding (native threads: CTranslate2's workers)"
OTHER = "other"


# ------------------------------------------------------------------------------------------------ classification
def frames_of(line: str) -> tuple[list[str], int]:
    """One line of py-spy's raw output: frames root first, and the sample count."""
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def category(frames: list[str]) -> str | None:
    """None for a waiting stack; else the category of the innermost frame that has one."""
    if any(WAIT.search(frame) for frame in frames[-WAIT_DEPTH:]):
        return None
    for frame in reversed(frames):
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return OTHER


def sample_shares(raw: str) -> tuple[Counter[str], int]:
    """Samples per category (waits left out) and the count of waiting samples."""
    counts: Counter[str] = Counter()
    waiting = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        frames, count = frames_of(line)
        name = category(frames)
        if name is None:
            waiting += count
        else:
            counts[name] += count
    return counts, waiting


# ------------------------------------------------------------------------------------------------ threads and CPU
def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``, from /proc."""
    out = {}
    tick = float(os.sysconf("SC_CLK_TCK"))
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def python_threads(py_spy: str, pid: int) -> dict[int, str]:
    """The server's Python threads (OS thread id -> name), from ``py-spy dump``."""
    done = subprocess.run([py_spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60)
    found = re.findall(r'^Thread (0x[0-9a-fA-F]+|\d+) \([^)]*\): "([^"]*)"', done.stdout, re.MULTILINE)
    return {int(tid, 0): name for tid, name in found}


# ------------------------------------------------------------------------------------------------ flame graph
def flame_svg(raw: str, title: str, width: int = 1200) -> str:
    """A flame graph (root at the bottom) of ``raw``'s non-waiting stacks, coloured by category."""
    root: dict[str, Any] = {"n": 0, "kids": {}}
    for line in raw.splitlines():
        if not line.strip():
            continue
        frames, count = frames_of(line)
        if category(frames) is None:
            continue
        root["n"] += count
        node = root
        for frame in frames:
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += count
    depth = _depth(root)
    row, top = 16, 40
    height = top + row * (depth + 1) + 10
    total = max(root["n"], 1)
    boxes: list[str] = []

    def draw(node: dict[str, Any], name: str, x: float, level: int) -> None:
        w = width * node["n"] / total
        if w < 0.3:
            return
        y = height - 10 - row * (level + 1)
        label = html.escape(name)
        share = 100 * node["n"] / total
        fill = _colour(name)
        text = html.escape(_fit(name, w))
        boxes.append(
            f"<g><title>{label} ({node['n']} samples, {share:.1f}%)</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="{fill}" rx="1"/>'
            + (f'<text x="{x + 3:.1f}" y="{y + 11}">{text}</text>' if text else "")
            + "</g>"
        )
        offset = x
        for kid_name, kid in sorted(node["kids"].items()):
            draw(kid, kid_name, offset, level + 1)
            offset += width * kid["n"] / total

    draw(root, "all (waiting samples left out)", 0.0, 0)
    legend = " · ".join(f'<tspan fill="{_colour_of(name)}">■</tspan> {html.escape(name)}' for name, _ in CATEGORIES)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
        f'font-size="11">\n<rect width="100%" height="100%" fill="#fff"/>\n'
        f'<text x="4" y="16" font-size="14">{html.escape(title)}</text>\n'
        f'<text x="4" y="32" font-size="9">{legend}</text>\n' + "\n".join(boxes) + "\n</svg>\n"
    )


def _depth(node: dict[str, Any]) -> int:
    return 1 + max((_depth(kid) for kid in node["kids"].values()), default=0)


def _fit(name: str, w: float) -> str:
    chars = int(w / 6.6) - 1
    if chars < 3:
        return ""
    return name if len(name) <= chars else name[: chars - 1] + "…"


def _colour_of(name: str) -> str:
    names = [n for n, _ in CATEGORIES]
    hue = 360 * names.index(name) // len(names) if name in names else 30
    return f"hsl({hue},65%,62%)"


def _colour(frame: str) -> str:
    for name, pattern in CATEGORIES:
        if pattern.search(frame):
            return _colour_of(name)
    return "hsl(30,15%,80%)"


# ------------------------------------------------------------------------------------------------ one case
def profile_case(server: Server, clients: int, sentences: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Load at ``clients`` clients; py-spy records ``args.seconds`` of it once the load has ramped up."""
    pid = server.process.pid
    raw_path = args.tmp / f"profile-c{clients}.txt"
    load = argparse.Namespace(**{**vars(args), "duration": args.ramp + args.seconds + 2.0})
    cells: list[Cell] = []
    loader = threading.Thread(
        target=lambda: cells.append(asyncio.run(run_cell(server.url, "dynamic", clients, sentences, load, pid)))
    )
    loader.start()
    time.sleep(args.ramp)
    before = thread_cpu_s(pid)
    t0 = time.monotonic()
    record = ["record", "--pid", str(pid), "--duration", str(int(args.seconds)), "--rate", str(args.rate)]
    spy = subprocess.run(
        [args.py_spy, *record, "--native", "--format", "raw", "--output", str(raw_path)],
        capture_output=True,
        text=True,
        timeout=args.seconds + 120,
    )
    window = time.monotonic() - t0
    after = thread_cpu_s(pid)
    names = python_threads(args.py_spy, pid)
    loader.join()
    if spy.returncode != 0 or not raw_path.exists():
        raise RuntimeError(f"py-spy record failed ({spy.returncode}):\n{spy.stderr[-3000:]}")
    raw = raw_path.read_text(encoding="utf-8", errors="replace")
    counts, waiting = sample_shares(raw)
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    python_cpu = sum(v for tid, v in used.items() if tid in names)
    native_cpu = sum(v for tid, v in used.items() if tid not in names)
    total_cpu = python_cpu + native_cpu
    sampled = sum(counts.values()) or 1
    cpu_s = {ENGINE_THREADS: native_cpu}
    for name, count in counts.items():
        cpu_s[name] = python_cpu * count / sampled
    behind = re.findall(r"([\d.]+)s behind in sampling", spy.stderr)
    svg = args.out / f"{args.stem}-c{clients}.svg"
    title = f"xlt serve, {clients} client(s), {int(args.seconds)} s at {args.rate} Hz (py-spy --native; waits left out)"
    svg.write_text(flame_svg(raw, title), encoding="utf-8")
    cell = cells[0] if cells else None
    return {
        "clients": clients,
        "window_s": round(window, 2),
        "server_cpu_s": round(total_cpu, 3),
        "python_threads_cpu_s": round(python_cpu, 3),
        "native_threads_cpu_s": round(native_cpu, 3),
        "samples": sum(counts.values()),
        "waiting_samples": waiting,
        "py_spy_behind_s_max": max((float(b) for b in behind), default=0.0),
        "shares_percent": {k: round(100 * v / total_cpu, 1) if total_cpu else 0.0 for k, v in cpu_s.items()},
        "load": None if cell is None else {"sentences_per_s": cell.sentences_per_s, "p50_ms": cell.p50_ms},
        "flame_graph": svg.name,
        "raw": str(raw_path),
        "threads": {str(t): {"name": names.get(t, "(native)"), "cpu_s": round(used[t], 3)} for t in sorted(used)},
    }


def write_table(cases: list[dict[str, Any]], args: argparse.Namespace, workload: str) -> None:
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": host_meta(), "models_dir": str(args.models_dir)}
    (args.out / f"{args.stem}.json").write_text(json.dumps({"meta": meta, "cases": cases}, indent=2) + "\n")
    cpu = meta["host"]["cpu"]  # type: ignore[index]
    rows = [ENGINE_THREADS] + [name for name, _ in CATEGORIES] + [OTHER]
    lines = [
        "# Where xlt serve's CPU goes",
        "",
        f"{meta['date']}, {meta['host']['cpus']} CPUs, {cpu['model']} (int8: {cpu['int8_isa']}); models "  # type: ignore[index]
        f"`{args.models_dir}` at the server's defaults; {workload}, one per request, closed loop on 127.0.0.1; "
        f"`py-spy record --native --rate {args.rate}` for {int(args.seconds)} s after {args.ramp:g} s of load. "
        "Share of the server process's CPU (all threads, from /proc) in the recorded window; the Python threads' "
        "part split by their non-waiting samples (`benchmarks/profile_serve.py` says how). py-spy pauses the server "
        "at each sample: speeds under it are lower than unprofiled ones.",
        "",
        "| where | " + " | ".join(f"{c['clients']} client(s)" for c in cases) + " |",
        "|---|" + "---:|" * len(cases),
    ]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(f"{c['shares_percent'].get(row, 0.0):g}%" for c in cases) + " |")
    lines += [
        "| server CPU in the window (s) | " + " | ".join(f"{c['server_cpu_s']:g}" for c in cases) + " |",
        "| Python samples (waiting ones left out) | "
        + " | ".join(f"{c['samples']} ({c['waiting_samples']})" for c in cases)
        + " |",
        "| sentences/s under the profiler | "
        + " | ".join("-" if not c["load"] else f"{c['load']['sentences_per_s']:g}" for c in cases)
        + " |",
        "| py-spy's worst lag (s) | " + " | ".join(f"{c['py_spy_behind_s_max']:g}" for c in cases) + " |",
        "",
        "Flame graphs: " + ", ".join(f"[{c['clients']} client(s)]({c['flame_graph']})" for c in cases) + ".",
    ]
    (args.out / f"{args.stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=HERE.parent / "models")
    parser.add_argument("--clients", default="1,64", help="comma-separated client counts, one case each")
    parser.add_argument("--seconds", type=float, default=20.0, help="recorded seconds per case")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds of load before recording")
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de")
    parser.add_argument("--options", type=json.loads, help="the requests' decoding options, as JSON")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--label", help="results go to profile-LABEL*")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.clients.split(",") if c]
    args.requests = 10**9  # the duration bounds each case
    args.model = None
    args.stem = f"profile-{args.label}" if args.label else "profile"
    args.tmp = HERE / "tmp" / "profile"  # raw stacks, server log; git-ignored
    args.py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not args.py_spy:
        parser.error("py-spy is missing: pip install py-spy (it is in the dev extra)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.tmp.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    sentences, source = interface_strings(args.sentences, args.seed)
    workload = f"{len(sentences)} distinct interface strings ({source}), {args.source}->{args.target}"
    server = Server(args.models_dir, True, args.tmp / "serve.log", args.ready_timeout)
    try:
        asyncio.run(warm_up(server.url, sentences, args))
        cases = [profile_case(server, clients, sentences, args) for clients in args.levels]
    finally:
        server.stop()
    write_table(cases, args, workload)
    print(f"wrote {args.out / args.stem}.md, .json and the flame graphs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
