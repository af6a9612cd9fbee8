"""Grouping search (`group_by_field`) and `search_iterator`, built on the client's candidate search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import ParamError, brief
from engine.executor import MAX_TOPK, Candidate, Hit, OutputPlan, materialize, to_hits
from engine.schema import CollectionSchema
from engine.types import SCALAR_TYPES

CandidateSearch = Callable[[int], list[list[Candidate]]]  # k -> per-query candidates, best first


def group_values(schema: CollectionSchema, cands: list[Candidate], field: str) -> list[Any]:
    """The value of `field` for each candidate (read per segment in one go)."""
    plan = OutputPlan(list(dict.fromkeys([schema.primary_field.name, field])), {}, None, False)  # field may be the key
    values: list[Any] = [None] * len(cands)
    by_seg: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_seg.setdefault(id(c.seg), []).append(i)
    for idxs in by_seg.values():
        rows = np.array([cands[i].row for i in idxs], dtype=np.int64)
        for i, ent in zip(idxs, materialize(schema, cands[idxs[0]].seg, rows, plan)):
            values[i] = ent[field]
    return values


def grouped_search(schema: CollectionSchema, search: CandidateSearch, field: str, limit: int, group_size: int,
                   strict: bool, plan: OutputPlan, offset: int = 0) -> list[list[Hit]]:
    """Milvus's grouping search: the best `limit` groups after the first `offset`, up to `group_size` hits each.

    Candidates are fetched widening (×4) until enough groups are full or the data is exhausted.
    """
    if not isinstance(field, str):
        raise ParamError(f"group_by_field must be a field name, got {type(field).__name__} {brief(field, 80)}")
    f = schema.field(field)
    if f is None or f.dtype not in SCALAR_TYPES:
        raise ParamError(f"group_by_field {field!r} must be a scalar field (BOOL, integer or VARCHAR) of the collection")
    if group_size < 1:
        raise ParamError(f"group_size must be ≥ 1, got {group_size}")
    k = min(MAX_TOPK, max((limit + offset) * group_size * 4, 16))
    while True:
        per_query = search(k)
        out = []
        complete = True
        for cands in per_query:
            groups: dict[Any, list[Candidate]] = {}
            for c, v in zip(cands, group_values(schema, cands, field)):
                members = groups.setdefault(v, [])
                if len(members) < group_size:
                    members.append(c)
            wanted = list(groups.items())[: offset + limit]
            full = len(wanted) == offset + limit and all(len(m) == group_size for _, m in wanted)
            if not full and len(cands) == k:
                complete = False
            hits = []
            for value, members in wanted[offset:]:
                if strict and len(members) < group_size:
                    continue
                for h in to_hits(schema, members, plan):
                    h["entity"][field] = value
                    hits.append(h)
            out.append(hits)
        if complete or k >= MAX_TOPK:
            return out
        k = min(MAX_TOPK, k * 4)


class SearchIterator:
    """Pages through the hits of one query, best first (`next()` returns [] at the end)."""

    def __init__(self, hits: list[Hit], batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParamError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
        self._hits = hits
        self._pos = 0
        self._batch = batch_size

    def next(self) -> list[Hit]:
        page = self._hits[self._pos : self._pos + self._batch]
        self._pos += len(page)
        return page

    def close(self) -> None:
        self._pos = len(self._hits)
