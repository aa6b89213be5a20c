"""Clients against real uvicorn on loopback serving the tiny real engine: the unmodified ``libretranslatepy``
package at ``/libretranslate/``, the Python client, and the ``xlt translate`` command (``--server`` and
``--model``). Random weights translate into garbage: these tests check shapes and behaviour, never quality.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
from libretranslatepy import LibreTranslateAPI

from service.cli import main
from service.client import Client, Translation, XltError
from tests.integration.conftest import Server

GERMAN = "Das Haus ist klein und der Garten ist grün."


@pytest.fixture
def lt(server: Server) -> LibreTranslateAPI:
    return LibreTranslateAPI(f"{server.url}/libretranslate/")


def test_libretranslatepy_languages(lt: LibreTranslateAPI) -> None:
    languages = lt.languages(timeout=30)
    assert [lang["code"] for lang in languages] == ["en", "de", "fr"]
    assert languages[0] == {"code": "en", "name": "English", "targets": ["de", "fr"]}


def test_libretranslatepy_translate(lt: LibreTranslateAPI) -> None:
    out = lt.translate("The house is small.", source="en", target="de", timeout=60)
    assert isinstance(out, str) and out.strip()
    auto = lt.translate(GERMAN, source="auto", target="fr", timeout=60)
    assert isinstance(auto, str) and auto.strip()


def test_alternatives_from_the_real_engine(server: Server) -> None:
    with Client(server.url) as xlt:
        [out] = xlt.translate("The house is small.", "de", "en", options={"alternatives": 3})
    assert len(out.alternatives) == len(set(out.alternatives)) and 1 <= len(out.alternatives) <= 3
    assert out.text not in out.alternatives and all(isinstance(a, str) for a in out.alternatives)


def test_libretranslatepy_detect(lt: LibreTranslateAPI) -> None:
    found = lt.detect(GERMAN, timeout=30)
    assert found[0]["language"] == "de"
    confidences = [f["confidence"] for f in found]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= f["confidence"] <= 100 for f in found)


def test_libretranslatepy_sees_errors_in_libretranslate_shape(lt: LibreTranslateAPI) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        lt.translate("Hello.", source="en", target="xx", timeout=30)
    assert caught.value.code == 400
    assert "not supported" in json.loads(caught.value.read())["error"]


def test_html_keeps_markup_through_the_real_engine(server: Server) -> None:
    with Client(server.url) as xlt:
        [out] = xlt.translate('<p class="c">The house.</p><script>keep()</script>', "de", "en", format="html")
    assert out.text.startswith('<p class="c">') and out.text.endswith("</p><script>keep()</script>")


def test_python_client_against_the_server(server: Server) -> None:
    with Client(server.url) as xlt:
        out = xlt.translate(["The house is small.", GERMAN], target="fr")
        assert [type(t) for t in out] == [Translation, Translation]
        assert [(t.source, t.target, t.model) for t in out] == [("en", "fr", "tiny"), ("de", "fr", "tiny")]
        assert xlt.detect(GERMAN)[0].language == "de"
        assert {m.model for m in xlt.languages()} == {"tiny"}
        with pytest.raises(XltError) as caught:
            xlt.translate("x", target="xx")
        assert caught.value.code == "unsupported_language"


def test_cli_through_the_server(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("The house is small.\n\nThe garden is green.\n", encoding="utf-8")
    assert main(["translate", "--to", "de", "--from", "en", "-i", str(source), "--server", server.url]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""  # three lines out, the blank one kept
    assert main(["languages", "--server", server.url]) == 0
    assert capsys.readouterr().out.startswith("tiny: en de fr\n")


def test_cli_with_a_local_model(
    tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XLT_MAX_DECODING_LENGTH", "24")
    monkeypatch.setenv("XLT_DEVICE", "cpu")
    model = str(tiny_models_dir / "tiny")
    assert main(["translate", "The house is small.", "The garden.", "--to", "de", "--model", model]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["languages", "--model", model]) == 0
    assert "en -> de fr" in capsys.readouterr().out
