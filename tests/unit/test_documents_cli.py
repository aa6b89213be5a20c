"""``xlt translate -i FILE -o OUT`` on each document format, with a fake translator standing in for the server or
the local model (the real ones run in ``tests/integration/test_documents_server.py``)."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import docx
import odfdo
import polib
import pptx
import pytest

from service import cli_client
from service.cli import main
from service.client import Detection, Translation
from tests.unit.test_cli_client import FakeTranslator
from tests.unit.test_documents_catalogs import catalog, xliff12, xliff20
from tests.unit.test_documents_office import open_document, slides, word_document


class DocumentTranslator(FakeTranslator):
    """Also records each call's format and source, and detects English."""

    def __init__(self) -> None:
        super().__init__()
        self.formats: list[str] = []
        self.sources: list[str] = []
        self.detected: list[str] = []

    async def translate(
        self, texts: list[str], target: str, source: str = "auto", *, format: str = "text"
    ) -> list[Translation]:
        self.formats.append(format)
        self.sources.append(source)
        return await super().translate(texts, target, source, format=format)

    async def detect(self, texts: str) -> list[Detection]:
        self.detected.append(texts)
        return [Detection("en", 0.9)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> DocumentTranslator:
    translator = DocumentTranslator()

    @asynccontextmanager
    async def backend(args: argparse.Namespace) -> AsyncIterator[DocumentTranslator]:
        yield translator

    monkeypatch.setattr(cli_client, "_backend", backend)
    return translator


def run(tmp_path: Path, name: str, data: bytes, *extra: str) -> Path:
    source, out = tmp_path / name, tmp_path / f"out-{name}"
    source.write_bytes(data)
    assert main(["translate", "--to", "de", "--from", "en", "-i", str(source), "-o", str(out), *extra]) == 0
    return out


def test_po(fake: DocumentTranslator, tmp_path: Path) -> None:
    out = polib.pofile(str(run(tmp_path, "app.po", str(catalog()).encode())))
    assert out.find("Open", msgctxt="verb").msgstr == "de:Open"
    assert out.find("One file").msgstr_plural == {0: "de:One file", 1: "de:{n} files"}
    assert out.find("Open", msgctxt="verb").fuzzy and out.metadata["Language"] == "de"


def test_po_overwrite_and_no_fuzzy(fake: DocumentTranslator, tmp_path: Path) -> None:
    out = polib.pofile(str(run(tmp_path, "app.po", str(catalog()).encode(), "--overwrite", "--no-fuzzy")))
    assert out.find("Save").msgstr == "de:Save" and not out.find("Save").fuzzy


def test_xliff(fake: DocumentTranslator, tmp_path: Path) -> None:
    assert b">de:Hello %s</target>" in run(tmp_path, "app.xlf", xliff12()).read_bytes()
    assert b"<target>de:Hello {name}</target>" in run(tmp_path, "app.xliff", xliff20()).read_bytes()
    assert "html" in fake.formats  # the units with inline codes


def test_subtitles(fake: DocumentTranslator, tmp_path: Path) -> None:
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nHello there\n\n2\n00:00:03,000 --> 00:00:04,000\nBye\n"
    assert run(tmp_path, "a.srt", srt).read_bytes() == srt.replace(b"Hello", b"de:Hello").replace(b"Bye", b"de:Bye")
    vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"
    assert run(tmp_path, "a.vtt", vtt).read_bytes() == b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nde:Hello\n"


def test_markdown_and_html(fake: DocumentTranslator, tmp_path: Path) -> None:
    md = b"# Title\n\nUse `code` here.\n\n```\nkeep me\n```\n"
    out = run(tmp_path, "a.md", md).read_text()
    assert out.startswith("# de:Title\n\n") and "`code`" in out and "```\nkeep me\n```\n" in out
    html = b"<p>Hello <b>world</b></p>\n"
    assert run(tmp_path, "a.html", html).read_bytes() == b"<p>de:Hello <b>de:world</b></p>\n"


def test_office(fake: DocumentTranslator, tmp_path: Path) -> None:
    word = docx.Document(str(run(tmp_path, "a.docx", word_document())))
    assert word.paragraphs[0].text == "de:Annual report"
    deck = pptx.Presentation(str(run(tmp_path, "a.pptx", slides())))
    assert deck.slides[0].shapes.title.text == "de:Quarterly results"
    text = odfdo.Document(str(run(tmp_path, "a.odt", open_document("text"))))
    assert [h.text_recursive for h in text.body.get_headers()] == ["de:A heading"]
    talk = odfdo.Document(str(run(tmp_path, "a.odp", open_document("presentation"))))
    assert [p.text_recursive for p in talk.body.get_paragraphs()] == ["de:Slide text here"]


def test_auto_source_is_detected_once_for_the_whole_file(fake: DocumentTranslator, tmp_path: Path) -> None:
    source, out = tmp_path / "a.srt", tmp_path / "b.srt"
    source.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nOne\n\n2\n00:00:03,000 --> 00:00:04,000\nTwo\n")
    assert main(["translate", "--to", "de", "-i", str(source), "-o", str(out), "--batch-size", "1"]) == 0
    assert fake.detected == ["One Two"] and fake.sources == ["en", "en"]


def test_progress_bar_counts_segments(
    fake: DocumentTranslator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, "a.po", str(catalog()).encode(), "--progress")
    err = capsys.readouterr().err
    assert "4/4" in err and "segment/s" in err  # tqdm's counter over the four segments, on stderr


def test_binary_output_needs_a_file_and_bad_files_are_one_line(
    fake: DocumentTranslator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.docx"
    source.write_bytes(word_document())
    assert main(["translate", "--to", "de", "-i", str(source)]) == 1
    assert "give -o FILE" in capsys.readouterr().err
    broken = tmp_path / "b.po"
    broken.write_bytes(b'msgid "a\n')
    assert main(["translate", "--to", "de", "-i", str(broken), "-o", str(tmp_path / "c.po")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xlt translate: invalid_file: ") and "line 1" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c.po").exists()


def test_text_formats_go_to_stdout_without_output(
    fake: DocumentTranslator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.vtt"
    source.write_bytes(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n")
    assert main(["translate", "--to", "de", "--from", "en", "-i", str(source)]) == 0
    assert capsys.readouterr().out.endswith("de:Hello\n")
