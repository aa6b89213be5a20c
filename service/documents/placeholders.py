"""Do a translation's placeholders match its source's? translate-toolkit's own ``pofilter`` checks decide.

Why the toolkit's checks and not our regexes: they are what localization teams already run on their catalogs
(printf with positions and named ``%(name)s``, Python brace ``{name}``, XML/HTML tags), so a unit we let
through passes their CI too.
"""

from __future__ import annotations

from functools import lru_cache

from translate.filters import checks

CHECKS = ("printf", "pythonbraceformat", "xmltags")


@lru_cache(maxsize=1)
def _checker() -> checks.StandardChecker:
    return checks.StandardChecker()


def placeholder_problems(source: str, translation: str) -> list[str]:
    """What is wrong with ``translation``'s placeholders (empty: nothing)."""
    checker = _checker()
    problems = []
    for name in CHECKS:
        try:
            getattr(checker, name)(source, translation)
        except checks.FilterFailure as failure:
            problems.append(f"{name}: {failure}")
    return problems
