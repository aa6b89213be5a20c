"""gettext ``.po`` / ``.pot`` catalogs, read and written by translate-toolkit's ``pypo``.

Why translate-toolkit: it is what Pootle and Weblate build on; it round-trips a catalog byte for byte (comments,
contexts, flags, obsolete entries, line wrapping), knows every language's plural rule, and ships the placeholder
checks (``pofilter``) that teams run in CI. Only untranslated units are translated unless ``overwrite``; a plural
unit gets every ``msgstr[n]`` of the target's ``nplurals`` (form 0 from the singular, the others from the plural;
with one form, from the plural). Machine output is flagged ``fuzzy`` unless ``mark_fuzzy`` is false; a unit filled
from a reviewed memory entry is a person's translation and is not (one from an unreviewed entry is). A unit whose
placeholders did not survive is written fuzzy anyway, with a translator comment naming the problem, so ``msgfmt``
never ships it and a reviewer sees why. The header gets the target's ``Language`` and ``Plural-Forms``.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from translate.lang import data as languages
from translate.misc.multistring import multistring
from translate.storage import pypo
from translate.storage.poparser import PoParseError

from service.documents.base import FileOptions, InvalidFile, Limits, Reviewed, Segment
from service.documents.placeholders import placeholder_problems
from service.documents.safety import decode_text

_CHARSET = re.compile(rb"charset=([A-Za-z0-9_.:-]+)")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
NOTE_PREFIX = "xlt: "  # translator comments we add start with this


@dataclass(frozen=True)
class PluralRule:
    nplurals: int
    expression: str | None  # C expression; None when unknown
    write: bool  # whether the header's Plural-Forms is set from it

    def singular_only_form0(self) -> bool:
        """Whether form 0 serves only n = 1 (or 0 and 1): then it takes the singular's translation. In Russian
        form 0 also serves 21, 31...: it takes the plural's, so that its number placeholder is kept."""
        if self.expression is None:
            return self.nplurals == 2
        try:
            choose = gettext.c2py(self.expression)
            return {n for n in range(1000) if choose(n) == 0} <= {0, 1}
        except (ValueError, SyntaxError, RecursionError):
            return False


def _header_rule(header: dict[str, str]) -> tuple[int, str | None] | None:
    forms = header.get("Plural-Forms", "")
    count = re.search(r"nplurals\s*=\s*(\d+)", forms)
    if not count or int(count.group(1)) < 1:
        return None
    expression = re.search(r"plural\s*=\s*([^;]+)", forms)
    return int(count.group(1)), expression.group(1).strip() if expression else None


def plural_rule(target: str, header: dict[str, str]) -> PluralRule:
    """The header's rule when the catalog is already the target's, else translate-toolkit's table for
    ``target`` (written to the header); an unknown language keeps the header's (or two forms)."""
    own = _header_rule(header)
    if own and header.get("Language", "").strip().lower().replace("-", "_") == target.replace("-", "_"):
        return PluralRule(own[0], own[1], write=False)
    known = languages.languages.get(target) or languages.languages.get(target.split("-")[0].split("_")[0])
    if known is not None:
        return PluralRule(int(known[1]), str(known[2]), write=True)
    return PluralRule(own[0], own[1], write=False) if own else PluralRule(2, None, write=False)


def _segment(text: str) -> Segment:
    return Segment(text, markup=bool(_TAG.search(text)))


@dataclass
class _Plan:
    unit: pypo.pounit
    sources: list[str]  # what each of its segments says (1, or 2 for singular + plural)


@dataclass
class GettextDocument:
    store: pypo.pofile
    target: str
    options: FileOptions
    rule: PluralRule
    plans: list[_Plan] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def render(self, translations: Sequence[str | None]) -> bytes:
        if len(translations) != len(self.segments):
            raise ValueError(f"expected {len(self.segments)} translations, got {len(translations)}")
        at = 0
        for plan in self.plans:
            outputs = translations[at : at + len(plan.sources)]
            at += len(plan.sources)
            self._fill(plan, list(outputs))
        self.store.updateheader(add=True, Language=self.target)
        if self.rule.write:
            self.store.updateheaderplural(self.rule.nplurals, self.rule.expression)
        return bytes(self.store)

    def _fill(self, plan: _Plan, outputs: list[str | None]) -> None:
        if any(o is None or not o.strip() for o in outputs):
            return  # left as it was: untranslated (or its old translation)
        texts = [o for o in outputs if o is not None]
        pairs = zip(plan.sources, texts, strict=True)
        problems = [problem for source, text in pairs for problem in placeholder_problems(source, text)]
        unit = plan.unit
        if unit.hasplural():
            n = self.rule.nplurals
            first = texts[0]  # the singular's translation when form 0 serves only n = 1, else the plural's
            unit.target = multistring([first, *[texts[-1]] * (n - 1)])
        else:
            unit.target = texts[0]
        if problems:
            unit.addnote(NOTE_PREFIX + "check the placeholders: " + "; ".join(problems), origin="translator")
        machine = not all(isinstance(t, Reviewed) for t in texts)
        unit.markfuzzy((self.options.mark_fuzzy and machine) or bool(problems))


def _wanted(unit: pypo.pounit, overwrite: bool) -> bool:
    if unit.isheader() or unit.isobsolete() or not unit.source:
        return False
    if overwrite:
        return True
    target = unit.target
    strings = target.strings if isinstance(target, multistring) else [target]
    return not any(s for s in strings)


def parse(data: bytes, options: FileOptions, source: str, target: str, limits: Limits) -> GettextDocument:
    found = _CHARSET.search(data[:4096])
    charset = found.group(1).decode("ascii") if found and found.group(1) != b"CHARSET" else "utf-8"
    decode_text(data, charset)  # a catalog that does not decode in its declared charset: invalid_encoding
    try:
        store = pypo.pofile.parsestring(data)
    except PoParseError as exc:
        raise InvalidFile(f"not a valid gettext catalog: {exc}") from None
    except (ValueError, LookupError, UnicodeError) as exc:
        raise InvalidFile(f"not a valid gettext catalog: {exc}") from None
    rule = plural_rule(target, store.parseheader())
    document = GettextDocument(store, target, options, rule)
    for unit in store.units:
        if not _wanted(unit, options.overwrite):
            continue
        if unit.hasplural():
            singular, plural_text = str(unit.source.strings[0]), str(unit.source.strings[-1])
            sources = [singular, plural_text] if rule.nplurals > 1 and rule.singular_only_form0() else [plural_text]
        else:
            sources = [str(unit.source)]
        document.plans.append(_Plan(unit, sources))
        document.segments.extend(_segment(s) for s in sources)
    return document
