"""The offline half of the ``xlt`` command: ``data build``, ``train tokenizer|pretrain|finetune``, ``convert``,
``eval``, ``model``. ``service.cli`` hands these subcommands over here, lazily, so serving never imports torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

COMMANDS = ("data", "train", "convert", "eval", "model")
DEFAULT_LANGS = "en,de,fr,es,it,pt"
DEFAULT_DEV = Path("data/corpus/dev.tsv")


def _langs(value: str) -> set[str]:
    return {v.strip() for v in value.split(",") if v.strip()}


def _group(value: str) -> tuple[tuple[str, ...], float]:
    """``teacher,freedict=0.5``: corpus origins drawn as a group, and the share of draws they get."""
    origins, _, share = value.rpartition("=")
    names = tuple(sorted({o.strip() for o in origins.split(",") if o.strip()}))
    try:
        fraction = float(share)
    except ValueError:
        fraction = math.nan
    if not names or not 0.0 < fraction < 1.0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected ORIGIN,...=SHARE with 0 < SHARE < 1")
    return names, fraction


def _weights(value: str) -> dict[str, float]:
    """``gettext=3,bible=1``: the origins a synthetic round draws its English sides from, and how often."""
    try:
        weights = {k.strip(): float(v) for k, v in (item.split("=") for item in value.split(",") if item.strip())}
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{value!r}: expected ORIGIN=WEIGHT,..., e.g. gettext=3,bible=1") from e
    if not weights or not all(0 <= w < math.inf for w in weights.values()) or not any(weights.values()):
        raise argparse.ArgumentTypeError(f"{value!r}: weights must be >= 0 and one of them > 0")
    return weights


def _extra(value: str) -> tuple[Path, str, str]:
    try:
        path, src, tgt = value.rsplit(":", 2)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{value!r}: expected FILE:SRC:TGT, e.g. pairs.tsv:en:de") from e
    return Path(path), src, tgt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlt", description="xlt offline pipeline: data, training, conversion.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build parallel corpora").add_subparsers(dest="action", required=True)
    b = data.add_parser("build", help="Bible + gettext + TSV/JSONL/TMX -> data/corpus/{train,dev,test,ood}.tsv")
    b.add_argument("--out", type=Path, default=Path("data/corpus"))
    b.add_argument("--langs", type=_langs, default=_langs(DEFAULT_LANGS))
    b.add_argument("--locale-dir", type=Path, default=Path("/usr/share/locale"))
    b.add_argument("--no-system-catalogs", action="store_true", help="leave /usr/share/locale out")
    b.add_argument("--pypi", default="django", help="comma-separated PyPI packages whose catalogs to read")
    b.add_argument(
        "--wheels",
        type=Path,
        default=None,
        metavar="DIR",
        help="read the catalogs of every .whl in DIR (pip download --no-deps -d DIR PACKAGE...), not installed",
    )
    b.add_argument(
        "--extra",
        type=_extra,
        action="append",
        default=[],
        metavar="FILE:SRC:TGT",
        help="a .tsv/.jsonl/.tmx file of pairs (repeatable)",
    )
    b.add_argument("--skip-bad", action="store_true", help="count and skip bad lines/files instead of stopping")
    b.add_argument("--bible-books", default="", help="comma-separated book numbers (a small slice)")
    b.add_argument("--max-catalogs", type=int, default=None)
    b.add_argument(
        "--everyday",
        type=Path,
        default=None,
        metavar="DIR",
        help="add the hand-written everyday dev/test sets (training/data/everyday) and keep them out of train",
    )
    b.add_argument("--teacher", action="store_true", help="WordNet's sentences through Apertium (es, fr, it, pt)")
    b.add_argument("--no-glosses", action="store_true", help="with --teacher: the example sentences only")
    b.add_argument(
        "--teacher-fortunes",
        action="store_true",
        help="with --teacher: the English fortune cookies too (Debian fortunes, fortunes-min)",
    )
    b.add_argument("--dictionaries", action="store_true", help="FreeDict word and phrase pairs (everyday words)")
    b.add_argument(
        "--ding", action="store_true", help="the Ding dictionary's English-German example sentences (trans-de-en)"
    )
    b.add_argument(
        "--lohelp",
        action="store_true",
        help="LibreOffice help's paragraphs, aligned by help id (libreoffice-help-en-us and -de, -fr, ..., -pt-br)",
    )
    b.add_argument(
        "--backtranslation",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="pairs from `xlt data backtranslate` (repeatable)",
    )

    bt = data.add_parser(
        "backtranslate", help="real X sentences (Debian fortunes) -> English by a model: en(machine) -> X(human) pairs"
    )
    bt.add_argument("--model", type=Path, required=True, help="the engine folder whose X->en direction translates")
    bt.add_argument("--lang", required=True, help="the language of the fortunes to read (de, es, it, pt)")
    bt.add_argument("--out", type=Path, required=True)
    bt.add_argument("--beam-size", type=int, default=2)
    bt.add_argument("--limit", type=int, default=None, help="at most this many sentences")

    y = data.add_parser(
        "synthesize", help="synthetic X->Y pairs for the zero-shot directions: en->X output beside real Y text"
    )
    y.add_argument("--model", type=Path, required=True, help="the engine folder whose en->X directions translate")
    y.add_argument("--corpus", type=Path, default=Path("data/corpus/train.tsv"), help="where the en->Y pairs come from")
    y.add_argument("--out", type=Path, default=Path("data/synthetic.tsv"))
    y.add_argument("--langs", type=_langs, default=_langs(DEFAULT_LANGS))
    y.add_argument("--per-direction", type=int, default=2000)
    y.add_argument("--beam-size", type=int, default=2)
    y.add_argument("--seed", type=int, default=1)
    y.add_argument(
        "--origin-weights",
        type=_weights,
        default=None,
        help="draw the English sides by origin in these proportions, e.g. gettext=3,bible=1 (default: evenly)",
    )
    y.add_argument(
        "--identifier",
        default="lingua",
        choices=("lingua", "langid"),
        help="drops synthetic sources not in their language (lingua: stricter on short strings than the service's)",
    )

    train = sub.add_parser("train", help="train a tokenizer or a model").add_subparsers(dest="action", required=True)
    t = train.add_parser("tokenizer", help="one SentencePiece vocabulary with language tags")
    t.add_argument("--corpus", type=Path, default=Path("data/corpus/train.tsv"))
    t.add_argument("--out", type=Path, default=Path("runs/default/sentencepiece.model"))
    t.add_argument("--vocab-size", type=int, default=8000)
    t.add_argument("--per-lang", type=int, default=60000)
    for name, helptext in (
        ("pretrain", "denoising pretraining on monolingual text"),
        ("finetune", "multilingual fine-tuning, summed per-pair loss"),
    ):
        p = train.add_parser(name, help=helptext)
        p.add_argument("--corpus", type=Path, default=Path("data/corpus/train.tsv"))
        p.add_argument("--tokenizer", type=Path, default=Path("runs/default/sentencepiece.model"))
        p.add_argument("--out", type=Path, default=Path(f"runs/default/{name}"))
        p.add_argument("--langs", type=_langs, default=None)
        p.add_argument("--minutes", type=float, default=20.0 if name == "pretrain" else 100.0)
        p.add_argument("--max-steps", type=int, default=10**9)
        p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
        p.add_argument("--seed", type=int, default=1)
        if name == "finetune":
            p.add_argument("--dev", type=Path, default=DEFAULT_DEV)
            p.add_argument("--init", default=None, help="our pretrained checkpoint folder (from pretrain), or none")
            p.add_argument(
                "--pretrained",
                default=None,
                help="a Marian/opus-mt, M2M100, NLLB or mBART-50 checkpoint (folder or hub id) to fine-tune",
            )
            p.add_argument("--temperature", type=float, default=5.0)
            p.add_argument("--augment", type=float, default=0.15, help="share of inputs with retrieved examples")
            p.add_argument(
                "--example-overlap",
                type=float,
                default=0.3,
                help="least word-set Jaccard of a retrieved example to its sentence",
            )
            p.add_argument("--drop-identical", action="store_true", help="leave out pairs whose target is their source")
            p.add_argument(
                "--synthetic",
                type=Path,
                default=None,
                help="X->Y pairs from `xlt data synthesize`, trained one way; the directions stay zero-shot",
            )
            p.add_argument("--synthetic-share", type=float, default=0.1, help="share of draws from --synthetic")
            p.add_argument(
                "--group",
                type=_group,
                default=((), 0.0),
                metavar="ORIGIN,...=SHARE",
                help="draw the pairs of these corpus origins SHARE of the time: teacher,freedict,backtranslation=0.5",
            )
            p.add_argument(
                "--cooldown",
                type=int,
                default=0,
                help="the last steps before --max-steps, over which the learning rate falls linearly to zero",
            )
            p.add_argument(
                "--restart-at",
                type=int,
                default=0,
                help="a warm restart: from this step, --warmup steps up to --lr again, then inverse-sqrt decay",
            )
            p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 5e-4; 5e-5 pretrained)")
            p.add_argument("--warmup", type=int, default=None, help="steps up to the peak (default 200; 50 pretrained)")
            p.add_argument("--eval-every", type=int, default=400)
            p.add_argument(
                "--threads",
                type=int,
                default=None,
                help="torch threads (default: up to 2); 1 leaves a core to other work, which a 2-thread run "
                "shares badly",
            )
            p.add_argument("--dev-per-direction", type=int, default=40)

    a = train.add_parser("adapt", help="fine-tune a shipped model on a few pairs of one domain -> a new engine")
    a.add_argument("--model", type=Path, required=True, help="an engine folder with checkpoint/ (e.g. models/xlt-base)")
    a.add_argument("--pairs", type=Path, required=True, help="TSV: source<TAB>target")
    a.add_argument("--src", required=True)
    a.add_argument("--tgt", required=True)
    a.add_argument("--out", type=Path, default=None, help="new engine folder (default MODEL-adapted)")
    a.add_argument("--steps", type=int, default=60)
    a.add_argument("--lr", type=float, default=1e-4)
    a.add_argument("--force", action="store_true")
    a.add_argument("--logdir", type=Path, default=None, help="TensorBoard event files (default runs/adapt/OUT-NAME)")

    c = sub.add_parser("convert", help="HF checkpoint -> CTranslate2 engine folder, with a parity check")
    c.add_argument("checkpoint", help="checkpoint folder or hub id")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--name", required=True)
    c.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help="our SentencePiece model; leave out for checkpoints that bring their own tokenizer",
    )
    c.add_argument("--langs", default=DEFAULT_LANGS)
    c.add_argument("--directions", type=Path, default=None, help="JSON list of trained [src, tgt] pairs")
    c.add_argument("--quantization", default="int8")
    c.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    c.add_argument("--no-parity", action="store_true")
    c.add_argument("--force", action="store_true", help="overwrite OUT")
    c.add_argument(
        "--with-checkpoint",
        action="store_true",
        help="also ship the float16 HF weights in OUT/checkpoint (needed by `xlt train adapt`)",
    )

    e = sub.add_parser("eval", help="BLEU/chrF per direction and off-target rate of an engine folder")
    e.add_argument("model", type=Path)
    e.add_argument("--test", type=Path, default=Path("data/corpus/test.tsv"))
    e.add_argument("--out", type=Path, default=None, help="metrics JSON (default MODEL/metrics.json)")
    e.add_argument("--max-per-set", type=int, default=300)
    e.add_argument("--beam-size", type=int, default=4)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train" and args.action == "finetune" and args.pretrained and args.synthetic:
        parser.error("--synthetic trains our own checkpoints only (with --init), not --pretrained ones")
    from training.data.records import DataError

    try:
        _split_files(args)
        return _dispatch(args)
    except DataError as e:
        print(f"xlt: data error: {e}", file=sys.stderr)
        return 2


def _split_files(args: argparse.Namespace) -> None:
    """``--corpus data/corpus`` (the folder ``xlt data build --out`` writes) means its ``train.tsv``, and its
    ``dev.tsv`` where ``--dev`` was not given; ``--test`` and ``--dev`` may name the folder too."""
    corpus = getattr(args, "corpus", None)
    if isinstance(corpus, Path) and corpus.is_dir():
        args.corpus = _split_file(corpus, "train")
        if getattr(args, "dev", None) == DEFAULT_DEV:
            args.dev = _split_file(corpus, "dev")
    for name in ("dev", "test"):
        path = getattr(args, name, None)
        if isinstance(path, Path) and path.is_dir():
            setattr(args, name, _split_file(path, name))


def _split_file(folder: Path, split: str) -> Path:
    from training.data.records import DataError

    path = folder / f"{split}.tsv"
    if not path.is_file():
        raise DataError(
            f"{folder} is a folder without {split}.tsv: give the corpus folder `xlt data build --out` "
            f"wrote, or the {split} file itself"
        )
    return path


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "data" and args.action == "build":
        from training.data.build import build
        from training.data.records import DataError

        books = {int(b) for b in args.bible_books.split(",") if b.strip()} or None
        wheel_files = sorted(args.wheels.glob("*.whl")) if args.wheels else []
        if args.wheels and not wheel_files:
            raise DataError(f"{args.wheels}: no .whl file to read catalogs from")
        manifest = build(
            args.out,
            args.langs,
            locale_dir=None if args.no_system_catalogs else args.locale_dir,
            pypi_packages=[p for p in args.pypi.split(",") if p],
            wheel_files=wheel_files,
            extra_files=args.extra,
            skip_bad=args.skip_bad,
            bible_books=books,
            max_catalogs=args.max_catalogs,
            everyday_dir=args.everyday,
            teacher=args.teacher,
            glosses=not args.no_glosses,
            teacher_fortunes=args.teacher_fortunes,
            dictionaries=args.dictionaries,
            ding=args.ding,
            lohelp=args.lohelp,
            backtranslations=args.backtranslation,
        )
        print(json.dumps({k: v["pairs"] for k, v in manifest["splits"].items()}))  # type: ignore[index]
        if manifest["skipped"]["count"]:  # type: ignore[index]
            print(f"skipped {manifest['skipped']['count']} bad inputs (see {args.out}/manifest.json)")  # type: ignore[index]
        return 0
    if args.command == "data" and args.action == "backtranslate":
        from training.data import monolingual
        from training.data.backtranslate import backtranslate
        from training.evaluate import engine_translator

        sentences = monolingual.read(args.lang)[: args.limit]
        translate = engine_translator(args.model, beam_size=args.beam_size)
        n = backtranslate(sentences, args.lang, translate, args.out)
        print(json.dumps({"sentences": len(sentences), "pairs": n, "out": str(args.out)}))
        return 0
    if args.command == "data" and args.action == "synthesize":
        from training.data.synthetic import identifier_judge, synthesize
        from training.evaluate import engine_translator

        translate = engine_translator(args.model, beam_size=args.beam_size)
        judge = identifier_judge(args.identifier, args.langs)
        langs = sorted(args.langs)
        counts = synthesize(
            args.corpus, args.out, translate, langs, args.per_direction, judge, args.seed, args.origin_weights
        )
        print(json.dumps(counts))
        return 0
    if args.command == "train" and args.action == "tokenizer":
        from training.tokenizer import train_tokenizer

        print(train_tokenizer(args.corpus, args.out, args.vocab_size, args.per_lang))
        return 0
    if args.command == "train" and args.action == "pretrain":
        from training.pretrain import pretrain

        s = pretrain(
            args.corpus,
            args.tokenizer,
            args.out,
            langs=args.langs,
            minutes=args.minutes,
            max_steps=args.max_steps,
            resume=args.resume,
            seed=args.seed,
        )
        print(json.dumps({k: s[k] for k in ("steps", "minutes")}))
        return 0
    if args.command == "train" and args.action == "finetune":
        from training.finetune import finetune

        schedule: dict[str, Any] = {"cooldown": args.cooldown, "restart": args.restart_at}
        schedule.update({k: v for k, v in (("lr", args.lr), ("warmup", args.warmup)) if v is not None})
        if args.pretrained:
            from training.finetune import finetune_pretrained

            s = finetune_pretrained(
                args.pretrained,
                args.corpus,
                args.dev,
                args.out,
                langs=args.langs,
                minutes=args.minutes,
                max_steps=args.max_steps,
                temperature=args.temperature,
                **schedule,
                eval_every=args.eval_every,
                dev_per_direction=args.dev_per_direction,
                resume=args.resume,
                seed=args.seed,
            )
            print(json.dumps({k: s[k] for k in ("steps", "minutes", "best_dev", "family")}))
            return 0
        init = None if args.init in (None, "none") else Path(args.init)
        s = finetune(
            args.corpus,
            args.dev,
            args.tokenizer,
            args.out,
            init=init,
            langs=args.langs,
            minutes=args.minutes,
            max_steps=args.max_steps,
            temperature=args.temperature,
            augment=args.augment,
            example_overlap=args.example_overlap,
            drop_identical=args.drop_identical,
            synthetic=args.synthetic,
            synthetic_share=args.synthetic_share,
            group_origins=args.group[0],
            group_share=args.group[1],
            **schedule,
            eval_every=args.eval_every,
            dev_per_direction=args.dev_per_direction,
            resume=args.resume,
            seed=args.seed,
            threads=args.threads,
        )
        print(json.dumps({k: s[k] for k in ("steps", "minutes", "best_dev")}))
        return 0
    if args.command == "train" and args.action == "adapt":
        from training.adapt import adapt

        out = args.out or args.model.with_name(f"{args.model.name}-adapted")
        logdir = args.logdir or Path("runs/adapt") / out.name
        result = adapt(
            args.model,
            args.pairs,
            args.src,
            args.tgt,
            out,
            steps=args.steps,
            lr=args.lr,
            force=args.force,
            logdir=logdir,
        )
        print(json.dumps(result))
        return 0
    if args.command == "convert":
        from training.convert import convert_with_parity

        result = convert_with_parity(
            args.checkpoint,
            args.out,
            name=args.name,
            tokenizer=args.tokenizer,
            langs=args.langs.split(","),
            directions=args.directions,
            quantization=args.quantization,
            dev=None if args.no_parity else args.dev,
            force=args.force,
            with_checkpoint=args.with_checkpoint,
        )
        print(json.dumps(result))
        return 0
    if args.command == "eval":
        from training.evaluate import WHOLE_ORIGINS, evaluate_engine, markdown_table

        out = args.out or args.model / "metrics.json"
        results = evaluate_engine(
            args.model, args.test, out, max_per_set=args.max_per_set, beam_size=args.beam_size, whole=WHOLE_ORIGINS
        )
        print(markdown_table(results, f"{args.model.name} on {args.test}"))
        return 0
    raise SystemExit(f"xlt: unknown command {args.command}")
