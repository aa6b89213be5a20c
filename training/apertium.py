"""Apertium (Debian's rule-based MT) as a reference system scored on our test sets.

Installed with ``apt-get install apertium-eng-spa apertium-fr-es apertium-es-pt``; each sentence is one line
through ``apertium -u <mode>`` (``-u``: no unknown-word marks, so the scores compare plain text).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

MODES = {
    ("en", "es"): "eng-spa",
    ("es", "en"): "spa-eng",
    ("fr", "es"): "fr-es",
    ("es", "fr"): "es-fr",
    ("es", "pt"): "es-pt",
    ("pt", "es"): "pt-es",
}


def available() -> bool:
    return shutil.which("apertium") is not None


def translate(texts: list[str], src: str, tgt: str) -> list[str]:
    mode = MODES[(src, tgt)]
    joined = "\n".join(" ".join(t.split()) for t in texts) + "\n"
    out = subprocess.run(
        ["apertium", "-u", mode], input=joined, capture_output=True, text=True, check=True, timeout=600
    )
    lines = out.stdout.rstrip("\n").split("\n")
    if len(lines) != len(texts):
        raise RuntimeError(f"apertium {mode} returned {len(lines)} lines for {len(texts)} inputs")
    return lines


def score(test_file: Path, langs: list[str], out: Path, max_per_set: int | None = 300) -> list[dict[str, object]]:
    """Apertium on the same test sentences as ``xlt eval`` (same sets, same order, same metrics)."""
    from training.evaluate import evaluate, test_sets

    sets = [s for s in test_sets(test_file, langs, max_per_set) if (s.src_lang, s.tgt_lang) in MODES]
    results = evaluate(translate, sets, set(MODES), langs)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results
