"""Logging set-up for the CLI: text or JSON lines on stderr, with secret redaction.

Every record passes :class:`RedactingFilter`, which replaces any secret value resolved in this process (see
:mod:`legion_misp.secrets`) by ``***`` before it is formatted, so a secret that slips into an exception message or a
URL never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from .secrets import revealed_values

REDACTED = "***"


def redact(text: str) -> str:
    """Replace every secret value revealed so far by ``***``."""
    for value in sorted(revealed_values(), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Render the message once, redact it, and drop the args so nothing unredacted is formatted later."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(verbosity: int = 0, log_format: str = "text") -> None:
    """Configure the ``legion_misp`` and ``connectors`` loggers (warning, info with -v, debug with -vv)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("legion_misp", "connectors"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
