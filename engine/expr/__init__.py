"""Milvus's boolean filter-expression language.

    cf = compile_filter('label == 3 and score > 0.5', schema)
    mask = cf.evaluate(table)      # numpy bool array, one entry per row

`compile_filter` parses and type-checks once; `evaluate` runs column-wise
with pyarrow.compute and numpy. See docs/filter-expressions.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import FilterError
from engine.expr.ast import Node, render
from engine.expr.compiler import B, Binder, pk_values
from engine.expr.evaluator import evaluate
from engine.expr.parser import parse
from engine.schema import CollectionSchema

__all__ = ["CompiledFilter", "FilterError", "compile_filter", "parse", "render"]


class CompiledFilter:
    """A parsed, type-checked filter, ready to evaluate on Arrow tables of its collection."""

    def __init__(
        self, expr: str, tree: Node, bound: B, fields: frozenset[str], schema: CollectionSchema
    ) -> None:
        self.expr = expr
        self.tree = tree
        self._bound = bound
        self.fields = fields
        self._schema = schema

    def evaluate(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """Boolean mask over the rows of `table` (True = the row matches; UNKNOWN counts as no match).

        `table` needs at least the columns in `self.fields`.
        """
        return evaluate(self._bound, table, self.expr)

    @property
    def bound(self) -> B:
        """The type-checked tree (`engine.expr.bound` nodes), for analyses such as partition pruning."""
        return self._bound

    def pk_values(self, pk_name: str) -> list[Any] | None:
        """The literal keys if the filter is exactly `pk == v`, `pk in [...]` or an `or` of those, else None."""
        f = self._schema.field(pk_name)
        return pk_values(self._bound, pk_name, f.dtype if f is not None else None)

    def __repr__(self) -> str:
        return f"CompiledFilter({render(self.tree)!r})"


def compile_filter(
    expr: str, schema: CollectionSchema, params: Mapping[str, Any] | None = None, *, timezone: str | None = None
) -> CompiledFilter:
    """Parse and type-check `expr` against `schema`; `{name}` placeholders take values from `params`.

    `timezone` (an IANA name) reads `ISO '...'` literals that carry no offset; without one they are refused.
    Raises FilterError (with a 1-based `position`) for any syntax or type error.
    """
    binder = Binder(schema, expr if isinstance(expr, str) else "", timezone)
    try:
        tree = parse(expr, params)
        bound = binder.bind_filter(tree)
    except RecursionError:
        raise FilterError("the expression is nested too deeply", None, expr) from None
    return CompiledFilter(expr, tree, bound, frozenset(binder.fields), schema)
