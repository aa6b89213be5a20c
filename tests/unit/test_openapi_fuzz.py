"""schemathesis against ``/openapi.json``, in-process (ASGI) with the fake engine: no 5xx, and every answer
(status, content type, body, headers) matches the document, for valid and for invalid generated requests.

Bounded for CI: ``MAX_EXAMPLES`` generated requests per operation and mode, no deadline (a loaded machine is
slow, not wrong). One test walks every operation, so routes added later are fuzzed without touching this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEngine

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 25


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_5xx_and_answers_match_the_schema(tmp_path: Path, mode: str) -> None:
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.python.asgi import shutdown_lifespans

    # Not positive_data_acceptance: the document gives shapes, while business rules (an empty text, a language
    # the model lacks) are rightly answered 4xx with their codes.
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]

    (tmp_path / "models").mkdir()
    config = Settings(
        models_dir=tmp_path / "models",
        data_dir=tmp_path / "data",
        language_detection=False,
        max_items=8,
        max_text_chars=500,
        request_timeout_s=10,
    )
    app = create_app(config, extra_engines=[FakeEngine(few_shot=True)])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    failures: list[str] = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy(generation_mode=generation))
            def check(case: object) -> None:
                case.call_and_validate(checks=checks)  # type: ignore[attr-defined]

            try:
                check()
            except Unsatisfiable:
                assert mode == "negative", operation.label  # no input to make invalid (GET /health/live)
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported together
                failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    finally:
        shutdown_lifespans()
    assert operations >= 8
    assert not failures, "\n\n".join(failures)
