"""Index build parameters and scalar index types, checked by Milvus's documented rules.

A build parameter an index type does not take would do nothing (`m` for HNSW's `M`, `nlist` on
HNSW): it is refused, naming it and the parameters the type takes (Milvus Lite accepts and ignores
such keys). Scalar indexes follow the Milvus docs' field types (INVERTED: any scalar but JSON;
BITMAP: BOOL, integers, VARCHAR and arrays of them; STL_SORT: numbers and VARCHAR; TRIE: VARCHAR),
and the scalar sub-fields of an Array of Structs take no index.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import ParamError, UnsupportedError
from engine.schema import FieldSchema
from engine.types import INTEGER_TYPES, NUMERIC_TYPES, DataType

# Build parameters per index type (docs/indexes.md); FLAT types and scalar indexes take none.
BUILD_PARAMS: dict[str, tuple[str, ...]] = {
    "HNSW": ("M", "efConstruction"),
    "IVF_FLAT": ("nlist",),
    "BIN_IVF_FLAT": ("nlist",),
    "AUTOINDEX": ("M", "efConstruction"),
}

_BITMAP_TYPES = INTEGER_TYPES | {DataType.BOOL, DataType.VARCHAR}
_SCALAR_RULES: dict[str, tuple[frozenset[DataType], str]] = {
    "STL_SORT": (frozenset(NUMERIC_TYPES | {DataType.VARCHAR, DataType.TIMESTAMPTZ}),
                 "numeric, VARCHAR and TIMESTAMPTZ fields"),
    "TRIE": (frozenset({DataType.VARCHAR}), "VARCHAR fields"),
    "BITMAP": (frozenset(_BITMAP_TYPES | {DataType.ARRAY}), "BOOL, integer and VARCHAR fields and arrays of them"),
}


def check_build_params(field: str, index_type: str, params: dict[str, Any]) -> None:
    """Refuse build parameters `index_type` does not take, naming the ones it does."""
    valid = BUILD_PARAMS.get(index_type.upper(), ())
    for key in params:
        if key in valid:
            continue
        close = [v for v in valid if v.lower() == re.sub("[^a-z]", "", key.lower())]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        takes = f"it takes {', '.join(valid)}" if valid else "it takes none"
        raise ParamError(f"index on {field!r}: {index_type} has no build parameter {key!r}{hint}; {takes}")


def check_scalar_index(path: str, index_type: str, target: FieldSchema, is_sub: bool) -> None:
    """Milvus's field-type rules for scalar indexes (the type itself is checked by the caller)."""
    itype = (index_type or "AUTOINDEX").upper()
    if is_sub:
        raise ParamError(f"cannot index {path!r}: the scalar sub-fields of an Array of Structs do not support "
                         "indexes (Milvus's rule); index its vector sub-fields")
    if target.dtype == DataType.JSON:
        raise UnsupportedError(f"cannot index JSON field {path!r}: a JSON index needs json_path and json_cast_type, "
                               "which the engine does not support yet")
    rule = _SCALAR_RULES.get(itype)
    if rule is None:
        return
    types, what = rule
    ok = target.dtype in types and not (target.dtype == DataType.ARRAY and target.element_type not in _BITMAP_TYPES)
    if not ok:
        elem = target.element_type.name if target.element_type is not None else "?"
        kind = target.dtype.name if target.dtype != DataType.ARRAY else f"ARRAY of {elem}"
        raise ParamError(f"cannot build a {itype} index on {path!r} ({kind}): {itype} indexes {what}")
    if itype == "BITMAP" and target.is_primary:
        raise ParamError(f"cannot build a BITMAP index on primary key {path!r}")
