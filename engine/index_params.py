"""`IndexParams`, as returned by `MilvusClient.prepare_index_params()` (pymilvus's shape)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.errors import ParamError

SCALAR_INDEX_TYPES = {"AUTOINDEX", "INVERTED", "TRIE", "Trie", "STL_SORT", "BITMAP", "RTREE", ""}
# Index types of the field types that take only some (Milvus: RTREE is the GEOMETRY index; STL_SORT,
# INVERTED or AUTOINDEX on TIMESTAMPTZ). Filters on them are evaluated exactly whatever the index.
TYPED_SCALAR_INDEXES = {"GEOMETRY": {"RTREE", "AUTOINDEX"}, "TIMESTAMPTZ": {"STL_SORT", "INVERTED", "AUTOINDEX"}}


def check_scalar_index(field_name: str, dtype_name: str, index_type: str) -> None:
    """Refuse an index type the field's type does not take (RTREE off GEOMETRY, BITMAP on TIMESTAMPTZ...)."""
    allowed = TYPED_SCALAR_INDEXES.get(dtype_name)
    if allowed is not None and index_type not in allowed:
        raise ParamError(f"index on {field_name!r}: a {dtype_name} field takes {sorted(allowed)}, not {index_type}")
    if allowed is None and index_type == "RTREE":
        raise ParamError(f"index on {field_name!r}: RTREE indexes GEOMETRY fields; {field_name!r} is {dtype_name}")


def index_type_name(value: Any) -> Any:
    """An `IndexType` enum (pymilvus's) as the name pymilvus sends to Milvus (its `str()`); others unchanged."""
    if isinstance(value, Enum):
        return str(value) if type(value).__str__ is not Enum.__str__ else value.name
    return value


@dataclass
class IndexParam:
    """One index request: field, type, metric and build parameters."""

    field_name: str
    index_type: str = ""
    index_name: str = ""
    metric_type: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    config_order: tuple[str, ...] = ()  # the order add_index was given them in (pymilvus prints in that order)

    def to_dict(self) -> dict[str, Any]:
        """pymilvus's shape: field, type and name, then the metric (when given) and the build params, flat."""
        metric = {} if self.metric_type is None else {"metric_type": self.metric_type}
        configs = {**metric, **self.params}
        order = [k for k in self.config_order if k in configs] + [k for k in configs if k not in self.config_order]
        return {"field_name": self.field_name, "index_type": self.index_type, "index_name": self.index_name,
                **{k: configs[k] for k in order}}

    def get_index_configs(self) -> dict[str, Any]:
        """pymilvus's name: the metric, the build params and the type (when given), as sent to Milvus."""
        metric = {} if self.metric_type is None else {"metric_type": self.metric_type}
        return {**metric, **self.params, **({"index_type": self.index_type} if self.index_type else {})}

    def __str__(self) -> str:
        return str(self.to_dict())


class IndexParams:
    """A list of `IndexParam`s built with `add_index`."""

    def __init__(self, field_name: str = "", **kwargs: Any) -> None:
        self._indexes: list[IndexParam] = []
        if field_name:
            self.add_index(field_name, **kwargs)

    def add_index(self, field_name: str, index_type: str = "", index_name: str = "", **kwargs: Any) -> IndexParams:
        if not isinstance(field_name, str) or not field_name:
            raise ParamError(f"add_index: field_name must be a non-empty string, got {field_name!r}")
        given = kwargs.pop("params", None)
        if given is not None and not isinstance(given, dict):
            raise ParamError(f"add_index({field_name!r}): params must be a dict, got {type(given).__name__}")
        params = dict(given or {})
        order = (*params, *kwargs)  # pymilvus: params= first, then the keywords (metric_type included)
        metric = kwargs.pop("metric_type", None)
        params.update(kwargs)  # pymilvus accepts build params as keyword arguments too
        if "metric_type" in params:
            metric = metric or params.pop("metric_type")
        index_type = index_type_name(index_type)  # pymilvus's IndexType.HNSW -> "HNSW"
        self._indexes.append(IndexParam(field_name, index_type or "", index_name or "", metric, params,
                                        tuple(dict.fromkeys(order))))
        return self

    def __iter__(self) -> Iterator[IndexParam]:
        return iter(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)

    def __str__(self) -> str:
        return str([i.to_dict() for i in self._indexes])
