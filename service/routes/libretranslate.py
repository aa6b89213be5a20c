"""LibreTranslate's API under ``/libretranslate``: ``POST translate``, ``GET languages``, ``POST detect``.

Why a prefix and not the root: the native ``POST /translate`` takes ``text``, LibreTranslate's takes ``q``;
sharing one path would make both schemas vague. LibreTranslate clients take a base URL and append the route
name (``libretranslatepy`` does ``url + "translate"``), so pointing them at ``http://host:8000/libretranslate/``
is the whole migration. Parameters come as JSON, URL-encoded or multipart form fields, or the query string,
as LibreTranslate (Flask's ``request.values``) reads them. Everything is served by the default model through
the native pipeline (batching, limits, metrics). Errors keep the service's codes and statuses (422 becomes
400, 401 becomes 403, as LibreTranslate answers) but LibreTranslate's shape: ``{"error": "message"}``.
``alternatives`` is the native ``options.alternatives``: other translations from the beam. A key comes from the
``Authorization``/``X-API-Key`` headers as on the native API, or from LibreTranslate's ``api_key`` field;
``languages`` is open, as in LibreTranslate.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from service.auth.deps import authenticate_request
from service.auth.guard import Caller
from service.documents import FileOptions, downloads, media_type
from service.errors import (
    DownloadNotFound,
    InvalidJson,
    InvalidRequest,
    UnsupportedLanguage,
    XltError,
    record_error,
)
from service.langnames import language_name
from service.pipeline import TranslationPipeline
from service.routes.files import content_disposition, read_upload, translate_upload
from service.schemas import AUTO, MAX_ALTERNATIVES, Detection, DetectRequest, Text, TextFormat, TranslateRequest
from service.state import AppState, get_pipeline, get_state, state_of

PREFIX = "/libretranslate"
# LibreTranslate answers bad parameters (and files it cannot read) with 400 and a bad API key with 403
_STATUS = {422: 400, 401: 403, 415: 400}


class LibreRoute(APIRoute):
    """Renders the service's errors in LibreTranslate's ``{"error": message}`` shape, still counted by code."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except XltError as exc:
                record_error(request.scope, exc)
                status = _STATUS.get(exc.status, exc.status)
                return JSONResponse({"error": exc.message}, status_code=status, headers=exc.headers())

        return run


router = APIRouter(prefix=PREFIX, tags=["libretranslate"], route_class=LibreRoute)


class LibreTranslateRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",  # LibreTranslate ignores fields it does not know (``secret``, ``frontend``...)
        json_schema_extra={"examples": [{"q": "Hello world.", "source": "auto", "target": "de"}]},
    )

    q: Text | list[Text] = Field(description="one text or a list of texts")
    source: Text = Field(default=AUTO, description='ISO 639-1 code, or "auto"')
    target: Text = Field(description="ISO 639-1 code")
    format: TextFormat = Field(default="text", description="`html` keeps the markup and translates the text")
    alternatives: int = Field(
        default=0, ge=0, le=MAX_ALTERNATIVES, description="other translations to add, best first, from the beam"
    )
    api_key: str | None = Field(default=None, description="the API key, when the service requires one")


class LibreDetectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"q": "Das Haus ist klein."}]})

    q: Text = Field(description="the text")
    api_key: str | None = None


class DetectedLanguage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"confidence": 92.5, "language": "de"}]})

    confidence: float = Field(ge=0, le=100, description="percent")
    language: str


class LibreTranslateResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"translatedText": "Hallo Welt.", "detectedLanguage": {"confidence": 92.5, "language": "en"}}]
        }
    )

    translatedText: str | list[str]  # LibreTranslate's field names
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = Field(
        default=None, description='with `source: "auto"` only'
    )
    alternatives: list[str] | list[list[str]] | None = Field(default=None, description="with `alternatives` > 0")


class LibreLanguage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "en", "name": "English", "targets": ["de", "fr"]}]}
    )

    code: str
    name: str
    targets: list[str]


def _form_multipart(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Fields of a ``multipart/form-data`` body, read with the stdlib MIME parser (no extra dependency)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.append((name, payload.decode(part.get_content_charset() or "utf-8", "replace")))
    return fields


async def _params(request: Request) -> dict[str, Any]:
    """The request's parameters from the query string and the body, as LibreTranslate's Flask app reads them."""
    fields: list[tuple[str, str]] = list(request.query_params.multi_items())
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip().startswith(b"{")):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJson("request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidRequest("the JSON body must be an object")
        return dict(fields) | data
    if kind == "multipart/form-data":
        fields += _form_multipart(body, content_type)
    elif body:
        try:
            fields += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise InvalidRequest("the form body is not UTF-8") from exc
    params: dict[str, Any] = {}
    for key, value in fields:  # a repeated field (q=a&q=b) becomes a list
        if key in params:
            previous = params[key]
            params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[key] = value
    return params


M = TypeVar("M", bound=BaseModel)


def _model(cls: type[M], params: dict[str, Any]) -> M:
    try:
        return cls.model_validate(params)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
        raise InvalidRequest("Invalid request: " + "; ".join(parts)) from exc


async def _caller(request: Request, params: dict[str, Any]) -> Caller:
    """The key in the headers, else in LibreTranslate's ``api_key`` field; checked before anything else."""
    key = params.get("api_key")
    return await authenticate_request(request, key if isinstance(key, str) else None)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI: the same parameters as a JSON object or as form fields."""
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
                "multipart/form-data": {"schema": schema},
            },
        }
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad parameters", "content": {"application/json": {"example": {"error": "..."}}}},
    429: {"description": "overloaded (see Retry-After)"},
    503: {"description": "not ready"},
}

Pipeline = Annotated[TranslationPipeline, Depends(get_pipeline)]


@router.post(
    "/translate",
    response_model=LibreTranslateResponse,
    response_model_exclude_none=True,
    openapi_extra=_body(LibreTranslateRequest),
    responses=_ERRORS,
)
async def translate(request: Request, pipeline: Pipeline) -> LibreTranslateResponse:
    """LibreTranslate's ``/translate``: ``q`` (text or list), ``source`` (or ``auto``), ``target``, ``format``."""
    raw = await _params(request)
    caller = await _caller(request, raw)
    params = _model(LibreTranslateRequest, raw)
    native = _model(
        TranslateRequest,
        {
            "text": params.q,
            "source": params.source,
            "target": params.target,
            "format": params.format,
            "options": {"alternatives": params.alternatives},
        },
    )
    found: list[Detection] = []  # with source auto: the detections the translation chose its sources by
    async with caller.charge(sum(len(text) for text in native.texts())):
        translations = (await pipeline.translate(native, detected=found)).translations
    single = isinstance(params.q, str)
    texts = [t.text for t in translations]
    response = LibreTranslateResponse(translatedText=texts[0] if single else texts)
    if native.source == AUTO:
        detected = []
        for translation, detection in zip(translations, found, strict=True):
            scores = {c.language: c.confidence for c in detection.candidates}
            confidence = round(100 * scores.get(translation.source, detection.confidence), 2)
            detected.append(DetectedLanguage(confidence=confidence, language=translation.source))
        response.detectedLanguage = detected[0] if single else detected
    if params.alternatives > 0:
        others = [t.alternatives or [] for t in translations]
        response.alternatives = others[0] if single else others
    return response


@router.post(
    "/detect", response_model=list[DetectedLanguage], openapi_extra=_body(LibreDetectRequest), responses=_ERRORS
)
async def detect(request: Request, pipeline: Pipeline) -> list[DetectedLanguage]:
    """LibreTranslate's ``/detect``: the default model's languages for ``q``, most likely first (percent)."""
    raw = await _params(request)
    await _caller(request, raw)
    params = _model(LibreDetectRequest, raw)
    found = await pipeline.detect(DetectRequest(text=params.q))
    return [
        DetectedLanguage(confidence=round(100 * c.confidence, 2), language=c.language)
        for c in found.detections[0].candidates
    ]


@router.get("/languages", response_model=list[LibreLanguage])
async def languages(state: Annotated[AppState, Depends(get_state)]) -> list[LibreLanguage]:
    """LibreTranslate's ``/languages``: the default model's languages, each with the targets it reaches."""
    if not len(state.registry):
        return []
    engine = state.registry.get()
    targets: dict[str, list[str]] = {lang: [] for lang in engine.manifest.languages}
    for source, target, _ in engine.manifest.directions():
        targets[source].append(target)
    return [LibreLanguage(code=c, name=language_name(c), targets=sorted(t)) for c, t in targets.items()]


class TranslateFileResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"translatedFileUrl": "http://host/libretranslate/download_file/<id>.a.txt"}]}
    )

    translatedFileUrl: str


_FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "source", "target"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "source": {"type": "string", "description": 'ISO 639-1 code, or "auto"'},
                        "target": {"type": "string"},
                        "api_key": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post("/translate_file", response_model=TranslateFileResponse, openapi_extra=_FILE_BODY, responses=_ERRORS)
async def translate_file(request: Request, pipeline: Pipeline) -> TranslateFileResponse:
    """LibreTranslate's ``/translate_file``: multipart ``file``, ``source``, ``target``; answers the URL of the
    translated file, kept for 30 minutes (``GET /libretranslate/download_file/{name}``)."""
    state = state_of(request)
    form = await request.form(max_files=1, max_fields=32)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    caller = await _caller(request, fields)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Invalid request: missing file parameter")
    for name in ("source", "target"):
        if not fields.get(name, "").strip():
            raise InvalidRequest(f"Invalid request: missing {name} parameter")
    if not upload.filename:
        raise InvalidRequest("Invalid request: empty file")
    source, target = fields["source"].strip().lower(), fields["target"].strip().lower()
    languages = state.registry.get().manifest.languages if len(state.registry) else []
    for lang in (target,) if source == AUTO else (source, target):
        if lang not in languages:
            raise UnsupportedLanguage(f"{lang} is not supported")
    data = await read_upload(upload, state.settings)
    out = await translate_upload(
        data,
        upload.filename,
        source=source,
        target=target,
        model=None,
        memory=None,
        options=FileOptions(),
        caller=caller,
        pipeline=pipeline,
        settings=state.settings,
    )
    name = await asyncio.to_thread(downloads.save, state.settings.data_dir, upload.filename, out)
    return TranslateFileResponse(translatedFileUrl=str(request.url_for("libretranslate_download_file", filename=name)))


@router.get(
    "/download_file/{filename}",
    name="libretranslate_download_file",
    response_class=Response,
    responses={
        200: {"description": "the translated file", "content": {"application/octet-stream": {"example": "..."}}},
        404: {"description": "unknown or expired", "content": {"application/json": {"example": {"error": "..."}}}},
    },
)
async def download_file(filename: str, request: Request) -> Response:
    """A file translated by ``/translate_file``, under its original name."""
    state = state_of(request)
    content = await asyncio.to_thread(downloads.load, state.settings.data_dir, filename)
    if content is None:
        raise DownloadNotFound("Invalid filename, or the file has expired")
    name = downloads.download_name(filename)
    return Response(content, media_type=media_type(name), headers={"Content-Disposition": content_disposition(name)})
