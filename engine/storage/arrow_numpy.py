"""Arrow <-> NumPy without pyarrow's pandas shim.

`pyarrow.Array.to_numpy` and `pyarrow.array(...)` import pandas the first time they run in a process
(pyarrow checks for pandas objects): about 0.3 s and 37 MiB for a process that never uses pandas.
The engine's hot paths (primary keys, vectors, row selections) read and build arrays from their
buffers instead; everything else may use pyarrow as usual.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_FIXED = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
          pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
          pa.float16(): np.float16, pa.float32(): np.float32, pa.float64(): np.float64}


def array_to_numpy(arr: pa.Array) -> np.ndarray:
    """One Arrow array as NumPy: a zero-copy view for fixed-width numbers without nulls, else a copy."""
    dtype = _FIXED.get(arr.type)
    if dtype is not None and arr.null_count == 0:
        buf = arr.buffers()[1]
        if buf is None:
            return np.zeros(0, dtype=dtype)
        return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * np.dtype(dtype).itemsize)
    if arr.type == pa.bool_() and arr.null_count == 0:
        buf = arr.buffers()[1]
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little") if buf is not None else \
            np.zeros(0, dtype=np.uint8)
        return bits[arr.offset : arr.offset + len(arr)].astype(bool)
    values = arr.to_pylist()
    if dtype is not None or arr.type == pa.bool_():
        return np.array(values, dtype=object)
    return np.array(values, dtype=object) if values else np.zeros(0, dtype=object)


def column_to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column (all chunks) as NumPy, as `array_to_numpy` converts each chunk."""
    if isinstance(col, pa.Array):
        return array_to_numpy(col)
    if col.num_chunks == 1:
        return array_to_numpy(col.chunk(0))
    if col.num_chunks == 0:
        return array_to_numpy(pa.Array.from_buffers(col.type, 0, [None, None]) if col.type in _FIXED else
                              col.combine_chunks())
    return np.concatenate([array_to_numpy(c) for c in col.chunks])


def int64_array(values: np.ndarray) -> pa.Array:
    """Row numbers (or any int64s) as an Arrow array, built from the NumPy buffer."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])
