"""`IndexParams`, as returned by `MilvusClient.prepare_index_params()` (pymilvus's shape)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ParamError

SCALAR_INDEX_TYPES = {"AUTOINDEX", "INVERTED", "TRIE", "Trie", "STL_SORT", "BITMAP", ""}


@dataclass
class IndexParam:
    """One index request: field, type, metric and build parameters."""

    field_name: str
    index_type: str = ""
    index_name: str = ""
    metric_type: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field_name": self.field_name,
            "index_type": self.index_type,
            "index_name": self.index_name,
            "metric_type": self.metric_type,
            "params": dict(self.params),
        }


class IndexParams:
    """A list of `IndexParam`s built with `add_index`."""

    def __init__(self, field_name: str = "", **kwargs: Any) -> None:
        self._indexes: list[IndexParam] = []
        if field_name:
            self.add_index(field_name, **kwargs)

    def add_index(self, field_name: str, index_type: str = "", index_name: str = "", **kwargs: Any) -> IndexParams:
        if not isinstance(field_name, str) or not field_name:
            raise ParamError(f"add_index: field_name must be a non-empty string, got {field_name!r}")
        params = dict(kwargs.pop("params", None) or {})
        metric = kwargs.pop("metric_type", None)
        params.update(kwargs)  # pymilvus accepts build params as keyword arguments too
        if "metric_type" in params:
            metric = metric or params.pop("metric_type")
        self._indexes.append(IndexParam(field_name, index_type or "", index_name or "", metric, params))
        return self

    def __iter__(self) -> Iterator[IndexParam]:
        return iter(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)

    def __str__(self) -> str:
        return str([i.to_dict() for i in self._indexes])
