"""``make bench-peers``: xlt against the servers people would otherwise run, on the same model (issue 30).

Peers, each started on a free port of 127.0.0.1 and stopped by PID; one server up at a time:

- ``xlt``: ``xlt serve`` at its defaults (dynamic batching, its engine threads, held-back pieces, repetition
  penalty 1.1 from the manifest); the beam goes in each request (``options.beam_size``).
- ``xlt-no-held-back`` (not in the default list): the same on a linked copy whose manifests hold no pieces back.
- ``lt-tuned``: LibreTranslate (pinned, ``--lt-version``) in a venv of its own, serving ``models/xlt-base`` as an
  argos package, with ``ARGOS_INTER_THREADS=2 ARGOS_INTRA_THREADS=1`` (what xlt picks on two cores; as shipped,
  one sentence at beam 4 takes ~190 ms there instead of ~16 ms): the peer at its best.
- ``lt``: the same LibreTranslate as shipped (argos' engine threads: inter 1, intra 0 = automatic).
- ``hf``: ``benchmarks/peers_hf_server.py``, FastAPI + Transformers, one ``generate()`` per request on the float32
  checkpoint (``models/xlt-base/checkpoint``).

The argos package (``.argosmodel``: ``metadata.json``, ``model/`` = the CTranslate2 engine, ``sentencepiece.model``)
is built from the model folder so that argos decodes what xlt decodes: ``metadata.json`` sets ``target_prefix``
(``<2de>``, xlt's target-language token) and ``model/config.json`` sets ``add_source_eos`` (argos passes the
source pieces without ``</s>``; CTranslate2 then appends it, as xlt does itself). Its ``minisbd/`` holds a stand-in
sentence splitter (``peers_sbd_standin.py``; the real one downloads at first use). Packages en->de and de->en are
installed, so that LibreTranslate does not try to update its package index at start (it does below two). Before
the load, ``--check`` sentences go through LibreTranslate and through the engine called directly with argos'
options (``peers_argos_direct.py``, in LibreTranslate's venv): the count of identical outputs is recorded.
LibreTranslate has no per-request beam: ``ARGOS_BEAM_SIZE`` sets it per server (its default is 4).

Workload: ``--sentences`` distinct English interface strings of 7-30 words (the msgids of this machine's gettext
catalogs, a seeded sample; ``--sentences-file`` to choose), one per request, en->de, closed-loop aiohttp clients
(``load.run_cell``) at each of ``--clients``, each beam of ``--beams``; ``--rounds`` rounds, peers taking turns in
an order that rotates each round; each cell reports its median round. Results: ``benchmarks/results/peers.json``
and ``peers.md`` (``peers-<label>.*`` with ``--label``), with the ratios of xlt to the best LibreTranslate against
issue 30's goals, each peer's settings and the CPU model.

    python benchmarks/peers.py                                   # the full run (~30 min on 2 cores)
    python benchmarks/peers.py --sentences 10 --clients 1,2 --rounds 1 --beams 2 --duration 2 --check 10
"""

from __future__ import annotations

import argparse
import asyncio
import gettext
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from load import (
    Cell,
    Server,
    free_port,
    host_meta,
    median_cell,
    run_cell,
    start_process,
    stop_process,
    warm_up,
    without_held_back,
)
from wire import post_json, session

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = HERE / ".peers"  # the peers' own venvs (git-ignored)
LT_VERSION = "1.9.6"
ONNX_VERSION = "1.23.2"  # builds the stand-in splitter, in a venv of its own (onnx wants numpy 2, LibreTranslate 1)

PEERS = {
    "xlt": "`xlt serve` at its defaults: dynamic batching, engine threads chosen by xlt, the manifest's held-back "
    "pieces and repetition penalty; beam per request (`options.beam_size`)",
    "xlt-no-held-back": "as xlt, on a linked copy of the models whose manifests set `decoding.suppressed_tokens` null",
    "lt-tuned": "LibreTranslate {lt}, argos package of the same engine; `ARGOS_INTER_THREADS=2 ARGOS_INTRA_THREADS=1` "
    "(xlt's choice on two cores), `ARGOS_BEAM_SIZE`=beam, waitress threads 4 (its default), other settings default",
    "lt": "LibreTranslate {lt} as shipped: argos engine threads inter 1, intra 0 (automatic), `ARGOS_BEAM_SIZE`=beam "
    "(its default is 4), waitress threads 4",
    "hf": "FastAPI + Transformers {tf} (`benchmarks/peers_hf_server.py`): one `generate()` per request in FastAPI's "
    "thread pool, float32 checkpoint, torch's default threads, `num_beams`=beam, no repetition penalty, no held-back "
    "pieces",
}
DEFAULT_PEERS = "xlt,lt-tuned,lt,hf"
GOALS = {1: {2: 1.2, 4: 1.2}, 8: {2: 1.5, 4: 1.5}, 64: {2: 3.0, 4: 2.0}}  # clients -> beam -> xlt / best LT


# ------------------------------------------------------------------------------------------------ workload
def interface_strings(count: int, seed: int, locale_dir: Path = Path("/usr/share/locale")) -> tuple[list[str], str]:
    """``count`` distinct English interface strings of 7-30 words: a seeded sample of the msgids of the German
    gettext catalogs on this machine (plain text only: no placeholders, markup, accelerators or line breaks)."""
    found: set[str] = set()
    catalogs = sorted((locale_dir / "de" / "LC_MESSAGES").glob("*.mo"))
    for path in catalogs:
        try:
            with path.open("rb") as handle:
                msgids = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, UnicodeDecodeError):
            continue  # a catalog in a legacy encoding: leave it out
        for key in msgids:
            text = key[0] if isinstance(key, tuple) else key
            if (
                text
                and text.isascii()
                and text[0].isupper()
                and 7 <= len(text.split()) <= 30
                and not re.search(r"[\n\t%{}<>_&\\$@|=*#\[\]]", text)
            ):
                found.add(text)
    if len(found) < count:
        raise SystemExit(f"only {len(found)} interface strings in {locale_dir}/de/LC_MESSAGES; use --sentences-file")
    chosen = random.Random(seed).sample(sorted(found), count)
    return chosen, f"gettext msgids of {len(catalogs)} catalogs in {locale_dir}/de/LC_MESSAGES, seed {seed}"


# ------------------------------------------------------------------------------------------------ the peers' venvs
def ensure_venv(venv: Path, requirements: list[str], check: str) -> None:
    """A venv at ``venv`` with ``requirements`` from PyPI, unless ``check`` (a Python statement) already runs there."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0:
        return
    print(f"installing {' '.join(requirements)} into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)


def lt_venv(venv: Path, version: str) -> Path:
    check = f"import importlib.metadata as m; assert m.version('libretranslate') == {version!r}"
    ensure_venv(venv, [f"libretranslate=={version}"], check)  # from PyPI: argos-translate-lt, CTranslate2; no torch
    return venv / "bin" / "python"


def package_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True)
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


# ------------------------------------------------------------------------------------------------ argos package
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese"}


def argos_package(engine: Path, source: str, target: str, standin: Path, out_dir: Path) -> Path:
    """``<out_dir>/xlt-base_<source>_<target>.argosmodel``: the engine of ``engine`` as an argos package that decodes
    what xlt decodes (see the module docstring)."""
    manifest = json.loads((engine / "manifest.json").read_text(encoding="utf-8"))
    template = manifest["target_signal"].get("token_template") or "<2{lang}>"
    prefix = manifest["target_signal"].get("tokens", {}).get(target) or template.format(lang=target)
    name = f"{manifest['name']}_{source}_{target}"
    stage = out_dir / name
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "model").mkdir(parents=True)
    (stage / "minisbd").mkdir()
    for path in engine.iterdir():
        if path.name == "model.bin" or "vocabulary" in path.name:
            shutil.copy2(path, stage / "model" / path.name)
    config = json.loads((engine / "config.json").read_text(encoding="utf-8"))
    config["add_source_eos"] = True  # argos sends the pieces alone; xlt sends them with </s>
    (stage / "model" / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    shutil.copy2(engine / manifest["tokenizer"]["source_model"], stage / "sentencepiece.model")
    shutil.copy2(standin, stage / "minisbd" / standin.name)
    metadata = {
        "package_version": "1.0",
        "argos_version": "1.9",
        "from_code": source,
        "from_name": LANGUAGE_NAMES.get(source, source),
        "to_code": target,
        "to_name": LANGUAGE_NAMES.get(target, target),
        "target_prefix": prefix,
        "type": "translate",
    }
    (stage / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    (stage / "README.md").write_text(f"{manifest['name']} for benchmarks/peers.py: {source}->{target}.\n")
    archive = out_dir / f"{name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(stage.rglob("*")):
            zipped.write(path, path.relative_to(out_dir))
    shutil.rmtree(stage)
    return archive


@dataclass
class LibreTranslateHome:
    """Where one benchmark's LibreTranslate keeps everything (no file of the user's home is read or written)."""

    root: Path
    python: Path

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "LT_", "XLT_"))}
        env.update(
            HOME=str(self.root / "home"),
            XDG_DATA_HOME=str(self.root / "data"),
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_CACHE_HOME=str(self.root / "cache"),
            ARGOS_PACKAGES_DIR=str(self.root / "packages"),
        )
        env.update(extra)
        return env


def lt_home(root: Path, python: Path, engine: Path, source: str, target: str) -> LibreTranslateHome:
    """A fresh LibreTranslate home under ``root`` with the engine installed both ways (argos' own installer)."""
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("home", "data", "config", "cache", "packages", "build"):
        (root / sub).mkdir(parents=True)
    onnx_python = PEERS_DIR / "onnx" / "bin" / "python"
    ensure_venv(PEERS_DIR / "onnx", [f"onnx=={ONNX_VERSION}"], "import onnx")
    standin = root / "build" / "standin-en.onnx"
    subprocess.run([str(onnx_python), str(HERE / "peers_sbd_standin.py"), str(standin)], check=True)
    archives = [argos_package(engine, a, b, standin, root / "build") for a, b in ((source, target), (target, source))]
    home = LibreTranslateHome(root, python)
    code = "import sys; from argostranslate import package; [package.install_from_path(p) for p in sys.argv[1:]]"
    subprocess.run([str(python), "-c", code, *map(str, archives)], check=True, env=home.env({}))
    return home


# ------------------------------------------------------------------------------------------------ running a peer
@dataclass
class Running:
    """A peer's server, up: where to send a sentence and what to send."""

    url: str
    process: subprocess.Popen[bytes]
    path: str
    body: Callable[[str], dict[str, object]]
    answer_key: str  # where the translation is in the answer
    metrics: bool  # /metrics with xlt's batch sizes


def start_peer(peer: str, beam: int, ctx: argparse.Namespace) -> Running:
    log = ctx.tmp / f"{peer}-beam{beam}.log"
    src, tgt = ctx.source, ctx.target
    if peer in ("xlt", "xlt-no-held-back"):
        models = ctx.models_dir if peer == "xlt" else without_held_back(ctx.tmp / "without-held-back", ctx.models_dir)
        server = Server(models, True, log, ctx.ready_timeout)
        options = {"beam_size": beam}
        return Running(
            server.url,
            server.process,
            "/translate",
            lambda text: {"text": text, "source": src, "target": tgt, "options": options},
            "text",
            True,
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if peer in ("lt", "lt-tuned"):
        extra = {"ARGOS_BEAM_SIZE": str(beam)}
        if peer == "lt-tuned":
            extra.update(ARGOS_INTER_THREADS="2", ARGOS_INTRA_THREADS="1")
        lt = ctx.lt_home
        cmd = [str(lt.python.with_name("libretranslate")), "--host", "127.0.0.1", "--port", str(port)]
        process = start_process(cmd, lt.env(extra), log, f"{url}/languages", ctx.ready_timeout, cwd=lt.root)
        return Running(
            url,
            process,
            "/translate",
            lambda text: {"q": text, "source": src, "target": tgt, "format": "text"},
            "translatedText",
            False,
        )
    if peer == "hf":
        cmd = [sys.executable, str(HERE / "peers_hf_server.py"), "--checkpoint", str(ctx.checkpoint)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("XLT_")}
        process = start_process([*cmd, "--port", str(port)], env, log, f"{url}/health", ctx.ready_timeout)
        return Running(
            url,
            process,
            "/translate",
            lambda text: {"text": text, "target": tgt, "beam_size": beam},
            "translation",
            False,
        )
    raise ValueError(f"unknown peer {peer!r}")


async def translate_each(running: Running, texts: list[str], timeout: float) -> list[str]:
    out = []
    async with session(running.url, 1, timeout) as http:
        for text in texts:
            answer = await post_json(http, running.path, running.body(text))
            if answer.status != 200:
                raise RuntimeError(f"{running.url}{running.path} answered {answer.status}: {answer.body[:300]!r}")
            out.append(answer.json()[running.answer_key])
    return out


def check_decoding(running: Running, peer: str, beam: int, texts: list[str], ctx: argparse.Namespace) -> dict[str, Any]:
    """LibreTranslate's answers against the engine called directly with argos' options and xlt's framing."""
    served = asyncio.run(translate_each(running, texts, ctx.timeout))
    extra = {"ARGOS_BEAM_SIZE": str(beam)}
    engine = ctx.models_dir / ctx.model
    metadata = next(ctx.lt_home.root.glob(f"packages/*_{ctx.source}_{ctx.target}/metadata.json"))
    prefix = json.loads(metadata.read_text(encoding="utf-8"))["target_prefix"]
    done = subprocess.run(
        [str(ctx.lt_home.python), str(HERE / "peers_argos_direct.py"), str(engine), prefix],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=ctx.lt_home.env(extra),
        check=True,
    )
    direct = json.loads(done.stdout)["outputs"]
    same = sum(a == b for a, b in zip(served, direct, strict=True))
    differences = [
        {"source": t, "libretranslate": a, "direct": b} for t, a, b in zip(texts, served, direct, strict=True) if a != b
    ]
    print(f"{peer} beam {beam}: {same} of {len(texts)} answers identical to the engine called directly", flush=True)
    return {"peer": peer, "beam": beam, "sentences": len(texts), "identical": same, "differences": differences[:5]}


# ------------------------------------------------------------------------------------------------ the run
def run(ctx: argparse.Namespace, sentences: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rounds: dict[tuple[str, int, int], list[Cell]] = {}
    checks: list[dict[str, Any]] = []
    for r in range(ctx.rounds):
        order = ctx.peers[r % len(ctx.peers) :] + ctx.peers[: r % len(ctx.peers)]
        for peer in order:
            for beam in ctx.beams:
                running = start_peer(peer, beam, ctx)
                try:
                    asyncio.run(warm_up(running.url, sentences, ctx, path=running.path, body=running.body))
                    if r == 0 and peer.startswith("lt") and ctx.check and not any(c["beam"] == beam for c in checks):
                        checks.append(check_decoding(running, peer, beam, sentences[: ctx.check], ctx))
                    for level in ctx.levels:
                        cell = asyncio.run(
                            run_cell(
                                running.url,
                                peer,
                                level,
                                sentences,
                                ctx,
                                running.process.pid,
                                path=running.path,
                                body=running.body,
                                batch_metrics=running.metrics,
                            )
                        )
                        print(json.dumps({"round": r + 1, "beam": beam, **asdict(cell)}), flush=True)
                        rounds.setdefault((peer, beam, level), []).append(cell)
                finally:
                    stop_process(running.process)
    cells = [{"peer": peer, "beam": beam, **asdict(median_cell(runs))} for (peer, beam, _), runs in rounds.items()]
    order = {p: i for i, p in enumerate(ctx.peers)}
    cells.sort(key=lambda c: (c["beam"], c["concurrency"], order[c["peer"]]))
    return cells, checks


def ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """xlt against the best LibreTranslate (by sentences/s) in each cell, and issue 30's goal where it has one."""
    out = []
    by = {(c["peer"], c["beam"], c["concurrency"]): c for c in cells}
    for (peer, beam, level), mine in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if peer != "xlt":
            continue
        lts = [by[(p, beam, level)] for p in ("lt-tuned", "lt") if (p, beam, level) in by]
        if not lts:
            continue
        best = max(lts, key=lambda c: c["sentences_per_s"])
        ratio = round(mine["sentences_per_s"] / best["sentences_per_s"], 2) if best["sentences_per_s"] else None
        goal = GOALS.get(level, {}).get(beam)
        met = None
        if goal is not None and ratio is not None:
            met = ratio >= goal and (level != 1 or mine["p50_ms"] < best["p50_ms"])
        out.append(
            {
                "beam": beam,
                "clients": level,
                "xlt": mine["sentences_per_s"],
                "best_lt": best["peer"],
                "best_lt_sentences_per_s": best["sentences_per_s"],
                "ratio": ratio,
                "xlt_p50_ms": mine["p50_ms"],
                "best_lt_p50_ms": best["p50_ms"],
                "goal": goal,
                "met": met,
            }
        )
    return out


def write_results(
    ctx: argparse.Namespace,
    cells: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    workload: dict[str, Any],
    versions: dict[str, str],
) -> Path:
    ctx.out.mkdir(parents=True, exist_ok=True)
    stem = f"peers-{ctx.label}" if ctx.label else "peers"
    settings = {
        p: PEERS[p].format(lt=versions.get("libretranslate", "?"), tf=versions.get("transformers", "?"))
        for p in ctx.peers
    }
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host_meta(),
        "model": str(ctx.models_dir / ctx.model),
        "checkpoint": str(ctx.checkpoint),
        "direction": f"{ctx.source}->{ctx.target}",
        "peers": settings,
        "versions": versions,
        "workload": workload,
        "clients": ctx.levels,
        "beams": ctx.beams,
        "rounds": ctx.rounds,
        "duration_s": ctx.duration,
        "max_requests": ctx.requests,
    }
    table = ratios(cells)
    body = {"meta": meta, "decoding_check": checks, "results": cells, "ratios": table}
    (ctx.out / f"{stem}.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    cpu = meta["host"]["cpu"]  # type: ignore[index]
    lines = [
        "# Serving speed against peers on the same model",
        "",
        f"{meta['date']}, {meta['host']['cpus']} CPUs, {cpu['model']} (int8: {cpu['int8_isa']}); "  # type: ignore[index]
        f"model `{meta['model']}`, {meta['direction']}; {workload['count']} distinct interface strings of 7-30 words "
        f"({workload['source']}), one per request, closed-loop aiohttp clients on 127.0.0.1; one server up at a "
        f"time, peers taking turns in a rotating order, {ctx.rounds} round(s), each cell the median round; cells "
        f"<= {ctx.duration} s and <= {ctx.requests} requests. Load generator on the same machine.",
        "",
        "Sentences/s (p50 ms in brackets):",
        "",
        "| beam | clients | " + " | ".join(ctx.peers) + " |",
        "|---:|---:|" + "---:|" * len(ctx.peers),
    ]
    by = {(c["peer"], c["beam"], c["concurrency"]): c for c in cells}
    for beam in ctx.beams:
        for level in ctx.levels:
            row = []
            for peer in ctx.peers:
                c = by.get((peer, beam, level))
                row.append("-" if c is None else f"{c['sentences_per_s']:g} ({c['p50_ms']:g})")
            lines.append(f"| {beam} | {level} | " + " | ".join(row) + " |")
    lines += [
        "",
        "xlt against the best LibreTranslate (issue 30's goals: 1 client >= 1.2x and a lower p50; 8 clients >= 1.5x; "
        "64 clients >= 3x at beam 2, >= 2x at beam 4):",
        "",
        "| beam | clients | xlt | best LibreTranslate | ratio | p50 ms xlt / LT | goal | met |",
        "|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for t in table:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        goal = "-" if t["goal"] is None else f">= {t['goal']:g}x"
        lines.append(
            f"| {t['beam']} | {t['clients']} | {t['xlt']:g} | {t['best_lt']} {t['best_lt_sentences_per_s']:g} | "
            f"{t['ratio']}x | {t['xlt_p50_ms']:g} / {t['best_lt_p50_ms']:g} | {goal} | {met} |"
        )
    lines += ["", "Every cell:", ""]
    lines += [
        "| peer | beam | clients | requests | errors | sentences/s | range | p50 ms | p95 ms | mean batch "
        "| server CPU ms/sent | client CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        low, high = c["sentences_per_s_range"] or (c["sentences_per_s"], c["sentences_per_s"])
        batch = "-" if c["mean_batch_examples"] is None else f"{c['mean_batch_examples']:g}"
        server = "-" if c["server_cpu_ms_per_sentence"] is None else f"{c['server_cpu_ms_per_sentence']:g}"
        client = "-" if c["client_cpu_ms_per_request"] is None else f"{c['client_cpu_ms_per_request']:g}"
        lines.append(
            f"| {c['peer']} | {c['beam']} | {c['concurrency']} | {c['requests']} | {c['errors']} | "
            f"{c['sentences_per_s']:g} | {low:g}-{high:g} | {c['p50_ms']:g} | {c['p95_ms']:g} | {batch} | {server} | "
            f"{client} |"
        )
    lines += ["", "## Decoding check", ""]
    for check in checks:
        lines.append(
            f"- {check['peer']}, beam {check['beam']}: {check['identical']} of {check['sentences']} LibreTranslate "
            "answers identical to the engine called directly with argos' options and xlt's input tokens "
            "(`benchmarks/peers_argos_direct.py`)."
        )
    if not checks:
        lines.append("- not run (`--check 0` or no LibreTranslate peer)")
    lines += ["", "## Peers", ""]
    lines += [f"- `{p}`: {s}." for p, s in settings.items()]
    lines += [
        "",
        "LibreTranslate serves the engine as an argos package built by `benchmarks/peers.py`: `metadata.json` sets "
        "`target_prefix` (xlt's target-language token), `model/config.json` sets `add_source_eos: true` (argos sends "
        "the source pieces without `</s>`), and `minisbd/` holds a stand-in sentence splitter (`. ! ?` followed by "
        "whitespace, as xlt splits; cheaper than the real MiniSBD model, which downloads at first use). Argos decodes "
        "with `length_penalty=0.2`, `replace_unknowns` and `max_batch_size=32` tokens over one request's sentences "
        "(no batching across requests); xlt with its manifest's repetition penalty and held-back pieces.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
    ]
    (ctx.out / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ctx.out / f"{stem}.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--model", default="xlt-base", help="the engine folder under --models-dir")
    parser.add_argument("--checkpoint", type=Path, help="the hf peer's checkpoint (default: MODEL/checkpoint)")
    parser.add_argument("--peers", default=DEFAULT_PEERS, help="any of " + ", ".join(PEERS))
    parser.add_argument("--beams", default="2,4")
    parser.add_argument("--clients", default="1,8,64", help="comma-separated client counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=200, help="distinct interface strings")
    parser.add_argument("--sentences-file", type=Path, help="one sentence per line instead of the catalogs' strings")
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--check", type=int, default=50, help="sentences of the decoding check (0: none)")
    parser.add_argument("--source", default="en")
    parser.add_argument("--target", default="de")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell (upper bound)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell (upper bound)")
    parser.add_argument("--timeout", type=float, default=120.0, help="HTTP timeout per request")
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--lt-version", default=LT_VERSION)
    parser.add_argument("--lt-venv", type=Path, default=PEERS_DIR / "libretranslate")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--label", help="results go to peers-LABEL.json/.md")
    args = parser.parse_args(argv)
    args.peers = [p for p in args.peers.split(",") if p]
    args.beams = [int(b) for b in args.beams.split(",") if b]
    args.levels = [int(c) for c in args.clients.split(",") if c]
    unknown = set(args.peers) - set(PEERS)
    if unknown or not args.peers or not args.levels or min(args.levels) < 1 or not args.beams or args.rounds < 1:
        parser.error(f"bad --peers/--clients/--beams/--rounds (unknown peers: {sorted(unknown)})")
    args.checkpoint = args.checkpoint or args.models_dir / args.model / "checkpoint"
    args.tmp = HERE / "tmp" / "peers"  # logs, LibreTranslate's home; git-ignored
    return args


def main(argv: list[str] | None = None) -> int:
    ctx = parse_args(argv)
    ctx.tmp.mkdir(parents=True, exist_ok=True)
    if ctx.sentences_file:
        lines = ctx.sentences_file.read_text(encoding="utf-8").splitlines()
        sentences = list(dict.fromkeys(s.strip() for s in lines if s.strip()))[: ctx.sentences]
        source = str(ctx.sentences_file)
    else:
        sentences, source = interface_strings(ctx.sentences, ctx.seed)
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    workload = {"count": len(sentences), "source": source, "sha256_16": digest, "first": sentences[:3]}
    versions = package_versions(Path(sys.executable), ["ctranslate2", "fastapi", "uvicorn"])
    if any(p.startswith("lt") for p in ctx.peers):
        python = lt_venv(ctx.lt_venv, ctx.lt_version)
        versions.update(
            {
                f"{k} (LibreTranslate venv)" if k == "ctranslate2" else k: v
                for k, v in package_versions(python, ["libretranslate", "argos-translate-lt", "ctranslate2"]).items()
            }
        )
        ctx.lt_home = lt_home(ctx.tmp / "libretranslate", python, ctx.models_dir / ctx.model, ctx.source, ctx.target)
    if "hf" in ctx.peers:
        versions.update(package_versions(Path(sys.executable), ["torch", "transformers"]))
    cells, checks = run(ctx, sentences)
    written = write_results(ctx, cells, checks, workload, versions)
    print(f"wrote {written} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
