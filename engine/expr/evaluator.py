"""Column-wise evaluation of a bound filter over an Arrow table.

Values flowing through the evaluator are one of:
  * `Const`: one Python value for every row (None is null);
  * `Vec`: an Arrow array (typed columns, ARRAY elements, boolean results);
  * `Obj`: JSON values, stored once per distinct JSON text (`uniq`) plus a
    per-row code into it; the last entry of `uniq` is MISSING (SQL-null rows).
Boolean results are Arrow boolean arrays whose nulls mean UNKNOWN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.errors import FilterError
from engine.expr import kernels as K
from engine.expr import spatial
from engine.expr import values as V
from engine.expr.bound import (
    B,
    BArith,
    BColumn,
    BCompare,
    BConst,
    BContains,
    BElem,
    BExists,
    BIn,
    BIsNull,
    BJson,
    BLength,
    BLike,
    BLogic,
    BMatch,
    BNot,
    BSpatial,
    Ty,
)
from engine.geometry import GeometryValueError
from engine.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")  # loaded by the first filter: see engine/lazy.py


@dataclass
class Const:
    value: Any


@dataclass
class Vec:
    arr: pa.Array


@dataclass
class Obj:
    uniq: list[Any]
    codes: np.ndarray  # int64 index into uniq; -1 (the trailing MISSING) for null rows


Val = Const | Vec | Obj


def evaluate(root: B, table: pa.Table | pa.RecordBatch, text: str) -> np.ndarray:
    """Evaluate `root` on every row of `table`; True where the row matches (UNKNOWN is False)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    ev = _Evaluator(table, text)
    out = ev.eval(root)
    n = table.num_rows
    if isinstance(out, Const):
        return np.full(n, out.value is True, dtype=bool)
    if isinstance(out, Obj):  # a JSON value as the whole filter is bound as `== true`; kept for safety
        out = ev.map_obj_bool(out, lambda u: V.compare("==", u, True))
    mask = pc.fill_null(out.arr, False).to_numpy(zero_copy_only=False)
    return np.asarray(mask, dtype=bool)


class _Evaluator:
    def __init__(self, table: pa.Table, text: str) -> None:
        self.table = table
        self.text = text
        self.n = table.num_rows
        self._columns: dict[str, pa.Array] = {}
        self._json: dict[str, tuple[list[Any], np.ndarray]] = {}

    # --- inputs ------------------------------------------------------------
    def column(self, name: str) -> pa.Array:
        if name not in self._columns:
            if name not in self.table.column_names:
                raise FilterError(f"the table has no column {name!r}, which the filter uses", None, self.text)
            col = self.table.column(name)
            self._columns[name] = (
                (col.combine_chunks() if col.num_chunks != 1 else col.chunk(0))
                if col.num_chunks
                else pa.array([], type=col.type)
            )
        return self._columns[name]

    def json_column(self, name: str) -> tuple[list[Any], np.ndarray]:
        """Parse each distinct JSON text of a column once: (values + [MISSING], per-row codes)."""
        if name not in self._json:
            arr = self.column(name)
            if not pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_encode()
            texts = arr.dictionary.to_pylist()
            decode = _decoder().decode
            try:
                uniq = [decode(t) for t in texts]
            except ValueError:  # some text is not valid JSON: decode one by one, invalid -> null
                uniq = [_loads(t, decode) for t in texts]
            uniq.append(V.MISSING)
            codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            self._json[name] = (uniq, codes)
        return self._json[name]

    # --- dispatch ----------------------------------------------------------
    def eval(self, node: B) -> Val:
        if isinstance(node, BConst):
            return Const(node.value)
        if isinstance(node, BColumn):
            if node.ty is Ty.TIME:  # microseconds since the epoch (engine/expr/temporal.py)
                return Vec(self.column(node.name).cast(pa.int64()))
            return Vec(self.column(node.name))
        if isinstance(node, BSpatial):
            try:
                return Vec(spatial.evaluate(node, self.column(node.column)))
            except GeometryValueError as e:
                raise FilterError(str(e), node.pos, self.text) from None
        if isinstance(node, BJson):
            uniq, codes = self.json_column(node.column)
            if node.path:
                uniq = V.navigate_all(uniq, node.path)
            return Obj(uniq, codes)
        if isinstance(node, BElem):
            return Vec(K.list_element(self.column(node.column), node.index))
        if isinstance(node, BArith):
            right = self.eval(node.right) if node.right is not None else None
            return self.arith(node.op, self.eval(node.left), right)
        if isinstance(node, BCompare):
            return self.compare(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, BIn):
            return self.member(self.eval(node.value), node.items)
        if isinstance(node, BLike):
            return self.like(self.eval(node.value), node.pattern)
        if isinstance(node, BIsNull):
            return self.is_null(self.eval(node.value))
        if isinstance(node, BExists):
            obj = self.eval(node.value)
            assert isinstance(obj, Obj)
            return self.map_obj_bool(obj, lambda u: u is not V.MISSING)
        if isinstance(node, BNot):
            return self.negate(self.eval(node.operand))
        if isinstance(node, BLogic):
            return self.logic(node.op, [self.eval(x) for x in node.operands])
        if isinstance(node, BContains):
            return self.contains(self.eval(node.value), node.items, node.all_of)
        if isinstance(node, BLength):
            return self.length(self.eval(node.value))
        if isinstance(node, BMatch):
            return Vec(pa.array(node.match(self.column(node.column)), type=pa.bool_()))
        raise FilterError(f"cannot evaluate {type(node).__name__}", node.pos, self.text)

    # --- helpers -----------------------------------------------------------
    def map_obj_bool(self, obj: Obj, fn: Any) -> Vec:
        """Apply a three-valued predicate to each distinct JSON value and spread it over rows."""
        res = [fn(u) for u in obj.uniq]
        vals = np.fromiter((r is True for r in res), dtype=bool, count=len(res))
        known = np.fromiter((r is not None for r in res), dtype=bool, count=len(res))
        return Vec(pa.array(vals[obj.codes], mask=~known[obj.codes]))

    def rows(self, v: Val) -> list[Any]:
        """Per-row Python values (MISSING/None for nulls)."""
        if isinstance(v, Const):
            return [v.value] * self.n
        if isinstance(v, Vec):
            return v.arr.to_pylist()
        return [v.uniq[c] for c in v.codes.tolist()]

    def _per_row_bool(self, res: list[bool | None]) -> Vec:
        vals = np.fromiter((r is True for r in res), dtype=bool, count=len(res))
        known = np.fromiter((r is not None for r in res), dtype=bool, count=len(res))
        return Vec(pa.array(vals, mask=~known))

    # --- arithmetic ----------------------------------------------------------
    def arith(self, op: str, a: Val, b: Val | None) -> Val:
        if b is None:
            if isinstance(a, Const):
                return Const(V.negate(op, a.value))
            if isinstance(a, Obj):
                return Obj([V.negate(op, u) for u in a.uniq], a.codes)
            return Vec(K.negate_array(op, a.arr))
        if isinstance(a, Const) and isinstance(b, Const):
            return Const(V.arith(op, a.value, b.value))
        if isinstance(a, Obj) or isinstance(b, Obj):
            if isinstance(a, Obj) and isinstance(b, Const):
                return Obj([V.arith(op, u, b.value) for u in a.uniq], a.codes)
            if isinstance(b, Obj) and isinstance(a, Const):
                return Obj([V.arith(op, a.value, u) for u in b.uniq], b.codes)
            left, right = self.rows(a), self.rows(b)
            res = [V.arith(op, x, y) for x, y in zip(left, right)] + [None]
            codes = np.arange(self.n, dtype=np.int64)
            return Obj(res, codes)
        x = a.arr if isinstance(a, Vec) else V.as_number(a.value)
        y = b.arr if isinstance(b, Vec) else V.as_number(b.value)
        if x is None or y is None:
            return Const(None)
        return Vec(K.arith_arrays(op, x, y, self.n))

    # --- comparisons ---------------------------------------------------------
    def compare(self, op: str, a: Val, b: Val) -> Val:
        if isinstance(a, Const) and isinstance(b, Const):
            return Const(V.compare(op, a.value, b.value))
        if isinstance(a, Const):
            a, b, op = b, a, V.FLIP[op]
        if isinstance(a, Obj) and isinstance(b, Const):
            res = V.compare_many(op, a.uniq, b.value)
            return self.map_obj_bool(Obj(res, a.codes), lambda r: r)
        if isinstance(a, Obj) and isinstance(b, Obj) and a.codes is b.codes:
            res = [V.compare(op, x, y) for x, y in zip(a.uniq, b.uniq)]
            return self.map_obj_bool(Obj(res, a.codes), lambda r: r)
        if isinstance(a, Obj) or isinstance(b, Obj):
            return self._per_row_bool([V.compare(op, x, y) for x, y in zip(self.rows(a), self.rows(b))])
        assert isinstance(a, Vec)
        if isinstance(b, Const):
            return Vec(K.compare_scalar(op, a.arr, b.value))
        assert isinstance(b, Vec)
        x, y = K.common_type(a.arr, b.arr)
        return Vec(K.PC_CMP[op](x, y))

    def member(self, v: Val, items: list[Any]) -> Val:
        if isinstance(v, Const):
            return Const(V.member(v.value, items))
        if isinstance(v, Obj):
            return self.map_obj_bool(v, lambda u: V.member(u, items))
        arr = v.arr
        if not items:
            return Vec(pa.array(np.zeros(len(arr), dtype=bool)))
        keep = K.in_values(arr.type, items)
        if not keep:
            return Vec(K.broadcast_bool(False, arr))
        hit = pc.is_in(arr, value_set=pa.array(keep, type=arr.type))
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        return Vec(pa.array(hit.to_numpy(zero_copy_only=False), mask=~valid))

    def like(self, v: Val, pattern: str) -> Val:
        if isinstance(v, Vec):
            return Vec(pc.match_like(v.arr, pattern))
        if isinstance(v, Obj):
            strs = pa.array([u if isinstance(u, str) else None for u in v.uniq], type=pa.string())
            res = pc.match_like(strs, pattern).to_pylist()
            return self.map_obj_bool(Obj(res, v.codes), lambda r: r)
        return Const(None)

    def is_null(self, v: Val) -> Val:
        if isinstance(v, Const):
            return Const(v.value is None)
        if isinstance(v, Obj):
            return self.map_obj_bool(v, V.is_null)
        return Vec(pc.is_null(v.arr))

    # --- logic -----------------------------------------------------------------
    def negate(self, v: Val) -> Val:
        if isinstance(v, Const):
            return Const(None if v.value is None else not v.value)
        if isinstance(v, Obj):  # not reached: conditions are boolean arrays
            return self.map_obj_bool(v, lambda u: None if not isinstance(u, bool) else not u)
        return Vec(pc.invert(v.arr))

    def logic(self, op: str, vals: list[Val]) -> Val:
        fn = pc.and_kleene if op == "and" else pc.or_kleene
        acc: Any = None
        consts = [x.value for x in vals if isinstance(x, Const)]
        if consts:
            c = V.kleene_and(consts) if op == "and" else V.kleene_or(consts)
            if (op == "and" and c is False) or (op == "or" and c is True):
                return Const(c)
            acc = pa.scalar(c, pa.bool_())
        for x in vals:
            if isinstance(x, Vec):
                acc = x.arr if acc is None else fn(acc, x.arr)
        if isinstance(acc, pa.Scalar):
            return Const(acc.as_py())
        return Vec(acc)

    # --- ARRAY / JSON functions --------------------------------------------------
    def contains(self, v: Val, items: list[Any], all_of: bool) -> Val:
        if isinstance(v, Obj):
            return self.map_obj_bool(v, lambda u: V.contains(u, items, all_of))
        if isinstance(v, Const):
            return Const(V.contains(v.value, items, all_of))
        arr = v.arr
        n = len(arr)
        flat = arr.flatten()
        parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
        acc = np.full(n, all_of, dtype=bool)
        for item in items:
            hits = pc.fill_null(K.compare_scalar("==", flat, item), False).to_numpy(zero_copy_only=False)
            found = np.zeros(n, dtype=bool)
            found[parents[hits]] = True
            acc = (acc & found) if all_of else (acc | found)
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        return Vec(pa.array(acc, mask=~valid))

    def length(self, v: Val) -> Val:
        if isinstance(v, Obj):
            return Obj([len(u) if isinstance(u, list) else None for u in v.uniq], v.codes)
        if isinstance(v, Const):
            return Const(len(v.value) if isinstance(v.value, list) else None)
        return Vec(pc.list_value_length(v.arr).cast(pa.int64()))


# --- module helpers --------------------------------------------------------------
def _decoder() -> json.JSONDecoder:
    """A JSON decoder that reads NaN as null (so no NaN reaches comparisons)."""
    return json.JSONDecoder(parse_constant=lambda name: None if name == "NaN" else float(name))


def _loads(text: Any, decode: Any) -> Any:
    try:
        return decode(text)
    except ValueError:
        return V.MISSING
