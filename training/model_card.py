"""Writes ``MODEL_CARD.md`` from what the run left behind: data manifest, training summaries, metrics.

Why generated: the card must say what was measured, not what someone remembered; every figure in it comes from a
file in the model folder or the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from math import prod
from pathlib import Path
from typing import Any

from service.engines.manifest import Manifest
from training.ablation import markdown as ablation_table
from training.capacity import markdown as capacity_table
from training.evaluate import IDENTIFIERS


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _parameters(model_dir: Path) -> int | None:
    """Parameters of the checkpoint shipped beside the engine (tied embeddings once), read from its header."""
    path = model_dir / "checkpoint" / "model.safetensors"
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as weights:
        return sum(prod(weights.get_slice(name).get_shape()) for name in weights.keys())  # noqa: SIM118


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    """Mean of ``key`` over the rows that have it (None: none has)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def _identifier_floor(zero: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> list[str]:
    """Off-target means per test set and identifier, beside the identifier's own error rate on the references and
    its rate on the trained en->X directions of the same set (``metrics``): what the zero-shot signal adds."""
    into = [r for r in metrics if not r.get("zero_shot") and str(r.get("direction", "")).startswith("en-")]
    lines = [
        "",
        "The language identifiers (outputs of 20 characters or more) err too: they call some human references",
        "off-target. *judgeable* counts only the sentences whose reference the identifier puts in the target",
        "language, so its own mistakes on short catalog strings are not charged to the model. `auto` chooses with",
        "langid (as the service does), so langid's figures for `auto` grade it with its own test; lingua is an",
        "identifier the choice never consulted. *trained en->X* is the same identifier on the trained directions",
        "into the same languages, on the same test set (the main table): where it is as high as *direct*, the",
        "drift is the model's own (English terms left untranslated), not a failure of the zero-shot signal.",
        "",
        "| test set | identifier | references called off-target | direct | pivot | auto | direct, judgeable | "
        "auto, judgeable | trained en->X |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for origin in [*sorted({r["origin"] for r in zero}), "all"]:
        rows = [r for r in zero if origin in ("all", r["origin"])]
        for identifier, suffix in IDENTIFIERS.items():
            if not any(f"direct_off_target{suffix}" in r for r in rows):
                continue

            def mean(key: str, rows: list[dict[str, Any]] = rows, suffix: str = suffix) -> str:
                value = _mean(rows, key + suffix)
                return "-" if value is None else f"{100 * value:.1f}%"

            trained = [r for r in into if origin in ("all", r["origin"])]
            lines.append(
                f"| {origin} | {identifier} | {mean('reference_off_target')} | {mean('direct_off_target')} | "
                f"{mean('pivot_off_target')} | {mean('auto_off_target')} | {mean('direct_off_target_judgeable')} | "
                f"{mean('auto_off_target_judgeable')} | {mean('off_target', trained)} |"
            )
    return lines


def _table(rows: list[dict[str, Any]], extra: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[str]:
    head = "| test set | direction | zero-shot | n | BLEU | chrF | off-target (langid) | off-target (lingua) |"
    sep = "|---|---|---|---|---|---|---|---|"
    if extra:
        head += " Apertium BLEU | Apertium chrF |"
        sep += "---|---|"
    out = [head, sep]
    for r in rows:
        off, lingua = ("-" if r.get(k) is None else f"{100 * r[k]:.1f}%" for k in ("off_target", "off_target_lingua"))
        line = (
            f"| {r['origin']} | {r['direction']} | {'**yes**' if r['zero_shot'] else 'no'} | {r['n']} | "
            f"{r['bleu']} | {r['chrf']} | {off} | {lingua} |"
        )
        if extra:
            a = extra.get((r["origin"], r["direction"]))
            line += f" {a['bleu']} | {a['chrf']} |" if a else " - | - |"
        out.append(line)
    return out


def _against_previous(
    previous: list[dict[str, Any]], now: list[dict[str, Any]], apertium: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    """The engine this one replaces, scored by ``finish`` on the same sets with the same code
    (``metrics_previous.json``): mean chrF per test set, trained and zero-shot apart, then each everyday direction
    beside Apertium, since the everyday sentences are what a new version is judged on."""
    before = {(r["origin"], r["direction"]): r for r in previous}
    after = {(r["origin"], r["direction"]): r for r in now}
    lines = [
        "",
        "## Against the version it replaces (same sentences, same code, beam 4)",
        "",
        "| test set | directions | sets | previous chrF | this chrF | change |",
        "|---|---|---|---|---|---|",
    ]
    for origin in sorted({o for o, _ in before}):
        for zero_shot in (False, True):
            keys = [k for k in before if k[0] == origin and k in after and bool(after[k]["zero_shot"]) == zero_shot]
            if keys:
                old = sum(before[k]["chrf"] for k in keys) / len(keys)
                new = sum(after[k]["chrf"] for k in keys) / len(keys)
                lines.append(
                    f"| {origin} | {'zero-shot' if zero_shot else 'trained'} | {len(keys)} | {old:.2f} | {new:.2f} | "
                    f"{new - old:+.2f} |"
                )
    everyday = sorted(k for k in before if k[0] == "everyday" and k in after and not after[k]["zero_shot"])
    if everyday:
        lines += [
            "",
            "| everyday, trained direction | n | previous chrF | this chrF | change | Apertium chrF |",
            "|---|---|---|---|---|---|",
        ]
        for k in everyday:
            old, new = before[k]["chrf"], after[k]["chrf"]
            teacher = apertium.get(k)
            via = f" (via {teacher['via']})" if teacher and teacher.get("via") else ""
            shown = "-" if teacher is None else f"{teacher['chrf']}{via}"
            lines.append(f"| {k[1]} | {after[k]['n']} | {old} | {new} | {new - old:+.2f} | {shown} |")
    return lines


def _serving_cost(ab: dict[str, Any]) -> list[str]:
    """What serving this model costs against the one it replaces: a ``benchmarks/ab.py`` result (side A the
    replaced model, B this one, same code, interleaved on one machine) saved beside the engine as ``serving.json``."""
    host = ab["meta"]["host"]
    cpu = host.get("cpu", {})
    lines = [
        "",
        "## Serving cost against the version it replaces",
        "",
        f"`benchmarks/ab.py`, {ab['meta']['date']}, {host['cpus']} CPUs ({cpu.get('model', '?')}, int8: "
        f"{cpu.get('int8_isa', '?')}), {ab['meta']['direction']}, the server's defaults, the two models in turn "
        f"({ab['meta']['rounds']} rounds, median round); one sentence per request from closed-loop clients, or one "
        "list.",
        *_measured_with(ab["meta"].get("labels")),
        "",
        "| load | beam | previous sentences/s | this sentences/s | this/previous | previous p50 ms | this p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ab["results"]:
        a, b = r["a"], r["b"]
        lines.append(
            f"| {r['cell']} | {r['beam']} | {a['sentences_per_s']} | {b['sentences_per_s']} | "
            f"{r['sentences_per_s_b_over_a']} | {a['p50_ms']} | {b['p50_ms']} |"
        )
    return lines


def _measured_with(labels: dict[str, str] | None) -> list[str]:
    """The note of a serving cost measured on other engines than the two versions: a version that keeps the shape
    of the one before it costs what that one cost, so its measurement stands (``labels``: ``a``, ``b``, ``why``)."""
    if not labels:
        return []
    return ["", f'Measured with {labels["b"]} as "this" against {labels["a"]} as "previous": {labels["why"]}']


def _has_everyday(data_manifest: dict[str, Any]) -> bool:
    return any(s.get("name") == "everyday" for s in data_manifest.get("sources", []))


def _general_domain(data_manifest: dict[str, Any]) -> list[str]:
    """The general-domain phases' line, when the corpus has their sources (``training.everyday_phases``)."""
    if not _has_everyday(data_manifest):
        return []
    names = {s.get("name") for s in data_manifest.get("sources", [])}
    english = (
        "WordNet's English sentences and Debian's English fortunes"
        if "wordnet+fortunes+apertium" in names
        else "WordNet's English sentences"
    )
    ding = " and the Ding dictionary's English-German example sentences" if "ding" in names else ""
    return [
        f"Then general-domain phases (`training.everyday_phases`): {english} through Apertium,",
        f"FreeDict dictionaries{ding}, and Debian fortunes back-translated by the model, synthetic sources tagged",
        "`<bt>`, the later ones on a vocabulary of their own trained on that corpus (`training.vocab_transfer`).",
    ]


def _history(path: Path) -> list[str]:
    """What happened to a long run between its resumes (a fix to the data it was fed, say), written by hand.

    Why a file beside the run: such facts belong to that run only; a fresh ``make model`` run has none.
    """
    if not path.exists():
        return []
    return [f"- {line.strip()}" for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sources(sources: list[dict[str, Any]]) -> list[str]:
    lines = []
    for s in sources:
        # Hashes and the Debian package list (hundreds of entries) stay in the manifest; the card names the source.
        desc = {k: v for k, v in s.items() if k not in ("sha256", "catalogs_sha256", "debian_packages")}
        lines.append(f"- {json.dumps(desc, ensure_ascii=False)}")
    return lines


def _wider_corpus(data_manifest: dict[str, Any], wider: Path | None) -> list[str]:
    """The corpus that the phases with wheels trained on: its train split and the sources the first lacks."""
    more = _load(wider / "manifest.json") if wider is not None else None
    if not more:
        return []
    known = {(s.get("package"), s.get("version")) for s in data_manifest.get("sources", [])}
    added = [s for s in more.get("sources", []) if (s.get("package"), s.get("version")) not in known]
    train = more.get("splits", {}).get("train", {}).get("pairs", "?")
    return [
        "",
        f"The fine-tuning phases marked `wheels` in `make model` trained on a wider corpus ({train} train pairs):",
        "the pinned PyPI applications of `training/data/wheels.txt` and the machine's catalogs when it was built.",
        "Its sources beyond the ones above:",
        "",
        *_sources(added),
    ]


def write(
    model_dir: Path,
    work: Path,
    data: Path,
    wider: Path | None = None,
    run: Path | None = None,
    earlier: Sequence[Path] = (),
) -> Path:
    """``wider``: the corpus of the phases with wheels, when the run had any (dev and test stay ``data``'s);
    ``run``: the fine-tuning run that shipped (default ``work/finetune``); ``earlier``: the runs it continues, in
    order (their minutes count in the training time)."""
    run = run or work / "finetune"
    manifest = Manifest.load(model_dir)
    metrics = _load(model_dir / "metrics.json") or []
    apertium = {(r["origin"], r["direction"]): r for r in (_load(model_dir / "apertium.json") or [])}
    ablation = _load(model_dir / "ablation.json")
    data_manifest = _load(data / "manifest.json") or {}
    pre = _load(work / "pretrain" / "summary.json") or {}
    fine = _load(run / "summary.json") or {}
    before = [(path, _load(path / "summary.json") or {}) for path in earlier]
    size_mb = sum(f.stat().st_size for f in model_dir.iterdir() if f.is_file()) / 1e6
    minutes = [pre.get("minutes", 0), fine.get("minutes", 0), *(b.get("minutes", 0) for _, b in before)]
    hours = sum(float(m) for m in minutes) / 60
    parameters = _parameters(model_dir)
    size = f"~{parameters / 1e6:.0f}M-parameter" if parameters else "small"
    pipeline_flags = " --everyday" if _has_everyday(data_manifest) else ""  # the general-domain phases ran
    lines = [
        f"# {manifest.name}",
        "",
        "A small multilingual translation model built entirely offline by xlt's own pipeline on a 2-core CPU:",
        "SentencePiece vocabulary -> BART-style denoising pretraining -> English-centric multilingual fine-tuning",
        "(one loss summed over language pairs, decoder-side target-language tag) -> CTranslate2 int8.",
        *_general_domain(data_manifest),
        "",
        f"**Quality is that of a {size} model trained for about {hours:.1f} hours on two CPU cores.** It is a",
        "working baseline for the service, not a substitute for a large pretrained model; any CTranslate2 engine",
        "folder (opus-mt, M2M100, NLLB converted with `xlt convert`) can be served instead.",
        "",
        "## Languages and directions",
        "",
        f"Languages: {', '.join(manifest.languages)}. Trained directions: "
        f"{', '.join(f'{s}->{t}' for s, t in manifest.trained_directions)}.",
        "Every other direction between these languages is **zero-shot** (never trained, served through the",
        "target-language tag) and flagged `zero_shot: true` by the API.",
        "",
        "## Engine",
        "",
        f"- CTranslate2 {manifest.quantization}, folder size {size_mb:.1f} MB; architecture {manifest.architecture}",
        f"- int8 vs float32 parity on dev (chrF): {manifest.metrics.get('parity_chrf', 'not measured')}",
        "- Few-shot format: `<ex> example source <to> example target ... <sep> source` (see the few-shot issue)",
        _decoding_line(manifest, _load(model_dir / "decoding.json")),
        "",
        "## Data",
        "",
    ]
    lines += _sources(data_manifest.get("sources", []))
    lines += ["", "| split | pairs | by origin and direction |", "|---|---|---|"]
    for name, info in data_manifest.get("splits", {}).items():
        lines.append(f"| {name} | {info['pairs']} | {info['by_origin_direction']} |")
    lines += _wider_corpus(data_manifest, wider)
    lines += [
        "",
        "Splits: Bible dev = Esther, Philippians; test = Ruth, Jonah, James, 1 John. gettext dev/test = whole",
        "catalog domains chosen by a stable hash. Desktop catalogs (GNOME/GTK and the like) are never trained on",
        "(`ood` split). Only Bible translations whose restriction is `none` are used.",
        *(
            [
                "Everyday dev and test = sentences of daily life written by hand for xlt (`training/data/everyday`),",
                "kept out of every training split (a test checks it); the test figures take them whole.",
            ]
            if _has_everyday(data_manifest)
            else []
        ),
        "",
        "## Training",
        "",
        f"- Pretraining (denoising): {pre.get('steps', '?')} steps, {pre.get('minutes', '?')} min",
        *(
            line
            for path, b in before
            for line in [
                f"- Fine-tuning before it (`{path.name}`): {b.get('steps', '?')} steps, {b.get('minutes', '?')} min, "
                f"best dev chrF {b.get('best_dev', '?')}",
                *_history(path / "HISTORY.md"),
            ]
        ),
        f"- Fine-tuning: {fine.get('steps', '?')} steps, {fine.get('minutes', '?')} min, best dev chrF "
        f"{fine.get('best_dev', '?')}",
        *_history(run / "HISTORY.md"),
        f"- Commands: `make model` (= `python -m training.pipeline{pipeline_flags}`), or step by step:",
        "  `xlt data build`, `xlt train tokenizer`, `xlt train pretrain`,",
        "  `xlt train finetune --init runs/default/pretrain/best`,",
        "  `xlt convert runs/default/finetune/best --out models/xlt-base ...`, `xlt eval models/xlt-base`.",
        "",
        "## Results (test splits, beam 4)",
        "",
    ]
    lines += _table(metrics, apertium)
    if apertium:
        lines += [
            "",
            "Apertium: Debian's rule-based engines (`apertium-eng-spa`, `apertium-fr-es`, `apertium-es-pt`) "
            "on the same sentences.",
        ]
    ood = [{**r, "origin": "ood"} for r in _load(model_dir / "metrics_ood.json") or []]
    previous = _load(model_dir / "metrics_previous.json")
    if previous:
        lines += _against_previous(previous, metrics + ood, apertium)
    if ood:
        ood_apertium = {("ood", r["direction"]): r for r in (_load(model_dir / "apertium_ood.json") or [])}
        lines += [
            "",
            "## Out of domain: desktop catalogs never trained on (trained directions, beam 4)",
            "",
            "The `ood` split: gettext catalogs of desktop software (GNOME, GTK, KDE and the like) from",
            "`/usr/share/locale`, kept out of training and of model selection.",
            "",
            *_table(ood, ood_apertium),
        ]
    zero = _load(model_dir / "zeroshot.json")
    if zero:
        lines += [
            "",
            "## Zero-shot directions: direct (target tag) vs pivot through English vs auto",
            "",
            "`auto` is the service's default strategy: the direct output, except where the language identifier "
            "(langid) finds it in another language: then the beam's next-best hypothesis in the target language "
            "(`alternative` column), else the output through English if that one is in the target language "
            "(`fallback` column), else the direct output as it was. Off-target columns here are langid's.",
            "",
            "| test set | direction | n | direct chrF | pivot chrF | auto chrF | direct/pivot | direct BLEU | "
            "pivot BLEU | direct off-target | pivot off-target | auto off-target | alternative | fallback |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{100 * value:.1f}%"

        for r in zero:
            ratio = r["direct_chrf"] / r["pivot_chrf"] if r["pivot_chrf"] else 0.0
            lines.append(
                f"| {r['origin']} | {r['direction']} | {r['n']} | {r['direct_chrf']} | {r['pivot_chrf']} | "
                f"{r.get('auto_chrf', '-')} | {ratio:.2f} | {r['direct_bleu']} | {r['pivot_bleu']} | "
                f"{pct(r['direct_off_target'])} | {pct(r['pivot_off_target'])} | {pct(r.get('auto_off_target'))} | "
                f"{pct(r.get('auto_alternatives'))} | {pct(r.get('auto_fallbacks'))} |"
            )
        n = len(zero)
        mean_ratio = sum(r["direct_chrf"] / r["pivot_chrf"] for r in zero if r["pivot_chrf"]) / n

        def mean(key: str) -> float:
            return _mean(zero, key) or 0.0

        lines += [
            "",
            f"Mean direct/pivot chrF ratio {mean_ratio:.2f} (goal >= 0.9); mean off-target: direct "
            f"{100 * mean('direct_off_target'):.1f}%, pivot {100 * mean('pivot_off_target'):.1f}%, auto "
            f"{100 * mean('auto_off_target'):.1f}% (goal <= 5%); mean chrF: direct {mean('direct_chrf'):.2f}, "
            f"pivot {mean('pivot_chrf'):.2f}, auto {mean('auto_chrf'):.2f}.",
        ]
        if any("auto_off_target_lingua" in r for r in zero):
            lines[-1] += (
                f" By lingua: direct {100 * mean('direct_off_target_lingua'):.1f}%, pivot "
                f"{100 * mean('pivot_off_target_lingua'):.1f}%, auto {100 * mean('auto_off_target_lingua'):.1f}% "
                f"(references {100 * mean('reference_off_target_lingua'):.1f}%)."
            )
        if any("reference_off_target" in r for r in zero):
            lines += _identifier_floor(zero, metrics)
    for name, how in _FEWSHOT_RETRIEVALS:
        few = _load(model_dir / name)
        if few and few["per_direction"]:
            lines += _fewshot_table(few, how)
    if manifest.few_shot is not None and not manifest.few_shot.memory_examples:
        lines += [
            "",
            "Examples retrieved as a translation memory retrieves them lower this model's chrF, so its manifest sets "
            "`few_shot.memory_examples: false`: translation memories give it exact matches only; examples a request "
            "sends are still used.",
        ]
    adapted = _load(model_dir / "adapt.json")
    if adapted:
        lines += [
            "",
            "## Adaptation to a new domain (`xlt train adapt`)",
            "",
            f"{adapted['domain']}: {adapted['train_pairs']} pairs for {adapted['steps']} steps, chrF on "
            f"{adapted['heldout']} held-out pairs of the same domain {adapted['before_chrf']} -> "
            f"**{adapted['after_chrf']}** (`{adapted['command']}`).",
        ]
    serving = _load(model_dir / "serving.json")
    if serving:
        lines += _serving_cost(serving)
    lines += ["", "## Ablation: with and without monolingual pretraining", ""]
    everyday_ablation = _load(model_dir / "ablation_everyday.json")
    if ablation and everyday_ablation:
        lines += ["On the first stage's corpus (Bible verses and catalog strings):", ""]
    if ablation:
        lines += ablation_table(ablation)
    else:
        lines += ["Not measured yet: the run without pretraining at equal fine-tuning steps is still to be done."]
    if everyday_ablation:
        lines += ["", "Again on the everyday corpus, with its 16,000-piece vocabulary (issue 28):", ""]
        lines += ablation_table(everyday_ablation)
    capacity = _load(model_dir / "capacity.json")
    if capacity:
        lines += ["", "## Capacity at equal hours", "", *capacity_table(capacity)]
    lines += [
        "",
        "![training curve](training_curve.png)" if (model_dir / "training_curve.png").exists() else "",
    ]
    path = model_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_FEWSHOT_RETRIEVALS = (
    (
        "fewshot.json",
        "by word overlap (Jaccard >= 0.2, looser than the model was trained with; most sentences get examples)",
    ),
    (
        "fewshot_memory.json",
        "as the service's translation memory retrieves them (fuzzy score >= its default threshold; fewer, closer "
        "matches; rows without a match are translated as 0-shot)",
    ),
)


def _fewshot_table(few: dict[str, Any], how: str) -> list[str]:
    shots = sorted(k for k in few["mean"])
    lines = [
        "",
        f"## Few-shot: retrieved examples on held-out gettext catalogs, {how.split(' (')[0]}",
        "",
        f"Examples retrieved leave-one-out from the same test catalog {how}, joined as at serving time.",
        "",
        "| direction | n | with examples | " + " | ".join(f"chrF {k[5:]}-shot" for k in shots) + " |",
        "|---|---|---|" + "---|" * len(shots),
    ]
    for d, r in few["per_direction"].items():
        lines.append(f"| {d} | {r['n']} | {r['with_examples']} | " + " | ".join(str(r[k]) for k in shots) + " |")
    lines.append("| **mean** | | | " + " | ".join(f"**{few['mean'][k]}**" for k in shots) + " |")
    return lines


def _decoding_line(manifest: Manifest, tuned: dict[str, Any] | None) -> str:
    line = f"- Decoding default: repetition penalty {manifest.decoding.repetition_penalty}"
    if tuned:
        tried = ", ".join(f"{p}: {c}" for p, c in tuned["dev_chrf"].items())
        line += (
            f", chosen on the dev split (mean chrF over {tuned['sets']} sets of up to {tuned['per_set']} sentences,"
            f" beam {tuned['beam_size']}; {tried}); every figure below is decoded with it"
        )
    held = (tuned or {}).get("suppressed_tokens")
    if held:
        tried = ", ".join(f"{r}: {c}" for r, c in held["dev_chrf"].items())
        if held["ratio"] is None:
            line += f". No pieces are held back: none of the ratios tried beat that on dev ({tried})"
        else:
            sizes = ", ".join(f"{lang} {n}" for lang, n in held["per_language"].items())
            line += (
                f". Pieces at least {held['ratio']:g} times rarer in the target language's training text than in"
                f" the others' are held back when decoding into it ({sizes} pieces; `decoding.suppressed_tokens`),"
                f" a ratio chosen on the same dev sets ({tried})"
            )
    return line
