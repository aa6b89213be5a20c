"""A/B serving benchmark: two variants of ``xlt serve`` on this machine, taking turns cell by cell, round after round.

Why: the machine's speed drifts by 10-20% over minutes (``load.py``), so two variants compare only when measured
interleaved on the same machine and in the same session; one tool does both sides the same way.

A variant is the code it runs and the models it serves:

- ``--rev-a``/``--rev-b REV``: a git revision, checked out with ``git worktree add`` into a temporary folder
  (removed at the end). Its server runs from this venv with ``PYTHONPATH`` pointing at the checkout, so it imports
  that revision's ``service``; before anything is measured, the interpreter is asked (with the server's
  environment) which ``service`` it imports, and the run stops unless it is the checkout's. Without a revision, a
  side runs the working tree as it is.
- ``--models-a``/``--models-b DIR``: the models folder it serves (default ``models``), e.g. ``runs/short-list``
  with a shorter list of held-back pieces against ``models``.
- ``--env-a``/``--env-b NAME=VALUE`` (repeatable): settings of one side only (``XLT_BATCHING=off``).

Each side gets a data folder of its own (``XLT_DATA_DIR``; revisions may differ in their stores' schemas) and
``XLT_MAX_ITEMS`` of at least the list size (unless set). Cells:
``--clients`` (default 1,64) closed-loop clients sending one of ``load.py``'s default sentences per request, at
each of ``--beams`` (default 2,4, as the requests' ``options.beam_size``), plus one client sending
``--list-size`` (default 512) sentences as one list at each beam: the batched ceiling the per-request path is
measured against (issue 30's goal: the most clients reach 0.9 of it). Each round runs every cell on A then B
(B then A on odd rounds, so neither side always goes first); each cell reports its median round. Results go to
``benchmarks/results/ab-<label>.json`` and ``.md``: sentences/s and p50 of each side with B/A, and each side's
clients/list ratios. Other ``XLT_*`` variables pass through to both servers.

    python benchmarks/ab.py --rev-a 96c88ea --rev-b HEAD --label code-cuts
    python benchmarks/ab.py --models-a models --models-b runs/short-list --label short-list
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from load import (
    Cell,
    free_port,
    host_meta,
    make_sentences,
    median_cell,
    run_cell,
    start_process,
    stop_process,
    warm_up,
    xlt_command,
)

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Variant:
    name: str  # "A" or "B"
    rev: str | None  # as given; None: the working tree
    models: Path
    env: dict[str, str]
    commit: str | None = None  # the revision's full hash
    checkout: Path | None = None  # its worktree
    service: str = ""  # the service package its server imports (checked)

    def describe(self) -> str:
        code = f"revision {self.rev} ({self.commit[:10]})" if self.commit else "the working tree"
        env = f", {' '.join(f'{k}={v}' for k, v in self.env.items())}" if self.env else ""
        return f"{code}, models `{self.models}`{env}"


@dataclass(frozen=True)
class CellSpec:
    mode: str  # "dynamic": one sentence per request; "list": one client, lists of ``size`` sentences
    size: int  # clients, or sentences per list
    beam: int

    @property
    def label(self) -> str:
        return f"list of {self.size}" if self.mode == "list" else f"{self.size} client{'s' * (self.size > 1)}"


@dataclass
class Side:
    variant: Variant
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    runs: dict[CellSpec, list[Cell]] = field(default_factory=dict)


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ab.py: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def check_out(variant: Variant, root: Path) -> None:
    """The revision into ``root/rev-<name>`` (a detached worktree of this repository)."""
    assert variant.rev is not None
    variant.commit = git("rev-parse", "--verify", f"{variant.rev}^{{commit}}")
    path = root / f"rev-{variant.name.lower()}"
    git("worktree", "add", "--detach", str(path), variant.commit)
    variant.checkout = path


def server_env(variant: Variant, data_dir: Path, list_size: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLT_HOST", "XLT_PORT", "XLT_MODELS_DIR")}
    env.setdefault("XLT_LOG_LEVEL", "warning")
    env.setdefault("XLT_MAX_ITEMS", str(max(128, list_size)))  # the ceiling's list is one request (default: 128)
    env["XLT_DATA_DIR"] = str(data_dir)
    env.update(variant.env)
    if variant.checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(variant.checkout), os.environ.get("PYTHONPATH")) if p)
    return env


def imported_service(env: dict[str, str]) -> Path:
    """The ``service`` package this venv's interpreter imports under ``env``, as the ``xlt`` script does: ``-P``
    leaves the current folder off ``sys.path`` (a script's own folder, ``.venv/bin``, holds no package)."""
    done = subprocess.run(
        [sys.executable, "-P", "-c", "import service; print(service.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise SystemExit(f"ab.py: cannot import service with the server's environment:\n{done.stderr}")
    return Path(done.stdout.strip()).resolve().parent


def start(side: Side, root: Path, log_dir: Path, args: argparse.Namespace) -> None:
    variant = side.variant
    env = server_env(variant, root / f"data-{variant.name.lower()}", args.list_size)
    expected = ((variant.checkout or REPO) / "service").resolve()
    found = imported_service(env)
    if found != expected:
        raise SystemExit(f"ab.py: side {variant.name} would run {found}, not {expected}: its comparison means nothing")
    variant.service = str(found)
    port = free_port()
    side.url = f"http://127.0.0.1:{port}"
    cmd = [*xlt_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--models-dir", str(variant.models)]
    log = log_dir / f"ab-serve-{variant.name.lower()}.log"
    side.process = start_process(cmd, env, log, f"{side.url}/health/ready", args.ready_timeout)


def cell_args(args: argparse.Namespace, beam: int) -> argparse.Namespace:
    """What ``load.run_cell`` reads, for one beam."""
    return argparse.Namespace(
        duration=args.duration,
        requests=args.requests,
        timeout=args.timeout,
        source=args.source,
        target=args.target,
        model=None,
        options={"beam_size": beam},
    )


def ratio(b: float, a: float) -> float | None:
    return round(b / a, 3) if a else None


def summarise(cells: list[CellSpec], sides: list[Side]) -> list[dict[str, object]]:
    rows = []
    for spec in cells:
        a, b = (median_cell(side.runs[spec]) for side in sides)
        rows.append(
            {
                "cell": spec.label,
                "mode": spec.mode,
                "size": spec.size,
                "beam": spec.beam,
                "a": asdict(a),
                "b": asdict(b),
                "sentences_per_s_b_over_a": ratio(b.sentences_per_s, a.sentences_per_s),
                "p50_b_over_a": ratio(b.p50_ms, a.p50_ms),
            }
        )
    return rows


def clients_over_list(rows: list[dict[str, object]], side: str) -> dict[str, float | None]:
    """Per beam and client count: sentences/s one sentence per request over the list ceiling's."""
    out: dict[str, float | None] = {}
    ceilings = {r["beam"]: r[side] for r in rows if r["mode"] == "list"}
    for r in rows:
        ceiling = ceilings.get(r["beam"])
        if r["mode"] == "dynamic" and isinstance(ceiling, dict):
            cell = r[side]
            assert isinstance(cell, dict)
            out[f"beam {r['beam']}, {r['cell']}"] = ratio(cell["sentences_per_s"], ceiling["sentences_per_s"])
    return out


def write_results(rows: list[dict[str, object]], sides: list[Side], args: argparse.Namespace) -> Path:
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"ab-{args.label}"
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host_meta(),
        "variants": {s.variant.name: asdict(s.variant) for s in sides},
        "direction": f"{args.source}->{args.target}",
        "duration_s": args.duration,
        "max_requests": args.requests,
        "rounds": args.rounds,
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("XLT_")},
    }
    goals = {s.variant.name: clients_over_list(rows, s.variant.name.lower()) for s in sides}
    body = {"meta": meta, "results": rows, "clients_over_list": goals}
    stem.with_suffix(".json").write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    host = meta["host"]
    assert isinstance(host, dict)
    lines = [
        f"# A/B serving benchmark: {args.label}",
        "",
        f"{meta['date']}, {host['cpus']} CPUs ({host['cpu']['model']}, int8: {host['cpu']['int8_isa']}), "
        f"{meta['direction']}, each cell <= {args.duration} s and <= {args.requests} requests, rounds: {args.rounds} "
        "(A then B, B then A on odd rounds; each cell is its median round by sentences/s; *range*: the lowest and "
        "highest round), load generator on the same machine (`benchmarks/ab.py`).",
        "",
        *(f"- **{s.variant.name}**: {s.variant.describe()} (imports `{s.variant.service}`)" for s in sides),
        "",
        "| cell | beam | A sentences/s | A range | B sentences/s | B range | B/A | A p50 ms | B p50 ms | B/A p50 "
        "| errors A/B |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, b = r["a"], r["b"]
        assert isinstance(a, dict) and isinstance(b, dict)
        spread = [f"{c['sentences_per_s_range'][0]:g}-{c['sentences_per_s_range'][1]:g}" for c in (a, b)]
        lines.append(
            f"| {r['cell']} | {r['beam']} | {a['sentences_per_s']:g} | {spread[0]} | {b['sentences_per_s']:g} | "
            f"{spread[1]} | {r['sentences_per_s_b_over_a']} | {a['p50_ms']:g} | {b['p50_ms']:g} | "
            f"{r['p50_b_over_a']} | {a['errors']}/{b['errors']} |"
        )
    lines += [
        "",
        "One sentence per request over the list ceiling at the same beam (goal: >= 0.9 at the most clients):",
        "",
    ]
    lines += [f"- {name}: " + ", ".join(f"{k}: {v}" for k, v in ratios.items()) for name, ratios in goals.items()]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return stem


def pairs(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"ab.py: {item!r} is not NAME=VALUE")
        out[name] = value
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for side in ("a", "b"):
        parser.add_argument(f"--rev-{side}", help=f"git revision side {side.upper()} runs (default: the working tree)")
        parser.add_argument(f"--models-{side}", type=Path, default=Path("models"), help="models folder it serves")
        parser.add_argument(f"--env-{side}", action="append", metavar="NAME=VALUE", help="a setting of this side")
    parser.add_argument("--clients", default="1,64", help="comma-separated client counts, one sentence per request")
    parser.add_argument("--beams", default="2,4", help="comma-separated beam sizes (options.beam_size)")
    parser.add_argument("--list-size", type=int, default=512, help="sentences in the one-list ceiling (0: none)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell (upper bound)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per cell (upper bound)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de", help="target language; several, comma-separated, taken in turn")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout per request")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--label", default="ab", help="results go to ab-LABEL.json/.md")
    args = parser.parse_args(argv)
    args.client_levels = [int(c) for c in args.clients.split(",") if c]
    args.beam_sizes = [int(b) for b in args.beams.split(",") if b]
    if (
        not args.client_levels
        or not args.beam_sizes
        or min(args.client_levels + args.beam_sizes) < 1
        or args.list_size < 0
        or args.duration <= 0
        or args.requests < 1
        or args.rounds < 1
    ):
        parser.error("bad --clients/--beams/--list-size/--duration/--requests/--rounds")
    for side in ("a", "b"):
        models = getattr(args, f"models_{side}")
        if not models.is_dir():
            parser.error(f"--models-{side} {models}: no such folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    variants = [
        Variant(side.upper(), getattr(args, f"rev_{side}"), getattr(args, f"models_{side}").resolve(),
                pairs(getattr(args, f"env_{side}")))
        for side in ("a", "b")
    ]  # fmt: skip
    if (variants[0].rev, variants[0].models, variants[0].env) == (variants[1].rev, variants[1].models, variants[1].env):
        print("ab.py: A and B are the same variant: the ratios show the noise of this machine", file=sys.stderr)
    cells = [CellSpec("dynamic", n, beam) for beam in args.beam_sizes for n in args.client_levels]
    if args.list_size:
        cells += [CellSpec("list", args.list_size, beam) for beam in args.beam_sizes]
    sentences = make_sentences(max(512, args.list_size))
    log_dir = Path(__file__).parent / "tmp"  # server logs; git-ignored
    log_dir.mkdir(parents=True, exist_ok=True)
    sides = [Side(v) for v in variants]
    with tempfile.TemporaryDirectory(prefix="xlt-ab-") as tmp:
        root = Path(tmp)
        try:
            for side in sides:
                if side.variant.rev is not None:
                    check_out(side.variant, root)
                start(side, root, log_dir, args)
                asyncio.run(warm_up(side.url, sentences, cell_args(args, args.beam_sizes[0])))
                print(f"{side.variant.name}: {side.variant.describe()}, imports {side.variant.service}", flush=True)
            for turn in range(args.rounds):
                order = sides if turn % 2 == 0 else sides[::-1]
                for spec in cells:
                    for side in order:
                        assert side.process is not None
                        cell = asyncio.run(
                            run_cell(side.url, spec.mode, spec.size, sentences, cell_args(args, spec.beam),
                                     side.process.pid)
                        )  # fmt: skip
                        side.runs.setdefault(spec, []).append(cell)
                        print(json.dumps({"round": turn + 1, "side": side.variant.name, "beam": spec.beam,
                                          **asdict(cell)}), flush=True)  # fmt: skip
        finally:
            for side in sides:
                if side.process is not None:
                    stop_process(side.process)
                if side.variant.checkout is not None:
                    git("worktree", "remove", "--force", str(side.variant.checkout))
    stem = write_results(summarise(cells, sides), sides, args)
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
