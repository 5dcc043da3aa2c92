"""Readable log lines for a terminal: what `python -m bolt_app` prints locally (dev-only).

On Lambda every line is one Powertools JSON object (handler.py). In a terminal that is noise: a JSON
object per line, the Lambda context's fields on each (the playground's made-up context at that), and a
CloudWatch EMF document per invocation. Locally the same records come out as one line each —
`12:00:01 INFO    request handled status=200 outcome=processed` — through a subclass of Powertools'
own formatter, so that the correlation keys the bot appends (`event_id`, `retry_num`, …) still show, and
metrics are switched off with Powertools' own setting (POWERTOOLS_METRICS_DISABLED).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

TIME_FORMAT = "%H:%M:%S"
LINE_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
# Keys every Powertools line carries that say nothing in a terminal: shown elsewhere on the line, the
# same on every line, or the Lambda context (which a local run only pretends to have).
QUIET_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "location",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception_name",
        "exception",
        "stack_trace",
    }
)


class ReadableFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter, printing `time LEVEL message key=value …` instead of a JSON object."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        stamp = datetime.now().strftime(TIME_FORMAT)
        fields = " ".join(f"{key}={_short(value)}" for key, value in log.items() if key not in QUIET_KEYS)
        line = f"{stamp} {log.get('level', '')!s:<7} {log.get('message', '')}" + (f" {fields}" if fields else "")
        if log.get("exception"):
            line += "\n" + str(log["exception"])
        return line


def _short(value: Any) -> str:
    text = str(value)
    return repr(text) if " " in text else text


def configure_local_logging(level: str | int = "INFO") -> None:
    """Plain library lines (uvicorn, Bolt before the handler's loggers exist) in the same layout; no metrics."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = logging.getLevelName(_level(level))
    logging.basicConfig(level=_level(level), format=LINE_FORMAT, datefmt=TIME_FORMAT, force=True)


def use_readable_lines() -> int:
    """Every handler that formats with Powertools' JSON formatter now prints readable lines; how many."""
    registered = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(v for v in registered if isinstance(v, logging.Logger))]
    replaced: dict[int, ReadableFormatter] = {}
    for logger in loggers:
        for handler in logger.handlers:
            formatter = handler.formatter
            if isinstance(formatter, LambdaPowertoolsFormatter) and not isinstance(formatter, ReadableFormatter):
                if id(formatter) not in replaced:
                    readable = ReadableFormatter()
                    # Keys appended so far (none at start-up, but keep them if any).
                    readable.append_keys(**formatter.get_current_keys())
                    replaced[id(formatter)] = readable
                handler.setFormatter(replaced[id(formatter)])
    return len(replaced)


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ValueError(f"{level!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    return value
