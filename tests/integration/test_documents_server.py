"""Files against real uvicorn serving the tiny real engine: ``POST /translate/file``, LibreTranslate's
``/translate_file`` and ``/download_file`` as its clients call them, a hostile file, and ``xlt translate`` on
document files through the server and with a local model. Random weights translate into garbage: these tests
check formats and behaviour, never quality.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import httpx
import polib
import pytest
import srt

from service.cli import main
from tests.integration.conftest import Server


def catalog() -> bytes:
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": ""}
    po.append(polib.POEntry(msgid="The house is small.", occurrences=[("app.py", "3")]))
    po.append(polib.POEntry(msgid="One garden", msgid_plural="%d gardens", msgstr_plural={0: "", 1: ""}))
    po.append(polib.POEntry(msgid="Done", msgstr="Fertig"))
    return str(po).encode()


def test_catalog_through_translate_file(server: Server) -> None:
    r = httpx.post(
        f"{server.url}/translate/file",
        files={"file": ("app.po", catalog())},
        data={"source": "en", "target": "de"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    out = polib.pofile(r.text)
    assert out.metadata["Language"] == "de" and out.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    house = out.find("The house is small.")
    assert house is not None and house.fuzzy and house.occurrences == [("app.py", "3")]
    plural = out.find("One garden")
    assert plural is not None and sorted(plural.msgstr_plural) == [0, 1]
    done = out.find("Done")
    assert done is not None and done.msgstr == "Fertig" and not done.fuzzy


def test_libretranslate_file_upload_as_its_clients_send_it(server: Server) -> None:
    """LibreTranslate's documented API: multipart ``file``, ``source``, ``target`` (and ``api_key``) to
    ``/translate_file``; the answer's ``translatedFileUrl`` is then downloaded."""
    base = f"{server.url}/libretranslate/"
    text = b"The house is small.\n\nThe garden is green.\n"
    r = httpx.post(
        base + "translate_file",
        files={"file": ("notes.txt", text, "text/plain")},
        data={"source": "en", "target": "de", "api_key": ""},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    url = r.json()["translatedFileUrl"]
    assert url.startswith(f"{server.url}/libretranslate/download_file/") and url.endswith(".notes.txt")
    download = httpx.get(url, timeout=30)
    assert download.status_code == 200 and download.content != text
    assert download.content.count(b"\n\n") == 1  # two paragraphs, as sent
    assert 'filename="notes.txt"' in download.headers["content-disposition"]
    missing = httpx.post(base + "translate_file", data={"source": "en", "target": "de"}, timeout=30)
    assert missing.status_code == 400 and missing.json() == {"error": "Invalid request: missing file parameter"}


def test_a_hostile_file_leaves_the_server_serving(server: Server) -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><xliff>&b;</xliff>'
    r = httpx.post(f"{server.url}/translate/file", files={"file": ("x.xlf", laughs)}, data={"target": "de"}, timeout=30)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsafe_file"
    assert httpx.get(f"{server.url}/health/ready", timeout=5).status_code == 200


def test_cli_translates_a_catalog_through_the_server(server: Server, tmp_path: Path) -> None:
    source, out = tmp_path / "app.po", tmp_path / "app.de.po"
    source.write_bytes(catalog())
    argv = ["translate", "--to", "de", "--from", "en", "-i", str(source), "-o", str(out), "--server", server.url]
    assert main(argv) == 0
    translated = polib.pofile(str(out))
    house = translated.find("The house is small.")
    assert house is not None and house.msgstr and house.fuzzy


def test_cli_translates_subtitles_with_a_local_model(
    tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XLT_MAX_DECODING_LENGTH", "24")
    monkeypatch.setenv("XLT_DEVICE", "cpu")
    cues = [
        srt.Subtitle(1, datetime.timedelta(seconds=1), datetime.timedelta(seconds=2), "The house is small."),
        srt.Subtitle(2, datetime.timedelta(seconds=3), datetime.timedelta(seconds=4), "The garden is green."),
    ]
    source, out = tmp_path / "film.srt", tmp_path / "film.de.srt"
    source.write_text(srt.compose(cues), encoding="utf-8")
    model = str(tiny_models_dir / "tiny")
    assert main(["translate", "--to", "de", "--from", "en", "-i", str(source), "-o", str(out), "--model", model]) == 0
    translated = list(srt.parse(out.read_text(encoding="utf-8")))
    assert [(c.index, c.start, c.end) for c in translated] == [(c.index, c.start, c.end) for c in cues]
