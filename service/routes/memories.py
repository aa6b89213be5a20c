"""Translation memories: create, fill (JSON pairs, or a TSV/TMX file as the raw request body), read, delete.

Imports take the file as the raw body (no multipart dependency): ``POST /memories/{id}/import?format=tsv``
with ``source_lang`` and ``target_lang``, or ``format=tmx`` (languages from the file; ``source_lang`` defaults
to the header's ``srclang``, ``target_lang`` to every other language). Every write is committed before the
answer, and refreshes the memory's index for the pairs it wrote.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from service.auth.deps import require_caller
from service.auth.guard import Caller
from service.errors import EmptyText, InvalidRequest, TextTooLong, error_body
from service.fewshot.imports import Pairs, parse_tmx, parse_tsv
from service.fewshot.memories import Memories, Scope
from service.fewshot.store import MemoryInfo, check_memory_id
from service.schemas import (
    Memory,
    MemoryCreate,
    MemoryEntries,
    MemoryList,
    MemoryPairCount,
    MemoryPairStats,
    MemoryWrite,
)
from service.settings import Settings
from service.state import get_memories, state_of

router = APIRouter(prefix="/memories", tags=["memories"], dependencies=[Depends(require_caller)])

_ERROR = {"content": {"application/json": {"example": error_body("memory_not_found", "...")}}}
_ID_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "memory_not_found", **_ERROR},
    422: {"description": "invalid_memory_id", **_ERROR},
}
_LANG = r"^[a-z]{2}$"

MemoriesDep = Annotated[Memories, Depends(get_memories)]


async def caller_scope(caller: Annotated[Caller, Depends(require_caller)]) -> Scope:
    return caller.memory_scope


ScopeDep = Annotated[Scope, Depends(caller_scope)]


async def memory_id(memory_id: str) -> str:
    return check_memory_id(memory_id)


MemoryId = Annotated[str, Depends(memory_id)]


async def settings(request: Request) -> Settings:
    return state_of(request).settings


def _memory(info: MemoryInfo) -> Memory:
    return Memory(
        id=info.id,
        name=info.name,
        created_at=info.created_at,
        revision=info.revision,
        pairs=[
            MemoryPairStats(
                source_lang=p.source_lang, target_lang=p.target_lang, entries=p.entries, unreviewed=p.unreviewed
            )
            for p in info.pairs
        ],
    )


def _write(memories: Memories, memory_id: str, pairs: Pairs, scope: Scope) -> MemoryWrite:
    revision = 0  # each add checks the memory and the caller's scope; with no pairs the final require does
    written = []
    for (source_lang, target_lang), entries in sorted(pairs.items()):
        revision = memories.add(memory_id, source_lang, target_lang, entries, scope)
        written.append(MemoryPairCount(source_lang=source_lang, target_lang=target_lang, entries=len(entries)))
    return MemoryWrite(id=memory_id, revision=revision or memories.require(memory_id, scope), written=written)


@router.post("", response_model=Memory, status_code=201)
async def create(body: MemoryCreate, memories: MemoriesDep, scope: ScopeDep) -> Memory:
    """Create an empty memory; its ``id`` (uuid4 hex) names it in every other call. It belongs to the API key
    that created it: other keys get 404 for it (admin keys see every memory)."""
    return _memory(await asyncio.to_thread(memories.create, body.name, scope))


@router.get("", response_model=MemoryList)
async def list_memories(memories: MemoriesDep, scope: ScopeDep) -> MemoryList:
    """The caller's memories with their entry counts (the playground's memory picker)."""
    return MemoryList(memories=[_memory(m) for m in await asyncio.to_thread(memories.list_memories, scope)])


@router.get("/{memory_id}", response_model=Memory, responses=_ID_ERRORS)
async def read(memory_id: MemoryId, memories: MemoriesDep, scope: ScopeDep) -> Memory:
    """The memory with its entry count per language pair."""
    return _memory(await asyncio.to_thread(memories.get, memory_id, scope))


@router.delete("/{memory_id}", status_code=204, response_class=Response, responses=_ID_ERRORS)
async def delete(memory_id: MemoryId, memories: MemoriesDep, scope: ScopeDep) -> Response:
    """Delete the memory and all its entries."""
    await asyncio.to_thread(memories.delete, memory_id, scope)
    return Response(status_code=204)


@router.post("/{memory_id}/entries", response_model=MemoryWrite, responses=_ID_ERRORS)
async def add_entries(
    memory_id: MemoryId,
    body: MemoryEntries,
    memories: MemoriesDep,
    scope: ScopeDep,
    config: Annotated[Settings, Depends(settings)],
) -> MemoryWrite:
    """Add pairs for one language pair; a pair whose source is already stored replaces its translation."""
    for i, pair in enumerate(body.pairs):
        for name, value in (("source", pair.source), ("target", pair.target)):
            if not value.strip():
                raise EmptyText(f"pairs[{i}].{name} is empty")
            if len(value) > config.max_text_chars:
                raise TextTooLong(f"pairs[{i}].{name} has {len(value)} characters; at most {config.max_text_chars}")
    if body.source_lang == body.target_lang:
        raise InvalidRequest("source_lang and target_lang are the same")
    pairs = {(body.source_lang, body.target_lang): [(p.source.strip(), p.target.strip()) for p in body.pairs]}
    return await asyncio.to_thread(_write, memories, memory_id, pairs, scope)


@router.post("/{memory_id}/import", response_model=MemoryWrite, responses=_ID_ERRORS)
async def import_file(
    memory_id: MemoryId,
    request: Request,
    memories: MemoriesDep,
    scope: ScopeDep,
    config: Annotated[Settings, Depends(settings)],
    fmt: Annotated[Literal["tsv", "tmx"], Query(alias="format", description="the body's file format")],
    source_lang: Annotated[str | None, Query(pattern=_LANG)] = None,
    target_lang: Annotated[str | None, Query(pattern=_LANG)] = None,
) -> MemoryWrite:
    """Import a TSV or TMX file sent as the raw body (up to XLT_MAX_IMPORT_BYTES); all or nothing per pair."""
    if fmt == "tsv" and (source_lang is None or target_lang is None):
        raise InvalidRequest("a TSV import needs source_lang and target_lang")
    if source_lang is not None and source_lang == target_lang:
        raise InvalidRequest("source_lang and target_lang are the same")
    data = await request.body()
    limit = config.max_text_chars

    def parse_and_write() -> MemoryWrite:
        if fmt == "tsv":
            assert source_lang is not None and target_lang is not None
            pairs = parse_tsv(data, source_lang, target_lang, limit)
        else:
            pairs = parse_tmx(data, source_lang, target_lang, limit)
        return _write(memories, memory_id, pairs, scope)

    return await asyncio.to_thread(parse_and_write)
