"""The ``xlt`` command line, and the rule that serving never imports the training stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.cli import build_parser, main


def test_serve_arguments() -> None:
    args = build_parser().parse_args(["serve", "--port", "9000", "--models-dir", "m"])
    assert args.command == "serve" and args.port == 9000 and str(args.models_dir) == "m"


def test_invalid_settings_exit_2_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 2
    assert "invalid settings" in capsys.readouterr().err


def test_a_subcommand_is_required() -> None:
    with pytest.raises(SystemExit):
        main([])


def test_service_never_imports_the_training_stack() -> None:
    code = (
        "import sys, service.app, service.cli, service.engines.ctranslate2_engine;"
        "from service.cli import build_parser; build_parser();"
        "bad = [m for m in ('torch', 'transformers', 'training') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_offline_commands_are_handed_to_training_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    pytest.importorskip("training.cli")
    monkeypatch.setattr("training.cli.main", fake_main)
    assert main(["train", "tokenizer", "--vocab-size", "100"]) == 7
    assert seen == [["train", "tokenizer", "--vocab-size", "100"]]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("serve", "data", "train", "convert", "eval", "model"):
        assert name in out
