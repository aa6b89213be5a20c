"""After training: convert, evaluate (supervised, zero-shot, few-shot, Apertium) and write the model card.

``python -m training.finish`` is what ``make model`` runs after the two training steps; it can be rerun alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from service.engines.manifest import Manifest
from training import ablation, apertium, model_card
from training.convert import convert_with_parity
from training.data.build import DEFAULT_LANGS
from training.evaluate import WHOLE_ORIGINS, evaluate_engine
from training.evaluate_fewshot import evaluate_fewshot
from training.evaluate_zeroshot import evaluate_zeroshot
from training.tune_decoding import tune_repetition_penalty, tune_suppressed_tokens


def finish(
    out: Path,
    work: Path,
    data: Path,
    *,
    force: bool = False,
    max_per_set: int = 200,
    wider: Path | None = None,
    run: Path | None = None,
    tokenizer: Path | None = None,
    earlier: Sequence[Path] = (),
    previous: Path | None = None,
    name: str | None = None,
) -> None:
    """``wider``: the corpus that phases with wheels trained on, named in the card; every figure uses ``data``.
    ``run`` and ``tokenizer``: the fine-tuning run whose best checkpoint ships, and its vocabulary (default
    ``work/finetune`` and ``work/sentencepiece.model``; the general-domain phases end in runs of their own);
    ``earlier``: the runs it continues, for the card; ``previous``: the engine this one replaces (it may be ``out``
    itself), scored first on the same test sets so that the card can set the two side by side. ``name``: the model's
    name in its manifest, the one clients ask for (default: the folder's), so that a candidate built in a folder of
    its own can be copied to ``models/xlt-base`` and still be served as ``xlt-base``."""
    run = run or work / "finetune"
    tokenizer = tokenizer or work / "sentencepiece.model"
    trained = {(s, t) for s, t in json.loads((run / "directions.json").read_text(encoding="utf-8"))}
    ood = data / "ood.tsv"
    before = None if previous is None else _scores(previous, data / "test.tsv", ood, trained, max_per_set)
    convert_with_parity(
        run / "best",
        out,
        name=name or out.name,
        tokenizer=tokenizer,
        langs=list(DEFAULT_LANGS),
        directions=run / "directions.json",
        dev=data / "dev.tsv",
        force=force,
        with_checkpoint=True,
    )
    if (work / "ablation" / "summary.json").exists():  # written after the conversion, which replaces the folder
        compared = ablation.compare(run, work / "ablation")
        (out / "ablation.json").write_text(json.dumps(compared, indent=1) + "\n", encoding="utf-8")
    again = work / "everyday" / "ablation" / "ablation.json"  # the same on the everyday corpus (--everyday)
    if again.exists():
        shutil.copyfile(again, out / "ablation_everyday.json")
    # Decoding defaults are chosen on dev before any test figure is taken, so every figure below uses them.
    tune_repetition_penalty(out, data / "dev.tsv", out=out / "decoding.json")
    tune_suppressed_tokens(out, data / "dev.tsv", (wider or data) / "train.tsv", out=out / "decoding.json")
    curve = run / "training_curve.png"
    if curve.exists():
        shutil.copyfile(curve, out / "training_curve.png")
    if before is not None:  # the conversion replaced the folder
        (out / "metrics_previous.json").write_text(json.dumps(before, indent=1) + "\n", encoding="utf-8")
    _scores(out, data / "test.tsv", ood, trained, max_per_set, save=True)
    if apertium.available():
        apertium.score(
            data / "test.tsv", list(DEFAULT_LANGS), out / "apertium.json", max_per_set=max_per_set, whole=WHOLE_ORIGINS
        )
        if ood.exists():
            apertium.score(ood, list(DEFAULT_LANGS), out / "apertium_ood.json", max_per_set=max_per_set)
    evaluate_zeroshot(out, data / "test.tsv", max_per_set=max_per_set, out=out / "zeroshot.json")
    evaluate_fewshot(out, data / "test.tsv", max_per_direction=max_per_set, out=out / "fewshot.json")
    # The service's own memory lookup decides whether memory matches become examples: gate on what it retrieves.
    few = evaluate_fewshot(
        out, data / "test.tsv", max_per_direction=max_per_set, out=out / "fewshot_memory.json", retrieval="memory"
    )
    gate_memory_examples(out, few)
    model_card.write(out, work, data, wider, run=run, earlier=earlier)


def _scores(
    engine: Path, test: Path, ood: Path, trained: set[tuple[str, str]], max_per_set: int, *, save: bool = False
) -> list[dict[str, object]]:
    """The test figures (every direction; the everyday sets whole) and, out of domain, the desktop catalogs never
    trained on (trained directions only), as ``origin: ood``; saved in the engine's folder with ``save``."""
    test_out, ood_out = (engine / "metrics.json", engine / "metrics_ood.json") if save else (None, None)
    rows = evaluate_engine(engine, test, test_out, max_per_set=max_per_set, whole=WHOLE_ORIGINS)
    if ood.exists():
        ood_rows = evaluate_engine(engine, ood, ood_out, max_per_set=max_per_set, directions=trained)
        rows += [{**r, "origin": "ood"} for r in ood_rows]
    return rows


def gate_memory_examples(out: Path, few: dict[str, object]) -> None:
    """Memory fuzzy matches become examples automatically only if two examples, retrieved the way the service
    retrieves them, did not lower mean chrF."""
    manifest = Manifest.load(out)
    mean = few["mean"]
    assert isinstance(mean, dict)
    if manifest.few_shot is None or not mean or mean["chrf_2"] >= mean["chrf_0"]:
        return
    few_shot = manifest.few_shot.model_copy(update={"memory_examples": False})
    manifest.model_copy(update={"few_shot": few_shot}).save(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("models/xlt-base"))
    parser.add_argument("--work", type=Path, default=Path("runs/default"))
    parser.add_argument("--data", type=Path, default=Path("data/corpus"))
    parser.add_argument("--wider", type=Path, help="the corpus of the fine-tuning phases with wheels, for the card")
    parser.add_argument("--run", type=Path, help="the fine-tuning run that ships (default: WORK/finetune)")
    parser.add_argument("--tokenizer", type=Path, help="its vocabulary (default: WORK/sentencepiece.model)")
    parser.add_argument("--earlier", type=Path, action="append", default=[], help="a run --run continues (repeat)")
    parser.add_argument("--previous", type=Path, help="the engine this one replaces, for the card's everyday table")
    parser.add_argument("--name", help="the model's name in its manifest (default: the --out folder's name)")
    parser.add_argument("--max-per-set", type=int, default=200)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    finish(
        args.out,
        args.work,
        args.data,
        force=args.force,
        max_per_set=args.max_per_set,
        wider=args.wider,
        run=args.run,
        tokenizer=args.tokenizer,
        earlier=args.earlier,
        previous=args.previous,
        name=args.name,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
