"""Small public types of the client API: `LoadState`, `AnnSearchRequest` and `QueryIterator` (pymilvus's shapes)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

from engine.errors import ParamError


class LoadState(IntEnum):
    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self) -> str:
        return f"<LoadState: {self.name}>"

    def __str__(self) -> str:  # as pymilvus's: "Loaded"
        return self.name


class AnnSearchRequest:
    """One vector search of a `hybrid_search` (pymilvus's constructor).

    Its arguments are checked by `hybrid_search`, as a `search` with them would be.
    """

    def __init__(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any],
        limit: int,
        expr: str | None = None,
        expr_params: dict[str, Any] | None = None,
        filter: str | None = None,
    ) -> None:
        if expr is not None and filter is not None:
            raise ParamError("Provide either 'expr' or 'filter', not both.")
        if param is not None and not isinstance(param, dict):
            raise ParamError(f"AnnSearchRequest: param must be a dict of search parameters, got {type(param).__name__}")
        self.data = data
        self.anns_field = anns_field
        self.param = dict(param or {})
        self.limit = limit
        self.expr = filter if filter is not None else expr
        self.expr_params = expr_params

    @property
    def filter(self) -> str | None:
        return self.expr


class MutationResult(dict):
    """The result of insert, upsert and delete: pymilvus's keys, `cost` included (0: the engine has no
    cloud cost units); printed without zero values, as pymilvus prints it."""

    def __str__(self) -> str:
        return str({k: v for k, v in self.items() if v})

    def __repr__(self) -> str:
        return str(dict(self))


class ResultList(list):  # type: ignore[type-arg]
    """The result of query, get, search and hybrid_search: a list, with pymilvus's `extra` dict
    (`{"cost": 0}`: the engine has no cloud cost units).

    `extra` is made on first use (its own dict for each result): a search in a loop makes a result per
    call, and list's own constructor is the cheapest."""

    @functools.cached_property
    def extra(self) -> dict[str, Any]:
        return {"cost": 0}


class QueryIterator:
    """Pages through a query over one snapshot (`next()` returns [] at the end)."""

    def __init__(self, rows: Iterator[dict[str, Any]], batch_size: int) -> None:
        self._rows = rows
        self._batch = batch_size

    def next(self) -> list[dict[str, Any]]:
        out = []
        for row in self._rows:
            out.append(row)
            if len(out) >= self._batch:
                break
        return out

    def close(self) -> None:
        self._rows = iter(())
