"""The engine called directly with argos' decoding options, to check that LibreTranslate decodes what xlt decodes.

Runs in LibreTranslate's own venv (``benchmarks/peers.py`` calls it there), so that the options, the detokenizer and
the answer's clean-up are argostranslate's and LibreTranslate's own code, read from the installed versions. The
input tokens are framed as xlt frames them (``service/engines/ctranslate2_engine.py``): the source pieces followed by
``</s>``, and the target-language token as the target prefix; the engine folder is the original one (its
``config.json`` does not add ``</s>``). If LibreTranslate's answers equal these, its package feeds the engine the
same tokens as xlt does. Sentences are cut where xlt and the package's stand-in splitter cut them (``. ! ?``
followed by whitespace), and their tokens joined before decoding, as argos does.

    <libretranslate venv>/bin/python benchmarks/peers_argos_direct.py ENGINE_DIR PREFIX < texts.json > outputs.json
"""

from __future__ import annotations

import html
import json
import re
import sys

import ctranslate2
import sentencepiece as spm
from argostranslate import settings
from libretranslate.language import improve_translation_formatting

SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")  # xlt's rule (service/text.py) for one-paragraph texts


def argos_like(engine_dir: str, prefix: str, texts: list[str]) -> list[str]:
    """What ``argostranslate.translate.apply_packaged_translation`` and LibreTranslate's ``/translate`` return for
    each text, with xlt's framing of the input tokens."""
    translator = ctranslate2.Translator(
        engine_dir, device=settings.device, inter_threads=settings.inter_threads, intra_threads=settings.intra_threads
    )
    sp = spm.SentencePieceProcessor(model_file=f"{engine_dir}/sentencepiece.model")
    out = []
    for text in texts:
        sentences = [s for s in SENTENCE_END.split(text.strip()) if s]
        results = translator.translate_batch(
            [[*sp.encode(s, out_type=str), "</s>"] for s in sentences],
            target_prefix=[[prefix]] * len(sentences),
            replace_unknowns=True,
            max_batch_size=settings.batch_size,
            batch_type="tokens",
            beam_size=max(1, settings.beam_size),
            num_hypotheses=1,
            length_penalty=0.2,
            return_scores=True,
        )
        tokens = [token for result in results for token in result.hypotheses[0]]
        value = sp.decode_pieces(tokens).replace("▁", " ").replace("_", " ")
        if value.startswith(prefix):
            value = value[len(prefix) :]
        if value.startswith(" "):
            value = value[1:]
        out.append(html.unescape(improve_translation_formatting(text, value)))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    texts = json.load(sys.stdin)
    json.dump({"beam_size": settings.beam_size, "outputs": argos_like(argv[0], argv[1], texts)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
