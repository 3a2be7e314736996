"""RFC 3339 date-times as OCPP uses them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def is_datetime(value: object) -> bool:
    """True when ``value`` is an RFC 3339 date-time with an offset (the schemas' format)."""
    if not isinstance(value, str):
        return True  # formats constrain strings only; "type" catches the rest
    if not _RFC3339.match(value):
        return False
    try:
        parse_datetime(value)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        return False
    return True


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime (microsecond precision)."""
    text = value.upper()
    if "." in text:
        # Python keeps at most 6 fraction digits; chargers may send nanoseconds.
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC, truncated to milliseconds (what MongoDB keeps)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_datetime(value: datetime) -> str:
    """Format as OCPP expects: UTC, millisecond precision, ``Z`` suffix."""
    v = value.astimezone(UTC)
    # Not strftime: its %Y does not zero-pad years before 1000 on every platform.
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}."
        f"{v.microsecond // 1000:03d}Z"
    )
