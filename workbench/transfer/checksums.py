"""Canonical rows and order-independent checksums, for verifying copies."""


from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.geometry import to_wkb
from engine.timestamptz import parse_timestamp
from workbench.backends import (
    ARRAY,
    BFLOAT16_VECTOR,
    BINARY_VECTOR,
    BOOL,
    DOUBLE,
    FLOAT,
    FLOAT16_VECTOR,
    FLOAT_VECTOR,
    GEOMETRY,
    INT8,
    INT8_VECTOR,
    INT16,
    INT32,
    INT64,
    JSON_TYPE,
    SPARSE_FLOAT_VECTOR,
    STRUCT,
    TIMESTAMPTZ,
    Row,
)
from workbench.transfer.progress import DYNAMIC, PARTITION


# --- canonical rows and checksums ------------------------------------------------------------------
def _f32(v: Any) -> Any:
    if v is None:
        return None
    x = float(np.float32(v))
    return x if math.isfinite(x) else repr(x)


def _binary(v: Any) -> bytes:
    """A binary vector as bytes (pymilvus may return it as a one-element list of bytes)."""
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], (bytes, bytearray)):
        v = v[0]
    return bytes(v)


def _canon(v: Any, f: dict[str, Any]) -> Any:
    if v is None:
        return None
    t = f["type"]
    if t == FLOAT:
        return _f32(v)
    if t == DOUBLE:
        return float(v)
    if t in (INT8, INT16, INT32, INT64):
        return int(v)
    if t == BOOL:
        return bool(v)
    if t == FLOAT_VECTOR or t == BFLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float32).tobytes().hex()
    if t == FLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float16).tobytes().hex()
    if t == INT8_VECTOR:
        return np.asarray(v, dtype=np.int8).tobytes().hex()
    if t == BINARY_VECTOR:
        return _binary(v).hex()
    if t == SPARSE_FLOAT_VECTOR:
        return sorted([int(k), _f32(x)] for k, x in dict(v).items())
    if t == ARRAY and f.get("element_type") == STRUCT:
        subs = f.get("struct_fields") or []
        return [{s["name"]: _canon(e.get(s["name"]), s) for s in subs} for e in v]
    if t == ARRAY:
        et = f.get("element_type")
        return [_f32(x) if et == FLOAT else x for x in v]
    if t == JSON_TYPE:
        return _canon_json(v)
    if t == TIMESTAMPTZ:  # the instant, whatever time zone it was written in
        return parse_timestamp(v, "UTC") if isinstance(v, str) else v
    if t == GEOMETRY:  # the geometry, whatever spacing or number format its WKT has
        return to_wkb(v).hex() if isinstance(v, str) else v
    return v


def _canon_json(v: Any) -> Any:
    """JSON values with integral floats as ints (1.0 and 1 are the same JSON number)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, dict):
        return {str(k): _canon_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_canon_json(x) for x in v]
    return v


def canonical_row(row: Row, schema: dict[str, Any], skip: Sequence[str] = ()) -> bytes:
    """A row's canonical bytes: its fields by type (see the module docstring), then its dynamic keys."""
    out: dict[str, Any] = {}
    names = set()
    for f in schema["fields"]:
        names.add(f["name"])
        if f["name"] in skip:
            continue
        out[f["name"]] = _canon(row.get(f["name"]), f)
    if schema.get("enable_dynamic_field"):
        dyn = dict(row.get(DYNAMIC) or {})
        dyn.update({k: v for k, v in row.items() if k not in names and k not in (DYNAMIC, PARTITION)
                    and k not in skip})
        out[DYNAMIC] = _canon_json(dyn)
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str).encode()


def row_digest(row: Row, schema: dict[str, Any], skip: Sequence[str] = ()) -> bytes:
    return hashlib.sha256(canonical_row(row, schema, skip)).digest()


class _Checksum:
    """An order-independent checksum of a set of rows (sum of row digests mod 2^256)."""

    def __init__(self) -> None:
        self.total = 0
        self.n = 0

    def add(self, digest: bytes) -> None:
        self.total = (self.total + int.from_bytes(digest, "big")) % (1 << 256)
        self.n += 1

    def hexdigest(self) -> str:
        return f"{self.n}:{self.total:064x}"


class _Reservoir:
    """A uniform sample of up to `k` primary keys (seeded, so runs are reproducible)."""

    def __init__(self, k: int, seed: int = 0) -> None:
        self.k = k
        self.seen = 0
        self.items: list[Any] = []
        self.rng = random.Random(seed)

    def add(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append(item)
        elif self.k:
            j = self.rng.randrange(self.seen)
            if j < self.k:
                self.items[j] = item


