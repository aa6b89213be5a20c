"""The translation server people write by hand: FastAPI + Transformers, one ``generate()`` per request.

A peer for ``benchmarks/peers.py``: no batching across requests, no CTranslate2, the float32 PyTorch checkpoint,
FastAPI's thread pool running each request's ``generate`` (a plain ``def`` route) with torch's default threads.
It decodes what xlt decodes in the ways a hand-written server would: the tokenizer appends ``</s>``, the decoder
starts from the model's start token and the target-language token (``<2de>``), beam search of the requested width,
at most 256 new tokens (xlt's default ``max_length``). Nothing else (no repetition penalty, no held-back pieces).

    python benchmarks/peers_hf_server.py --checkpoint models/xlt-base/checkpoint --port 8001
    curl -s localhost:8001/translate -H 'content-type: application/json' \
        -d '{"text": "Hello world.", "target": "de", "beam_size": 4}'
"""

from __future__ import annotations

import argparse
import sys

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer


class Request(BaseModel):
    text: str
    target: str
    beam_size: int = 2


def create_app(checkpoint: str) -> FastAPI:
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    start = model.config.decoder_start_token_id
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/translate")
    def translate(request: Request) -> dict[str, str]:
        inputs = tokenizer(request.text, return_tensors="pt")
        prefix = torch.tensor([[start, tokenizer.convert_tokens_to_ids(f"<2{request.target}>")]])
        with torch.inference_mode():
            output = model.generate(
                **inputs, decoder_input_ids=prefix, num_beams=request.beam_size, max_new_tokens=256, do_sample=False
            )
        return {"translation": str(tokenizer.decode(output[0][prefix.shape[1] :], skip_special_tokens=True))}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="models/xlt-base/checkpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.checkpoint), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
