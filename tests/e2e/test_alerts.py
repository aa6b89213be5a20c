"""The alert rules and the dashboard, proved with the real tools of Debian's ``prometheus`` package.

Why real tools: a rule that does not parse, or one whose expression never matches what xlt exports, is silent
until the day it should page. So ``promtool`` checks the rules and runs their unit tests
(``docker/prometheus/alerts.test.yml``, each rule broken on purpose must fail them both ways), and a real
``prometheus`` scrapes a real ``xlt serve`` on loopback: a bounded burst drives it into 429 ``overloaded`` until
Prometheus itself reports the capacity alert firing, and every Grafana panel's PromQL is asked of that
Prometheus. The live test loads a copy of the rules in which only XltOverloaded's ``for`` is shortened (10 m to
1 s); the shipped rule is unchanged.
"""

from __future__ import annotations

import asyncio
import copy
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.test_deploy_config import DOCKER, ROOT, _dashboard, _panels
from tests.integration.conftest import SERVER_ENV, Server, free_port, start_server, stop_server
from tests.system_tools import need

RULES = DOCKER / "prometheus" / "alerts.yml"
RULE_TESTS = DOCKER / "prometheus" / "alerts.test.yml"
SCRAPE_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = DOCKER / "alertmanager" / "alertmanager.yml"
LIVE_WAIT_S = 45  # bounded waits on the live stack: overload until the alert fires, scrapes until panels have data
NEVER = "vector(1) < 0"  # an expression with no result: the rule can never fire
ALWAYS = "vector(1)"  # a result at every evaluation: the rule fires once its `for` has passed


def run(command: list[str | Path], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout)


def rules() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return doc


def alert_names() -> list[str]:
    return [r["alert"] for group in rules()["groups"] for r in group["rules"]]


# ---- promtool -------------------------------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    promtool = need("promtool", "prometheus")
    result = run([promtool, "check", "rules", RULES])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout
    for group in rules()["groups"]:
        for rule in group["rules"]:
            annotations = rule["annotations"]
            assert annotations["summary"] and "\n" not in annotations["runbook"], rule["alert"]


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    promtool = need("promtool", "prometheus")
    result = run([promtool, "test", "rules", RULE_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _test_with(tmp_path: Path, name: str, expr: str) -> str:
    """promtool's report on alerts.test.yml with rule ``name``'s expression replaced by ``expr``."""
    broken = rules()
    for group in broken["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == name:
                rule["expr"] = expr
    (tmp_path / RULES.name).write_text(yaml.safe_dump(broken, sort_keys=False))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    result = run([need("promtool", "prometheus"), "test", "rules", tmp_path / RULE_TESTS.name])
    assert result.returncode != 0, f"alerts.test.yml still passes with {name}: {expr}"
    return result.stdout + result.stderr


def test_every_rule_has_a_case_where_it_fires_and_one_where_it_stays_quiet(tmp_path: Path) -> None:
    """Broken on purpose, each rule must fail the unit tests both ways: never firing fails a case that expects it
    to fire; always firing fails a case of normal traffic that expects silence (``exp:[]``)."""
    need("promtool", "prometheus")
    for name in alert_names():
        never = _test_with(tmp_path, name, NEVER)
        assert re.search(rf"alertname: {name}, time: [^,]+,\s*exp:\[\s*0:", never), f"{name}: no firing case"
        always = _test_with(tmp_path, name, ALWAYS)
        assert re.search(rf"alertname: {name}, time: [^,]+,\s*exp:\[\],", always), f"{name}: no quiet case"


def test_the_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """prometheus.yml as the compose service reads it, with the rule file at its repository path."""
    promtool = need("promtool", "prometheus")
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config["rule_files"] = [str(RULES)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run([promtool, "check", "config", tmp_path / "prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout


def _readme_alertmanager_example() -> str:
    """The README's replacement for the null receiver: the yaml block that starts with the file's path."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(# docker/alertmanager/alertmanager\.yml\n.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README shows one alertmanager.yml example"
    return str(blocks[0])


def test_alertmanager_configs_pass_amtool(tmp_path: Path) -> None:
    """The shipped null receiver, and the README's example that replaces it."""
    amtool = need("amtool", "prometheus-alertmanager")
    example = tmp_path / "alertmanager.yml"
    example.write_text(_readme_alertmanager_example())
    for config in (ALERTMANAGER_CONFIG, example):
        result = run([amtool, "check-config", config])
        assert result.returncode == 0, f"{config}: {result.stdout}{result.stderr}"
    receivers = yaml.safe_load(example.read_text())["receivers"]
    assert any(len(r) > 1 for r in receivers), "the example's receiver must send somewhere"


# ---- a real Prometheus scraping a real xlt serve ----------------------------------------------------------------


@dataclass
class Stack:
    xlt: Server
    prometheus: str  # base URL
    prometheus_log: Path


def _live_rules(path: Path) -> None:
    """The shipped rules, but XltOverloaded fires after 1 s instead of 10 min (a test cannot wait that long)."""
    doc = copy.deepcopy(rules())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "XltOverloaded":
                rule["for"] = "1s"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _prometheus_config(folder: Path, xlt_port: int) -> Path:
    """The compose config's xlt job, aimed at one loopback target (labelled as compose's relabeling would),
    scraped and evaluated every second, loading the rules."""
    shipped = yaml.safe_load(SCRAPE_CONFIG.read_text())
    (job,) = [copy.deepcopy(j) for j in shipped["scrape_configs"] if j["job_name"] == "xlt"]
    job.pop("dns_sd_configs")
    job.pop("relabel_configs")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{xlt_port}"], "labels": {"service": "xlt"}}]
    _live_rules(folder / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(folder / "alerts.yml")],
        "scrape_configs": [job],
    }
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus was not ready within {timeout_s} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """``xlt serve`` (tiny engine, a queue of two sentences: overload comes at once) and ``prometheus`` scraping
    it, both on free loopback ports; stopped by their PIDs."""
    prometheus_bin = need("prometheus", "prometheus")  # before the tiny model is built for nothing
    tiny_models_dir: Path = request.getfixturevalue("tiny_models_dir")
    folder = tmp_path_factory.mktemp("alerts")
    env = SERVER_ENV | {
        "XLT_DATA_DIR": str(folder / "data"),
        "XLT_MAX_QUEUE": "2",
        "XLT_MAX_BATCH_SIZE": "2",
        "XLT_INTER_THREADS": "1",
        "XLT_INTRA_THREADS": "1",
    }
    xlt = start_server(tiny_models_dir, folder / "xlt-serve.log", env, ready_timeout_s=90)
    try:
        port = free_port()
        config = _prometheus_config(folder, int(xlt.url.rsplit(":", 1)[1]))
        log = folder / "prometheus.log"
        command = [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log)
            yield Stack(xlt, url, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    finally:
        stop_server(xlt)


def _alerts(stack: Stack) -> dict[str, str]:
    """Alert name -> state ("pending" or "firing"), from Prometheus's own API."""
    response = httpx.get(f"{stack.prometheus}/api/v1/alerts", timeout=5)
    response.raise_for_status()
    return {a["labels"]["alertname"]: a["state"] for a in response.json()["data"]["alerts"]}


async def _burst(url: str, size: int) -> list[httpx.Response]:
    body = {"text": "The house is small and the garden is green.", "source": "en", "target": "de"}
    limits = httpx.Limits(max_connections=size)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post("/translate", json=body) for _ in range(size)))


def test_overload_fires_the_capacity_alert(stack: Stack) -> None:
    """Bursts of 24 concurrent requests on loopback, until Prometheus reports XltOverloaded firing (bounded)."""
    assert "XltOverloaded" not in _alerts(stack)
    statuses: list[int] = []
    codes: set[str] = set()
    seen: dict[str, str] = {}
    deadline = time.monotonic() + LIVE_WAIT_S
    while time.monotonic() < deadline:
        for response in asyncio.run(_burst(stack.xlt.url, 24)):
            statuses.append(response.status_code)
            if response.status_code == 429:
                codes.add(response.json()["error"]["code"])
        seen = _alerts(stack)
        if seen.get("XltOverloaded") == "firing":
            break
        time.sleep(0.3)
    assert statuses.count(429) > 0 and codes == {"overloaded"}, f"no overload in {len(statuses)} requests"
    assert statuses.count(200) > 0, "the server served nothing"
    shed = statuses.count(429)
    assert seen.get("XltOverloaded") == "firing", (
        f"alerts after {len(statuses)} requests ({shed} shed): {seen}\n{stack.prometheus_log.read_text()}"
    )


def _traffic(url: str) -> None:
    """Some of everything the dashboard shows: translations, a client error, zero-shot, a memory hit, a background
    job (to its end), a reload."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for text in ("The house is small.", "We see a dog near the river today."):
            assert client.post("/translate", json={"text": text, "source": "en", "target": "de"}).status_code == 200
        assert client.post("/translate", json={"text": "a", "source": "en", "target": "xx"}).status_code == 422
        zero_shot = {"text": ["Das Haus ist klein und der Garten ist grün.", "Wir sehen einen Hund am Fluss heute."]}
        assert client.post("/translate", json=zero_shot | {"source": "de", "target": "fr"}).status_code == 200
        memory = client.post("/memories", json={"name": "dashboard"}).json()["id"]
        pair = {"source": "Add to cart", "target": "In den Warenkorb"}
        entries = {"source_lang": "en", "target_lang": "de", "pairs": [pair]}
        assert client.post(f"/memories/{memory}/entries", json=entries).status_code == 200
        hit = client.post("/translate", json={"text": "Add to cart", "source": "en", "target": "de", "memory": memory})
        assert hit.json()["translations"][0]["text"] == "In den Warenkorb"
        notes = {"file": ("notes.txt", b"The house is small.\n\nThe garden is green.")}
        job = client.post("/jobs", files=notes, data={"source": "en", "target": "de"})
        assert job.status_code == 202, job.text
        deadline = time.monotonic() + LIVE_WAIT_S
        while (state := client.get(f"/jobs/{job.json()['id']}").json()["state"]) != "done":
            assert state in ("queued", "running") and time.monotonic() < deadline, f"the job ended {state} or hung"
            time.sleep(0.1)
        assert client.post("/models/reload").status_code == 200


def _as_promql(expr: str) -> str:
    """A Grafana target as plain PromQL: every option of the variables, Grafana's intervals as durations."""
    for variable, value in {"$service": ".*", "$model": ".*", "$__rate_interval": "1m", "$__range": "5m"}.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def _query(stack: Stack, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", f"{promql}: {body.get('error', body)}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_every_dashboard_panel_returns_series_from_a_running_xlt(stack: Stack) -> None:
    """Each panel's PromQL parses in the real Prometheus and, after some traffic, at least one of its queries
    returns a series; the variables' ``label_values`` find values too."""
    _traffic(stack.xlt.url)
    dashboard = _dashboard()
    panels = {p["title"]: [_as_promql(t["expr"]) for t in p["targets"]] for p in _panels(dashboard) if p.get("targets")}
    assert len(panels) >= 10
    empty: list[str] = list(panels)
    deadline = time.monotonic() + LIVE_WAIT_S
    while empty and time.monotonic() < deadline:
        empty = [title for title, queries in panels.items() if not any(_query(stack, q) for q in queries)]
        time.sleep(1)  # a rate needs two scrapes after the traffic
    assert not empty, f"panels without data: {empty}"
    for variable in dashboard["templating"]["list"]:
        metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["definition"]).groups()  # type: ignore[union-attr]
        values = [s["metric"].get(label) for s in _query(stack, f"group by ({label}) ({metric})")]
        assert any(values), f"variable {variable['name']}: no {label} on {metric}"
