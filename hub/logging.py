"""Structured logging (structlog) with personal data masked before anything is written (``hub.privacy``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from hub.privacy import PERSONAL_KEYS, mask_values


def mask_personal_data(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for k in list(event):
        event[k] = "***" if k in PERSONAL_KEYS else mask_values(event[k])
    return event


class _HubHandler(logging.StreamHandler[TextIO]):
    """The standard library's records, rendered by structlog (marked: ``configure`` replaces only its own)."""


def configure(level: str = "INFO", json: bool = False, stream: TextIO | None = None) -> None:
    """structlog's lines and the standard library's (uvicorn, alembic, the console...) alike: JSON in
    JSON mode, with the context bound (``correlation_id``, ``message_id``, ``connector``) and personal
    data masked."""
    out = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, mask_personal_data, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    handler = _HubHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_personal_data,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HubHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per partner call (population database)
    # "Context impl ...", "setup plugin ..." on every command that migrates: noise for an operator
    logging.getLogger("alembic").setLevel(logging.WARNING)
