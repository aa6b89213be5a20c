"""The few-shot evaluation on the tiny real engine: both retrievals, leave-one-out, what the memory lookup keeps."""

from __future__ import annotations

from pathlib import Path

from training.data.records import Pair, write_pairs
from training.evaluate_fewshot import evaluate_fewshot


def _catalog(path: Path) -> None:
    """One held-out catalog: two near-duplicate messages (a memory match for each other) and loosely related ones
    that share only a word or two (word overlap finds them, the memory's fuzzy threshold does not)."""
    rows = [
        ("Open the file in a new window", "Ouvrir le fichier dans une nouvelle fenêtre"),
        ("Open the file in a new private window", "Ouvrir le fichier dans une nouvelle fenêtre privée"),
        ("Close the window", "Fermer la fenêtre"),
        ("Save the file now", "Enregistrer le fichier maintenant"),
        ("Quit", "Quitter"),
    ]
    write_pairs(path, [Pair("gettext", "demo", "en", "fr", en, fr) for en, fr in rows])


def test_memory_retrieval_gives_examples_only_to_close_matches(tiny_models_dir: Path, tmp_path: Path) -> None:
    test = tmp_path / "test.tsv"
    _catalog(test)
    folder = tiny_models_dir / "tiny"
    overlap = evaluate_fewshot(folder, test, shots=(0, 2), beam_size=1, retrieval="overlap")
    memory = evaluate_fewshot(folder, test, shots=(0, 2), beam_size=1, retrieval="memory", out=tmp_path / "m.json")
    assert memory["retrieval"] == "memory" and (tmp_path / "m.json").exists()
    for direction in ("en-fr", "fr-en"):
        loose, close = overlap["per_direction"][direction], memory["per_direction"][direction]  # type: ignore[index]
        assert loose["n"] == close["n"] == 5
        assert close["with_examples"] == 2  # the two "Open the file in a new ... window" find each other, nothing else
    assert overlap["per_direction"]["en-fr"]["with_examples"] == 4  # type: ignore[index]  # all but "Quit"
    # With no example the sentence is translated alone: 0-shot does not depend on the retrieval.
    assert overlap["mean"]["chrf_0"] == memory["mean"]["chrf_0"]  # type: ignore[index]
