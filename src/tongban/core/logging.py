"""JSON structured logs: one object a line, the request id on every line, personal data masked."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import structlog

from tongban.core.masking import scrub


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def scrub_personal_data(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Last line of defence: whatever a caller passed, no ID or phone number leaves unmasked."""
    return {k: _scrub_value(v) for k, v in event_dict.items()}


def _drop_color_message(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.pop("color_message", None)
    return event_dict


_configured = False


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
    ]


def logging_dictconfig(*, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """The stdlib logging configuration: every record, tongban's or a library's, through the JSON
    formatter with the masking. Also handed to the web server (`tongban serve`) for its own lines."""
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    scrub_personal_data,
                    renderer,
                ],
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django logs 4xx/5xx itself with the raw path; the request middleware logs one line instead.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "faker": {"level": "WARNING"},
            "PIL": {"level": "WARNING"},
            "matplotlib": {"level": "WARNING"},
            # granian's own lines (start, workers, errors) through the same JSON handler
            "_granian": {"level": "INFO", "propagate": True},
        },
    }


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    # A JSON line is built from the event dict alone (never the record's file, line, thread or process):
    # skip collecting them for each record (the logging documentation's "Optimization" section) — the
    # caller lookup walks the stack on every line.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.config.dictConfig(logging_dictconfig(level=level, json=json))
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
