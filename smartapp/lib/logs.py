"""Log lines that say which request, launch and tenant they belong to, and `LOG_FORMAT=json`:
one JSON object per line for web, worker and beat alike (the default stays human-readable).

The context lives in a contextvar: the request middleware and Celery's task signals set it,
`launch_for_session` adds the launch and tenant once it has checked them.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("correlation_id", "launch_id", "tenant")
_context: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)


def log_context_start(*, correlation_id: str) -> None:
    """A new unit of work (a request, a task): forgets what the thread's last one said."""
    _context.set({"correlation_id": correlation_id})


def log_context_bind(**fields: str) -> None:
    _context.set({**(_context.get() or {}), **fields})


def log_context() -> dict[str, str]:
    return dict(_context.get() or {})


class LogContextFilter(logging.Filter):
    """Puts the context on every record (empty strings when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _context.get() or {}
        for field in CONTEXT_FIELDS:
            setattr(record, field, current.get(field, ""))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, "")
            if value:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
