"""structlog set up once per process: JSON off a terminal, and no personnummer in any log line."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Ten or twelve digits with an optional separator whose date part has a real month and a day
# (or a samordningsnummer day): wider than a valid personnummer on purpose, since a number with a
# wrong check digit must be hidden too, but narrow enough to leave HSA ids and offsets readable.
PERSONNUMMER_SHAPE = re.compile(r"(?<!\d)(?:\d{2})?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])[-+]?\d{4}(?!\d)")
REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset({"personnummer", "person_id", "personid", "patient_id", "pnr", "pseudonym_key", "authorization"})


UUID_SHAPE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")

# The last group of a UUID (an event id) can be twelve digits shaped like a personnummer; a UUID is
# matched first, as a whole, so it is neither reported nor masked.
_UUID_OR_PERSONNUMMER = re.compile(rf"(?P<uuid>{UUID_SHAPE.pattern})|(?P<personnummer>{PERSONNUMMER_SHAPE.pattern})")


def find_personnummer(text: str) -> list[str]:
    return [match["personnummer"] for match in _UUID_OR_PERSONNUMMER.finditer(text) if match["personnummer"]]


def redact_text(text: str) -> str:
    return _UUID_OR_PERSONNUMMER.sub(lambda match: match["uuid"] or REDACTED, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: REDACTED if str(key).lower() in SENSITIVE_KEYS else _redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(item) for item in value)
    return value


def redact_personnummer(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Last processor before rendering: masks anything shaped like a personnummer, exceptions included."""
    redacted: Mapping[str, Any] = _redact(event_dict)
    return redacted


class RepeatedRecordLimiter(logging.Filter):
    """Lets the same library message through once per `interval_seconds`, then says how many were held back.

    While the broker is away aiokafka reports every reconnect attempt, several a second per client;
    an outage of seconds would otherwise bury everything else in thousands of identical lines.
    """

    def __init__(self, interval_seconds: float = 10.0, clock: Any = None) -> None:
        super().__init__()
        self._interval = interval_seconds
        self._clock = clock or time.monotonic
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        held_back = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        if len(self._last) > 1000:
            self._last = {key: self._last[key]}
        if held_back:
            record.msg = f"{record.msg} (and {held_back} more like it in the last {self._interval:.0f} s)"
        return True


def configure_logging(service: str, *, log_format: str = "auto", level: str = "INFO") -> None:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            redact_personnummer,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (aiokafka, faststream, uvicorn) go through the same redaction and renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared_processors, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, redact_personnummer, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatedRecordLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("faststream").setLevel(logging.WARNING)
