"""Runtime settings of the serving half, read from ``XLT_*`` environment variables.

Why pydantic-settings: one typed, validated place for every knob; a bad value stops the server at start with
a clear message instead of surfacing as a strange failure under load. Settings are built in ``create_app`` or
the CLI, never at import time, so tests can build several apps with different settings in one process.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://[^/\s]+$")


def _cpu_count() -> int:
    return max(1, os.cpu_count() or 1)


def _cuda_devices() -> int:
    import ctranslate2  # here, not at import: settings stay cheap to import

    return int(ctranslate2.get_cuda_device_count())


class Settings(BaseSettings):
    """Every setting of ``xlt serve``; each is also ``XLT_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="XLT_", extra="forbid", validate_default=True)

    # Network.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Where engines and data live.
    models_dir: Path = Path("models")
    data_dir: Path = Path("data")
    default_model: str | None = None  # None: the only model, else the first by name.

    # Dynamic batching. The token budget counts padded source tokens (examples x longest source), the cost a
    # CTranslate2 batch really pays; 1600 is where an opus-mt-sized int8 engine's throughput plateaued here.
    batching: bool = True  # XLT_BATCHING=off sends each request alone to the engine (A/B benchmarks).
    max_batch_tokens: int = Field(default=1600, ge=16, le=1_000_000)
    max_batch_size: int = Field(default=64, ge=1, le=4096)
    max_wait_ms: float = Field(default=5.0, ge=0, le=10_000)  # longest a queued item waits for company.
    max_queue: int = Field(default=1024, ge=1, le=1_000_000)  # queued sentences per engine before 429 overloaded.
    request_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    drain_timeout_s: float = Field(default=10.0, ge=0, le=3600)

    # Engine device and threads; 0 = choose from the CPU count, or one of each on a GPU (see ``_threads``).
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when CTranslate2 sees a GPU
    # CTranslate2 compute type; "default" keeps the folder's quantization (int8 runs as int8_float32 on CPU). On a
    # GPU, int8_float16 (int8 weights, float16 activations) is the fast one; CPUs refuse the float16 types.
    compute_type: Literal[
        "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
        "bfloat16", "float32",
    ] = "default"  # fmt: skip
    inter_threads: int = Field(default=0, ge=0, le=256)
    intra_threads: int = Field(default=0, ge=0, le=256)
    # Niceness added to engine threads (Linux): the HTTP loop's short jobs go first. 0 = equal priority.
    engine_nice: int = Field(default=10, ge=0, le=19)

    # Decoding defaults (a request may change them within limits). Beam 2 is CTranslate2's own default: a
    # little better than greedy on small models for ~1.5x the cost (beam 4 cost ~3.5x batched on 2 cores).
    beam_size: int = Field(default=2, ge=1, le=16)
    max_decoding_length: int = Field(default=256, ge=1, le=4096)
    max_input_length: int = Field(default=1024, ge=1, le=65536)  # tokens per sentence; the engine cuts the rest.

    # Request limits.
    max_text_chars: int = Field(default=5000, ge=1, le=10_000_000)
    max_items: int = Field(default=128, ge=1, le=100_000)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    # Files (``POST /translate/file``, jobs): the upload's size; an office file's zip may unpack to at most
    # ``max_unzipped_ratio`` times that (bombs are refused before any library opens them).
    max_file_bytes: int = Field(default=20 << 20, ge=1024, le=1 << 32)
    max_file_segments: int = Field(default=100_000, ge=1, le=10_000_000)

    # Source language detection for ``source: "auto"`` (needs the ``langid`` package).
    language_detection: bool = True

    # Zero-shot directions: ``strategy: "pivot"`` (and ``auto`` when an output is off-target) go through this
    # language; ``auto`` judges only outputs at least this long (shorter ones fool the language identifier), and
    # before the pivot tries the beam's next-best hypotheses, up to ``off_target_hypotheses`` (and beam_size).
    pivot_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    off_target_min_chars: int = Field(default=20, ge=1, le=100_000)
    off_target_hypotheses: int = Field(default=4, ge=1, le=16)

    # Few-shot examples (request ``examples`` and memory fuzzy matches). The sentence is never cut: examples are
    # dropped, last first, to keep an augmented source within ``max_fewshot_tokens`` (training used 200).
    max_examples: int = Field(default=8, ge=0, le=64)
    max_example_chars: int = Field(default=1000, ge=1, le=100_000)
    max_fewshot_tokens: int = Field(default=256, ge=8, le=65536)

    # Translation memories: a SQLite file under ``data_dir``, unless ``memory_store_url`` names another store
    # (``sqlite:///relative/path`` or ``sqlite:////absolute/path``; ``postgresql://user:pw@host:5432/db`` for
    # replicas sharing memories, which needs ``psycopg``: without it the app stops at start). A fuzzy match
    # scoring at least the threshold (1 - word edit distance / length) becomes an example; 0.6 keeps matches
    # that share most of the sentence.
    memory_store_url: str | None = Field(default=None, pattern=r"^(sqlite:///|postgres(ql)?(\+\w+)?://)")
    memory_fuzzy_threshold: float = Field(default=0.6, gt=0, le=1)
    memory_fuzzy_examples: int = Field(default=2, ge=0, le=8)  # training prepended 1-2 retrieved examples
    memory_cache_size: int = Field(default=32, ge=1, le=10_000)  # (memory, language pair) indexes kept in RAM
    max_import_bytes: int = Field(default=64 << 20, ge=1024, le=1 << 34)

    # Background jobs (``POST /jobs``), stored where the memories are (PostgreSQL when ``memory_store_url`` names
    # it: every replica sees and runs them; else a SQLite file under ``data_dir``). Each chunk of
    # ``job_chunk_size`` segments is committed as it ends (a restart loses at most one chunk's work); a running job
    # is leased for ``job_lease_s`` and the lease renewed every third of it, so a replica that dies loses its jobs
    # to another that long after; each replica runs at most ``max_jobs`` at once (0: it serves the jobs API but
    # runs none) and looks for new ones every ``job_poll_s``; finished jobs and their files are deleted after
    # ``job_retention_h``. In the batcher, job sentences wait behind requests' but get every ``bulk_share``-th
    # batch while both wait, so a job always progresses. With several engine workers, job batches leave one worker to
    # requests for ``interactive_reserve_s`` after the last request's sentences arrived (0: jobs may take every
    # worker, so a request may wait for a job's batch to end: more job throughput, slower requests under a job).
    job_chunk_size: int = Field(default=64, ge=1, le=100_000)
    job_lease_s: float = Field(default=30.0, ge=1, le=3600)
    job_poll_s: float = Field(default=1.0, gt=0, le=300)
    max_jobs: int = Field(default=2, ge=0, le=256)
    job_retention_h: float = Field(default=168.0, gt=0, le=100_000)
    bulk_share: int = Field(default=8, ge=1, le=10_000)
    interactive_reserve_s: float = Field(default=1.0, ge=0, le=3600)

    # Hot reload of model folders on SIGHUP (``POST /models/reload`` works either way).
    reload_on_sighup: bool = True

    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # json: one JSON object per line (a line per request with its id, route, status, code and duration; never
    # texts or keys); text: the classic human-readable lines.
    log_format: Literal["json", "text"] = "json"

    # Access. API keys are managed with ``xlt keys`` and stored hashed under ``data_dir``; when required,
    # translation and memory calls without a valid key get 401 (health, languages and models stay open).
    api_keys_required: bool = False
    # Browser origins allowed to call the API (CORS): comma-separated or a JSON list; "*" for any; none by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # When set, GET /metrics needs ``Authorization: Bearer <token>`` (at least 16 characters).
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """``https://a.example,https://b.example`` or ``["https://a.example"]``; each a bare origin or "*"."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [o.strip() for o in text.split(",") if o.strip()]
        if isinstance(value, list):
            for origin in value:
                if not isinstance(origin, str) or not (origin == "*" or _ORIGIN.match(origin)):
                    raise ValueError(f"CORS origin {origin!r} is not '*' or scheme://host[:port] without a path")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("metrics_token must have at least 16 characters")
        return value

    @model_validator(mode="after")
    def _threads(self) -> Settings:
        """Fill 0 thread counts: one single-threaded engine worker per core, batching on or off. Measured on
        2 cores (benchmarks/results/serving.md): intra_threads=2 lets the engine's second thread fight the HTTP
        loop for a core, and a lone sentence took 187 ms instead of 22 ms. On a GPU: one worker, which feeds the
        GPU whole batches on one stream, with one CPU thread (CTranslate2 replicates the model per worker)."""
        if self.uses_gpu():
            self.inter_threads = self.inter_threads or 1
            self.intra_threads = self.intra_threads or 1
        cores = _cpu_count()
        if self.inter_threads == 0:
            self.inter_threads = cores
        if self.intra_threads == 0:
            self.intra_threads = max(1, cores // self.inter_threads)
        if self.inter_threads * self.intra_threads > 4 * cores:
            raise ValueError(
                f"inter_threads x intra_threads = {self.inter_threads * self.intra_threads} oversubscribes "
                f"{cores} cores (limit {4 * cores})"
            )
        if self.device == "cpu" and "float16" in self.compute_type:
            raise ValueError(f"compute_type {self.compute_type} needs a GPU (device cuda or auto)")
        if self.max_batch_size > self.max_queue:
            raise ValueError(f"max_batch_size ({self.max_batch_size}) exceeds max_queue ({self.max_queue})")
        return self

    def uses_gpu(self) -> bool:
        return self.device == "cuda" or (self.device == "auto" and _cuda_devices() > 0)
