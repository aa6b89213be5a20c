"""The benchmark scripts run end to end on the tiny engine (a second of load each): their figures mean nothing
here, but a broken harness would otherwise only show at the next long benchmark run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system_tools import need

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_load_generator(tiny_models_dir: Path, tmp_path: Path) -> None:
    done = run(
        "load.py", "--models-dir", str(tiny_models_dir), "--duration", "1", "--concurrency", "1,2",
        "--repeat", "2", "--options", '{"beam_size": 1, "max_length": 8}', "--label", "smoke", "--out", str(tmp_path),
        "--target", "de,fr", "--modes", "dynamic,off,list,no-held-back",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads((tmp_path / "serving-smoke.json").read_text())
    results = written["results"]
    assert written["meta"]["direction"] == "en->de,fr"  # the clients take the two targets in turn
    assert {(r["mode"], r["concurrency"]) for r in results} == {
        (m, c) for m in ("dynamic", "off", "list", "no-held-back") for c in (1, 2)
    }
    served = written["meta"]["served"]
    assert served["dynamic"] == served["off"] == str(tiny_models_dir)
    copy = Path(served["no-held-back"]) / "tiny"  # the linked copy (the test above checks what it rewrites)
    assert (copy / "model.bin").is_symlink() and not (copy / "manifest.json").is_symlink()
    assert json.loads((copy / "manifest.json").read_text())["decoding"]["suppressed_tokens"] is None
    assert all(r["errors"] == 0 and r["sentences"] > 0 and r["rounds"] == 2 for r in results)
    assert all(low <= r["sentences_per_s"] <= high for r in results for low, high in [r["sentences_per_s_range"]])
    assert (tmp_path / "serving-smoke.md").read_text().startswith("# Serving benchmark")


def test_reliability_overload_run(tiny_models_dir: Path, tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text("| date | mode |\n|---|---|\n")
    done = run(
        "soak.py", "overload", "--models-dir", str(tiny_models_dir), "--duration", "2", "--capacity-seconds", "1",
        "--out", str(tmp_path), "--results-md", str(md),
    )  # fmt: skip
    # The verdict is not asserted: a second of load on the tiny engine may not get past its capacity.
    assert done.returncode in (0, 1), done.stderr[-2000:] + done.stdout[-2000:]
    figures = json.loads((tmp_path / "reliability-overload.json").read_text())["figures"]
    assert figures["requests"] > 0 and figures["other"] == 0  # every request answered 200 or 429
    assert "overload" in md.read_text().splitlines()[-1]


def test_jobs_benchmark(tiny_models_dir: Path, tmp_path: Path) -> None:
    """Two short rounds (the second in reverse order) on a catalog built from two .mo files made here (at most a
    twentieth of the units, and at least 20, come from one file)."""
    import polib

    for lang, domain in (("de", "app"), ("fr", "tool")):
        messages = tmp_path / "locale" / lang / "LC_MESSAGES"
        messages.mkdir(parents=True)
        mo = polib.POFile()
        for i in range(25):
            mo.append(polib.POEntry(msgid=f"Open the {domain} file number {i}", msgstr=f"{lang} {i}"))
        mo.save_as_mofile(str(messages / f"{domain}.mo"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "jobs.py"), "--models-dir", str(tiny_models_dir),
         "--locale-dir", str(tmp_path / "locale"), "--units", "30", "--seconds", "1", "--rounds", "2",
         "--out", str(tmp_path), "--label", "smoke"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env=os.environ | {"XLT_MAX_DECODING_LENGTH": "12", "XLT_DEVICE": "cpu"},  # random weights rarely stop
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    written = json.loads((tmp_path / "jobs-smoke.json").read_text())
    summary, meta = written["summary"], written["meta"]
    assert meta["catalog"]["domains"] == 2 and meta["units"] == 30 and meta["host"]["cpu"]["model"]
    assert [(r["phase"], r["clients"]) for r in summary["latency"]] == [
        ("idle", 1),
        ("job", 1),
        ("idle", 8),
        ("job", 8),
    ]
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in summary["latency"])
    assert [r["phase"] for r in summary["job"]] == ["alone", "under 1 client(s)", "under 8 client(s)"]
    assert all(r["segments"] == 30 and r["segments_per_s"] > 0 for r in summary["job"])
    for row, loaded in zip(summary["job"][1:], summary["latency"][1::2], strict=True):
        assert row["requests_per_s"] == loaded["sentences_per_s"] > 0
        total = (row["segments_per_s"] + row["requests_per_s"]) / summary["job"][0]["segments_per_s"]
        assert row["with_requests_over_alone"] == round(total, 3)
    for row, idle in zip(summary["job"][1:], summary["latency"][::2], strict=True):
        alone = summary["job"][0]["segments_per_s"]
        assert row["both_goals_need"] == round((0.8 * alone + idle["sentences_per_s"] / 1.5) / alone, 3)
    assert len(summary["goals"]) == 4 and all(isinstance(g["met"], bool) for g in summary["goals"])
    assert len(written["rounds"]) == 2
    assert (tmp_path / "jobs-smoke.md").read_text().startswith("# Scheduling benchmark")


def test_without_held_back_serves_the_same_engines_with_no_pieces_held_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # undone after the test, unlike sys.path.insert
    from load import without_held_back

    models = tmp_path / "models"
    (models / "m").mkdir(parents=True)
    manifest = {"name": "m", "decoding": {"repetition_penalty": 1.1, "suppressed_tokens": "held.json"}}
    (models / "m" / "manifest.json").write_text(json.dumps(manifest))
    (models / "m" / "model.bin").write_bytes(b"weights")
    out = without_held_back(tmp_path / "plain", models)
    served = json.loads((out / "m" / "manifest.json").read_text())
    assert served["decoding"] == {"repetition_penalty": 1.1, "suppressed_tokens": None}
    assert (out / "m" / "model.bin").is_symlink() and (out / "m" / "model.bin").read_bytes() == b"weights"
    assert json.loads((models / "m" / "manifest.json").read_text()) == manifest  # the original is untouched
    assert without_held_back(tmp_path / "plain", models) == out  # a rerun replaces the copy


def test_ab_benchmark(tiny_models_dir: Path, tmp_path: Path) -> None:
    """Side A runs HEAD from a worktree (and imports that checkout's service), side B the working tree on the same
    tiny engine with batching off; one short round; the worktree is gone afterwards."""
    need("git", "git")  # ab.py checks side A out with git worktree
    done = run(
        "ab.py", "--rev-a", "HEAD", "--models-a", str(tiny_models_dir), "--models-b", str(tiny_models_dir),
        "--env-b", "XLT_BATCHING=off", "--clients", "1,2", "--beams", "1", "--list-size", "4", "--duration", "1",
        "--rounds", "1", "--out", str(tmp_path), "--label", "smoke",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads((tmp_path / "ab-smoke.json").read_text())
    a, b = written["meta"]["variants"]["A"], written["meta"]["variants"]["B"]
    assert a["service"] == str(Path(a["checkout"]) / "service") and a["checkout"].endswith("rev-a")
    assert b["service"] == str(ROOT / "service") and b["env"] == {"XLT_BATCHING": "off"}
    assert not Path(a["checkout"]).exists()
    cells = {(r["cell"], r["beam"]) for r in written["results"]}
    assert cells == {("1 client", 1), ("2 clients", 1), ("list of 4", 1)}
    assert all(r[s]["errors"] == 0 and r[s]["sentences"] > 0 for r in written["results"] for s in ("a", "b"))
    assert set(written["clients_over_list"]["A"]) == {"beam 1, 1 client", "beam 1, 2 clients"}
    assert (tmp_path / "ab-smoke.md").read_text().startswith("# A/B serving benchmark: smoke")
