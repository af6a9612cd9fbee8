"""JSON values of JSON fields, defaults and the dynamic field: checked, then stored as UTF-8 text.

`dump_json` refuses what could not be stored or read back: NaN and infinities,
objects JSON has no form for, strings that are not valid Unicode (lone
surrogates), and nesting deeper than `MAX_JSON_DEPTH` (which would otherwise
exhaust Python's recursion when written or read back).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from engine.errors import DataError

MAX_JSON_DEPTH = 256


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when lists/dicts in `value` nest deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children: Any = v.values()
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children)
    return False


def dump_json(value: Any) -> str:
    """`value` as JSON text; DataError (without a location: callers add it) if it cannot be stored."""
    if json_depth_exceeds(value):
        raise DataError(f"the JSON value nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError, RecursionError) as e:
        raise DataError(f"value is not valid JSON: {e}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataError(
            f"the JSON value holds a string that is not valid Unicode ({text[e.start:e.end]!r} "
            f"at character {e.start} of its JSON text)"
        ) from None
    return text
