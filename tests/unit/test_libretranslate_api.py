"""LibreTranslate's shapes under ``/libretranslate`` and the native ``POST /detect``, in-process with fakes.

The real ``libretranslatepy`` package is run against real uvicorn in ``tests/integration/test_libretranslate.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import serve_in_process

LT = "/libretranslate"


class KeywordDetector:
    """German when "das" is in the text, French for "la", else English; ranked with fixed probabilities."""

    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        return self.rank(text, candidates)[0][0]

    def rank(self, text: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
        words = text.lower().split()
        best = "de" if "das" in words else "fr" if "la" in words else "en"
        rest = [c for c in candidates if c != best]
        return [(best, 0.9), *((c, 0.1 / len(rest)) for c in rest)]


@asynccontextmanager
async def client_for(tmp_path: Path, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data", **overrides)  # type: ignore[arg-type]
    app = create_app(settings, extra_engines=[FakeEngine()], detector=KeywordDetector())
    async with serve_in_process(app) as client:
        yield client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(tmp_path, max_text_chars=100) as c:
        yield c


async def test_translate_json_with_auto_source(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{LT}/translate", json={"q": "das Haus", "source": "auto", "target": "en"})
    assert r.status_code == 200, r.text
    assert r.json() == {"translatedText": "en:das en:Haus", "detectedLanguage": {"confidence": 90.0, "language": "de"}}


async def test_auto_source_is_detected_once_per_text(tmp_path: Path) -> None:
    """The translation's detection is the one ``detectedLanguage`` reports: each text is scored once."""

    class Counting(KeywordDetector):
        def __init__(self) -> None:
            self.scored: list[str] = []

        def rank(self, text: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
            self.scored.append(text)
            return super().rank(text, candidates)

    detector = Counting()
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data")
    async with serve_in_process(create_app(settings, extra_engines=[FakeEngine()], detector=detector)) as client:
        r = await client.post(
            f"{LT}/translate", json={"q": ["das Haus", "la maison"], "source": "auto", "target": "en"}
        )
    assert r.status_code == 200, r.text
    assert r.json()["detectedLanguage"] == [
        {"confidence": 90.0, "language": "de"},
        {"confidence": 90.0, "language": "fr"},
    ]
    assert detector.scored == ["das Haus", "la maison"]


async def test_translate_form_fields_as_libretranslate_clients_send_them(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{LT}/translate", data={"q": "hello", "source": "en", "target": "fr", "api_key": ""})
    assert r.status_code == 200, r.text
    assert r.json() == {"translatedText": "fr:hello"}  # no detectedLanguage for an explicit source
    multipart = await client.post(
        f"{LT}/translate", files={"q": (None, "hello"), "source": (None, "en"), "target": (None, "de")}
    )
    assert multipart.json() == {"translatedText": "de:hello"}
    query = await client.post(f"{LT}/translate?q=hi&source=en&target=de")
    assert query.json() == {"translatedText": "de:hi"}


async def test_translate_a_list_with_alternatives(client: httpx.AsyncClient) -> None:
    body = {"q": ["hello", "das Haus"], "source": "auto", "target": "en", "alternatives": 2}
    r = await client.post(f"{LT}/translate", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "translatedText": ["hello", "en:das en:Haus"],  # English input to English: returned unchanged
        "detectedLanguage": [{"confidence": 90.0, "language": "en"}, {"confidence": 90.0, "language": "de"}],
        "alternatives": [[], ["en#1:das en#1:Haus", "en#2:das en#2:Haus"]],  # from the beam, widened to 3
    }
    single = await client.post(
        f"{LT}/translate", json={"q": "das Haus", "source": "de", "target": "en", "alternatives": 1}
    )
    assert single.json() == {"translatedText": "en:das en:Haus", "alternatives": ["en#1:das en#1:Haus"]}
    form = await client.post(f"{LT}/translate", data={"q": ["a", "b"], "source": "en", "target": "de"})
    assert form.json() == {"translatedText": ["de:a", "de:b"]}


async def test_translate_html(client: httpx.AsyncClient) -> None:
    body = {"q": "<p>hello <i>world</i></p>", "source": "en", "target": "de", "format": "html"}
    r = await client.post(f"{LT}/translate", json=body)
    assert r.json() == {"translatedText": "<p>de:hello <i>de:world</i></p>"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"source": "en", "target": "de"}, 400, "q: Field required"),
        ({"q": "hi", "source": "en", "target": "xx"}, 400, "target language 'xx' is not supported"),
        ({"q": "hi", "source": "xx", "target": "fr"}, 400, "source language 'xx' is not supported"),
        ({"q": "   ", "source": "en", "target": "de"}, 400, "text is empty"),
        ({"q": "x" * 101, "source": "en", "target": "de"}, 413, "at most 100"),
    ],
)
async def test_errors_in_libretranslate_shape(
    client: httpx.AsyncClient, body: dict[str, object], status: int, message: str
) -> None:
    r = await client.post(f"{LT}/translate", json=body)
    assert r.status_code == status
    assert set(r.json()) == {"error"} and message in r.json()["error"]


async def test_invalid_json_is_a_libretranslate_error(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{LT}/translate", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


async def test_libretranslate_languages_and_detect(client: httpx.AsyncClient) -> None:
    languages = (await client.get(f"{LT}/languages")).json()
    assert languages == [
        {"code": "en", "name": "English", "targets": ["de", "fr"]},
        {"code": "de", "name": "German", "targets": ["en", "fr"]},  # de -> fr is zero-shot, still listed
        {"code": "fr", "name": "French", "targets": ["de", "en"]},
    ]
    r = await client.post(f"{LT}/detect", data={"q": "la maison"})
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"confidence": 90.0, "language": "fr"},
        {"confidence": 5.0, "language": "en"},
        {"confidence": 5.0, "language": "de"},
    ]


async def test_native_detect(client: httpx.AsyncClient) -> None:
    r = await client.post("/detect", json={"text": ["das Haus", "<p>la maison</p>"], "format": "html"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "fake"
    assert [(d["language"], d["confidence"]) for d in body["detections"]] == [("de", 0.9), ("fr", 0.9)]
    assert [c["language"] for c in body["detections"][0]["candidates"]] == ["de", "en", "fr"]
    empty = await client.post("/detect", json={"text": ""})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_text"


async def test_detect_without_a_detector(tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data", language_detection=False)
    async with serve_in_process(create_app(settings, extra_engines=[FakeEngine()])) as client:
        r = await client.post("/detect", json={"text": "hello"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "detection_unavailable"
        lt = await client.post(f"{LT}/detect", data={"q": "hello"})
        assert lt.status_code == 400 and "not available" in lt.json()["error"]


async def test_api_key_in_libretranslate_fields_or_headers(tmp_path: Path) -> None:
    from service.auth.keys import KEYS_DB, KeyStore

    store = KeyStore(tmp_path / "data" / KEYS_DB)
    try:
        _, secret = store.create("lt-client")
    finally:
        store.close()
    async with client_for(tmp_path, api_keys_required=True) as client:
        body = {"q": "hello", "source": "en", "target": "de"}
        missing = await client.post(f"{LT}/translate", data=body)
        assert missing.status_code == 403 and "API key is required" in missing.json()["error"]
        wrong = await client.post(f"{LT}/translate", data=body | {"api_key": "xlt_nope"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "invalid API key"}
        assert (await client.post(f"{LT}/translate", data=body | {"api_key": secret})).status_code == 200
        assert (await client.post(f"{LT}/translate", json=body | {"api_key": secret})).status_code == 200
        assert (await client.post(f"{LT}/translate", json=body, headers={"X-API-Key": secret})).status_code == 200
        assert (await client.post(f"{LT}/detect", data={"q": "hi", "api_key": secret})).status_code == 200
        assert (await client.post(f"{LT}/detect", data={"q": "hi"})).status_code == 403
        assert (await client.get(f"{LT}/languages")).status_code == 200  # open, as in LibreTranslate
        assert (await client.post("/detect", json={"text": "hi"})).status_code == 401
        auth = {"Authorization": f"Bearer {secret}"}
        assert (await client.post("/detect", json={"text": "hi"}, headers=auth)).status_code == 200
        for page in ("/", "/static/app.js", "/static/style.css"):
            assert (await client.get(page)).status_code == 200, page
