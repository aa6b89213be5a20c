"""benchmarks/ab.py's guard: a side whose interpreter would not import its own revision's ``service`` stops the
run before any server starts (its figures would compare the same code). The run itself is smoke-tested in
tests/integration/test_benchmarks_smoke.py."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ab(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # undone after the test, unlike sys.path.insert
    import ab as module

    return module


def test_a_checkout_without_its_service_stops_the_run(ab: types.ModuleType, tmp_path: Path) -> None:
    checkout = tmp_path / "rev-a"
    checkout.mkdir()  # no service package: the interpreter finds the installed one instead
    variant = ab.Variant("A", "HEAD", ROOT / "models", {}, checkout=checkout)
    args = types.SimpleNamespace(list_size=512, ready_timeout=5)
    with pytest.raises(SystemExit, match=r"would run .*service, not .*rev-a/service"):
        ab.start(ab.Side(variant), tmp_path, tmp_path, args)


def test_a_checkout_with_its_service_is_what_the_server_imports(ab: types.ModuleType, tmp_path: Path) -> None:
    checkout = tmp_path / "rev-b"
    (checkout / "service").mkdir(parents=True)
    (checkout / "service" / "__init__.py").write_text("")
    env = ab.server_env(ab.Variant("B", "HEAD", ROOT / "models", {"XLT_BATCHING": "off"}, checkout=checkout),
                        tmp_path / "data", 512)  # fmt: skip
    assert ab.imported_service(env) == (checkout / "service").resolve()
    assert (
        env["XLT_MAX_ITEMS"] == "512" and env["XLT_BATCHING"] == "off" and env["XLT_DATA_DIR"] == str(tmp_path / "data")
    )
    working_tree = ab.server_env(ab.Variant("A", None, ROOT / "models", {}), tmp_path / "data", 0)
    assert ab.imported_service(working_tree) == (ROOT / "service").resolve()
