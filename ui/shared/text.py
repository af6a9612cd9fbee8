"""Words for numbers and values, the same in every view: "1 row", "2 rows", a timestamp as a date."""

from __future__ import annotations

import datetime as _dt
from typing import Any

TIME_FIELDS = ("modified", "created", "updated")


def plural(n: int, word: str, words: str | None = None) -> str:
    """"1 row", "2 rows", "1,024 rows"."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def value_text(key: str, value: Any) -> str:
    """A stored value for a tooltip: timestamps (seconds since 1970) of time fields as local dates."""
    if key in TIME_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool) and 1e8 < value < 1e10:
        return _dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
