"""tests/system_tools.py: a missing system tool skips naming its package, fails in CI, and is listed at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import system_tools
from tests.system_tools import HIDE_ENV, REQUIRE_ENV, need, summary


@pytest.fixture
def tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``xlt-fake-tool`` alone on PATH; neither variable set."""
    path = tmp_path / "xlt-fake-tool"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    monkeypatch.delenv(HIDE_ENV, raising=False)
    return path


def test_a_tool_on_path_is_found(tool: Path) -> None:
    assert need("xlt-fake-tool", "fake-package") == str(tool)
    assert need("xlt-absent", "fake-package", alternatives=("xlt-fake-tool",)) == str(tool)


def test_a_missing_tool_skips_naming_the_package(tool: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"xlt-absent is missing: apt-get install fake-package \(or make"):
        need("xlt-absent", "fake-package")
    assert system_tools.SKIPPED[-1].startswith("xlt-absent is missing")


def test_ci_fails_instead(tool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install fake-package.*XLT_REQUIRE_SYSTEM_TOOLS is set"):
        need("xlt-absent", "fake-package")
    monkeypatch.setenv(REQUIRE_ENV, "0")
    with pytest.raises(pytest.skip.Exception):
        need("xlt-absent", "fake-package")


def test_hiding_skips_tools_that_are_there_even_in_ci(tool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLT_FAKE_TOOL", str(tool))
    assert need("xlt-absent", "fake-package", override="XLT_FAKE_TOOL") == str(tool)
    monkeypatch.setenv(HIDE_ENV, "1")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    for call in (
        lambda: need("xlt-fake-tool", "fake-package"),
        lambda: need("xlt-absent", "fake-package", override="XLT_FAKE_TOOL"),
        lambda: system_tools.locate("a server off PATH", "fake-package", lambda: tool),
    ):
        with pytest.raises(pytest.skip.Exception):
            call()


def _skip(nodeid: str, reason: str) -> pytest.TestReport:
    path = nodeid.split("::")[0]
    return pytest.TestReport(nodeid, (path, 1, "t"), {}, "skipped", (path, 1, f"Skipped: {reason}"), "setup")


def test_the_summary_groups_tool_skips_by_reason_and_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HIDE_ENV, raising=False)
    chromium = "chromium is missing: apt-get install chromium (or make system-deps)"
    postgres = "the PostgreSQL server is missing: apt-get install postgresql (or make system-deps)"
    reports = [
        _skip("tests/e2e/test_playground.py::test_a", chromium),
        _skip("tests/e2e/test_playground.py::test_b", chromium),
        _skip("tests/unit/test_memory_store.py::test_c[postgres]", postgres),
        _skip("tests/unit/test_langid.py::test_d", "could not import 'langid'"),  # not a system tool
    ]
    title, lines = summary(reports)
    assert title == "3 tests skipped: system tools missing"
    assert lines == [
        chromium,
        "    2 tests in tests/e2e/test_playground.py",
        postgres,
        "    1 test in tests/unit/test_memory_store.py",
    ]
    assert summary(reports[3:]) == ("0 tests skipped: system tools missing", [])
