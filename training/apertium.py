"""Apertium (Debian's rule-based MT) as a reference system scored on our test sets.

Installed with ``apt-get install apertium-eng-spa apertium-fr-es apertium-es-pt``; each sentence is one line
through ``apertium -u <mode>`` (``-u``: no unknown-word marks, so the scores compare plain text); a direction
without a pair of its own chains two through Spanish (en -> es -> fr), as the teacher does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Collection, Sequence
from pathlib import Path

MODES = {
    ("en", "es"): "eng-spa",
    ("es", "en"): "spa-eng",
    ("fr", "es"): "fr-es",
    ("es", "fr"): "es-fr",
    ("es", "pt"): "es-pt",
    ("pt", "es"): "pt-es",
    ("es", "it"): "spa-ita",
    ("it", "es"): "ita-spa",
}
PACKAGES = ("apertium-eng-spa", "apertium-fr-es", "apertium-es-pt", "apertium-es-it")
PIVOT = "es"  # every Apertium pair here has Spanish on one side; other directions chain through it


def route(src: str, tgt: str) -> tuple[str, ...] | None:
    """The modes that take ``src`` to ``tgt``: one pair, or two through Spanish (en -> es -> fr); None if none."""
    if (src, tgt) in MODES:
        return (MODES[(src, tgt)],)
    if (src, PIVOT) in MODES and (PIVOT, tgt) in MODES:
        return (MODES[(src, PIVOT)], MODES[(PIVOT, tgt)])
    return None


def routes(langs: list[str]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(s, t): r for s in langs for t in langs if s != t and (r := route(s, t)) is not None}


def available() -> bool:
    return shutil.which("apertium") is not None


def run(mode: str, texts: Sequence[str], *, marks: bool = False, timeout: float = 3600) -> list[str]:
    """One Apertium call for all ``texts``, one per line (~800 sentences/s, 0.25 s to start); ``marks``: keep
    the unknown-word marks (``*``, ``#``, ``@``) that ``-u`` leaves out."""
    from training.data.records import DataError

    joined = "\n".join(" ".join(t.split()) for t in texts) + "\n"
    command = ["apertium", mode] if marks else ["apertium", "-u", mode]
    try:
        out = subprocess.run(command, input=joined, capture_output=True, text=True, check=True, timeout=timeout)
    except FileNotFoundError as e:
        raise DataError(f"apertium is not installed (apt-get install apertium {' '.join(PACKAGES)})") from e
    except subprocess.CalledProcessError as e:
        raise DataError(f"apertium {mode} failed: {e.stderr.strip()[:300]}") from e
    lines = [" ".join(line.split()) for line in out.stdout.rstrip("\n").split("\n")]
    if len(lines) != len(texts):
        raise DataError(f"apertium {mode} returned {len(lines)} lines for {len(texts)} inputs")
    return lines


def translate(texts: list[str], src: str, tgt: str) -> list[str]:
    modes = route(src, tgt)
    if modes is None:
        raise ValueError(f"Apertium has no route from {src} to {tgt}")
    lines = texts
    for mode in modes:
        lines = run(mode, lines, timeout=600)
    return lines


def score(
    test_file: Path, langs: list[str], out: Path, max_per_set: int | None = 300, whole: Collection[str] = ()
) -> list[dict[str, object]]:
    """Apertium on the same test sentences as ``xlt eval`` (same sets, same order, same metrics)."""
    from training.evaluate import evaluate, test_sets

    reachable = routes(langs)
    sets = [s for s in test_sets(test_file, langs, max_per_set, whole) if (s.src_lang, s.tgt_lang) in reachable]
    results = evaluate(translate, sets, set(reachable), langs)
    for r in results:  # which directions went through Spanish
        src, tgt = str(r["direction"]).split("-")
        if len(reachable[(src, tgt)]) > 1:
            r["via"] = PIVOT
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results
