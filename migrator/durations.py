"""Durations as people write them (`200ms`, `1s`, `5m`) and as PostgreSQL reads them."""

from __future__ import annotations

import re

_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_duration(text: str, default_unit: str | None = None) -> int:
    """Milliseconds in a duration such as `200ms`, `1s`, `5m`, `1h`.

    A bare number is in default_unit; without one it is refused (PostgreSQL would read `5` as
    5 ms where people mean 5 s), except 0, which means the same in every unit.
    Raises ValueError with a readable message.
    """
    match = _DURATION.match(str(text))
    unit = (match.group(2).lower() or default_unit) if match else None
    if match and unit is None:
        if float(match.group(1)) == 0:
            return 0
        number = match.group(1)
        raise ValueError(f"{text!r} has no unit: write {number}ms or {number}s (units: ms, s, min, h)")
    if not match or unit not in _UNITS_MS:
        raise ValueError(f"{text!r} is not a duration (use e.g. 200ms, 5s, 1m)")
    return round(float(match.group(1)) * _UNITS_MS[unit])


def parse_pg_duration(text: str) -> int | None:
    """A PostgreSQL timeout value in milliseconds (0 means no timeout); None if unreadable."""
    try:
        return parse_duration(text.strip().strip("'\""), default_unit="ms")
    except ValueError:
        return None


def format_duration(milliseconds: int | float) -> str:
    if milliseconds >= 60_000 and milliseconds % 60_000 == 0:
        return f"{int(milliseconds // 60_000)}min"
    if milliseconds >= 1000 and milliseconds % 1000 == 0:
        return f"{int(milliseconds // 1000)}s"
    return f"{milliseconds:g}ms"
