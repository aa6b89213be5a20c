"""The offline parts of the peer benchmark and the profiler (benchmarks/peers.py, benchmarks/profile_serve.py): the
argos package that makes LibreTranslate decode what xlt decodes, the goal verdicts, the workload's strings, and how
py-spy's stacks are sorted into categories. The runs themselves need LibreTranslate from PyPI and are smoke-run by
hand (the commands are in the modules' docstrings)."""

from __future__ import annotations

import json
import types
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # undone after the test, unlike sys.path.insert
    import peers
    import profile_serve

    return types.SimpleNamespace(peers=peers, profile=profile_serve)


def engine_folder(root: Path) -> Path:
    engine = root / "engine"
    engine.mkdir()
    manifest = {
        "name": "tiny",
        "target_signal": {"kind": "target_prefix", "token_template": "<2{lang}>", "tokens": {}},
        "tokenizer": {"source_model": "sentencepiece.model", "target_model": "sentencepiece.model"},
    }
    (engine / "manifest.json").write_text(json.dumps(manifest))
    (engine / "config.json").write_text(json.dumps({"add_source_bos": False, "add_source_eos": False}))
    (engine / "model.bin").write_bytes(b"weights")
    (engine / "shared_vocabulary.json").write_text('["<unk>", "</s>"]')
    (engine / "sentencepiece.model").write_bytes(b"spm")
    (engine / "suppressed_tokens.json").write_text("{}")
    return engine


def test_argos_package_carries_the_target_prefix_and_adds_eos(bench: types.SimpleNamespace, tmp_path: Path) -> None:
    engine = engine_folder(tmp_path)
    standin = tmp_path / "standin-en.onnx"
    standin.write_bytes(b"onnx")
    archive = bench.peers.argos_package(engine, "en", "de", standin, tmp_path / "out")
    assert archive.name == "tiny_en_de.argosmodel"
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        metadata = json.loads(zipped.read("tiny_en_de/metadata.json"))
        config = json.loads(zipped.read("tiny_en_de/model/config.json"))
    assert {
        "tiny_en_de/model/model.bin",
        "tiny_en_de/model/shared_vocabulary.json",
        "tiny_en_de/sentencepiece.model",
        "tiny_en_de/minisbd/standin-en.onnx",
    } <= names
    assert not any(n.endswith(("manifest.json", "suppressed_tokens.json")) for n in names)  # xlt's own files stay out
    assert (metadata["from_code"], metadata["to_code"], metadata["target_prefix"]) == ("en", "de", "<2de>")
    assert config["add_source_eos"] is True
    assert json.loads((engine / "config.json").read_text())["add_source_eos"] is False  # the original is untouched
    assert not (tmp_path / "out" / "tiny_en_de").exists()  # only the archive is left


def cell(peer: str, clients: int, per_s: float, p50: float, beam: int = 2) -> dict[str, object]:
    return {"peer": peer, "beam": beam, "concurrency": clients, "sentences_per_s": per_s, "p50_ms": p50}


def test_ratios_compare_xlt_with_the_best_libretranslate(bench: types.SimpleNamespace) -> None:
    cells = [
        cell("xlt", 1, 80.0, 11.0),
        cell("lt-tuned", 1, 60.0, 10.0),  # 1.33x, but a higher p50: not met
        cell("lt", 1, 5.0, 190.0),
        cell("xlt", 8, 160.0, 50.0),
        cell("lt-tuned", 8, 100.0, 80.0),  # 1.6x: met
        cell("xlt", 64, 200.0, 300.0, beam=4),
        cell("lt", 64, 110.0, 600.0, beam=4),  # 1.82x at beam 4: below 2x
        cell("xlt", 2, 90.0, 20.0),
        cell("lt-tuned", 2, 50.0, 40.0),  # no goal at two clients
        cell("hf", 8, 500.0, 1.0),  # not a LibreTranslate: never the reference
    ]
    table = {(t["beam"], t["clients"]): t for t in bench.peers.ratios(cells)}
    assert (table[(2, 1)]["ratio"], table[(2, 1)]["met"]) == (1.33, False)
    assert (table[(2, 8)]["ratio"], table[(2, 8)]["best_lt"], table[(2, 8)]["met"]) == (1.6, "lt-tuned", True)
    assert (table[(4, 64)]["goal"], table[(4, 64)]["met"]) == (2.0, False)
    assert (table[(2, 2)]["goal"], table[(2, 2)]["met"]) == (None, None)


def test_interface_strings_are_plain_distinct_and_seeded(bench: types.SimpleNamespace, tmp_path: Path) -> None:
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    plain = [f"Could not open the file number {n} because the disk is full." for n in range(6)]
    for text in [
        *plain,
        "Could not open %s because the disk is full now.",
        "Too short.",
        "_Open the file in a new window now",
    ]:
        catalog.append(polib.POEntry(msgid=text, msgstr="x"))
    (tmp_path / "de" / "LC_MESSAGES").mkdir(parents=True)
    catalog.save_as_mofile(str(tmp_path / "de" / "LC_MESSAGES" / "app.mo"))
    chosen, source = bench.peers.interface_strings(4, seed=1, locale_dir=tmp_path)
    assert len(set(chosen)) == 4 and set(chosen) <= set(plain)  # no placeholder, accelerator or short string
    assert bench.peers.interface_strings(4, seed=1, locale_dir=tmp_path)[0] == chosen
    assert "1 catalogs" in source
    with pytest.raises(SystemExit, match="only 6 interface strings"):
        bench.peers.interface_strings(7, seed=1, locale_dir=tmp_path)


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (
            "run (uvicorn/main.py:1);Thread.run (threading.py:2);Condition.wait (threading.py:3);sem_wait (libc.so.6)",
            None,
        ),
        (
            "a (x.py:1);Request.json (starlette/requests.py:2);loads (json/__init__.py:3);decode (json/decoder.py:4)",
            "JSON",
        ),
        (
            "translate_batch (service/engines/ctranslate2_engine.py:1);"
            "ctranslate2::TranslationOptions::TranslationOptions;malloc (libc.so.6)",
            "held-back pieces (engine call's argument copies)",
        ),
        (
            "CTranslate2Engine.tokenize (service/engines/ctranslate2_engine.py:9);0x7f (_sentencepiece.so)",
            "tokenization (SentencePiece)",
        ),
        ("Batcher._loop (service/batching/batcher.py:1);BatchQueue.pop_batch (service/batching/queue.py:2)", "batcher"),
        ("split_sentences (service/text.py:1);_sre_SRE_Pattern_split (libpython3.11.so)", "sentence splitting"),
        ("Request.body (starlette/requests.py:1);gc_collect_main (libpython3.11.so)", "garbage collector"),
        ("0x7f1 (libc.so.6);0x7f2 (libc.so.6)", "other"),
    ],
)
def test_profile_categories(bench: types.SimpleNamespace, stack: str, expected: str | None) -> None:
    assert bench.profile.category(stack.split(";")) == expected


def test_flame_graph_is_svg_of_the_running_stacks(bench: types.SimpleNamespace) -> None:
    raw = (
        "main (service/cli.py:1);run (uvicorn/main.py:2);Request.json (starlette/requests.py:3) 30\n"
        "main (service/cli.py:1);split_sentences (service/text.py:4) 10\n"
        "Thread.run (threading.py:1);Condition.wait (threading.py:2);PyThread_acquire_lock_timed (libpython) 500\n"
    )
    counts, waiting = bench.profile.sample_shares(raw)
    assert (dict(counts), waiting) == (
        {"ASGI framework (starlette, fastapi, anyio)": 30, "sentence splitting": 10},
        500,
    )
    svg = ET.fromstring(bench.profile.flame_svg(raw, "test"))
    titles = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("all (waiting samples left out) (40 samples") for t in titles)
    assert any(t.startswith("split_sentences (service/text.py:4) (10 samples, 25.0%") for t in titles)
    assert not any("Condition.wait" in t for t in titles)
