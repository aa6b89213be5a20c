"""Background jobs: ``POST /jobs`` (a file, as ``POST /translate/file`` takes it), ``GET /jobs/{id}``,
``GET /jobs/{id}/result``, ``DELETE /jobs/{id}``. Thin: read the form, call ``JobManager``, shape the answer."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from service.auth.deps import require_caller
from service.auth.guard import Caller
from service.documents import FileOptions, media_type, output_filename
from service.errors import NotReady, error_body
from service.jobs.manager import JobManager
from service.jobs.model import Job
from service.pipeline import TranslationPipeline
from service.routes.files import content_disposition, read_upload
from service.schemas import AUTO, JobErrorInfo, JobProgress, JobStatus
from service.state import AppState, get_pipeline, get_state, state_of

router = APIRouter(prefix="/jobs", tags=["jobs"])

_ERROR = {"content": {"application/json": {"example": error_body("job_not_found", "...")}}}
_ID_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "unauthorized", **_ERROR},
    404: {"description": "job_not_found", **_ERROR},
    422: {"description": "invalid_job_id", **_ERROR},
    503: {"description": "store_unavailable", **_ERROR},
}


async def get_jobs(request: Request) -> JobManager:
    jobs = state_of(request).jobs
    if jobs is None:
        raise NotReady("service not ready: starting")
    return jobs


Jobs = Annotated[JobManager, Depends(get_jobs)]
CallerDep = Annotated[Caller, Depends(require_caller)]


def status(job: Job) -> JobStatus:
    errors = [job.error, *job.segment_errors] if job.error is not None else list(job.segment_errors)
    end = job.finished_at if job.finished_at is not None else time.time()
    return JobStatus(
        id=job.id,
        state=job.state,
        filename=job.spec.filename,
        source=job.spec.source,
        target=job.spec.target,
        model=job.spec.model,
        memory=job.spec.memory,
        options=dataclasses.asdict(job.spec.options),
        progress=JobProgress(done=job.done, total=job.total),
        errors=[JobErrorInfo(code=e.code, message=e.message, segment=e.segment) for e in errors],
        more_errors=job.more_errors,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_s=round(max(0.0, end - job.created_at), 3),
        attempts=job.attempts,
        result=f"/jobs/{job.id}/result" if job.state == "done" else None,
    )


@router.post(
    "",
    status_code=202,
    response_model=JobStatus,
    responses={s: {"description": d, **_ERROR} for s, d in [
        (401, "unauthorized"), (404, "model_not_found, memory_not_found"),
        (413, "file_too_large, payload_too_large"), (415, "unsupported_format"),
        (422, "invalid_file, unsafe_file, invalid_encoding, invalid_request, unsupported_language, "
              "invalid_memory_id, detection_unavailable"),
        (429, "rate_limited, quota_exceeded"), (503, "not_ready, store_unavailable"), (507, "store_full"),
    ]},
)  # fmt: skip
async def create_job(
    file: Annotated[UploadFile, File(description="the file; its extension picks the format")],
    target: Annotated[str, Form(min_length=1, max_length=16, description="ISO 639-1 code")],
    caller: CallerDep,
    jobs: Jobs,
    pipeline: Annotated[TranslationPipeline, Depends(get_pipeline)],
    state: Annotated[AppState, Depends(get_state)],
    source: Annotated[str, Form(max_length=16, description='ISO 639-1 code, or "auto" (detected once)')] = AUTO,
    model: Annotated[str | None, Form(max_length=64)] = None,
    memory: Annotated[str | None, Form(max_length=64, description="translation memory id")] = None,
    options: Annotated[
        str | None,
        Form(
            description='JSON: {"overwrite": false, "mark_fuzzy": true, "store": false} (store: with a memory, '
            "write the machine translations back as unreviewed entries)"
        ),
    ] = None,
) -> JSONResponse:
    """Translate a file in the background (formats as ``POST /translate/file``). The file is checked and parsed
    now (a bad file gets its 4xx here), the job is stored, and the answer is 202 with its status; poll
    ``GET /jobs/{id}``, then download ``GET /jobs/{id}/result``. A job survives restarts, and any replica
    sharing the PostgreSQL store serves it. Its sentences go after interactive requests' in the batcher."""
    parsed = FileOptions.parse(options)
    source, target = source.strip().lower() or AUTO, target.strip().lower()
    model, memory = model or None, memory or None
    scope = caller.memory_scope
    await jobs.check_request(state.registry, model, source, target, memory, scope)
    data = await read_upload(file, state.settings)
    filename = file.filename or "file"
    job = await jobs.create(
        pipeline, data, filename, source=source, target=target, model=model, memory=memory, options=parsed,
        scope=scope, charge=caller.charge,  # the key's daily characters, for the whole file, when accepted
    )  # fmt: skip
    body = status(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.get("/{job_id}", response_model=JobStatus, responses=_ID_ERRORS)
async def read_job(job_id: str, caller: CallerDep, jobs: Jobs) -> JobStatus:
    """The job's state (queued, running, done, failed, cancelled), progress, errors and timing."""
    return status(await jobs.get(job_id, caller.memory_scope))


@router.get(
    "/{job_id}/result",
    response_class=Response,
    responses={
        200: {
            "description": "the translated file",
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": 'msgid "Hello"\nmsgstr "Hallo"\n',
                }
            },
        },
        409: {"description": "job_not_done (Retry-After), job_no_result (failed or cancelled)", **_ERROR},
        **_ID_ERRORS,
    },
)
async def job_result(job_id: str, caller: CallerDep, jobs: Jobs) -> Response:
    """The translated file of a finished job (named like ``POST /translate/file`` names it)."""
    job, data = await jobs.result(job_id, caller.memory_scope)
    name = output_filename(job.spec.filename, job.spec.target)
    return Response(data, media_type=media_type(name), headers={"Content-Disposition": content_disposition(name)})


@router.delete(
    "/{job_id}",
    response_model=JobStatus,
    responses={409: {"description": "job_finished", **_ERROR}, **_ID_ERRORS},
)
async def cancel_job(job_id: str, caller: CallerDep, jobs: Jobs) -> JobStatus:
    """Cancel a queued or running job (its segments leave the queue; what was saved is dropped)."""
    return status(await jobs.cancel(job_id, caller.memory_scope))
