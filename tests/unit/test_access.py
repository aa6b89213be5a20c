"""The edges of the service: request ids, one JSON log line per request (no texts, no keys), CORS, /metrics token."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from service.auth.keys import KEYS_DB, KeyStore
from service.logs import JsonFormatter, logging_config
from service.settings import Settings
from tests.unit.conftest import AppClient
from tests.unit.test_errors import assert_error

SECRET_TEXT = "Meet me at the harbour at midnight"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "service.access"]


async def test_request_id_is_echoed_or_generated(app_client: AppClient) -> None:
    async with app_client() as client:
        given = await client.get("/health/live", headers={"X-Request-ID": "abc-123.x:y_z"})
        assert given.headers["x-request-id"] == "abc-123.x:y_z"
        fresh = await client.get("/health/live")
        other = await client.get("/health/live")
        assert len(fresh.headers["x-request-id"]) == 32
        assert fresh.headers["x-request-id"] != other.headers["x-request-id"]
        for insane in ("a b", "x" * 129, "", "<script>", "id\u00e9"):
            response = await client.get("/health/live", headers={"X-Request-ID": insane.encode("utf-8")})
            assert response.headers["x-request-id"] != insane and len(response.headers["x-request-id"]) == 32
        error = await client.post("/translate", content=b"{", headers={"content-type": "application/json"})
        assert error.status_code == 400 and len(error.headers["x-request-id"]) == 32


async def test_one_json_line_per_request_without_texts_or_keys(
    app_client: AppClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyStore(tmp_path / "data" / KEYS_DB)
    key, secret = keys.create("ci")
    keys.close()
    caplog.set_level(logging.DEBUG)
    async with app_client() as client:
        body = {"text": SECRET_TEXT, "source": "en", "target": "de"}
        ok = await client.post("/translate", json=body, headers={"Authorization": f"Bearer {secret}"})
        bad = await client.post("/translate", json={**body, "target": "xx"}, headers={"X-Request-ID": "r1"})
        await client.get(f"/memories/{'0' * 32}?api_key={secret}")
    assert ok.status_code == 200 and bad.status_code == 422
    lines = access_lines(caplog)
    assert len(lines) == 3
    first, second, third = lines
    assert {k: first[k] for k in ("method", "route", "status", "code", "key_id")} == {
        "method": "POST", "route": "/translate", "status": 200, "code": "ok", "key_id": key.id,
    }  # fmt: skip
    assert first["request_id"] == ok.headers["x-request-id"] and isinstance(first["duration_ms"], float)
    assert (second["status"], second["code"], second["request_id"]) == (422, "unsupported_language", "r1")
    assert third["route"] == "/memories/{memory_id}"  # the template: no ids, no query string
    server = [r for r in caplog.records if r.name.startswith(("service", "uvicorn"))]  # not the test's httpx
    everything = "\n".join(JsonFormatter().format(r) for r in server)
    assert SECRET_TEXT not in everything and "harbour" not in everything
    assert secret not in everything and secret.split("_", 2)[2] not in everything


def test_json_formatter_and_logging_config() -> None:
    record = logging.LogRecord("service.x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and line["msg"] == "failed here" and line["logger"] == "service.x"
    assert line["ts"].endswith("Z")
    config = logging_config("info", "json")
    assert config["loggers"]["uvicorn.access"]["handlers"] == []  # replaced by service.access
    assert "process" in logging_config("info", "text", with_pid=True)["formatters"]["xlt"]["format"]


async def test_cors_is_off_by_default(app_client: AppClient) -> None:
    async with app_client() as client:
        response = await client.get("/languages", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_only_configured_origins(app_client: AppClient) -> None:
    async with app_client(cors_origins=["https://app.example"]) as client:
        preflight = await client.options(
            "/translate",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        body = {"text": "a", "source": "en", "target": "xx"}
        error = await client.post("/translate", json=body, headers={"Origin": "https://app.example"})
        assert error.status_code == 422 and error.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in error.headers["access-control-expose-headers"].lower()
        evil = await client.post("/translate", json=body, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        bad_preflight = await client.options(
            "/translate", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert bad_preflight.status_code == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example, http://localhost:3000", ["https://a.example", "http://localhost:3000"]),
        ('["*"]', ["*"]),
        ("", []),
    ],
)
def test_cors_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]) -> None:
    monkeypatch.setenv("XLT_CORS_ORIGINS", value)
    assert Settings().cors_origins == expected


@pytest.mark.parametrize("value", ["https://a.example/path", "a.example", "javascript:alert(1)"])
def test_bad_cors_origins_fail_loudly(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("XLT_CORS_ORIGINS", value)
    with pytest.raises(ValueError, match="CORS origin"):
        Settings()


async def test_metrics_token(app_client: AppClient) -> None:
    token = "s3cret-token-0123456789"
    async with app_client(metrics_token=token) as client:
        assert_error(await client.get("/metrics"), 401, "unauthorized")
        assert_error(await client.get("/metrics", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
        assert_error(await client.get("/metrics", headers={"Authorization": token}), 401, "unauthorized")
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "xlt_requests_total" in scraped.text
        assert token not in repr(Settings(metrics_token=token))
    with pytest.raises(ValueError, match="16 characters"):
        Settings(metrics_token="short")
