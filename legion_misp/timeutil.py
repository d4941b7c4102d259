"""Time in one place: RFC 3339 timestamps as STIX and TAXII write them (``Z`` or an offset, any fraction length), parsed
to aware UTC and formatted back, and configuration durations (``'15m'``, ``'30d'``) in seconds."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

UTC = dt.UTC


def parse_time(value: Any, *, assume_utc: bool = False, allow_date: bool = False) -> dt.datetime:
    """Parse an RFC 3339 string, or take an aware :class:`datetime` (TOML datetimes), into aware UTC.

    A space may stand for the ``T`` (RFC 3339, 5.6). Raises ``ValueError`` for anything else, including a timestamp
    without a time zone unless ``assume_utc`` reads it as UTC (TAXII servers and MISP that drop the ``Z``), and a
    date alone unless ``allow_date`` reads it as midnight (MISP's ``first_seen`` / ``last_seen`` may be one).
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if re.match(r"\d{4}-\d{2}-\d{2} \d", text):
            text = text[:10] + "T" + text[11:]
        elif allow_date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            text += "T00:00:00"
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
    if parsed.tzinfo is None and assume_utc:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (write 'Z' or an offset)")
    return parsed.astimezone(UTC)


def format_time(moment: dt.datetime, *, digits: int = 3) -> str:
    """``2026-11-02T10:00:00.000Z`` (UTC, ``digits`` fractional digits: 3 is the form STIX producers use, 6 what TAXII
    filters need; a fraction is always written because OpenTAXII refuses whole seconds)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}"[:digits] + "Z"


def is_timestamp(value: Any) -> str | None:
    """Config check: an RFC 3339 timestamp with a time zone (string or TOML datetime)."""
    try:
        parse_time(value)
    except ValueError as exc:
        return str(exc)
    return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


_CALENDAR_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_date(value: Any) -> bool:
    """True for a real calendar date written ``YYYY-MM-DD`` (surrounding blanks allowed)."""
    if not isinstance(value, str) or not _CALENDAR_DATE.fullmatch(value.strip()):
        return False
    try:
        dt.date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def parse_duration(text: Any) -> float:
    """Parse ``'30d'``, ``'15m'``, ``'90s'``, ``'2h'``, ``'1w'`` into seconds."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a duration such as '15m', '2h' or '30d'")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def is_duration(value: Any) -> str | None:
    """Config check: a duration such as ``'15m'``."""
    try:
        parse_duration(value)
    except ValueError as exc:
        return str(exc)
    return None


def utc_now() -> dt.datetime:
    """The default clock (callers pass their own; nothing in the trust core reads the clock by itself)."""
    return dt.datetime.now(UTC)
