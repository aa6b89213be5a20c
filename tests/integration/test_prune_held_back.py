"""``tune_decoding.prune_suppressed_tokens`` on the tiny real engine: the held-back pieces the model produces stay,
the others go, and decoding dev with the shorter list produces none of the original list's pieces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.engines.ctranslate2_engine import CTranslate2Engine
from service.engines.manifest import Decoding, Manifest
from training.evaluate import engine_hypotheses
from training.tune_decoding import PRUNING_FILE, dev_by_target, main, prune_suppressed_tokens

ENGLISH = ["The house is small.", "We see a dog near the river.", "The garden is green today.", "A small dog."]
BEAM = 2


def _dev(path: Path) -> Path:
    rows = []
    for i, en in enumerate(ENGLISH):
        rows.append(f"tsv\tg{i}\ten\tde\t{en}\tDas Haus {i}.")
        rows.append(f"tsv\tg{i}\ten\tfr\t{en}\tLa maison {i}.")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _emitted(folder: Path, rows: dict[str, list[tuple[str, str]]]) -> dict[str, set[str]]:
    """The pieces of every beam hypothesis per target language, decoded as the folder's manifest says."""
    engine = CTranslate2Engine(folder, Manifest.load(folder), intra_threads=1)
    out: dict[str, set[str]] = {}
    for tgt, pairs in rows.items():
        for src, text in pairs:
            for hyp in engine_hypotheses(engine, [text], src, tgt, BEAM, num_hypotheses=BEAM):
                for h in (hyp, *hyp.alternatives):
                    out.setdefault(tgt, set()).update(h.tokens)
    engine.close()
    return out


def _hold(folder: Path, tokens: dict[str, list[str]]) -> None:
    (folder / "held.json").write_text(json.dumps({"ratio": 3.0, "tokens": tokens}), encoding="utf-8")
    manifest = Manifest.load(folder)
    manifest.model_copy(update={"decoding": Decoding(suppressed_tokens="held.json")}).save(folder)


def test_pruning_keeps_what_the_model_produces(tiny_models_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_models_dir / "tiny", folder)
    dev = _dev(tmp_path / "dev.tsv")
    rows = dev_by_target([dev], ["en", "de", "fr"], per_target=3)
    assert {len(r) for r in rows.values()} == {3} and ("de", "Das Haus 0.") in rows["en"]  # into English too
    plain = _emitted(folder, rows)
    vocabulary = set(json.loads((folder / "shared_vocabulary.json").read_text(encoding="utf-8")))
    never = sorted(vocabulary - set().union(*plain.values()))
    assert len(never) > 20
    held = {lang: sorted(plain[lang])[:6] + never[:20] for lang in ("de", "fr")} | {"it": never[:3]}
    _hold(folder, held)
    total = sum(len(p) for p in held.values())

    report = tmp_path / "decoding.json"
    report.write_text(json.dumps({"repetition_penalty": 1.0}), encoding="utf-8")
    summary = prune_suppressed_tokens(folder, [dev], per_target=3, beam_size=BEAM, max_rounds=total + 1, out=report)

    body = json.loads((folder / "held.json").read_text(encoding="utf-8"))
    kept = {lang: set(pieces) for lang, pieces in body["tokens"].items()}
    assert summary["converged"] is True and body["ratio"] == 3.0 and body["pruned"]["converged"] is True
    for lang in ("de", "fr"):
        assert set(plain[lang]) & set(held[lang]) <= kept[lang] <= set(held[lang])  # round one's finds stay
        assert len(kept[lang]) < len(held[lang])  # pieces the model never produced went
        assert summary["per_language"][lang] == {  # type: ignore[index]
            "before": len(held[lang]),
            "after": len(kept[lang]),
            "sentences": 3,
        }
        assert set(summary["kept"][lang]) == kept[lang]  # type: ignore[index]
    assert kept["it"] == set(held["it"])  # no dev sentence into Italian: its whole list stays
    assert Manifest.load(folder).decoding.suppressed_tokens == "held.json" and not (folder / PRUNING_FILE).exists()
    assert json.loads(report.read_text(encoding="utf-8"))["pruned_suppressed_tokens"] == summary
    # Converged: dev decoded with the shorter list produces no piece of the original list.
    after = _emitted(folder, {lang: rows[lang] for lang in ("de", "fr")})
    assert all(not after[lang] & set(held[lang]) for lang in ("de", "fr"))


def test_pruning_a_list_the_model_never_produces_holds_nothing_back(tiny_models_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_models_dir / "tiny", folder)
    dev = _dev(tmp_path / "dev.tsv")
    plain = _emitted(folder, dev_by_target([dev], ["en", "de", "fr"], per_target=2))
    vocabulary = set(json.loads((folder / "shared_vocabulary.json").read_text(encoding="utf-8")))
    _hold(folder, {"de": sorted(vocabulary - plain["de"])[:10]})
    assert main([str(folder), "--dev", str(dev), "--prune", "--per-target", "2", "--beam-size", str(BEAM)]) == 0
    assert Manifest.load(folder).decoding.suppressed_tokens is None  # mixed targets share one engine call again
    assert not (folder / "held.json").exists()
    with pytest.raises(SystemExit):
        main([str(folder), "--dev", str(dev)])  # neither --corpus nor --prune
