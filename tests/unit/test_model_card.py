"""The model card renders what the evaluations wrote: zero-shot strategies, adaptation, ablation."""

from __future__ import annotations

import json
from pathlib import Path

from service.engines.manifest import Decoding, Manifest
from training import model_card


def test_card_shows_zero_shot_strategies_adaptation_and_ablation(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    Manifest(name="m", languages=["en", "de", "fr"], trained_directions=[["en", "de"], ["en", "fr"]]).save(model)
    zero = {"origin": "bible", "direction": "de-fr", "n": 10, "auto_fallbacks": 0.2, "auto_alternatives": 0.15}
    for name, chrf, off in (("direct", 12.0, 0.3), ("pivot", 10.0, 0.1), ("auto", 13.0, 0.05)):
        zero |= {f"{name}_chrf": chrf, f"{name}_bleu": 1.0, f"{name}_off_target": off}
    zero |= {"reference_off_target": 0.1, "direct_off_target_judgeable": 0.25, "auto_off_target_judgeable": 0.04}
    zero |= {f"{k}_lingua": v for k, v in (("reference_off_target", 0.02), ("direct_off_target", 0.4))}
    zero |= {"pivot_off_target_lingua": 0.35, "auto_off_target_lingua": 0.3}
    (model / "zeroshot.json").write_text(json.dumps([zero]))
    trained = {"origin": "bible", "zero_shot": False, "n": 10, "bleu": 2.0, "chrf": 20.0}
    into = {**trained, "direction": "en-de", "off_target": 0.2, "off_target_lingua": 0.45}
    out_of = {**trained, "direction": "de-en", "off_target": 0.9, "off_target_lingua": 0.9}  # not into X
    (model / "metrics.json").write_text(json.dumps([into, out_of]))
    adapted = {"domain": "mime", "train_pairs": 240, "steps": 60, "heldout": 60, "before_chrf": 20.0,
               "after_chrf": 41.5, "command": "xlt train adapt ..."}  # fmt: skip
    (model / "adapt.json").write_text(json.dumps(adapted))
    ablation = {"metric": "dev chrF", "steps": {"400": {"pretrained": {"chrf": 7.6}, "from_scratch": {"chrf": 8.0}}}}
    (model / "ablation.json").write_text(json.dumps(ablation))
    again = {
        "metric": "dev chrF",
        "steps": {
            "800": {
                "pretrained": {"chrf": 7.3, "chrf_everyday": 6.9},
                "from_scratch": {"chrf": 4.1, "chrf_everyday": 5.5},
            }
        },
    }
    (model / "ablation_everyday.json").write_text(json.dumps(again))
    evals = {
        "same": [{"step": 200, "minutes": 10.0, "chrf": 30.0}],
        "grown": [{"step": 120, "minutes": 9.5, "chrf": 31.0}],
    }
    capacity = {"metric": "dev chrF", "evaluations": evals, "equal_minutes": 9.5}
    capacity["at_equal_minutes"] = {"same": None, "grown": evals["grown"][0]}
    (model / "capacity.json").write_text(json.dumps(capacity))

    ood = {"origin": "gettext", "direction": "en-es", "zero_shot": False, "n": 5, "bleu": 1.0, "chrf": 9.5}
    (model / "metrics_ood.json").write_text(json.dumps([ood]))
    (model / "apertium_ood.json").write_text(json.dumps([{**ood, "bleu": 20.0, "chrf": 50.0}]))

    for name, with_examples, chrf_2 in (("fewshot.json", 9, 8.5), ("fewshot_memory.json", 3, 10.5)):
        row = {"chrf_0": 10.0, "chrf_2": chrf_2, "n": 10, "with_examples": with_examples}
        few = {"per_direction": {"en-de": row}, "mean": {"chrf_0": 10.0, "chrf_2": chrf_2}}
        (model / name).write_text(json.dumps(few))
    tuned = {"repetition_penalty": 1.2, "dev_chrf": {"1.0": 20.0, "1.2": 21.5}}
    tuned |= {"beam_size": 2, "sets": 4, "per_set": 40}
    held = {"ratio": 20.0, "dev_chrf": {"none": 21.5, "50": 21.6, "20": 21.8}, "per_language": {"en": 7, "de": 9}}
    tuned |= {"suppressed_tokens": held}
    (model / "decoding.json").write_text(json.dumps(tuned))
    manifest = Manifest.load(model)
    manifest.model_copy(update={"decoding": Decoding(repetition_penalty=1.2)}).save(model)

    (tmp_path / "work" / "finetune").mkdir(parents=True)
    (tmp_path / "work" / "finetune" / "HISTORY.md").write_text("Steps 0-100: a data bug.\n\nSteps 100-200: fixed.\n")

    card = model_card.write(model, tmp_path / "work", tmp_path / "data").read_text(encoding="utf-8")

    assert "| bible | de-fr | 10 | 12.0 | 10.0 | 13.0 | 1.20 |" in card
    assert "auto 5.0% (goal <= 5%)" in card and "| 15.0% | 20.0% |" in card  # alternatives, fallbacks
    assert "By lingua: direct 40.0%, pivot 35.0%, auto 30.0% (references 2.0%)." in card
    # Beside the identifier's floor and its rate on the trained en->X directions of the same set.
    assert "| bible | langid | 10.0% | 30.0% | 10.0% | 5.0% | 25.0% | 4.0% | 20.0% |" in card
    assert "| bible | lingua | 2.0% | 40.0% | 35.0% | 30.0% | - | - | 45.0% |" in card
    assert "| all | langid | 10.0% | 30.0% |" in card
    assert "20.0 -> **41.5**" in card
    assert "| **mean** | 7.6 | 8.0 |" in card and "| **mean** | 7.3 | 4.1 |" in card
    assert "| **mean, everyday sets** | 6.9 | 5.5 |" in card
    assert "## Capacity at equal hours" in card and "| grown | 120 | 9.5 | 31.0 | - |" in card
    assert card.index("first stage's corpus") < card.index("7.6 | 8.0") < card.index("on the everyday corpus")
    assert "| ood | en-es | no | 5 | 1.0 | 9.5 | - | - | 20.0 | 50.0 |" in card
    assert "| en-de | 10 | 9 | 10.0 | 8.5 |" in card and "| en-de | 10 | 3 | 10.0 | 10.5 |" in card
    assert "by word overlap" in card and "as the service's translation memory retrieves them" in card
    assert "- Steps 0-100: a data bug.\n- Steps 100-200: fixed.\n" in card
    assert "repetition penalty 1.2, chosen on the dev split" in card and "1.0: 20.0, 1.2: 21.5" in card
    assert "at least 20 times rarer in the target language's training text" in card
    assert "(en 7, de 9 pieces;" in card and "(none: 21.5, 50: 21.6, 20: 21.8)" in card


def test_card_names_the_sources_of_the_wider_corpus_that_later_phases_trained_on(tmp_path: Path) -> None:
    model, data, wider = tmp_path / "m", tmp_path / "data", tmp_path / "wider"
    for folder in (model, data, wider):
        folder.mkdir()
    Manifest(name="m", languages=["en", "de"], trained_directions=[["en", "de"]]).save(model)
    django = {"name": "gettext", "package": "pypi:django", "version": "5.2"}
    debian = {"name": "gettext", "package": "debian:/usr/share/locale", "debian_packages": ["apt=2.6.1"]}
    (data / "manifest.json").write_text(json.dumps({"sources": [django, debian], "splits": {}}))
    wheel = {"name": "gettext", "package": "pypi:weblate", "version": "5.14", "sha256": "ab" * 32, "catalogs": 4}
    split = {"train": {"pairs": 1234, "by_origin_direction": {}}}
    (wider / "manifest.json").write_text(json.dumps({"sources": [django, wheel], "splits": split}))

    card = model_card.write(model, tmp_path / "work", data, wider).read_text(encoding="utf-8")
    plain = model_card.write(model, tmp_path / "work", data).read_text(encoding="utf-8")

    extra = card.split("trained on a wider corpus (1234 train pairs)")[1]
    assert '"pypi:weblate"' in extra and '"catalogs": 4' in extra and "abab" not in card
    assert '"debian:/usr/share/locale"' in card and "apt=2.6.1" not in card  # the package list stays in the manifest
    assert '"pypi:django"' not in extra  # listed once, among the corpus's own sources
    assert "wider corpus" not in plain


def test_a_run_continuing_earlier_ones_counts_their_time_and_the_parameters_come_from_the_checkpoint(
    tmp_path: Path,
) -> None:
    """The general-domain phases ship a run of their own: the card names the runs before it and counts their
    minutes, and says the model's size as its checkpoint has it (tied embeddings once)."""
    import numpy as np
    from safetensors.numpy import save_file

    model = tmp_path / "m"
    (model / "checkpoint").mkdir(parents=True)
    Manifest(name="m", languages=["en", "de"], trained_directions=[["en", "de"]]).save(model)
    save_file({"shared": np.zeros((16000, 256), np.float16), "layer": np.zeros((1000, 100), np.float16)},
              str(model / "checkpoint" / "model.safetensors"))  # fmt: skip
    work = tmp_path / "work"
    for folder, steps, minutes in (("finetune", 46520, 1564.8), ("everyday/e1", 2300, 78.0), ("v16", 4600, 150.0)):
        (work / folder).mkdir(parents=True)
        summary = {"steps": steps, "minutes": minutes, "best_dev": 31.0}
        (work / folder / "summary.json").write_text(json.dumps(summary))
    (work / "pretrain").mkdir()
    (work / "pretrain" / "summary.json").write_text(json.dumps({"steps": 100, "minutes": 20.0}))
    earlier = [work / "finetune", work / "everyday" / "e1"]

    card = model_card.write(model, work, tmp_path / "data", run=work / "v16", earlier=earlier).read_text("utf-8")

    assert (
        "a ~4M-parameter model trained for about 30.2 hours" in card
    )  # 16000 x 256 + 1000 x 100; (20+1564.8+78+150)/60
    assert "- Fine-tuning before it (`finetune`): 46520 steps, 1564.8 min" in card
    assert "- Fine-tuning before it (`e1`): 2300 steps, 78.0 min" in card
    assert "- Fine-tuning: 4600 steps, 150.0 min, best dev chrF 31.0" in card
    plain = model_card.write(model, work, tmp_path / "data").read_text("utf-8")
    assert "before it" not in plain and "- Fine-tuning: 46520 steps" in plain


def test_card_sets_the_version_it_replaces_beside_this_one_and_apertium_on_everyday_sentences(tmp_path: Path) -> None:
    """``finish --previous`` scores the replaced engine on the same sets: the card gives per test set the change of
    the trained and zero-shot means, and each everyday direction beside Apertium (chained ones say so)."""
    model, data = tmp_path / "m", tmp_path / "data"
    for folder in (model, data):
        folder.mkdir()
    Manifest(name="m", languages=["en", "de", "es"], trained_directions=[["en", "de"], ["en", "es"]]).save(model)

    def row(origin: str, direction: str, chrf: float, zero_shot: bool = False) -> dict[str, object]:
        return {"origin": origin, "direction": direction, "zero_shot": zero_shot, "n": 300, "bleu": 1.0, "chrf": chrf}

    now = [row("everyday", "en-de", 40.0), row("everyday", "en-es", 45.5), row("everyday", "de-es", 30.0, True)]
    now += [row("bible", "en-de", 39.0), row("bible", "en-es", 41.0)]
    before = [row("everyday", "en-de", 25.0), row("everyday", "en-es", 24.5), row("everyday", "de-es", 20.0, True)]
    before += [row("bible", "en-de", 40.0), row("bible", "en-es", 41.5), row("ood", "en-de", 30.0)]
    (model / "metrics.json").write_text(json.dumps(now))
    (model / "metrics_ood.json").write_text(json.dumps([row("gettext", "en-de", 29.0)]))
    (model / "metrics_previous.json").write_text(json.dumps(before))
    teacher = [{**row("everyday", "en-es", 49.7)}, {**row("everyday", "en-de", 1.0), "chrf": 0.0, "via": "es"}]
    (model / "apertium.json").write_text(json.dumps(teacher))
    (data / "manifest.json").write_text(json.dumps({"sources": [{"name": "everyday", "file": "t.tsv"}]}))

    card = model_card.write(model, tmp_path / "work", data).read_text(encoding="utf-8")

    assert "| bible | trained | 2 | 40.75 | 40.00 | -0.75 |" in card
    assert "| everyday | trained | 2 | 24.75 | 42.75 | +18.00 |" in card
    assert "| everyday | zero-shot | 1 | 20.00 | 30.00 | +10.00 |" in card
    assert "| ood | trained | 1 | 30.00 | 29.00 | -1.00 |" in card
    assert "| en-es | 300 | 24.5 | 45.5 | +21.00 | 49.7 |" in card
    assert "| en-de | 300 | 25.0 | 40.0 | +15.00 | 0.0 (via es) |" in card
    assert "general-domain phases" in card and "written by hand for xlt" in card
    assert "Ding" not in card and "English fortunes" not in card
    sources = [{"name": "everyday", "file": "t.tsv"}, {"name": "ding"}, {"name": "wordnet+fortunes+apertium"}]
    (data / "manifest.json").write_text(json.dumps({"sources": sources}))
    wider = model_card.write(model, tmp_path / "work", data).read_text(encoding="utf-8")
    assert "Ding dictionary's English-German example sentences" in wider and "Debian's English fortunes" in wider
    plain = model_card.write(model, tmp_path / "work", tmp_path / "none").read_text(encoding="utf-8")
    assert "general-domain phases" not in plain
    (model / "metrics_previous.json").unlink()
    assert "version it replaces" not in model_card.write(model, tmp_path / "work", data).read_text(encoding="utf-8")


def test_card_gives_the_serving_cost_against_the_replaced_model_from_an_ab_run(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    Manifest(name="m", languages=["en", "de"], trained_directions=[["en", "de"]]).save(model)
    host = {"cpus": 2, "cpu": {"model": "AMD EPYC", "int8_isa": "AVX2"}}
    meta = {"date": "2026-12-07T05:00:00+0000", "host": host, "direction": "en->de", "rounds": 3}
    side = {"sentences_per_s": 70.0, "p50_ms": 13.0}
    cell = {"cell": "64 clients", "beam": 2, "a": side, "b": {"sentences_per_s": 56.0, "p50_ms": 16.5}}
    (model / "serving.json").write_text(
        json.dumps({"meta": meta, "results": [{**cell, "sentences_per_s_b_over_a": 0.8}]})
    )

    card = model_card.write(model, tmp_path / "work", tmp_path / "data").read_text(encoding="utf-8")

    assert "## Serving cost against the version it replaces" in card and "(AMD EPYC, int8: AVX2)" in card
    assert "| 64 clients | 2 | 70.0 | 56.0 | 0.8 | 13.0 | 16.5 |" in card
    assert "Measured with" not in card
    labels = {"a": "V1", "b": "V2", "why": "this version keeps V2's shape."}
    (model / "serving.json").write_text(
        json.dumps({"meta": {**meta, "labels": labels}, "results": [{**cell, "sentences_per_s_b_over_a": 0.8}]})
    )
    card = model_card.write(model, tmp_path / "work", tmp_path / "data").read_text(encoding="utf-8")
    assert 'Measured with V2 as "this" against V1 as "previous": this version keeps V2\'s shape.' in card
