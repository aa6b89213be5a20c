"""Pretrained checkpoint families we fine-tune and convert: how each one is told the source and target language.

| family | source side | decoder side |
|---|---|---|
| ours (Marian, our SentencePiece) | text | ``<2xx>`` tag after ``<pad>`` |
| marian (opus-mt) | ``>>xxx<<`` token when multilingual | nothing |
| m2m100 | ``__xx__`` | ``__xx__`` forced first token |
| nllb | ``xxx_Latn`` | ``xxx_Latn`` forced first token |
| mbart (mBART-50) | ``xx_XX`` | ``xx_XX`` forced first token |

Hub ids and local folders both work (``from_pretrained``); nothing is downloaded in tests, which build tiny random
checkpoints of each family from ``transformers`` config classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NLLB_CODES = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "it": "ita_Latn",
    "pt": "por_Latn",
    "ar": "arb_Arab",
    "ru": "rus_Cyrl",
    "ko": "kor_Hang",
    "fa": "pes_Arab",
    "vi": "vie_Latn",
    "tl": "tgl_Latn",
}
ISO3 = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "pt": "por",
    "ar": "ara",
    "ru": "rus",
    "ko": "kor",
    "fa": "fas",
    "vi": "vie",
    "tl": "tgl",
}


@dataclass(frozen=True)
class Family:
    name: str
    tokenizer: Any  # a transformers tokenizer

    def code(self, lang: str) -> str | None:
        """The model's own token for an ISO 639-1 code (None: the family has no language token)."""
        vocab = self._tokens()
        if self.name == "m2m100":
            return f"__{lang}__" if self._known(f"__{lang}__") else None
        if self.name == "nllb":
            return NLLB_CODES.get(lang) if NLLB_CODES.get(lang) in vocab else None
        if self.name == "mbart":
            return next((t for t in sorted(vocab) if len(t) == 5 and t[2] == "_" and t.startswith(lang)), None)
        if self.name == "marian":
            for token in (f">>{ISO3.get(lang, lang)}<<", f">>{lang}<<"):
                if token in vocab:
                    return token
        return None

    def _tokens(self) -> set[str]:
        """Every token the tokenizer knows, language codes included (some keep them outside ``get_vocab``)."""
        tok = self.tokenizer
        found = set(tok.get_vocab()) | set(tok.get_added_vocab())
        found |= set(getattr(tok, "additional_special_tokens", None) or [])
        found |= set(getattr(tok, "lang_code_to_id", None) or {})
        found |= {str(t) for t in getattr(tok, "extra_special_tokens", None) or []}
        return found

    def _known(self, token: str) -> bool:
        tok = self.tokenizer
        return token in self._tokens() or tok.convert_tokens_to_ids(token) not in (None, tok.unk_token_id)

    @property
    def forced_target_token(self) -> bool:
        return self.name in ("m2m100", "nllb", "mbart")

    def encode(
        self, sources: list[str], targets: list[str], src: str, tgt: str
    ) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids of source and labels the way the family's own tokenizer frames them."""
        tok = self.tokenizer
        if self.forced_target_token:
            # M2M100's tokenizer takes the bare ISO code; NLLB and mBART-50 take their own codes.
            tok.src_lang, tok.tgt_lang = (src, tgt) if self.name == "m2m100" else (self.code(src), self.code(tgt))
        elif self.name == "marian" and (token := self.code(tgt)) is not None:
            sources = [f"{token} {s}" for s in sources]
        enc = tok(sources, text_target=targets, truncation=True, max_length=200)
        return enc["input_ids"], enc["labels"]

    def generate_kwargs(self, tgt: str) -> dict[str, Any]:
        if self.forced_target_token and (code := self.code(tgt)) is not None:
            return {"forced_bos_token_id": self.tokenizer.convert_tokens_to_ids(code)}
        return {}


def detect(model_type: str, tokenizer: Any) -> Family:
    kind = type(tokenizer).__name__.lower()
    if "nllb" in kind:
        return Family("nllb", tokenizer)
    if model_type == "m2m_100":
        return Family("m2m100", tokenizer)
    if model_type == "mbart":
        return Family("mbart", tokenizer)
    if model_type == "marian":
        return Family("marian", tokenizer)
    raise ValueError(f"model type {model_type!r} is not one we fine-tune (marian, m2m_100/nllb, mbart)")
