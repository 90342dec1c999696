"""One logging setup for every process: text for a terminal, or one JSON object per line for a collector.

A JSON line carries what ties it to the rest of the system: the workflow and run ids, the activity
(Temporal's ``workflow.logger`` and ``activity.logger`` put them in the record's ``extra``), the
call id bound with :func:`log_context` (the outbound attempt's key, Twilio's CallSid, the LiveKit
room), and the trace and span ids of the current span.
"""

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from opentelemetry import trace
from temporalio import activity, workflow

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, str] | None] = ContextVar("ringflow_log_context", default=None)

_TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "namespace": "namespace",
    "update_id": "update_id",
    "update_name": "update_name",
}
"""Keys of Temporal's ``temporal_workflow`` / ``temporal_activity`` extras, and their names in a line."""

_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
"""A record's own attributes (and uvicorn's coloured copy of the message): whatever else it has came as extra."""
_TEMPORAL_EXTRAS = frozenset({"temporal_workflow", "temporal_activity", "workflow_info", "activity_info"})


@contextlib.contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Every record logged in this block (this task and the ones it starts) carries ``fields``."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class LogContextFilter(logging.Filter):
    """Copies the fields bound with :func:`log_context` onto each record, for any formatter that prints extras.

    A handler filter, so it sees records from every logger; a field the call passed in ``extra`` wins.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def carry_log_context(logger: logging.Logger) -> None:
    """Add the context filter to ``logger``'s handlers (another library's, such as livekit-agents')."""
    for handler in logger.handlers:
        if not any(isinstance(existing, LogContextFilter) for existing in handler.filters):
            handler.addFilter(LogContextFilter())


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...ids, ...extra}``; never raises on an odd ``extra`` value."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("temporal_workflow", "temporal_activity"):
            details = getattr(record, key, None)
            if isinstance(details, Mapping):
                line.update(
                    {_TEMPORAL_FIELDS[name]: value for name, value in details.items() if name in _TEMPORAL_FIELDS}
                )
        line.update(
            {
                key: value
                for key, value in record.__dict__.items()
                if key not in _RECORD_ATTRIBUTES and key not in _TEMPORAL_EXTRAS and not key.startswith("_")
            }
        )
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it), like logging's last resort."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr


def setup_logging(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """One handler on stderr in ``log_format`` for the root logger (a second call replaces it).

    For JSON the Temporal loggers stop repeating their ids inside the message: the fields carry them.
    """
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    for previous in [existing for existing in root.handlers if isinstance(existing, _StderrHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    # Uvicorn gives its loggers handlers of their own; through the root they get the same format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    on_message = log_format == "text"
    activity.logger.activity_info_on_message = on_message
    workflow.logger.workflow_info_on_message = on_message
