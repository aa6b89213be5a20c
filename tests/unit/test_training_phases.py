"""``make model``'s fine-tuning phases: which still run after a given step, and with which settings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from training.pipeline import FINETUNE_PHASES, FINETUNE_STEPS, WHEELS, finetune_phases, synthetic_set_name


def test_a_fresh_run_goes_through_every_phase_to_the_shipped_length() -> None:
    todo = finetune_phases(0, FINETUNE_STEPS)
    assert todo[-1].end == FINETUNE_STEPS
    assert [p.end for p in todo] == sorted({min(p.end, FINETUNE_STEPS) for p in FINETUNE_PHASES})
    assert [p._replace(end=0) for p in todo] == [p._replace(end=0) for p in FINETUNE_PHASES]


def test_a_resumed_run_skips_the_phases_it_has_done() -> None:
    first_end = FINETUNE_PHASES[0].end
    assert all(p.end > first_end for p in finetune_phases(first_end, FINETUNE_STEPS + 100))
    assert finetune_phases(FINETUNE_STEPS, FINETUNE_STEPS) == []


def test_a_short_limit_cuts_the_first_phase() -> None:
    assert finetune_phases(0, 40) == [FINETUNE_PHASES[0]._replace(end=40)]


def test_a_longer_limit_goes_on_with_the_last_phase_settings() -> None:
    last = finetune_phases(0, FINETUNE_STEPS + 500)[-1]
    assert last == FINETUNE_PHASES[-1]._replace(end=FINETUNE_STEPS + 500)


def test_the_wheels_a_phase_reads_are_pinned_by_version_and_hash() -> None:
    """pip download --require-hashes refuses an unpinned line; this says which line, without the network."""
    lines = [line for line in WHEELS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^ ]* --hash=sha256:[0-9a-f]{64}", line), line


def test_each_round_of_synthetic_pairs_has_its_own_file() -> None:
    """A later round is made by a later checkpoint; reusing an earlier round's file would skip making it."""
    rounds = sorted({p.synthetic_round for p in FINETUNE_PHASES if p.synthetic})
    names = [synthetic_set_name(r) for r in rounds]
    assert names[0] == "synthetic.tsv"  # the name the first round had before there were rounds
    assert len(set(names)) == len(rounds) > 1


def test_the_general_phases_chain_their_runs_and_move_onto_a_new_vocabulary(tmp_path: Path) -> None:
    """Each phase starts from the previous one's last weights; the one with ``vocabulary`` first trains a vocabulary
    on the corpus and moves the weights onto it, once: a rerun (``make model`` resumed) reuses both."""
    import shutil

    from tests.tiny_model import _corpus, build_tiny_model
    from training.data.records import Pair, write_pairs
    from training.everyday_phases import GENERAL, EverydayPhase, run_phases

    build_tiny_model(tmp_path / "engine", tmp_path / "work", vocab_size=70)
    start = tmp_path / "work" / "checkpoint"
    shutil.copyfile(tmp_path / "work" / "sentencepiece.model", start / "sentencepiece.model")
    config = json.loads((start / "config.json").read_text())
    layers = (config["encoder_layers"], config["decoder_layers"])
    texts = _corpus()  # 150 sentences a language, in LANGUAGES' order
    pairs = [Pair("teacher", "g", "en", "de", en, de) for en, de in zip(texts[:150], texts[150:300], strict=True)]
    corpus = tmp_path / "corpus"
    write_pairs(corpus / "train.tsv", pairs)
    phases = (
        EverydayPhase("a", 10, 2e-4, 3, 2, 0.4, 0.1),
        EverydayPhase("b", 20, 3e-4, 3, 2, 0.8, 0.1, vocabulary=150),
        EverydayPhase("c", 30, 2e-4, 3, 2, 0.5, 0.1, layers=(layers[0] + 1, layers[1] + 2)),
    )
    calls: list[dict[str, Any]] = []

    def train(corpus_tsv: Path, dev: Path, tokenizer: Path, out: Path, **settings: Any) -> None:
        calls.append({"tokenizer": tokenizer, "out": out, **settings})
        shutil.copytree(settings["init"], out / "last", dirs_exist_ok=True)

    folder = tmp_path / "everyday"
    run, tokenizer = run_phases(corpus, start, tmp_path / "synthetic.tsv", folder, phases, train=train)
    assert run == folder / "c" and tokenizer == folder / "b-init" / "sentencepiece.model"
    assert [c["out"] for c in calls] == [folder / "a", folder / "b", folder / "c"]
    assert calls[0]["init"] == start and calls[0]["tokenizer"] == start / "sentencepiece.model"
    assert calls[1]["init"] == folder / "b-init" and calls[1]["tokenizer"] == tokenizer
    assert tokenizer.read_bytes() == (folder / "sp150.model").read_bytes() != calls[0]["tokenizer"].read_bytes()
    # the phase with ``layers`` starts from the last weights deepened (training.grow), on the same vocabulary
    assert calls[2]["init"] == folder / "c-grown" and calls[2]["tokenizer"] == tokenizer
    grown = json.loads((folder / "c-grown" / "config.json").read_text())
    assert (grown["encoder_layers"], grown["decoder_layers"]) == (layers[0] + 1, layers[1] + 2)
    assert [(c["max_steps"], c["group_share"], c["lr"]) for c in calls] == [
        (10, 0.4, 2e-4),
        (20, 0.8, 3e-4),
        (30, 0.5, 2e-4),
    ]
    assert all(c["group_origins"] == GENERAL and c["resume"] for c in calls)

    moved = (folder / "b-init" / "model.safetensors").stat().st_mtime_ns
    deepened = (folder / "c-grown" / "model.safetensors").stat().st_mtime_ns
    calls.clear()
    assert run_phases(corpus, start, tmp_path / "synthetic.tsv", folder, phases, train=train) == (run, tokenizer)
    assert (folder / "b-init" / "model.safetensors").stat().st_mtime_ns == moved
    assert (folder / "c-grown" / "model.safetensors").stat().st_mtime_ns == deepened
    assert [c["out"] for c in calls] == [folder / "a", folder / "b", folder / "c"]  # each resumes (and stops when done)


def test_a_wider_phase_trains_on_the_wider_corpus_that_the_last_weights_help_build(tmp_path: Path) -> None:
    """The wider corpus needs the last weights (they back-translate the Portuguese fortunes), so it is asked for when
    its first phase starts, with the weights that phase starts from; a phase without the flag keeps the corpus."""
    import shutil

    import pytest

    from training.everyday_phases import EverydayPhase, run_phases

    start, corpus, wide = tmp_path / "start", tmp_path / "corpus", tmp_path / "wide"
    start.mkdir()
    (start / "sentencepiece.model").write_bytes(b"sp")
    phases = (
        EverydayPhase("a", 10, 2e-4, 3, 2, 0.4, 0.1),
        EverydayPhase("b", 20, 2e-4, 3, 2, 0.5, 0.1, wider=True),
        EverydayPhase("c", 30, 2e-4, 3, 2, 0.5, 0.1, wider=True),
    )
    trained: list[tuple[Path, Path, Path]] = []
    asked: list[tuple[Path, Path]] = []

    def train(corpus_tsv: Path, dev: Path, tokenizer: Path, out: Path, **settings: Any) -> None:
        trained.append((corpus_tsv, dev, settings["init"]))
        shutil.copytree(settings["init"], out / "last", dirs_exist_ok=True)

    def wider(weights: Path, tokenizer: Path, documentation: bool) -> Path:
        asked.append((weights, tokenizer))
        return wide

    folder = tmp_path / "everyday"
    run_phases(corpus, start, tmp_path / "synthetic.tsv", folder, phases, train=train, wider=wider)
    assert [t[:2] for t in trained] == [
        (corpus / "train.tsv", corpus / "dev.tsv"),
        (wide / "train.tsv", wide / "dev.tsv"),
        (wide / "train.tsv", wide / "dev.tsv"),
    ]
    assert asked[0] == (folder / "a" / "last", start / "sentencepiece.model")
    with pytest.raises(ValueError, match="wider corpus"):
        run_phases(corpus, start, tmp_path / "synthetic.tsv", tmp_path / "other", phases, train=train)


def test_a_documentation_phase_asks_for_its_corpus_and_first_makes_unknown_characters_pieces(tmp_path: Path) -> None:
    """G4's two steps before training: the corpus with LibreOffice help (``wider`` told so), then the characters
    that corpus has and the vocabulary reads as ``<unk>`` added as pieces; the phase trains on the extended
    weights and vocabulary, which a rerun keeps."""
    import shutil

    import sentencepiece as spm

    from tests.tiny_model import build_tiny_model
    from training.everyday_phases import EverydayPhase, run_phases

    build_tiny_model(tmp_path / "engine", tmp_path / "work")
    start = tmp_path / "work" / "checkpoint"
    shutil.copyfile(tmp_path / "work" / "sentencepiece.model", start / "sentencepiece.model")
    wide = tmp_path / "wide"
    wide.mkdir()
    (wide / "train.tsv").write_text("lohelp\t1\ten\tes\tThe house & the dog\t¡La casa!\n" * 3, encoding="utf-8")
    phase = EverydayPhase("d", 10, 2e-4, 3, 2, 0.5, 0.1, wider=True, documentation=True, characters=3)
    asked: list[bool] = []
    trained: list[tuple[Path, Path]] = []

    def wider(weights: Path, tokenizer: Path, documentation: bool) -> Path:
        asked.append(documentation)
        return wide

    def train(corpus_tsv: Path, dev: Path, tokenizer: Path, out: Path, **settings: Any) -> None:
        trained.append((tokenizer, settings["init"]))
        shutil.copytree(settings["init"], out / "last", dirs_exist_ok=True)

    folder = tmp_path / "everyday"
    run, tokenizer = run_phases(
        tmp_path / "corpus", start, tmp_path / "s.tsv", folder, (phase,), train=train, wider=wider
    )
    extended = folder / "d-chars"
    assert asked == [True] and run == folder / "d"
    assert tokenizer == extended / "sentencepiece.model" and trained == [(tokenizer, extended)]
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer))
    assert sp.unk_id() not in sp.encode("¡ &")
    made = (extended / "model.safetensors").stat().st_mtime_ns
    run_phases(tmp_path / "corpus", start, tmp_path / "s.tsv", folder, (phase,), train=train, wider=wider)
    assert (extended / "model.safetensors").stat().st_mtime_ns == made and trained[1] == trained[0]


def test_the_wider_corpus_back_translates_portuguese_with_the_given_weights_and_is_built_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """What ``wider_corpus`` hands on: the Portuguese fortunes through ``checkpoint``, added to the earlier
    back-translations, and the English fortunes through the teacher; a corpus already built is left alone."""
    from training import everyday_phases

    calls: list[dict[str, Any]] = []

    def backtranslations(checkpoint: Path, tokenizer: Path, folder: Path, langs: Any) -> list[Path]:
        calls.append({"checkpoint": checkpoint, "langs": tuple(langs)})
        return [folder / "bt-pt.tsv"]

    def build(out: Path, langs: Any, **settings: Any) -> None:
        calls.append(settings)
        out.mkdir()
        (out / "manifest.json").write_text("{}")

    monkeypatch.setattr(everyday_phases, "backtranslations", backtranslations)
    monkeypatch.setattr(everyday_phases, "build", build)
    out, folder, earlier = tmp_path / "wide", tmp_path / "work", [tmp_path / "bt-de.tsv"]
    args = (tmp_path / "g2" / "last", tmp_path / "sp.model", folder, earlier, [tmp_path / "a.whl"])
    assert everyday_phases.wider_corpus(out, *args) == out
    assert calls[0] == {"checkpoint": tmp_path / "g2" / "last", "langs": ("pt",)}
    assert calls[1]["teacher_fortunes"] and calls[1]["ding"] and calls[1]["teacher"] and calls[1]["dictionaries"]
    assert calls[1]["backtranslations"] == [tmp_path / "bt-de.tsv", folder / "bt-pt.tsv"]
    assert calls[1]["wheel_files"] == [tmp_path / "a.whl"] and not calls[1]["lohelp"]
    assert everyday_phases.wider_corpus(out, *args) == out and len(calls) == 2
    assert everyday_phases.wider_corpus(tmp_path / "docs", *args, documentation=True) == tmp_path / "docs"
    assert calls[3]["lohelp"] and calls[3]["ding"]  # the same sources and LibreOffice help


def test_the_pretraining_ablation_on_the_everyday_corpus_differs_only_in_its_first_weights(tmp_path: Path) -> None:
    """Pretraining once, then two fine-tuning runs, one from its weights and one from random ones, with the same
    settings; the comparison is written at equal steps, and a rerun pretrains no more (each run resumes)."""
    from training.everyday_phases import ABLATION_PRETRAIN_STEPS, GENERAL, ablation

    denoised: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []

    def denoise(corpus_tsv: Path, tokenizer: Path, out: Path, **settings: Any) -> None:
        denoised.append(settings)
        out.mkdir(parents=True)
        (out / "summary.json").write_text(json.dumps({"steps": settings["max_steps"], "history": []}))

    def train(corpus_tsv: Path, dev: Path, tokenizer: Path, out: Path, **settings: Any) -> None:
        calls.append({"out": out, **settings})
        chrf = 7.0 if settings["init"] else 5.0
        history = [{"step": s, "eval": {"chrf": chrf + s / 800}} for s in (400, 800)]
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps({"steps": 800, "history": history}))

    folder, corpus = tmp_path / "ablation", tmp_path / "corpus"
    synthetic = tmp_path / "synthetic.tsv"
    written = ablation(corpus, tmp_path / "sp.model", folder, synthetic, 800, train=train, denoise=denoise)
    compared = json.loads(written.read_text())
    assert compared["steps"]["800"] == {"pretrained": {"chrf": 8.0}, "from_scratch": {"chrf": 6.0}}
    assert [d["max_steps"] for d in denoised] == [ABLATION_PRETRAIN_STEPS]
    assert [c.pop("init") for c in calls] == [folder / "pretrain" / "best", None]
    assert [c.pop("out") for c in calls] == [folder / "pretrained", folder / "scratch"]
    assert calls[0] == calls[1]  # nothing else differs
    assert calls[0]["group_origins"] == GENERAL and calls[0]["synthetic"] == synthetic and calls[0]["resume"]
    assert calls[0]["max_steps"] == 800 and calls[0]["eval_every"] == 400

    ablation(corpus, tmp_path / "sp.model", folder, synthetic, 800, train=train, denoise=denoise)
    assert len(denoised) == 1
