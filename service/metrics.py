"""Every Prometheus metric of the service, defined once, named like TGI/vLLM with the ``xlt_`` prefix.

Why a class with its own ``CollectorRegistry``: tests build several apps in one process, and the global
default registry would refuse the second set of metrics. Labels are bounded: route templates, status codes,
error codes and model names; never client addresses or text.

Multi-process mode (``xlt serve --workers N``): the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker
imports ``prometheus_client``; each worker then writes its values to files there, and ``render`` sums every
worker's files, so a scrape of any worker shows the totals of all. Gauges say how to combine workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_EXAMPLE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_TOKEN_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
_JOB_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STORE_ERROR_CODES = ("store_unavailable", "store_full")  # service.errors.StoreUnavailable, StoreFull
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


class Metrics:
    """The metric objects of one app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # Read when the app is built (not at import): set only in the workers of ``xlt serve --workers N``.
        multiproc_dir = os.environ.get(MULTIPROC_ENV)
        self.multiproc_dir = Path(multiproc_dir) if multiproc_dir else None
        r = self.registry
        self.requests = Counter(
            "xlt_requests", "HTTP requests by route, status and error code ('ok' on success)",
            ["route", "status", "code"], registry=r,
        )  # fmt: skip
        self.request_duration = Histogram(
            "xlt_request_duration_seconds", "End-to-end request duration", ["route"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "xlt_queue_wait_seconds", "Time a sentence waits in the queue before its batch starts", ["model"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.inference = Histogram(
            "xlt_inference_seconds", "Engine time per batch", ["model"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.batch_examples = Histogram(
            "xlt_batch_size_examples", "Sentences per engine batch", ["model"], buckets=_EXAMPLE_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.batch_tokens = Histogram(
            "xlt_batch_size_tokens", "Padded source tokens per engine batch (examples x longest)", ["model"],
            buckets=_TOKEN_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "xlt_queue_depth", "Sentences waiting in the queue", ["model"], registry=r,
            multiprocess_mode="livesum",  # workers: the machine's total, without exited workers
        )  # fmt: skip
        self.queue_depth_by_priority = Gauge(
            "xlt_queue_depth_by_priority", "Sentences waiting, by priority class ('interactive' requests, "
            "'bulk' job segments)", ["model", "priority"], registry=r, multiprocess_mode="livesum",
        )  # fmt: skip
        self.jobs = Counter(
            "xlt_jobs", "Background jobs entering each state on this replica (queued, running, done, failed, "
            "cancelled; running again when a job is resumed or taken over)", ["state"], registry=r,
        )  # fmt: skip
        self.jobs_running = Gauge(
            "xlt_jobs_running", "Background jobs this replica works on now", registry=r, multiprocess_mode="livesum"
        )
        self.job_duration = Histogram(
            "xlt_job_duration_seconds", "Background job time from creation to its end, by final state",
            ["state"], buckets=_JOB_BUCKETS, registry=r,
        )  # fmt: skip
        self.input_tokens = Counter("xlt_input_tokens", "Source tokens translated", ["model"], registry=r)
        self.output_tokens = Counter("xlt_output_tokens", "Target tokens produced", ["model"], registry=r)
        self.model_info = Gauge(
            "xlt_model_info", "Loaded models (value 1)", ["model", "quantization", "languages"], registry=r,
            multiprocess_mode="livemax",  # workers: 1 while any live worker serves the model
        )  # fmt: skip
        self.zero_shot_requests = Counter(
            "xlt_zero_shot_requests", "Translate requests with at least one zero-shot direction", ["model"],
            registry=r,
        )  # fmt: skip
        self.off_target = Counter(
            "xlt_off_target", "Zero-shot outputs the language identifier found in the wrong language", ["model"],
            registry=r,
        )  # fmt: skip
        self.off_target_served = Counter(
            "xlt_off_target_served", "Zero-shot texts answered off-target: no hypothesis nor the pivot was on target",
            ["model"], registry=r,
        )  # fmt: skip
        self.pivot_fallbacks = Counter(
            "xlt_pivot_fallbacks", "Texts served via the pivot language (its output on target) after an off-target one",
            ["model"], registry=r,
        )  # fmt: skip
        self.memory_hits = Counter(
            "xlt_memory_hits", "Sentences served from a translation memory (exact) or given its examples (fuzzy)",
            ["model", "kind"], registry=r,
        )  # fmt: skip
        self.off_target_checks = Counter(
            "xlt_off_target_checks", "Zero-shot texts the language identifier judged (the off-target rate's base)",
            ["model"], registry=r,
        )  # fmt: skip
        self.model_reloads = Counter(
            "xlt_model_reloads", "Model reloads by result ('error': the reload failed or a folder failed to load)",
            ["result"], registry=r,
        )  # fmt: skip
        for result in ("ok", "error"):  # at 0 from the start: the first error is an increase alerts can see
            self.model_reloads.labels(result)
        self.store_errors = Counter(
            "xlt_store_errors", "Requests failed by a data store ('memory store', 'key store'), by error code",
            ["store", "code"], registry=r,
        )  # fmt: skip
        self.ready = Gauge(
            "xlt_ready", "1 while GET /health/ready answers 200, else 0 (starting, draining, a batcher stopped)",
            registry=r, multiprocess_mode="livemin",  # workers: 0 while any live worker is not ready
        )  # fmt: skip
        self.request_timeout = Gauge(
            "xlt_request_timeout_seconds", "XLT_REQUEST_TIMEOUT_S, for alerts on queue wait as a share of it",
            registry=r, multiprocess_mode="livemax",
        )  # fmt: skip

    def configure(self, request_timeout_s: float, stores: Iterable[str]) -> None:
        """What the settings decide: the request deadline, and each store's error series, at 0 from the start so
        that an outage's first errors are an increase alerts can see."""
        self.request_timeout.set(request_timeout_s)
        for store in stores:
            for code in STORE_ERROR_CODES:
                self.store_errors.labels(store, code)

    def render(self) -> bytes:
        """This app's registry; with workers, every worker's values combined (from their files)."""
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        _forget_dead_workers(self.multiproc_dir)
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=str(self.multiproc_dir))
        return generate_latest(combined)


def _forget_dead_workers(path: Path) -> None:
    """Drop the live-gauge files of workers that are gone (a crashed worker never cleans up after itself):
    otherwise its last queue depth would count forever. Counters and histograms keep their files, so totals
    never go down when a worker is replaced."""
    pids = {int(m.group(1)) for f in path.glob("gauge_live*.db") if (m := _LIVE_GAUGE_FILE.fullmatch(f.name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(path))
        except PermissionError:
            pass  # alive, under another user
