"""``make bench-gpu``: CTranslate2 on a GPU, end to end, in one bounded run that can be handed to a fresh machine.

Steps, each under its own timeout and all under ``--budget`` seconds; a failed step is recorded with its output's
tail and the steps that need it are skipped, so that a report is written whatever happens:

1. ``install``: the serving dependencies missing from the machine's Python, from ``--wheels DIR`` (offline: made
   here with ``python benchmarks/gpu.py prepare-wheels DIR``) or else from PyPI. The repository itself is not
   installed: every step runs with it on ``PYTHONPATH``.
2. ``probe``: GPU (``nvidia-smi``), CPU model, CTranslate2 and its CUDA devices. The PyPI CTranslate2 wheel opens
   ``libcublas.so.12``; where only cuBLAS 13 is there (CUDA 13 images), the steps run with ``libcublas.so.12``
   naming it, which the report says, and a one-sentence translation on the GPU shows whether that holds.
3. ``engine``: the random engine of opus-mt-tc-big's shape (transformer-big; ``benchmarks/load.py --synthetic``'s
   builder, which needs torch and transformers) beside ``models/xlt-base``.
4. ``parity``: each engine translates the same English sentences (beam 2) into its first trained targets with
   ``int8_float16`` and ``float16``, and with ``float32`` as the reference, on the GPU, and with ``int8`` on the
   CPU (what the CPU service serves): chrF of each against the reference and the share of identical outputs.
   Parity holds when xlt-base's ``int8_float16`` outputs are at most ``--parity-margin`` chrF further from the
   reference than the CPU's ``int8`` outputs are: the GPU's quantization may cost no more than the CPU's, which
   ``xlt convert`` checked against references (random weights magnify small numeric differences, so the big
   engine's figures are reported, not judged).
5. ``load-*``: ``xlt serve`` with ``XLT_DEVICE=cuda XLT_COMPUTE_TYPE=int8_float16`` (batches up to 256 sentences,
   8192 tokens) and ``benchmarks/load.py`` at 1, 8, 64 and 256 clients, for each engine.
6. the report: ``benchmarks/results/gpu-<date>-<gpu>.md`` and ``.json``.

``--dry-run`` (or ``XLT_DEVICE=cpu``) runs the same steps on the CPU (``int8`` against ``float32``, a tiny engine
instead of the big one, one-second cells, 12 sentences), installs nothing and writes into a temporary folder
(``--out`` to choose): it proves the harness here, where there is no GPU. Exit status: 0 when every step passed
and parity held.

    python benchmarks/gpu.py --wheels .whl          # on the GPU machine (about 5 minutes)
    python benchmarks/gpu.py --dry-run              # here
    python benchmarks/gpu.py prepare-wheels .whl    # here, with PyPI: what the GPU machine lacks, for Python 3.12
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import importlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "benchmarks" / "tmp"  # git-ignored
LEVELS = "1,8,64,256"
GPU_SERVER_ENV = {  # the GPU takes bigger batches than the CPU defaults (64 sentences, 1600 tokens)
    "XLT_DEVICE": "cuda",
    "XLT_COMPUTE_TYPE": "int8_float16",
    "XLT_MAX_BATCH_SIZE": "256",
    "XLT_MAX_BATCH_TOKENS": "8192",
}
# What this workplace's 'cuda' image (the device machines) already holds among the serving dependencies
# (read 2026-11-17): prepare-wheels leaves these out, to keep the carried folder small.
ON_GPU_IMAGE = {
    "aiohttp", "annotated-doc", "anyio", "certifi", "click", "h11", "httpcore", "httpx", "idna", "lxml",
    "markdown-it-py", "mdurl", "numpy", "packaging", "pillow", "prometheus-client", "pyyaml", "sentencepiece",
    "tqdm", "typing-extensions", "uvloop", "zipp",
}  # fmt: skip


class Run:
    """The steps' records and the environment they share (``LD_LIBRARY_PATH`` may gain a cuBLAS alias)."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.monotonic() + budget_s
        self.steps: list[dict[str, Any]] = []
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.env["PYTHONUNBUFFERED"] = "1"

    def ok(self, name: str) -> bool:
        """Whether a step ``name`` (or ``name <variant>``, e.g. a probe with another compute type) passed."""
        return any(s["step"].split(" ")[0] == name and s["status"] == "ok" for s in self.steps)

    def step(self, name: str, cmd: list[str], timeout_s: float, needs: tuple[str, ...] = ()) -> str | None:
        """Run one step as a subprocess; its stdout on success, else None (recorded either way)."""
        missing = [n for n in needs if not self.ok(n)]
        left = self.deadline - time.monotonic()
        if missing or left < 10:
            why = f"skipped: {', '.join(missing)} did not pass" if missing else "skipped: the run's budget is spent"
            self.steps.append({"step": name, "status": "skipped", "seconds": 0.0, "note": why})
            print(f"[{name}] {why}", flush=True)
            return None
        print(f"[{name}] {' '.join(cmd)}", flush=True)
        started = time.monotonic()
        try:
            done = subprocess.run(
                cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=min(timeout_s, left)
            )
            status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
            out, err = done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            status = f"failed (timeout {min(timeout_s, left):.0f} s)"
            out, err = _text(exc.stdout), _text(exc.stderr)
        seconds = round(time.monotonic() - started, 1)
        record: dict[str, Any] = {"step": name, "status": status, "seconds": seconds}
        if status != "ok":
            record["note"] = (err or out)[-1500:]
        self.steps.append(record)
        print(f"[{name}] {status} in {seconds} s", flush=True)
        if status != "ok":
            print(record["note"], file=sys.stderr, flush=True)
        return out if status == "ok" else None


def _text(value: bytes | str | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


# ---------------------------------------------------------------------------------------------- install
def serving_requirements() -> list[str]:
    """``[project].dependencies`` of pyproject.toml, as pip requirement strings."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def missing_requirements() -> list[str]:
    """The serving requirements with no installed distribution of a matching version."""
    from packaging.requirements import Requirement

    missing = []
    for line in serving_requirements():
        req = Requirement(line)
        if req.marker and not req.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


def install(wheels: Path | None) -> int:
    """Install what is missing: every file of ``wheels`` (offline, no resolver) or the requirements from PyPI."""
    missing = missing_requirements()
    if not missing:
        print("every serving dependency is installed")
        return 0
    print("missing:", ", ".join(missing), flush=True)
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if wheels is not None:
        files = sorted(str(p) for p in wheels.iterdir() if p.suffix in (".whl", ".gz", ".zip"))
        cmd = [*pip, "--no-index", "--no-deps", "--no-build-isolation", *files]
    else:
        cmd = [*pip, *missing]
    done = subprocess.run(cmd)
    if done.returncode != 0:
        return done.returncode
    still = missing_requirements()
    if still:  # an older version already there may still serve: the imports below decide
        print("not as pyproject.toml asks after the install:", ", ".join(still), file=sys.stderr)
    for module in ("ctranslate2", "fastapi", "uvicorn", "pydantic_settings", "sentencepiece", "aiohttp", "sacrebleu"):
        importlib.import_module(module)  # the steps' own needs: an ImportError fails this step with its message
    return 0


def prepare_wheels(dest: Path, python_version: str = "3.12") -> int:
    """Download, for a Linux x86-64 CPython ``python_version``, the serving dependencies (with the versions
    installed here) that the GPU image lacks, and recompress CTranslate2's wheel with LZMA (pip reads it; about
    25 MB instead of 43), so that the folder travels with the repository within the device tool's 64 MiB."""
    from packaging.requirements import Requirement

    dest.mkdir(parents=True, exist_ok=True)
    env = {"python_version": python_version, "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    pins: dict[str, str] = {}
    todo = [Requirement(line) for line in serving_requirements()]
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if (req.marker and not req.marker.evaluate(env)) or name in pins or name in ON_GPU_IMAGE:
            continue
        pins[name] = importlib.metadata.version(req.name)
        todo += [Requirement(r) for r in importlib.metadata.requires(req.name) or []]
    platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (17, 27, 28, 31, 34)] + [
        "--platform=manylinux2014_x86_64"
    ]
    binary = [f"--python-version={python_version}", "--implementation=cp", "--only-binary=:all:", *platforms]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", str(dest)]
    for name, version in sorted(pins.items()):
        has_wheel = subprocess.run([*pip, *binary, f"{name}=={version}"]).returncode == 0
        # no wheel (langid): the source, built there
        if not has_wheel and subprocess.run([*pip, "--no-binary=:all:", f"{name}=={version}"]).returncode != 0:
            return 1
    for wheel in dest.glob("ctranslate2-*.whl"):
        _recompress(wheel)
    total = sum(p.stat().st_size for p in dest.iterdir())
    print(f"{len(pins)} packages, {total / 2**20:.1f} MiB in {dest}")
    return 0


def _recompress(wheel: Path) -> None:
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_LZMA) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info), compress_type=zipfile.ZIP_LZMA)
    tmp.replace(wheel)


# ------------------------------------------------------------------------------------------------ probe
def probe(device: str, engine: Path, compute_type: str) -> int:
    """Print what the machine is as JSON, after translating one sentence on ``device`` (the GPU path works)."""
    import ctranslate2

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "ctranslate2": ctranslate2.__version__,
        "cuda_devices": ctranslate2.get_cuda_device_count(),
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH", ""),
    }
    if device == "cuda":
        info["supported_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        info["gpu"] = smi.stdout.strip() or smi.stderr.strip()
    translator = ctranslate2.Translator(str(engine), device=device, compute_type=compute_type)
    result = translator.translate_batch([["▁Hello", "</s>"]], target_prefix=[["<2de>"]], max_decoding_length=8)
    info["translation"] = f"{device} {translator.compute_type}: {' '.join(result[0].hypotheses[0])}"
    print(json.dumps(info))
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cublas_alias(work: Path) -> str | None:
    """None when ``libcublas.so.12`` loads; else a folder where ``libcublas.so.12`` and ``libcublasLt.so.12`` name
    the cuBLAS 13 libraries found (pip's ``nvidia`` packages, CUDA toolkits, the loader's cache), to prepend to
    ``LD_LIBRARY_PATH``; '' when neither is found."""
    try:
        ctypes.CDLL("libcublas.so.12")
        return None
    except OSError:
        pass
    candidates = [Path(p) for s in sys.path if s for p in glob.glob(f"{s}/nvidia/**/libcublas.so.13*", recursive=True)]
    candidates += [Path(p) for p in glob.glob("/usr/local/cuda*/**/libcublas.so.13*", recursive=True)]
    cache = (
        subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout if shutil.which("ldconfig") else ""
    )
    candidates += [Path(m) for m in re.findall(r"=> (\S*libcublas\.so\.13\S*)", cache)]
    for lib in candidates:
        lt = next(iter(sorted(lib.parent.glob("libcublasLt.so.13*"))), None)
        if lt is None:
            continue
        alias = work / "cublas12-alias"
        shutil.rmtree(alias, ignore_errors=True)
        alias.mkdir(parents=True)
        (alias / "libcublas.so.12").symlink_to(lib)
        (alias / "libcublasLt.so.12").symlink_to(lt)
        return f"{alias}{os.pathsep}{lib.parent}"
    return ""


# ------------------------------------------------------------------------------------------------ engine
def build_engine(out: Path, shape: str) -> int:
    """``out``: a models folder holding the random engine of ``shape`` with xlt-base's tokenizer."""
    sys.path.insert(0, str(ROOT))
    from tests.tiny_model import OPUS_MT_BIG, TINY, build_tiny_model

    folder = out / f"{shape}-random"
    if not (folder / "manifest.json").exists():
        size = {"opus-mt-big": OPUS_MT_BIG, "tiny": TINY}[shape]
        sp = ROOT / "models" / "xlt-base" / "sentencepiece.model"
        build_tiny_model(folder, out.parent / f"work-{shape}", name=f"{shape}-random", size=size, sp_model=sp)
    print(folder)
    return 0


# ------------------------------------------------------------------------------------------------ parity
def parity(folders: list[Path], device: str, types: list[str], count: int, out: Path) -> int:
    """Outputs of each engine in each compute type against the last type's (the reference), as JSON in ``out``."""
    import sacrebleu

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from load import make_sentences

    from service.engines.base import DecodeOptions
    from service.engines.ctranslate2_engine import CTranslate2Engine
    from service.engines.manifest import Manifest

    texts = make_sentences(count, words=12)
    runs = [(f"{device} {t}", device, t) for t in types]
    if device != "cpu":
        runs.append(("cpu int8", "cpu", "int8"))  # what the CPU service serves
    report = []
    for folder in folders:
        manifest = Manifest.load(folder)
        targets = [t for s, t in manifest.trained_directions if s == "en"][:3]
        outputs: dict[str, list[str]] = {}
        seconds: dict[str, float] = {}
        for label, dev, compute_type in runs:
            threads = min(8, os.cpu_count() or 1) if dev == "cpu" else 1
            engine = CTranslate2Engine(folder, manifest, device=dev, compute_type=compute_type, intra_threads=threads)
            options = DecodeOptions(beam_size=2, max_length=64)
            engine.translate_batch([engine.tokenize(texts[0], "en", targets[0])], targets[:1], options, 8192)  # warm
            started = time.perf_counter()
            outputs[label] = []
            for target in targets:
                sources = [engine.tokenize(t, "en", target) for t in texts]
                hyps = engine.translate_batch(sources, [target] * len(sources), options, 8192)
                outputs[label] += [engine.detokenize(h.tokens) for h in hyps]
            seconds[label] = round(time.perf_counter() - started, 3)
            engine.close()
        reference = runs[len(types) - 1][0]
        for label in outputs:
            same = sum(a == b for a, b in zip(outputs[label], outputs[reference], strict=True))
            report.append(
                {
                    "engine": folder.name,
                    "run": label,
                    "reference": reference,
                    "sentences": len(outputs[label]),
                    "targets": targets,
                    "chrf_vs_reference": round(sacrebleu.corpus_chrf(outputs[label], [outputs[reference]]).score, 2),
                    "identical": round(same / len(outputs[label]), 3),
                    "seconds": seconds[label],
                }
            )
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return 0


# ------------------------------------------------------------------------------------------------ the run
def run(args: argparse.Namespace) -> int:
    dry = args.dry_run or os.environ.get("XLT_DEVICE") == "cpu"
    device = "cpu" if dry else "cuda"
    fast, types = ("int8", ["int8", "float32"]) if dry else ("int8_float16", ["int8_float16", "float16", "float32"])
    out = args.out or (Path(tempfile.mkdtemp(prefix="xlt-bench-gpu-")) if dry else ROOT / "benchmarks" / "results")
    work = TMP / ("gpu-dry-run" if dry else "gpu")
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    state = Run(args.budget)
    note = {"cublas": "not needed (CPU)" if dry else "libcublas.so.12 loads"}
    base = ROOT / "models" / "xlt-base"

    if dry:
        state.steps.append({"step": "install", "status": "ok", "seconds": 0.0, "note": "dry run: nothing installed"})
    else:
        state.step("install", [*me, "_install", *(["--wheels", str(args.wheels)] if args.wheels else [])], 300)
        alias = cublas_alias(work) if state.ok("install") else None
        if alias:
            state.env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [alias, os.environ.get("LD_LIBRARY_PATH")]))
            note["cublas"] = f"only cuBLAS 13 found: libcublas.so.12 names it ({alias.split(os.pathsep)[1]})"
        elif alias == "":
            note["cublas"] = "libcublas.so.12 not found, nor cuBLAS 13 to stand in for it"
    machine_json = state.step("probe", [*me, "_probe", device, str(base), fast], 120, needs=("install",))
    wanted = fast
    for other in [] if machine_json or dry or not state.ok("install") else ["int8", "float16"]:
        # int8_float16 failed (a crash takes the process, hence one process a type): serve what does run
        machine_json = state.step(f"probe {other}", [*me, "_probe", device, str(base), other], 120)
        if machine_json:
            fast = other
            types = [t for t in types if t != wanted]
            break
    machine = json.loads(machine_json.strip().splitlines()[-1]) if machine_json else {"cpu": _cpu_model()}

    shape = "tiny" if dry else "opus-mt-big"
    synthetic = work / f"synthetic-{shape}" / "models"
    state.step("engine", [*me, "_engine", str(synthetic), shape], 300, needs=("install",))
    big = synthetic / f"{shape}-random"

    parity_json = work / "parity.json"
    count = 12 if dry else 48
    folders = [base, big] if state.ok("engine") else [base]
    state.step(
        "parity",
        [*me, "_parity", device, ",".join(types), str(count), str(parity_json), *map(str, folders)],
        240,
        needs=("probe",),
    )
    parity_rows = json.loads(parity_json.read_text()) if state.ok("parity") else []

    server_env = (
        {"XLT_DEVICE": "cpu", "XLT_COMPUTE_TYPE": fast} if dry else {**GPU_SERVER_ENV, "XLT_COMPUTE_TYPE": fast}
    )
    server_env["XLT_LANGUAGE_DETECTION"] = "false"  # the requests name their source language
    state.env.update(server_env)
    duration, requests = ("1", "300") if dry else (str(args.duration), "1000000")
    loads: dict[str, Any] = {}
    for label, models_dir, options, needs in (
        ("xlt-base", ROOT / "models", None, ("probe",)),
        (shape, synthetic, '{"beam_size": 1, "max_length": 30}', ("probe", "engine")),
    ):
        cmd = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--models-dir", str(models_dir)]
        cmd += ["--concurrency", LEVELS, "--modes", "dynamic", "--repeat", "1", "--duration", duration]
        cmd += ["--requests", requests, "--out", str(work), "--label", f"gpu-{label}"]
        cmd += ["--options", options] if options else []
        limit = 4 * (float(duration) + 60) + 180
        if state.step(f"load {label}", cmd, limit, needs=needs) is not None:
            loads[label] = json.loads((work / f"serving-gpu-{label}.json").read_text())["results"]
        elif (TMP / "serve-dynamic.log").exists():  # where load.py keeps the server's log
            state.steps[-1]["server_log"] = (TMP / "serve-dynamic.log").read_text(errors="replace")[-1500:]

    verdict = parity_verdict(parity_rows, f"{device} {wanted}", args.parity_margin)
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dry_run": dry,
        "machine": machine,
        "cublas": note["cublas"],
        "server_env": server_env,
        "steps": state.steps,
        "parity": parity_rows,
        "parity_verdict": verdict,
        "load": loads,
    }
    stem = "gpu-dry-run-cpu" if dry else f"gpu-{time.strftime('%Y%m%d')}-{_slug(machine.get('gpu', 'unknown'))}"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown(report), encoding="utf-8")
    print(f"wrote {out / stem}.md and .json")
    passed = all(s["status"] == "ok" for s in state.steps) and verdict.startswith("held")
    return 0 if passed else 1


def parity_verdict(rows: list[dict[str, Any]], run_label: str, margin: float) -> str:
    """xlt-base's ``run_label`` outputs against the CPU int8 ones, both scored against the reference run."""
    score = {r["run"]: r["chrf_vs_reference"] for r in rows if r["engine"] == "xlt-base"}
    if run_label not in score or "cpu int8" not in score:
        return "not measured"
    held = score[run_label] >= score["cpu int8"] - margin
    return (
        f"{'held' if held else 'FAILED'}: xlt-base {run_label} at {score[run_label]} chrF against the reference, "
        f"cpu int8 at {score['cpu int8']} (margin {margin})"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.split(",")[0].lower()).strip("-") or "unknown"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    title = "GPU check (dry run on the CPU)" if report["dry_run"] else "GPU check"
    lines = [
        f"# {title}",
        "",
        f"{report['date']}. GPU: {m.get('gpu', 'none')}. CPU: {m.get('cpu')} ({m.get('cores', '?')} cores). "
        f"CTranslate2 {m.get('ctranslate2', '?')}, CUDA devices seen: {m.get('cuda_devices', '?')}; "
        f"cuBLAS: {report['cublas']}. `python benchmarks/gpu.py{' --dry-run' if report['dry_run'] else ''}`.",
        "",
        "## Steps",
        "",
        "| step | status | seconds |",
        "|---|---|---:|",
        *(f"| {s['step']} | {s['status']} | {s['seconds']} |" for s in report["steps"]),
        "",
    ]
    for s in report["steps"]:
        if s["status"] != "ok" and s.get("note"):
            lines += [f"`{s['step']}`:", "", "```", s["note"].strip(), "```", ""]
    lines += [
        "## Parity",
        "",
        f"Verdict: {report['parity_verdict']}. The same English sentences (beam 2, at most 64 tokens) into each "
        "engine's first trained targets; each run's outputs scored with chrF against the reference run's "
        "(100: the same text), and the share of identical outputs. Random weights magnify small numeric "
        "differences: the random engine's figures are reported, not judged.",
        "",
        "| engine | run | reference | sentences | chrF vs reference | identical | seconds |",
        "|---|---|---|---:|---:|---:|---:|",
        *(
            f"| {r['engine']} | {r['run']} | {r['reference']} | {r['sentences']} | {r['chrf_vs_reference']} | "
            f"{r['identical']} | {r['seconds']} |"
            for r in report["parity"]
        ),
        "",
        "## Serving under load",
        "",
        "`xlt serve` with " + " ".join(f"`{k}={v}`" for k, v in report["server_env"].items()) + "; "
        "`benchmarks/load.py` on the same machine, one sentence per request (about 25 tokens), one round per cell. "
        "The random engine decodes 30 tokens a sentence, greedy.",
        "",
    ]
    for label, cells in report["load"].items():
        lines += [
            f"### {label}",
            "",
            "| clients | requests | errors | sentences/s | p50 ms | p95 ms | mean batch |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {c['concurrency']} | {c['requests']} | {c['errors']} | {c['sentences_per_s']} | {c['p50_ms']} | "
                f"{c['p95_ms']} | {c['mean_batch_examples']} |"
                for c in cells
            ),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["prepare-wheels"]:
        return prepare_wheels(Path(argv[1] if len(argv) > 1 else ".whl"))
    if argv[:1] == ["_install"]:
        return install(Path(argv[2]) if argv[1:2] == ["--wheels"] else None)
    if argv[:1] == ["_probe"]:
        return probe(argv[1], Path(argv[2]), argv[3])
    if argv[:1] == ["_engine"]:
        return build_engine(Path(argv[1]), argv[2])
    if argv[:1] == ["_parity"]:
        device, types, count, out, *folders = argv[1:]
        return parity([Path(f) for f in folders], device, types.split(","), int(count), Path(out))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, tiny and short")
    parser.add_argument("--wheels", type=Path, help="install from this folder, offline (see prepare-wheels)")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results; dry run: a temp one)")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load cell")
    parser.add_argument(
        "--parity-margin", type=float, default=5.0, help="chrF the GPU's int8 may lose beyond the CPU's"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
