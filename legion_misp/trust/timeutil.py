"""RFC 3339 timestamps as STIX writes them (``Z`` or an offset, any fraction length), parsed to aware UTC."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

UTC = dt.UTC


def parse_time(value: Any) -> dt.datetime:
    """Parse an RFC 3339 string, or take an aware :class:`datetime` (TOML datetimes), into aware UTC.

    Raises ``ValueError`` for anything else, including a timestamp without a time zone.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        head, dot, rest = text.partition(".")
        if dot:  # Python accepts at most 6 fractional digits: trim longer fractions, keep the offset
            digits = re.match(r"\d*", rest).group(0)
            if not digits:
                raise ValueError(f"{value!r} has an empty fraction")
            text = f"{head}.{(digits + '000000')[:6]}{rest[len(digits):]}"
        if "T" not in text.upper():
            raise ValueError(f"{value!r} is not an RFC 3339 timestamp (no time)")
        parsed = dt.datetime.fromisoformat(text)
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (write 'Z' or an offset)")
    return parsed.astimezone(UTC)


def format_time(moment: dt.datetime) -> str:
    """``2026-11-02T10:00:00.000Z`` (milliseconds, UTC), the form STIX producers use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def is_timestamp(value: Any) -> str | None:
    """Config check: an RFC 3339 timestamp with a time zone (string or TOML datetime)."""
    try:
        parse_time(value)
    except ValueError as exc:
        return str(exc)
    return None


def utc_now() -> dt.datetime:
    """The default clock (callers pass their own; nothing in the trust core reads the clock by itself)."""
    return dt.datetime.now(UTC)
