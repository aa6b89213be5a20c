"""``xlt translate`` and ``xlt languages``: arguments, line handling and errors, with a fake translator.

The real paths (``--server`` against uvicorn, ``--model`` on a tiny engine) run in
``tests/integration/test_libretranslate.py``.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from service import cli_client
from service.cli import build_parser, main
from service.client import Direction, ModelLanguages, Translation, XltError


class FakeTranslator:
    """``<target>:<text>``; records each call's texts; fails with ``error`` when set."""

    def __init__(self, error: XltError | None = None) -> None:
        self.calls: list[list[str]] = []
        self.error = error

    async def translate(
        self, texts: list[str], target: str, source: str = "auto", *, format: str = "text"
    ) -> list[Translation]:
        if self.error is not None:
            raise self.error
        self.calls.append(list(texts))
        return [Translation(f"{target}:{t}", source, target, "fake") for t in texts]

    async def languages(self) -> list[ModelLanguages]:
        directions = (Direction("en", "de", False), Direction("de", "fr", True))
        return [ModelLanguages("fake", ("en", "de", "fr"), directions)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTranslator:
    translator = FakeTranslator()

    @asynccontextmanager
    async def backend(args: argparse.Namespace) -> AsyncIterator[FakeTranslator]:
        yield translator

    monkeypatch.setattr(cli_client, "_backend", backend)
    return translator


def test_help_lists_the_commands_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "translate" in out and "languages" in out
    with pytest.raises(SystemExit):
        main(["translate", "--help"])
    out = capsys.readouterr().out
    assert "--to LANG" in out and "--server URL" in out and "--model DIR" in out and "examples:" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["translate", "hi"],  # --to is required
        ["translate", "hi", "--to", "de", "--server", "http://x", "--model", "m"],
        ["translate", "hi", "--to", "de", "--batch-size", "0"],
        ["translate", "hi", "--to", "de", "--progress", "--no-progress"],
        ["translate", "hi", "--to", "de", "--format", "pdf"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(argv)
    assert done.value.code == 2


def test_text_and_input_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", "hi", "--to", "de", "-i", str(tmp_path / "x")]) == 2
    assert "not both" in capsys.readouterr().err


def test_texts_from_arguments(fake: FakeTranslator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", "Hello", "World", "--to", "de", "--from", "en"]) == 0
    assert capsys.readouterr().out == "de:Hello\nde:World\n"
    assert fake.calls == [["Hello", "World"]]


def test_file_line_by_line_keeps_blank_lines(fake: FakeTranslator, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("one\n\ntwo\n  \nthree\nfour\nfive\n", encoding="utf-8")
    target = tmp_path / "out.txt"
    argv = ["translate", "--to", "fr", "-i", str(source), "-o", str(target), "--batch-size", "2", "--concurrency", "2"]
    assert main([*argv, "--no-progress"]) == 0
    assert target.read_text(encoding="utf-8") == "fr:one\n\nfr:two\n  \nfr:three\nfr:four\nfr:five\n"
    assert fake.calls == [["one", "two"], ["three", "four"], ["five"]]  # windows of 2x2 lines, blanks not sent


def test_stdin_and_progress_bar(
    fake: FakeTranslator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nb\n"))
    assert main(["translate", "--to", "de", "--progress"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "de:a\nde:b\n"
    assert "2line" in captured.err.replace(" ", "")  # tqdm's counter, on stderr only


def test_html_input_is_one_document(
    fake: FakeTranslator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("<p>\nHello\n</p>\n"))
    assert main(["translate", "--to", "de", "--format", "html"]) == 0
    assert fake.calls == [["<p>\nHello\n</p>"]]
    assert capsys.readouterr().out == "de:<p>\nHello\n</p>\n"


def test_server_errors_are_one_readable_line(fake: FakeTranslator, capsys: pytest.CaptureFixture[str]) -> None:
    fake.error = XltError(422, "unsupported_language", "target language 'xx' is not supported")
    assert main(["translate", "hi", "--to", "xx"]) == 1
    assert capsys.readouterr().err == "xlt translate: unsupported_language: target language 'xx' is not supported\n"
    fake.error = XltError(0, "unreachable", "connection refused")
    assert main(["translate", "hi", "--to", "de"]) == 1
    assert "xlt serve" in capsys.readouterr().err


def test_languages(fake: FakeTranslator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["languages"]) == 0
    assert capsys.readouterr().out == (
        "fake: en de fr\n  en -> de\n  de -> fr*\n(* zero-shot: the model was not trained on this direction)\n"
    )
    assert main(["languages", "--json"]) == 0
    assert '"model": "fake"' in capsys.readouterr().out


def test_model_folder_must_be_an_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", "hi", "--to", "de", "--model", str(tmp_path)]) == 1
    assert "not an engine folder" in capsys.readouterr().err
