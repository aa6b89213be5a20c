"""System tools some tests drive for real (docker-compose, chromium, PostgreSQL, Apertium, promtool, ...).

Why skip and not fail: ``make test`` must pass on a newcomer's machine that has only Python. Why not always skip:
CI installs the tools and must run those tests, so ``XLT_REQUIRE_SYSTEM_TOOLS=1`` (set by ``.ci/run``) turns a
missing tool into a failure. Every skip names the Debian package to install (``make system-deps`` installs them all,
from ``.ci/system-packages.txt``), and the run ends with the list of what was not run (:func:`summary`).

``XLT_HIDE_SYSTEM_TOOLS=1`` makes every tool look missing, including those found off ``PATH`` (PostgreSQL's
``/usr/lib/postgresql/<version>/bin``, ``XLT_CHROMIUM``): ``.ci/without-system-tools`` sets it, with a ``PATH`` of
Debian's essential packages only, so CI can check that the suite passes, skipping, on a machine with only Python.
Python packages of the dev extra are not system tools: tests fail without them, as before.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import pytest

REQUIRE_ENV = "XLT_REQUIRE_SYSTEM_TOOLS"
HIDE_ENV = "XLT_HIDE_SYSTEM_TOOLS"
HINT = "(or make system-deps)"  # ends every skip reason here: how the summary tells these skips from others

# One line per call of :func:`missing` that skipped: the reasons, in the order they came.
SKIPPED: list[str] = []

T = TypeVar("T")


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def hidden() -> bool:
    """True where every system tool must look missing (the check that the suite passes without them)."""
    return _flag(HIDE_ENV)


def required() -> bool:
    """True where a missing tool must fail the run (CI), not skip; hiding the tools wins, since it wants skips."""
    return _flag(REQUIRE_ENV) and not hidden()


def missing(what: str, package: str) -> None:
    """Skip (or fail, under ``XLT_REQUIRE_SYSTEM_TOOLS=1``) saying what is missing and how to install it."""
    reason = f"{what} is missing: apt-get install {package} {HINT}"
    if required():
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this fails instead of skipping")
    SKIPPED.append(reason)
    pytest.skip(reason)


def locate(what: str, package: str, find: Callable[[], T | None]) -> T:
    """What ``find`` finds (for tools looked up off ``PATH``), else skips or fails through :func:`missing`."""
    found = None if hidden() else find()
    if found is None:
        missing(what, package)
        raise AssertionError("unreachable")  # pragma: no cover - skip/fail raise
    return found


def need(tool: str, package: str, *, alternatives: Sequence[str] = (), override: str | None = None) -> str:
    """The path of ``tool`` (or of the first of ``alternatives``) on PATH; skips or fails when none is there.

    ``override`` names an environment variable that, when set, holds the tool's path and wins over ``PATH``.
    """

    def find() -> str | None:
        if override and os.environ.get(override):
            return os.environ[override]
        return next(filter(None, (shutil.which(name) for name in (tool, *alternatives))), None)

    return locate(tool, package, find)


def tool_skips(reports: Iterable[pytest.TestReport]) -> dict[str, Counter[str]]:
    """Tests skipped for a missing system tool: reason -> test file -> how many.

    Read from the reports rather than :data:`SKIPPED`, since a session fixture that skips does so once for
    every test that uses it.
    """
    by_reason: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        if isinstance(report.longrepr, tuple) and HINT in report.longrepr[2]:
            reason = report.longrepr[2].removeprefix("Skipped: ")
            by_reason[reason][report.nodeid.split("::")[0]] += 1
    return dict(by_reason)


def summary(reports: Iterable[pytest.TestReport]) -> tuple[str, list[str]]:
    """The title and lines that end a run: each reason a test skipped for a missing tool, and where (file: count)."""
    skips = tool_skips(reports)
    count = sum(n for files in skips.values() for n in files.values())
    title = f"{count} test{'s' * (count != 1)} skipped: system tools missing"
    if hidden():
        title += f" ({HIDE_ENV} hides them)"
    lines = []
    for reason, files in skips.items():
        lines.append(reason)
        lines.extend(f"    {n} test{'s' * (n > 1)} in {path}" for path, n in sorted(files.items()))
    return title, lines
