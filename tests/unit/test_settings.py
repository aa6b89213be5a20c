"""Settings: defaults, the XLT_ environment, thread defaults from the CPU count, loud failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.app import batch_policy, create_app
from service.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("XLT_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr("service.settings._cuda_devices", lambda: 0)  # the same defaults on a machine with a GPU


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.settings.os.cpu_count", lambda: 2)
    s = Settings()
    assert (s.host, s.port, s.models_dir) == ("127.0.0.1", 8000, Path("models"))
    assert (s.max_batch_tokens, s.max_batch_size, s.max_wait_ms, s.max_queue) == (1600, 64, 5.0, 1024)
    assert s.batching is True and (s.inter_threads, s.intra_threads) == (2, 1)
    assert (s.beam_size, s.max_decoding_length) == (2, 256)
    assert (s.max_text_chars, s.max_items, s.max_body_bytes) == (5000, 128, 1 << 20)


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLT_MAX_BATCH_SIZE", "8")
    monkeypatch.setenv("XLT_MODELS_DIR", "/srv/models")
    monkeypatch.setenv("XLT_BATCHING", "off")
    s = Settings()
    assert s.max_batch_size == 8 and s.models_dir == Path("/srv/models") and s.batching is False


def test_unbatched_threads_default_to_one_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.settings.os.cpu_count", lambda: 2)
    s = Settings(batching=False)
    assert (s.inter_threads, s.intra_threads) == (2, 1)
    assert Settings(inter_threads=2, intra_threads=2).inter_threads == 2


def test_on_a_gpu_one_engine_worker_with_one_thread_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.settings.os.cpu_count", lambda: 16)
    monkeypatch.setenv("XLT_DEVICE", "cuda")
    monkeypatch.setenv("XLT_COMPUTE_TYPE", "int8_float16")
    s = Settings()
    assert (s.device, s.compute_type, s.inter_threads, s.intra_threads) == ("cuda", "int8_float16", 1, 1)
    assert Settings(inter_threads=2).inter_threads == 2
    monkeypatch.delenv("XLT_COMPUTE_TYPE")
    assert (Settings(device="auto").inter_threads, Settings(device="cpu").inter_threads) == (16, 16)
    monkeypatch.setattr("service.settings._cuda_devices", lambda: 1)  # auto sees a GPU
    assert (Settings(device="auto").inter_threads, Settings(device="cpu").inter_threads) == (1, 16)


@pytest.mark.parametrize(
    "bad",
    [
        {"port": 0},
        {"port": 70000},
        {"max_batch_tokens": 0},
        {"max_batch_size": 0},
        {"max_wait_ms": -1},
        {"beam_size": 0},
        {"request_timeout_s": 0},
        {"max_body_bytes": 10},
        {"device": "tpu"},
        {"compute_type": "int4"},
        {"device": "cpu", "compute_type": "int8_float16"},
        {"device": "cpu", "compute_type": "float16"},
        {"log_level": "loud"},
        {"batching": "maybe"},
        {"max_batch_size": 100, "max_queue": 10},
        {"inter_threads": 64, "intra_threads": 64},
        {"no_such_setting": 1},
        {"job_chunk_size": 0},
        {"job_lease_s": 0.5},
        {"job_poll_s": 0},
        {"max_jobs": -1},
        {"job_retention_h": 0},
        {"bulk_share": 0},
        {"interactive_reserve_s": -1},
    ],
)
def test_bad_values_fail_loudly(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_bad_environment_fails_at_create_app_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLT_MAX_BATCH_SIZE", "lots")
    with pytest.raises(ValidationError, match="max_batch_size"):
        create_app()


def test_job_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLT_JOB_LEASE_S", "2")
    monkeypatch.setenv("XLT_MAX_JOBS", "0")  # serves the jobs API, runs none
    settings = Settings()
    assert (settings.job_lease_s, settings.max_jobs, settings.job_chunk_size, settings.bulk_share) == (2.0, 0, 64, 8)


def test_the_interactive_reserve_reaches_the_batcher(monkeypatch: pytest.MonkeyPatch) -> None:
    assert batch_policy(Settings()).interactive_reserve_s == 1.0
    monkeypatch.setenv("XLT_INTERACTIVE_RESERVE_S", "0")  # jobs may take every engine worker
    assert batch_policy(Settings()).interactive_reserve_s == 0.0
