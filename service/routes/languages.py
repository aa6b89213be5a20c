"""``GET /languages`` and ``GET /models``: what the loaded models can do, zero-shot directions flagged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.schemas import Direction, LanguagesResponse, ModelInfo, ModelLanguages, ModelsResponse
from service.state import AppState, get_state

router = APIRouter(tags=["models"])


@router.get("/languages", response_model=LanguagesResponse)
async def languages(state: Annotated[AppState, Depends(get_state)]) -> LanguagesResponse:
    """Each model's languages and directions; ``zero_shot`` marks directions the model was not trained on."""
    return LanguagesResponse(
        models=[
            ModelLanguages(
                model=engine.name,
                languages=list(engine.manifest.languages),
                directions=[Direction(source=s, target=t, zero_shot=z) for s, t, z in engine.manifest.directions()],
            )
            for engine in state.registry
        ]
    )


@router.get("/models", response_model=ModelsResponse)
async def models(state: Annotated[AppState, Depends(get_state)]) -> ModelsResponse:
    """The loaded models, which one serves requests without ``model``, and which take few-shot examples."""
    default = state.registry.default_name
    return ModelsResponse(
        default=default,
        models=[
            ModelInfo(
                name=engine.name,
                description=engine.manifest.description,
                languages=list(engine.manifest.languages),
                quantization=engine.manifest.quantization,
                few_shot=engine.manifest.few_shot is not None,
                default=engine.name == default,
            )
            for engine in state.registry
        ],
    )
