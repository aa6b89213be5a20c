"""Loopback load generator for ``xlt serve``: dynamic batching vs. one engine call per request vs. one list.

It starts ``xlt serve`` itself on a free port of 127.0.0.1 (stopped by PID at the end), and for each
concurrency level measures sentences/s and p50/p95 latency of:

- ``dynamic``: one sentence per request, cross-request batching on (the default server);
- ``off``: one sentence per request, ``XLT_BATCHING=off`` (each request alone in the engine);
- ``list``: the same sentences sent by one client as one list of ``concurrency`` texts per request (the
  batched ceiling: no HTTP or queueing overhead per sentence).
- ``no-held-back``: as ``dynamic``, on a third server whose models are a linked copy in ``benchmarks/tmp/`` with
  ``decoding.suppressed_tokens`` set to null: what the pieces held back per target language cost (CTranslate2 takes
  the list on every call and disables each piece in every row at every step, ~4,600 pieces a language for xlt-base).
  Interleaved with ``dynamic``, since the machine's speed drifts between runs minutes apart.

Every cell is bounded by ``--duration`` seconds and ``--requests`` requests; the modes take turns at each
concurrency for ``--repeat`` rounds (default 3) and each cell reports its median round. Results go to
``benchmarks/results/serving.json`` and ``serving.md`` (``serving-<label>.*`` with ``--label``). Other ``XLT_*``
variables pass through to the server.

``--synthetic opus-mt`` serves a random-weight engine of opus-mt's shape (d_model 512, 6+6 layers), and
``--synthetic opus-mt-big`` one of opus-mt-tc-big's (transformer-big: d_model 1024, 6+6 layers, ffn 4096), built
once into ``benchmarks/tmp/`` (needs the ``train`` extra) with the shipped model's tokenizer: our own default model
is so small that per-request HTTP work costs as much as its inference, and these show what batching does where the
engine dominates, as it does for the pretrained models users convert. How much batching can gain is the engine's
own property: ``list`` over ``off`` bounds it. Random weights rarely stop, so with
``--options '{"beam_size": 1, "max_length": 30}'`` every sentence decodes 30 tokens.

    python benchmarks/load.py --models-dir models --duration 10 --concurrency 1,8,64
    python benchmarks/load.py --synthetic opus-mt --options '{"beam_size": 1, "max_length": 30}' --label opus-mt
    python benchmarks/load.py --models-dir models --modes dynamic,no-held-back --label held-back
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import aiohttp
import httpx
from prometheus_client.parser import text_string_to_metric_families
from wire import TRANSPORT_ERRORS, get_text, post_json, session

WORDS = (  # noqa: SIM905 (a paragraph of words reads better than a 90-item list)
    "the a small old new house garden river city road train friend family child teacher doctor book letter "
    "morning evening summer winter water bread coffee music story window door table street market village "
    "people work school week year day night time world country language question answer idea picture "
    "walks reads writes sees finds opens closes brings takes gives makes likes needs wants knows "
    "quickly slowly today yesterday always never often together again near behind under over with without "
    "and but because when while after before"
).split()


# Each mode and the server it loads: ``list`` sends lists to the batching server; ``no-held-back`` is a third server
# on the same engines with no pieces held back, so that the cost of the held-back pieces is measured interleaved.
MODES = {"dynamic": "dynamic", "off": "off", "list": "dynamic", "no-held-back": "no-held-back"}


def make_sentences(count: int, words: int = 20, seed: int = 1234) -> list[str]:
    """~25 SentencePiece tokens each: 20 words from a fixed list, capitalised, with a full stop."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(count)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def xlt_command() -> list[str]:
    script = Path(sys.executable).with_name("xlt")
    if script.exists():
        return [str(script)]
    found = shutil.which("xlt")
    return [found] if found else [sys.executable, "-m", "service.cli"]


def start_process(
    cmd: list[str], env: dict[str, str], log: Path, ready_url: str, ready_timeout_s: float, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``cmd`` in a subprocess writing to ``log``, once ``ready_url`` answers 200 (any server: xlt or a peer)."""
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop_process(process)
    raise RuntimeError(f"{cmd[0]} not ready after {ready_timeout_s} s:\n{log.read_text(errors='replace')}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM to our own child, by PID
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Server:
    """``xlt serve`` in a subprocess on 127.0.0.1."""

    def __init__(self, models_dir: Path, batching: bool, log: Path, ready_timeout_s: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("XLT_BATCHING", "XLT_HOST", "XLT_PORT")}
        env["XLT_BATCHING"] = "on" if batching else "off"
        env.setdefault("XLT_LOG_LEVEL", "warning")
        cmd = [*xlt_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.log = log
        self.process = start_process(
            [*cmd, "--models-dir", str(models_dir)], env, log, f"{self.url}/health/ready", ready_timeout_s
        )

    def stop(self) -> None:
        stop_process(self.process)


def cpu_info() -> dict[str, str]:
    """The CPU model and the best int8 dot-product instructions it has (what int8 CTranslate2 speed hangs on:
    VNNI makes batch-1 int8 much cheaper, so batching gains differ between CPUs)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())  # the first processor's
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    ranked = [  # best first
        ("amx_int8", "AMX-INT8"),
        ("avx512_vnni", "AVX-512 VNNI"),
        ("avx_vnni", "AVX-VNNI (256-bit)"),
        ("avx512bw", "AVX-512BW (no VNNI)"),
        ("avx2", "AVX2 (no VNNI)"),
        ("i8mm", "Arm I8MM"),
        ("asimddp", "Arm dot product"),
    ]
    isa = next((name for flag, name in ranked if flag in flags), "unknown")
    return {"model": model, "int8_isa": isa}


def host_meta() -> dict[str, object]:
    """What every result file says about the machine."""
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu": cpu_info(),
    }


@dataclass
class Cell:
    mode: str
    concurrency: int
    requests: int
    sentences: int
    errors: int
    seconds: float
    sentences_per_s: float
    p50_ms: float
    p95_ms: float
    mean_batch_examples: float | None
    client_cpu_ms_per_request: float | None = None  # the load generator's own CPU (it shares the cores)
    server_cpu_ms_per_sentence: float | None = None  # the server process's CPU, engine included
    rounds: int = 1
    sentences_per_s_range: tuple[float, float] | None = None  # lowest and highest of the rounds


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def batch_counters(http: aiohttp.ClientSession) -> tuple[float, float]:
    text = await get_text(http, "/metrics")
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "xlt_batch_size_examples_sum":
                total += s.value
            elif s.name == "xlt_batch_size_examples_count":
                count += s.value
    return total, count


def request_body(text: str | list[str], args: argparse.Namespace, target: str | None = None) -> dict[str, object]:
    """A ``/translate`` body for the run's direction (``target``: one of ``--target``'s), model and options."""
    return {
        "text": text,
        "source": args.source,
        "target": target or args.target.split(",")[0],
        **({"model": args.model} if getattr(args, "model", None) else {}),
        **({"options": args.options} if getattr(args, "options", None) else {}),
    }


async def run_cell(
    url: str,
    mode: str,
    concurrency: int,
    sentences: list[str],
    args: argparse.Namespace,
    server_pid: int | None = None,
    *,
    path: str = "/translate",
    body: Callable[[str], dict[str, object]] | None = None,
    batch_metrics: bool = True,
    stop: asyncio.Event | None = None,
) -> Cell:
    """Closed loop: ``concurrency`` clients (or one client sending lists of that size) until a bound hits.

    ``body``: the request for one sentence, for servers other than xlt (``benchmarks/peers.py``); those have no
    ``/metrics`` to read batch sizes from (``batch_metrics=False``). ``stop``: another bound, an event (the end of
    a job that the requests run beside, ``benchmarks/jobs.py``)."""
    clients, per_request = (1, concurrency) if mode == "list" else (concurrency, 1)
    latencies: list[float] = []
    errors = 0
    sent = 0
    done_sentences = 0
    async with session(url, clients + 2, args.timeout) as http:
        before = await batch_counters(http) if batch_metrics else (0.0, 0.0)
        deadline = time.monotonic() + args.duration
        started = time.perf_counter()
        client_cpu = own_cpu_s()
        server_cpu = process_cpu_s(server_pid) if server_pid else None

        async def worker(index: int) -> None:
            nonlocal errors, sent, done_sentences
            position = index * 7919
            targets = args.target.split(",")
            turn = index  # with several targets, each client takes them in turn, starting at a different one
            while time.monotonic() < deadline and sent < args.requests and not (stop is not None and stop.is_set()):
                sent += 1
                texts = [sentences[(position + k) % len(sentences)] for k in range(per_request)]
                position += per_request
                target = targets[turn % len(targets)]
                turn += 1
                if body is not None:
                    payload = body(texts[0])
                else:
                    payload = request_body(texts if mode == "list" else texts[0], args, target)
                t0 = time.perf_counter()
                try:
                    answer = await post_json(http, path, payload)
                except TRANSPORT_ERRORS:
                    errors += 1
                    continue
                if answer.status == 200:
                    latencies.append(time.perf_counter() - t0)
                    done_sentences += per_request
                else:
                    errors += 1

        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
        client_cpu = own_cpu_s() - client_cpu
        server_end = process_cpu_s(server_pid) if server_pid else None
        after = await batch_counters(http) if batch_metrics else (0.0, 0.0)
    batches = after[1] - before[1]
    server_ms = None
    if server_cpu is not None and server_end is not None and done_sentences:
        server_ms = round(1000 * (server_end - server_cpu) / done_sentences, 2)
    return Cell(
        mode=mode,
        concurrency=concurrency,
        requests=sent,
        sentences=done_sentences,
        errors=errors,
        seconds=round(elapsed, 3),
        sentences_per_s=round(done_sentences / elapsed, 2) if elapsed else 0.0,
        p50_ms=round(1000 * percentile(latencies, 50), 1),
        p95_ms=round(1000 * percentile(latencies, 95), 1),
        mean_batch_examples=round((after[0] - before[0]) / batches, 2) if batches else None,
        client_cpu_ms_per_request=round(1000 * client_cpu / sent, 2) if sent else None,
        server_cpu_ms_per_sentence=server_ms,
    )


def median_cell(runs: list[Cell]) -> Cell:
    """The round with the median throughput (the lower middle one for an even count), with the count of rounds."""
    chosen = sorted(runs, key=lambda c: c.sentences_per_s)[(len(runs) - 1) // 2]
    return replace(
        chosen,
        rounds=len(runs),
        sentences_per_s_range=(min(c.sentences_per_s for c in runs), max(c.sentences_per_s for c in runs)),
    )


def synthetic_models(root: Path, models_dir: Path, shape: str) -> Path:
    """A models folder with one random engine of ``shape`` using ``models_dir``'s xlt-base tokenizer."""
    out = root / "models" / f"{shape}-random"
    if not (out / "manifest.json").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.tiny_model import OPUS_MT, OPUS_MT_BIG, build_tiny_model

        size = {"opus-mt": OPUS_MT, "opus-mt-big": OPUS_MT_BIG}[shape]
        sp = models_dir / "xlt-base" / "sentencepiece.model"
        build_tiny_model(out, root / "work", name=f"{shape}-random", size=size, sp_model=sp)
    return out.parent


def without_held_back(root: Path, models_dir: Path) -> Path:
    """``models_dir`` again under ``root``, its files linked, but every manifest's ``decoding.suppressed_tokens``
    null: the same engines decoding with no pieces held back."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(models_dir.resolve(), root, symlinks=True, copy_function=os.symlink)
    for manifest in root.glob("*/manifest.json"):
        body = json.loads(manifest.read_text(encoding="utf-8"))
        if isinstance(body.get("decoding"), dict):
            body["decoding"]["suppressed_tokens"] = None
        manifest.unlink()  # a link into models_dir: write a file of its own
        manifest.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return root


async def warm_up(
    url: str,
    sentences: list[str],
    args: argparse.Namespace,
    *,
    path: str = "/translate",
    body: Callable[[str], dict[str, object]] | None = None,
) -> None:
    async with session(url, 1, args.timeout) as http:
        for text in sentences[:3]:
            answer = await post_json(http, path, body(text) if body else request_body(text, args))
            if answer.status != 200:
                raise RuntimeError(f"warm-up request answered {answer.status}: {answer.body[:500]!r}")


def write_results(cells: list[Cell], args: argparse.Namespace, out_dir: Path, served: dict[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host_meta(),
        "models_dir": str(args.models_dir),
        "served": served,  # each server's models folder
        "model": args.model,
        "synthetic": args.synthetic,
        "options": args.options,
        "direction": f"{args.source}->{args.target}",  # several targets: comma-separated, taken in turn
        "duration_s": args.duration,
        "max_requests": args.requests,
        "rounds": args.repeat,
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("XLT_")},
    }
    stem = f"serving-{args.label}" if args.label else "serving"
    cpu = cpu_info()
    (out_dir / f"{stem}.json").write_text(
        json.dumps({"meta": meta, "results": [asdict(c) for c in cells]}, indent=2) + "\n", encoding="utf-8"
    )
    lines = [
        "# Serving benchmark",
        "",
        f"{meta['date']}, {meta['host']['cpus']} CPUs ({cpu['model']}, int8: {cpu['int8_isa']}), "
        f"model dir `{args.models_dir}`"
        f"{f', model `{args.model}`' if args.model else ''}"
        f"{f', random-weight {args.synthetic}-shaped engine' if args.synthetic else ''}"
        f"{f', options {json.dumps(args.options)}' if args.options else ''}, {meta['direction']}, "
        f"each cell <= {args.duration} s and <= {args.requests} requests, "
        "load generator on the same machine.",
        "",
        "`dynamic`: one sentence per request, cross-request batching. `off`: one sentence per request, "
        "`XLT_BATCHING=off`. `list`: one client sending lists of *concurrency* sentences "
        "(the batched ceiling; latency is per list). `no-held-back`: as `dynamic`, on a server of its own whose "
        "manifests set `decoding.suppressed_tokens` null (what the held-back pieces cost). "
        "Engine threads are the server defaults unless "
        "`XLT_INTER_THREADS`/`XLT_INTRA_THREADS` are set: one single-threaded engine worker per core. "
        "*mean batch* is sentences per engine call, from `/metrics`. *server CPU* is the server process's CPU "
        "(engine included) per sentence; *client CPU* the load generator's own per request (aiohttp; it runs on "
        "the same two cores, so it is kept small).",
        "",
        f"Each row is the median of {args.repeat} rounds by throughput (the modes took turns at each "
        "concurrency); *range* is the lowest and highest sentences/s of the rounds.",
        "",
        "| mode | concurrency | requests | errors | sentences/s | range | p50 ms | p95 ms | mean batch "
        "| server CPU ms/sent | client CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell_text(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    for c in cells:
        low, high = c.sentences_per_s_range or (c.sentences_per_s, c.sentences_per_s)
        spread = f"{low:g}-{high:g}"
        lines.append(
            f"| {c.mode} | {c.concurrency} | {c.requests} | {c.errors} | {c.sentences_per_s:g} | {spread} | "
            f"{c.p50_ms:g} | {c.p95_ms:g} | {cell_text(c.mean_batch_examples)} | "
            f"{cell_text(c.server_cpu_ms_per_sentence)} | {cell_text(c.client_cpu_ms_per_request)} |"
        )
    (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--model", help="model name (default: the server's default)")
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de", help="target language; several, comma-separated, taken in turn")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell (upper bound)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell (upper bound)")
    parser.add_argument("--concurrency", default="1,8,64", help="comma-separated client counts")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each cell reports the median round")
    parser.add_argument("--modes", default="dynamic,off,list", help="any of " + ", ".join(MODES))
    parser.add_argument("--sentences-file", type=Path, help="one sentence per line (default: generated)")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout per request")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--label", help="results go to serving-LABEL.json/.md")
    parser.add_argument("--options", type=json.loads, help="the requests' decoding options, as JSON")
    parser.add_argument(
        "--synthetic", choices=["opus-mt", "opus-mt-big"], help="serve a random-weight engine of this shape"
    )
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",") if c]
    args.mode_list = [m for m in args.modes.split(",") if m]
    unknown = set(args.mode_list) - set(MODES)
    if unknown or not args.levels or min(args.levels) < 1 or args.duration <= 0 or args.requests < 1 or args.repeat < 1:
        parser.error(f"bad --modes/--concurrency/--duration/--requests/--repeat (unknown modes: {sorted(unknown)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sentences_file:
        sentences = [s.strip() for s in args.sentences_file.read_text(encoding="utf-8").splitlines() if s.strip()]
    else:
        sentences = make_sentences(512)
    log_dir = Path(__file__).parent / "tmp"  # server logs; git-ignored
    log_dir.mkdir(parents=True, exist_ok=True)
    if args.synthetic:
        args.models_dir = synthetic_models(log_dir / f"synthetic-{args.synthetic}", args.models_dir, args.synthetic)
    # The servers run at once (an idle one costs no CPU) and the modes take turns at each concurrency, round
    # after round: the machine's speed drifts by 10-20% over minutes here, and cells compared with each other
    # should share its state. Each reported cell is the round with the median throughput.
    names = {MODES[mode] for mode in args.mode_list}
    servers: dict[str, Server] = {}
    served: dict[str, str] = {}
    rounds: dict[tuple[str, int], list[Cell]] = {}
    try:
        for name in sorted(names):
            models_dir = args.models_dir
            if name == "no-held-back":
                models_dir = without_held_back(log_dir / "without-held-back", args.models_dir)
            batching = name != "off"
            served[name] = str(models_dir)
            servers[name] = Server(models_dir, batching, log_dir / f"serve-{name}.log", args.ready_timeout)
            asyncio.run(warm_up(servers[name].url, sentences, args))
        for _ in range(args.repeat):
            for level in args.levels:
                for mode in args.mode_list:
                    server = servers[MODES[mode]]
                    cell = asyncio.run(run_cell(server.url, mode, level, sentences, args, server.process.pid))
                    print(json.dumps(asdict(cell)), flush=True)
                    rounds.setdefault((mode, level), []).append(cell)
    finally:
        for server in servers.values():
            server.stop()
    cells = [median_cell(runs) for runs in rounds.values()]
    order = {m: i for i, m in enumerate(MODES)}
    cells.sort(key=lambda c: (order[c.mode], c.concurrency))
    write_results(cells, args, args.out, served)
    stem = f"serving-{args.label}" if args.label else "serving"
    print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
