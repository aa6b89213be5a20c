"""Every Prometheus metric of the service, defined once, named like TGI/vLLM with the ``xlt_`` prefix.

Why a class with its own ``CollectorRegistry``: tests build several apps in one process, and the global
default registry would refuse the second set of metrics. Labels are bounded: route templates, status codes,
error codes and model names; never client addresses or text.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_EXAMPLE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_TOKEN_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The metric objects of one app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
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
        self.queue_depth = Gauge("xlt_queue_depth", "Sentences waiting in the queue", ["model"], registry=r)
        self.input_tokens = Counter("xlt_input_tokens", "Source tokens translated", ["model"], registry=r)
        self.output_tokens = Counter("xlt_output_tokens", "Target tokens produced", ["model"], registry=r)
        self.model_info = Gauge(
            "xlt_model_info", "Loaded models (value 1)", ["model", "quantization", "languages"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
