"""System tools some tests drive for real (docker-compose, chromium, PostgreSQL, Apertium, promtool, ...).

Why skip and not fail: ``make test`` must pass on a newcomer's machine that has only Python. Why not always skip:
CI installs the tools and must run those tests, so ``XLT_REQUIRE_SYSTEM_TOOLS=1`` (set by ``.ci/run``) turns a
missing tool into a failure. Every skip is recorded so the run can end with the list of what was not run.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "XLT_REQUIRE_SYSTEM_TOOLS"

# (test node id or reason) -> one-line reason naming the package; read by the summary at the end of the run.
SKIPPED: list[str] = []


def required() -> bool:
    """True where a missing tool must fail the run (CI), not skip."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(what: str, package: str) -> None:
    """Skip (or fail, under ``XLT_REQUIRE_SYSTEM_TOOLS=1``) saying what is missing and how to install it."""
    reason = f"{what} is missing: apt-get install {package} (or make system-deps)"
    if required():
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this fails instead of skipping")
    SKIPPED.append(reason)
    pytest.skip(reason)


def need(tool: str, package: str) -> str:
    """The path of ``tool`` on PATH; skips or fails through :func:`missing` when it is absent."""
    path = shutil.which(tool)
    if path is None:
        missing(tool, package)
        raise AssertionError("unreachable")  # pragma: no cover - skip/fail raise
    return path
