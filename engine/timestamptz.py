"""TIMESTAMPTZ values: ISO 8601 input, UTC microseconds in storage, ISO output in a time zone.

Milvus (docs: "TIMESTAMPTZ Field") takes ISO 8601 strings with a time-zone offset, stores the
absolute instant in UTC, and filters and orders in UTC. A string without an offset is read in the
effective time zone: the call's `timezone` argument, else the collection's `timezone` property
(else the database's, where the database has one); with none of them it is refused, as Milvus Lite
does. Values come back as ISO 8601 text in the effective time zone (UTC, written with `Z`, when
none is set), or as a list of components when the call asks for `time_fields`.

The engine stores a TIMESTAMPTZ column as Arrow `timestamp[us, tz=UTC]`, whose integer value is
the microseconds since 1970-01-01T00:00:00Z; every function here works on those integers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa

__all__ = [
    "ARROW_TYPE",
    "TIME_FIELDS",
    "TimeValueError",
    "check_timezone",
    "effective_timezone",
    "format_micros",
    "parse_interval",
    "parse_time_fields",
    "parse_timestamp",
    "time_components",
]

ARROW_TYPE = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The components `time_fields` may ask for (as Milvus Lite and pymilvus's examples spell them).
TIME_FIELDS = ("year", "month", "day", "hour", "minute", "second", "microsecond")

# ISO 8601 extended format: a date, optionally 'T' or ' ' and a time (seconds and fraction
# optional), optionally 'Z' or an offset (+08, +0800, +08:00).
_ISO_RE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,12}))?)?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
# ISO 8601 durations with exact lengths: weeks, days, hours, minutes, seconds (seconds may have a fraction).
_INTERVAL_RE = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE,
)
_MAX_INTERVAL_US = 2**62
# Instants that can be written out in every time zone (offsets stay within a day) as a datetime can hold.
_MIN_US = (datetime(1, 1, 2, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
_MAX_US = (datetime(9999, 12, 31, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1) - 1


class TimeValueError(ValueError):
    """A TIMESTAMPTZ value, time zone or INTERVAL that cannot be read; the message says why."""


def check_timezone(name: Any, what: str = "timezone") -> str:
    """`name` if it is an IANA time zone identifier (Asia/Shanghai, America/Chicago, UTC), else TimeValueError."""
    if not isinstance(name, str) or not name.strip():
        raise TimeValueError(f"{what} must be an IANA time zone name like 'Asia/Shanghai' or 'UTC', got {name!r}")
    _zone(name, what)
    return name


def _zone(name: str, what: str = "timezone") -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeValueError(
            f"{what} {name!r} is not a known IANA time zone (like 'Asia/Shanghai', 'America/Chicago' or 'UTC')"
        ) from None


def effective_timezone(request: Any = None, *levels: dict[str, Any] | None) -> str | None:
    """The time zone a call works in: the request's `timezone`, else the first level (collection, then
    database properties) that sets one; None when none does. A bad request value raises TimeValueError."""
    if request is not None and request != "":
        return check_timezone(request)
    for props in levels:
        if props and props.get("timezone"):
            return str(props["timezone"])
    return None


def parse_timestamp(value: Any, tz: str | None) -> int:
    """Microseconds since the epoch (UTC) of an ISO 8601 string; a string without an offset is read in `tz`.

    Raises TimeValueError for anything else: numbers, datetime objects (pass `.isoformat()`, as pymilvus
    requires a string too), malformed text, impossible dates, and naive text when `tz` is None.
    """
    if not isinstance(value, str):
        hint = " (pass value.isoformat())" if isinstance(value, datetime) else ""
        raise TimeValueError(f"expected an ISO 8601 string like '2025-05-01T23:59:59+08:00', "
                             f"got {type(value).__name__} {value!r}{hint}")
    text = value.strip()
    m = _ISO_RE.fullmatch(text)
    if m is None:
        raise TimeValueError(f"{value!r} is not an ISO 8601 timestamp like '2025-05-01T23:59:59+08:00'")
    frac = (m["f"] or "").ljust(6, "0")[:6]  # finer than a microsecond is truncated
    try:
        naive = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0), int(m["mi"] or 0),
                         int(m["s"] or 0), int(frac or 0))
    except ValueError as e:
        raise TimeValueError(f"{value!r} is not a valid date and time: {e}") from None
    zone = m["tz"]
    if zone is None:
        if tz is None:
            raise TimeValueError(
                f"{value!r} has no time-zone offset; add one (like +08:00 or Z) or set the collection's "
                "'timezone' property (or pass timezone=)")
        local = naive.replace(tzinfo=_zone(tz))
        return _micros(local)
    if zone in "Zz":
        return _micros(naive.replace(tzinfo=timezone.utc))
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimeValueError(f"{value!r} has an impossible time-zone offset {zone!r}")
    offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return _micros(naive.replace(tzinfo=offset))


def _micros(dt: datetime) -> int:
    delta = dt - _EPOCH
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not _MIN_US <= us <= _MAX_US:
        raise TimeValueError(f"{dt.isoformat()} is outside the supported range 0001-01-02T00:00:00Z to "
                             "9999-12-30T23:59:59.999999Z (it could not be written out in every time zone)")
    return us


def parse_interval(text: Any) -> int:
    """Microseconds of an ISO 8601 duration (`P1D`, `PT3H`, `P2DT6H`, `PT0.5S`, `P1W`).

    Years and months are refused: their length depends on the date they are added to.
    """
    if not isinstance(text, str):
        raise TimeValueError(f"an INTERVAL needs a string like 'P1D', got {text!r}")
    s = text.strip()
    m = _INTERVAL_RE.fullmatch(s)
    if m is None or s.upper() in ("P", "PT") or s.upper().endswith("T"):
        if re.match(r"P(?:\d+Y|\d+M)", s, re.IGNORECASE):
            raise TimeValueError(f"INTERVAL {text!r}: years and months are not supported (their length depends "
                                 "on the date); use weeks, days, hours, minutes or seconds, like 'P30D'")
        raise TimeValueError(f"INTERVAL {text!r} is not an ISO 8601 duration like 'P1D', 'PT3H' or 'P2DT6H'")
    weeks, days, hours, minutes = (int(m[k] or 0) for k in ("w", "d", "h", "m"))
    seconds = (m["s"] or "0").replace(",", ".")
    whole, _, frac = seconds.partition(".")
    us = ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + int(whole)) * 1_000_000
    us += int(frac.ljust(6, "0")[:6] or 0)
    if us > _MAX_INTERVAL_US:
        raise TimeValueError(f"INTERVAL {text!r} is too long")
    return us


def _as_micros(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 microseconds with nulls as 0, validity) of a TIMESTAMPTZ column."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    ints = arr.cast(pa.int64())
    valid = ints.is_valid().to_numpy(zero_copy_only=False)
    filled = ints.fill_null(0).to_numpy(zero_copy_only=False)
    return np.asarray(filled, dtype=np.int64), np.asarray(valid, dtype=bool)


def _to_datetimes(values: pa.Array | pa.ChunkedArray, tz: str | None) -> list[datetime | None]:
    zone = _zone(tz) if tz else timezone.utc
    micros, valid = _as_micros(values)
    out: list[datetime | None] = []
    for us, ok in zip(micros.tolist(), valid.tolist()):
        out.append((_EPOCH + timedelta(microseconds=us)).astimezone(zone) if ok else None)
    return out


def format_micros(values: pa.Array | pa.ChunkedArray, tz: str | None) -> list[str | None]:
    """ISO 8601 text of each value in `tz` (UTC when None): '2025-01-01T08:00:00+08:00', UTC as
    '2025-01-01T00:00:00Z'; microseconds only when not zero ('...T00:00:00.500000Z')."""
    out: list[str | None] = []
    for dt in _to_datetimes(values, tz):
        if dt is None:
            out.append(None)
            continue
        text = dt.isoformat()
        out.append(text[:-6] + "Z" if text.endswith("+00:00") else text)
    return out


def parse_time_fields(value: Any) -> tuple[str, ...] | None:
    """The components `time_fields` asks for ('year, month' or ['year', 'month']); None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise TimeValueError(f"time_fields must be a string like 'year, month, day' or a list, got {value!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or item.strip().lower() not in TIME_FIELDS:
            raise TimeValueError(f"time_fields: {item!r} is not one of {', '.join(TIME_FIELDS)}")
        out.append(item.strip().lower())
    if not out:
        raise TimeValueError("time_fields names no component")
    return tuple(out)


def time_components(values: pa.Array | pa.ChunkedArray, fields: Sequence[str], tz: str | None) -> list[Any]:
    """For each value, the list of the requested components in `tz` (UTC when None); None stays None."""
    return [None if dt is None else [getattr(dt, f) for f in fields] for dt in _to_datetimes(values, tz)]
