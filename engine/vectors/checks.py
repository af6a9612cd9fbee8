"""Reading user vectors as numbers: `float_array` takes numbers only and says why it refuses.

numpy alone would read `"1e5"` or `True` as a number and `10**400` as an object; inserted
vectors and query vectors both go through here, so both refuse the same inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import brief

FLOAT32_MAX = float(np.finfo(np.float32).max)


class VectorValueError(ValueError):
    """Why a vector was refused (callers turn it into a DataError or ParamError naming the row or query)."""


def float_array(data: Any) -> np.ndarray:
    """`data` (a vector, or a list of them) as a float64 array of finite numbers; VectorValueError if not."""
    if _holds_bool(data):
        raise VectorValueError("expected numbers, got a bool")
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError, OverflowError):  # ragged lists, objects numpy cannot hold
        raise VectorValueError("expected vectors of numbers of one dimension") from None
    if arr.dtype.kind == "O":  # e.g. an int beyond 64 bits, None, or a mix of types
        for x in arr.reshape(-1):
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.number)):
                raise VectorValueError(f"expected numbers, got {type(x).__name__} {brief(x, 40)}")
        try:
            arr = arr.astype(np.float64)
        except OverflowError:
            raise VectorValueError("a number is out of the float range") from None
    elif arr.dtype.kind not in "iuf":
        raise VectorValueError(f"expected numbers, got values of type {arr.dtype.name}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad_at = int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0])
        raise VectorValueError(f"vector contains {arr.reshape(-1)[bad_at]} at position "
                               f"{bad_at % max(arr.shape[-1] if arr.ndim else 1, 1)}; NaN and inf are not allowed")
    return arr


def check_range(arr: np.ndarray, dtype: Any) -> None:
    """VectorValueError if a value of `arr` is beyond what `dtype` holds (it would be stored as inf)."""
    limit = float(np.finfo(dtype).max)
    over = np.abs(arr) > limit
    if over.any():
        at = int(np.flatnonzero(over.reshape(-1))[0])
        raise VectorValueError(f"vector contains {arr.reshape(-1)[at]} at position "
                               f"{at % max(arr.shape[-1] if arr.ndim else 1, 1)}, beyond the "
                               f"{np.dtype(dtype).name} range (±{limit:.7g})")


def _holds_bool(data: Any) -> bool:
    """True if a (nested) list or tuple holds a bool, which numpy would silently read as 0 or 1."""
    if not isinstance(data, (list, tuple)):
        return False
    types = set(map(type, data))
    if bool in types or np.bool_ in types:
        return True
    return any(_holds_bool(x) for x in data) if (list in types or tuple in types) else False
