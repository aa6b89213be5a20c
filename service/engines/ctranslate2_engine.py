"""A CTranslate2 ``Translator`` plus SentencePiece, read from one engine folder (see ``manifest.py``).

Why these call details: CTranslate2 does not add ``</s>`` for Marian-converted engines (we append it), its
Python defaults (beam 2, 256 tokens, 1024 input tokens) are overridden explicitly, the target language goes in
as a per-example ``target_prefix`` so one batch may mix target languages (one CTranslate2 call per target
language only where the model holds pieces back per language), and ``batch_type="tokens"`` makes the engine
honour the same token budget as the batcher. ``disable_unk``: a model emits ``<unk>`` where it wants a character its
vocabulary lacks, and SentencePiece writes it as " ⁇ " in the text (xlt-base did in 2.6% of its everyday dev outputs,
dev chrF the same without it); the engine's next-best piece is always the better answer to serve.

Held-back pieces (``decoding.suppressed_tokens``) are decoded as CTranslate2 vocabulary maps, not as
``suppress_sequences``: each target language with pieces held back gets a ``Translator`` of its own, loaded from
memory with a ``vmap.txt`` whose always-allowed line lists every other piece, and decodes with ``use_vmap``. The
output layer then scores only the allowed pieces instead of masking thousands of one-token sequences at every
step: the same softmax over the same pieces (the same outputs), for less work (issue 30;
``benchmarks/results/ab-vmap.md``: 1.43x sentences/s at one client, 1.28x at 64, beam 2). The price is one more
copy of the weights per such language.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ctranslate2
import sentencepiece as spm

from service.engines.base import DecodeOptions, Hypothesis
from service.engines.manifest import Manifest, load_suppressed_tokens, target_vocabulary

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    return device


class CTranslate2Engine:
    """One engine folder: ``model.bin`` & vocabularies, SentencePiece model(s), ``manifest.json``."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        *,
        device: str = "cpu",
        compute_type: str = "default",
        inter_threads: int = 1,
        intra_threads: int = 0,
        max_input_length: int = 1024,
    ) -> None:
        self._manifest = manifest
        self._folder = folder
        # Positions past the model's table fail inside CTranslate2 ("No position encodings are defined for
        # positions >= N"): cap input and output lengths by it when the manifest declares it.
        arch = manifest.architecture
        positions = arch.get("max_positions") or arch.get("max_position_embeddings")
        self._max_positions = int(positions) if positions else None
        self._max_input_length = min(max_input_length, self._max_positions or max_input_length)
        spec = manifest.tokenizer
        self._sp_source = spm.SentencePieceProcessor(model_file=str(folder / spec.source_model))
        self._sp_target = (
            self._sp_source
            if spec.target_model == spec.source_model
            else spm.SentencePieceProcessor(model_file=str(folder / spec.target_model))
        )
        self._eos = [spec.eos_token] if spec.append_eos else []
        self._prefix = manifest.target_signal.kind == "target_prefix"
        control = {spec.eos_token}
        control.update(tok for lang in manifest.languages if (tok := manifest.target_signal.token(lang)))
        if manifest.few_shot is not None:
            fs = manifest.few_shot
            control.update((fs.example_token, fs.target_token, fs.source_token))
        self._control = frozenset(control)
        # compute_type "default" keeps the folder's quantization (int8 runs as int8_float32 on CPU); a GPU runs
        # an int8 folder fastest as int8_float16.
        threads = {
            "device": resolve_device(device),
            "compute_type": compute_type,
            "inter_threads": inter_threads,
            "intra_threads": intra_threads,
        }
        self._translator = ctranslate2.Translator(str(folder), **threads)
        # Per target language with pieces held back, a Translator whose vocabulary map allows only the others.
        self._restricted = _restricted_translators(folder, load_suppressed_tokens(folder, manifest), threads)
        log.info(
            "loaded engine %s from %s (%s as %s on %s, inter_threads=%d intra_threads=%d)",
            manifest.name,
            folder,
            manifest.quantization,
            self._translator.compute_type,
            self._translator.device,
            inter_threads,
            intra_threads,
        )

    @property
    def name(self) -> str:
        return self._manifest.name

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def tokenize(self, text: str, source_lang: str | None = None, target_lang: str | None = None) -> list[str]:
        """Source pieces framed the way the model was trained: language tokens where its family wants them."""
        pieces: list[str] = self._sp_source.encode(text, out_type=str)
        head: list[str] = []
        if source_lang is not None and (src_token := self._manifest.source_prefix.get(source_lang)):
            head.append(src_token)
        signal = self._manifest.target_signal
        if signal.kind == "source_prefix" and target_lang is not None and (tgt_token := signal.token(target_lang)):
            head.insert(0, tgt_token)
        return head + pieces + self._eos

    def translate_batch(
        self,
        sources: Sequence[list[str]],
        targets: Sequence[str],
        options: DecodeOptions,
        max_batch_tokens: int,
    ) -> list[Hypothesis]:
        prefixes: list[list[str]] | None = None
        if self._prefix:
            prefixes = [[self._manifest.target_signal.token(t) or ""] for t in targets]
        # The prefix token is part of the decoded length: leave room for it.
        max_decoding_length = options.max_length + (1 if prefixes else 0)
        if self._max_positions is not None:
            max_decoding_length = min(max_decoding_length, self._max_positions)
        penalty = options.repetition_penalty
        if penalty is None:
            penalty = self._manifest.decoding.repetition_penalty

        def run(rows: list[int], target: str | None) -> list[ctranslate2.TranslationResult]:
            restricted = self._restricted.get(target) if target is not None else None
            translator = restricted or self._translator
            return translator.translate_batch(  # type: ignore[no-any-return]
                [sources[i] for i in rows],
                target_prefix=None if prefixes is None else [prefixes[i] for i in rows],
                max_batch_size=max_batch_tokens,
                batch_type="tokens",
                beam_size=options.beam_size,
                num_hypotheses=max(1, min(options.num_hypotheses, options.beam_size)),
                max_decoding_length=max_decoding_length,
                max_input_length=self._max_input_length,
                return_scores=options.return_scores,
                repetition_penalty=penalty,
                use_vmap=restricted is not None,
                disable_unk=True,
            )

        if not self._restricted:
            results = run(list(range(len(sources))), None)
        else:
            # A restriction applies to a whole CTranslate2 call, so each target language gets its own call (the
            # batcher already groups by target language for such a model: see Decoding.one_call_per_target).
            by_target: dict[str, list[int]] = {}
            for i, target in enumerate(targets):
                by_target.setdefault(target, []).append(i)
            by_row: dict[int, ctranslate2.TranslationResult] = {}
            for target, rows in by_target.items():
                by_row.update(zip(rows, run(rows, target), strict=True))
            results = [by_row[i] for i in range(len(sources))]
        out: list[Hypothesis] = []
        for i, result in enumerate(results):
            found = []
            for k, hypothesis in enumerate(result.hypotheses):
                tokens = list(hypothesis)
                if prefixes is not None and tokens[:1] == prefixes[i]:
                    tokens = tokens[1:]  # CTranslate2 returns the hypothesis including the target prefix.
                score = float(result.scores[k]) if options.return_scores and len(result.scores) > k else None
                found.append(Hypothesis(tokens=tokens, score=score))
            out.append(Hypothesis(found[0].tokens, found[0].score, tuple(found[1:])))
        return out

    def detokenize(self, tokens: list[str]) -> str:
        text: str = self._sp_target.decode([t for t in tokens if t not in self._control])
        return text

    def close(self) -> None:
        for translator in (self._translator, *self._restricted.values()):
            translator.unload_model()


# The files of an engine folder that CTranslate2 reads (vocabularies under the names its converters give them).
_ENGINE_FILES = (
    "model.bin",
    "config.json",
    *(f"{kind}_vocabulary.{ext}" for kind in ("shared", "source", "target") for ext in ("json", "txt")),
)


def _restricted_translators(
    folder: Path, held_back: dict[str, list[str]], threads: dict[str, Any]
) -> dict[str, ctranslate2.Translator]:
    """For each language with pieces held back, the engine loaded from memory with a ``vmap.txt`` whose one
    always-allowed line (an empty source n-gram) lists every target piece not held back for it."""
    held_back = {lang: pieces for lang, pieces in held_back.items() if pieces}
    if not held_back:
        return {}
    files = {name: (folder / name).read_bytes() for name in _ENGINE_FILES if (folder / name).is_file()}
    vocabulary = target_vocabulary(folder)
    translators = {}
    for lang, pieces in held_back.items():
        held = set(pieces)
        allowed = " ".join(piece for piece in vocabulary if piece not in held)
        vmap = f"\t{allowed}\n".encode()
        translators[lang] = ctranslate2.Translator(str(folder), files=files | {"vmap.txt": vmap}, **threads)
    return translators
