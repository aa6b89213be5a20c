"""The container's exact entrypoint, and ``xlt serve --workers 2``, run outside Docker on a tiny real model.

Why: without a Docker engine, the next best proof of the image is its own command line: the ``ENTRYPOINT``,
``CMD``, ``ENV`` and ``HEALTHCHECK`` read from the Dockerfile (only the port, the bind address and the models
folder are replaced, as a user's ``-e``/``-v`` would) must serve and turn healthy. The multi-process mode must
serve from several workers on one port while ``/metrics`` adds every worker's counts up. Servers run on a free
127.0.0.1 port and are stopped by their own PID.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service.cli import main
from tests.e2e.test_deploy_config import image_path_to_repo, read_dockerfile
from tests.integration.conftest import SERVER_ENV, free_port

BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 90
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Servers started by a test; any still running at its end are killed by PID."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def host_env() -> dict[str, str]:
    """This process's environment without settings of its own that would leak into the server."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("XLT_", "PROMETHEUS_"))}


def loopback(tmp_path: Path, port: int) -> dict[str, str]:
    """The test server settings on a loopback port, with a data folder of its own."""
    return SERVER_ENV | {"XLT_HOST": "127.0.0.1", "XLT_PORT": str(port), "XLT_DATA_DIR": str(tmp_path / "data")}


def start(
    command: list[str], env: dict[str, str], log: Path, cwd: Path, processes: list[subprocess.Popen[bytes]]
) -> str:
    """Start a server and wait (bounded) until ``/health/ready`` answers 200; returns its URL."""
    url = f"http://127.0.0.1:{env['XLT_PORT']}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    processes.append(process)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{command} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{command} was not ready within {READY_TIMEOUT_S} s:\n{log.read_text()}")


def terminate(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM (what ``docker stop`` and Kubernetes send): the server drains and exits by itself, well within the
    stop grace period: 0, or killed by SIGTERM when uvicorn re-raises it after its graceful shutdown."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within 30 s of SIGTERM:\n{log.read_text()}")
    assert code in (0, -signal.SIGTERM), log.read_text()


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_image_entrypoint_serves_and_turns_healthy(
    tiny_models_dir: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    cpu = read_dockerfile()["cpu"]
    command = cpu.entrypoint + cpu.cmd
    port = free_port()
    # The image's environment, then what a user's -e and -v change (models mounted at XLT_MODELS_DIR), on
    # loopback; the venv's bin first on PATH, as /opt/venv/bin is in the image.
    image_env = {k: v for k, v in cpu.env.items() if k != "PATH"}
    assert image_env["XLT_DEVICE"] == "cpu"
    env = host_env() | image_env | loopback(tmp_path, port) | {"XLT_MODELS_DIR": str(tiny_models_dir)}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    executable = shutil.which(command[0], path=env["PATH"])
    if executable is None:
        pytest.fail(f"{command[0]} is not installed beside {sys.executable}: pip install -e .")
    healthcheck = [shutil.which(cpu.healthcheck[0], path=env["PATH"]) or sys.executable]
    healthcheck += [str(image_path_to_repo(cpu, arg)) for arg in cpu.healthcheck[1:]]

    def healthy() -> bool:
        return subprocess.run(healthcheck, env=env, capture_output=True, timeout=30).returncode == 0

    assert not healthy(), "healthy before the server runs"
    log = tmp_path / "entrypoint.log"
    url = start([executable, *command[1:]], env, log, tmp_path, processes)
    assert healthy()
    response = httpx.post(f"{url}/translate", json={"text": "The house is small.", "source": "en", "target": "de"})
    assert response.status_code == 200, response.text
    assert response.json()["translations"][0]["model"] == "tiny"
    terminate(processes[0], log)
    assert not healthy()


def worker_counts(metrics_dir: Path) -> dict[int, float]:
    """Successful /translate requests per worker, each read from that worker's own counter file alone."""
    counts = {}
    for db in metrics_dir.glob("counter_*.db"):
        alone = metrics_dir.parent / f"alone-{db.stem}"
        alone.mkdir()
        shutil.copy(db, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        got = samples(generate_latest(registry).decode())
        key = ("xlt_requests_total", frozenset({("route", "/translate"), ("status", "200"), ("code", "ok")}))
        counts[int(db.stem.split("_")[1])] = got.get(key, 0.0)
    return counts


def translate_all(url: str, count: int) -> None:
    """``count`` concurrent requests, each on a new connection (no keep-alive), so any worker may accept it."""

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            bodies = [{"text": f"The dog {i} is near the house.", "source": "en", "target": "de"} for i in range(count)]
            return await asyncio.gather(*(client.post("/translate", json=b) for b in bodies))

    responses = asyncio.run(fire())
    assert [r.status_code for r in responses] == [200] * count, responses[0].text


def test_workers_share_one_port_and_metrics_add_up(
    tiny_models_dir: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    tmp = tmp_path / "tmp"  # where the parent makes PROMETHEUS_MULTIPROC_DIR
    tmp.mkdir()
    # Language detection off: two workers loading langid's model would only slow this test's start.
    env = host_env() | loopback(tmp_path, port) | {"TMPDIR": str(tmp), "XLT_LANGUAGE_DETECTION": "false"}
    command = [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--models-dir", str(tiny_models_dir)]
    log = tmp_path / "workers.log"
    url = start(command, env, log, tmp_path, processes)
    (metrics_dir,) = tmp.glob("xlt-metrics-*")

    # Ready answers as soon as one worker is; wait (bounded) until both have loaded the model.
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(files := list(metrics_dir.glob("gauge_livemax_*.db"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(files) == 2, log.read_text()
    first, second = sorted(int(f.stem.rsplit("_", 1)[1]) for f in files)

    # One worker would often accept every connection. So that both serve, each in turn serves alone while the
    # other is paused (SIGSTOP, for well under the 5 s after which uvicorn's supervisor replaces a silent worker).
    plan = {first: 10, second: 14}
    for serving, count in plan.items():
        paused = second if serving == first else first
        os.kill(paused, signal.SIGSTOP)
        try:
            translate_all(url, count)
        finally:
            os.kill(paused, signal.SIGCONT)
    sent = sum(plan.values())
    assert worker_counts(metrics_dir) == plan, "each worker counts what it served, in its own file"

    # Whichever worker answers the scrape, /metrics shows the sum of both.
    ok = frozenset({("route", "/translate"), ("status", "200"), ("code", "ok")})
    tiny = frozenset({("model", "tiny")})
    for _ in range(4):
        scraped = samples(httpx.get(f"{url}/metrics", timeout=10, headers={"connection": "close"}).text)
        assert scraped[("xlt_requests_total", ok)] == sent
        assert scraped[("xlt_request_duration_seconds_count", frozenset({("route", "/translate")}))] == sent
        assert scraped[("xlt_batch_size_examples_sum", tiny)] == sent  # one sentence per request
    # Gauges combine without a pid label: the queue depth sums the live workers, the model info is 1.
    assert [(k, v) for k, v in scraped.items() if k[0] == "xlt_queue_depth"] == [(("xlt_queue_depth", tiny), 0)]
    (info,) = [v for k, v in scraped.items() if k[0] == "xlt_model_info"]
    assert info == 1

    terminate(processes[0], log)
    assert not metrics_dir.exists(), "the metrics folder outlived the server"


def test_a_crashed_workers_gauges_are_forgotten_and_its_counts_kept(tmp_path: Path) -> None:
    """A worker killed outright never removes its files: the next scrape drops its live gauges (its last queue
    depth would otherwise count forever) and keeps its counters (totals never go down when it is replaced)."""
    from service.metrics import _forget_dead_workers

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    alive = os.getpid()
    names = [f"{kind}_{pid}.db" for pid in (dead.pid, alive) for kind in ("gauge_livesum", "gauge_livemax", "counter")]
    for name in names:
        (tmp_path / name).touch()
    _forget_dead_workers(tmp_path)
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == set(names) - {f"gauge_livesum_{dead.pid}.db", f"gauge_livemax_{dead.pid}.db"}


@pytest.mark.parametrize(("argv", "workers_env"), [(["--workers", "0"], None), ([], "two"), ([], "-1")])
def test_invalid_workers_exit_2_before_serving(
    argv: list[str], workers_env: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if workers_env is not None:
        monkeypatch.setenv("XLT_WORKERS", workers_env)
    assert main(["serve", *argv]) == 2
    assert "workers must be a whole number >= 1" in capsys.readouterr().err
