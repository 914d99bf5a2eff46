"""Times and durations as people type them on the command line, and as the CLI prints them.

Times are ISO 8601: with ``Z`` or an offset they are exact; without one they are the local
time of this machine. Everything is stored as whole Unix seconds and printed in UTC.
"""

from __future__ import annotations

import datetime
import re

from client.errors import UsageError

_DURATION = re.compile(r"\A(\d+)\s*([smhdw])\Z")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, what: str = "time") -> int:
    """``2027-01-15T09:00`` (local), ``2027-01-15T09:00Z`` or ``...+01:00`` -> Unix seconds."""
    raw = text.strip()
    try:
        # Python 3.11 reads "Z"; a date alone means midnight.
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"{text!r} is not a {what}; write it as 2027-01-15T09:00 (local time) "
            "or 2027-01-15T09:00Z (UTC)."
        ) from None
    if value.tzinfo is None:
        value = value.astimezone()  # the machine's local time zone
    return int(value.timestamp())


def parse_duration(text: str) -> int:
    """``90m``, ``12h``, ``3d``, ``2w`` -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"{text!r} is not a duration; write it like 12h, 3d or 2w.")
    return int(match.group(1)) * _UNIT[match.group(2)]


def show_time(t: int | None) -> str:
    if t is None:
        return "-"
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
