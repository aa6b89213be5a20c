"""Log lines as JSON objects (the default) or classic text, for the service and uvicorn alike.

Why JSON: one object per line is what log shippers parse without regexes, and a request's line is found by its
``request_id``. What goes into a line is decided where it is logged (``access_log.py``): never texts, never keys.
A log call adds fields with ``extra={"fields": {...}}``; a line logged while a request is handled carries its id.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any, Literal

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id_var: ContextVar[str | None] = ContextVar("xlt_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "pid", ...fields, "request_id"?, "exc"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        request_id = request_id_var.get()
        if request_id is not None:
            out["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def logging_config(level: str, fmt: Literal["json", "text"], with_pid: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the whole process (uvicorn applies it in every worker): the service
    and uvicorn's error logger through one handler; uvicorn's access log off (ours replaces it, without client
    addresses and query strings)."""
    if fmt == "json":
        formatter: dict[str, Any] = {"()": f"{__name__}.JsonFormatter"}
    else:
        text = TEXT_FORMAT.replace("%(name)s", "%(name)s[%(process)d]") if with_pid else TEXT_FORMAT
        formatter = {"format": text}
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"xlt": formatter},
        "handlers": {"xlt": {"class": "logging.StreamHandler", "formatter": "xlt", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["xlt"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["xlt"], "level": upper},
    }


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(level, fmt))
