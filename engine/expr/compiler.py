"""Name resolution and type checking: syntax tree -> bound tree.

The bound tree knows, for every node, its static type and which Arrow column
it reads. Constant sub-expressions are folded. Every mistake raises
FilterError with the 1-based column of the offending part.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from engine.errors import FilterError
from engine.expr import spatial, temporal
from engine.expr import values as V
from engine.expr.ast import (
    FUNCTIONS,
    Arith,
    Call,
    Compare,
    Exists,
    In,
    Index,
    IntervalLit,
    IsNull,
    Like,
    ListLit,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    Range,
    TimeLit,
    Unary,
    list_values,
    render,
)
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
    BNot,
    Ty,
    const_node,
    scalar_ty,
)
from engine.lazy import lazy_module
from engine.schema import CollectionSchema, FieldSchema
from engine.types import DYNAMIC_FIELD, FLOAT_TYPES, INTEGER_TYPES, VECTOR_TYPES, DataType

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")  # loaded by the first filter: see engine/lazy.py

_NUMERIC = (Ty.INT, Ty.FLOAT, Ty.NUM)
_UNSUPPORTED_FUNCTIONS = {
    "random_sample": "sampling is not implemented",
    "element_filter": "Array of Structs filtering is not implemented",
    "match_all": "Array of Structs filtering is not implemented",
    "match_any": "Array of Structs filtering is not implemented",
    "match_least": "Array of Structs filtering is not implemented",
    "match_most": "Array of Structs filtering is not implemented",
    "match_exact": "Array of Structs filtering is not implemented",
}


# --- binder ------------------------------------------------------------------
class Binder:
    """Resolves names against a schema and type-checks; collects referenced columns."""

    def __init__(self, schema: CollectionSchema, text: str, timezone: str | None = None) -> None:
        self.schema = schema
        self.text = text
        self.timezone = timezone  # reads ISO literals without an offset (engine/expr/temporal.py)
        self.fields: set[str] = set()

    def fail(self, msg: str, pos: int) -> FilterError:
        return FilterError(msg, pos or None, self.text)

    def bind_filter(self, node: Node) -> B:
        """Bind a whole filter; it must be a condition."""
        return self.condition(node)

    # --- conditions ------------------------------------------------------
    def condition(self, node: Node) -> B:
        b = self.bind(node)
        if b.ty is Ty.BOOL or b.ty is Ty.NULL:
            return b
        if b.ty is Ty.JSON:  # a JSON value used as a condition: true only when it is JSON true
            return BCompare(Ty.BOOL, "==", b, const_node(True, b.pos), pos=b.pos, desc=b.desc)
        raise self.fail(f"expected a condition (like x > 1), but got {_what(b)}", b.pos)

    # --- dispatch ----------------------------------------------------------
    def bind(self, node: Node) -> B:
        if isinstance(node, Literal):
            return const_node(node.value, node.pos)
        if isinstance(node, ListLit):
            if temporal.has_time_literal(node):
                raise self.fail("ISO timestamps in a list only go with a TIMESTAMPTZ field: tsz in [ISO '...']",
                                node.pos)
            return const_node(list_values(node), node.pos)
        if isinstance(node, (TimeLit, IntervalLit)):
            return temporal.bind_literal(self, node)
        if isinstance(node, (Name, Index)):
            return self.bind_path(node)
        if isinstance(node, Unary):
            return self.bind_arith(node, node.operand, None)
        if isinstance(node, Arith):
            return self.bind_arith(node, node.left, node.right)
        if isinstance(node, Compare):
            return self.compare(node.op, self.bind(node.left), self.bind(node.right), node.pos)
        if isinstance(node, Range):
            mid = self.bind(node.middle)
            lo = self.compare(node.op1, self.bind(node.lower), mid, node.pos)
            hi = self.compare(node.op2, mid, self.bind(node.upper), node.pos)
            return self.logic("and", [lo, hi], node.pos)
        if isinstance(node, In):
            member = self.bind_in(node)
            if not node.negated:
                return member
            if isinstance(member, BConst):
                return const_node(None if member.value is None else not member.value, node.pos)
            return BNot(Ty.BOOL, member, pos=node.pos, desc=member.desc)
        if isinstance(node, Like):
            return self.bind_like(node)
        if isinstance(node, IsNull):
            v = self.bind(node.value)
            if isinstance(v, BConst):
                return const_node((v.value is None) != node.negated, node.pos)
            test: B = BIsNull(Ty.BOOL, v, pos=node.pos, desc=v.desc)
            return BNot(Ty.BOOL, test, pos=node.pos, desc=v.desc) if node.negated else test
        if isinstance(node, Not):
            operand = self.condition(node.operand)
            if isinstance(operand, BConst):
                return const_node(None if operand.value is None else not operand.value, node.pos)
            return BNot(Ty.BOOL, operand, pos=node.pos, desc="a 'not' expression")
        if isinstance(node, Logical):
            return self.logic(node.op, [self.condition(x) for x in node.operands], node.pos)
        if isinstance(node, Call):
            return self.bind_call(node)
        if isinstance(node, Exists):
            v = self.bind(node.path)
            if not isinstance(v, BJson):
                raise self.fail(
                    f"'exists' needs a JSON field, JSON path or dynamic key; {v.desc} is not one", v.pos
                )
            return BExists(Ty.BOOL, v, pos=node.pos, desc=v.desc)
        raise self.fail(f"unsupported expression {type(node).__name__}", node.pos)

    def logic(self, op: str, operands: list[B], pos: int) -> B:
        if all(isinstance(x, BConst) for x in operands):
            vals = [x.value for x in operands]  # type: ignore[attr-defined]
            return const_node(V.kleene_and(vals) if op == "and" else V.kleene_or(vals), pos)
        return BLogic(Ty.BOOL, op, operands, pos=pos, desc=f"an '{op}' expression")

    # --- names -------------------------------------------------------------
    def bind_path(self, node: Name | Index) -> B:
        keys: list[int | str] = []
        cur: Node = node
        while isinstance(cur, Index):
            keys.append(cur.key)
            cur = cur.base
        assert isinstance(cur, Name)
        keys.reverse()
        name, pos = cur.name, cur.pos
        path_text = render(node)
        if name == DYNAMIC_FIELD:
            if not self.schema.enable_dynamic_field:
                raise self.fail("'$meta' is only available when the collection has a dynamic field", pos)
            self.fields.add(DYNAMIC_FIELD)
            desc = f"dynamic field key {path_text}" if keys else "the dynamic field $meta"
            return BJson(Ty.JSON, DYNAMIC_FIELD, tuple(keys), pos=pos, desc=desc)
        f = self.schema.field(name)
        if f is None:
            if self.schema.enable_dynamic_field:
                self.fields.add(DYNAMIC_FIELD)
                return BJson(
                    Ty.JSON, DYNAMIC_FIELD, (name, *keys), pos=pos, desc=f"dynamic field key {path_text}"
                )
            raise self.fail(self._unknown_field(name), pos)
        self._check_filterable(f, pos)
        self.fields.add(f.name)
        if f.dtype == DataType.JSON:
            desc = f"JSON path {path_text}" if keys else f"JSON field {name!r}"
            return BJson(Ty.JSON, name, tuple(keys), pos=pos, desc=desc)
        if f.dtype == DataType.ARRAY:
            elem_ty = scalar_ty(f.element_type or DataType.NONE)
            elem_name = (f.element_type or DataType.NONE).name
            if not keys:
                return BColumn(
                    Ty.ARRAY, name, f.dtype, elem_ty, pos=pos, desc=f"ARRAY<{elem_name}> field {name!r}"
                )
            if len(keys) > 1 or not isinstance(keys[0], int):
                raise self.fail(
                    f"ARRAY field {name!r} takes one integer index, like {name}[0]; {path_text} is not valid",
                    pos,
                )
            return BElem(elem_ty, name, keys[0], pos=pos, desc=f"{elem_name} element {path_text}")
        if keys:
            raise self.fail(
                f"{f.dtype.name} field {name!r} cannot be indexed; only JSON and ARRAY fields take [ ]", pos
            )
        return BColumn(scalar_ty(f.dtype), name, f.dtype, pos=pos, desc=f"{f.dtype.name} field {name!r}")

    def _check_filterable(self, f: FieldSchema, pos: int) -> None:
        if f.dtype in VECTOR_TYPES or f.dtype in (DataType.SPARSE_FLOAT_VECTOR, DataType.INT8_VECTOR):
            raise self.fail(
                f"{f.dtype.name} field {f.name!r} is a vector field; vectors cannot be used in filters", pos
            )
        if f.is_struct_array:
            raise self.fail(
                f"field {f.name!r} is an Array of Structs; Milvus does not support filtering on Array of Structs fields",
                pos,
            )
        if f.dtype not in (
            DataType.JSON,
            DataType.ARRAY,
            DataType.BOOL,
            DataType.VARCHAR,
            DataType.TIMESTAMPTZ,
            DataType.GEOMETRY,
        ) and f.dtype not in (INTEGER_TYPES | FLOAT_TYPES):
            raise self.fail(f"{f.dtype.name} field {f.name!r} cannot be used in filters", pos)

    def _unknown_field(self, name: str) -> str:
        names = [f.name for f in self.schema.fields]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if not close:
            close = [n for n in names if n.lower() == name.lower()]
        if close:
            return f"unknown field {name!r}; did you mean {close[0]!r}?"
        usable = [f.name for f in self.schema.fields if f.dtype not in VECTOR_TYPES and not f.is_struct_array]
        shown = ", ".join(usable[:12]) + (", ..." if len(usable) > 12 else "")
        return f"unknown field {name!r}; the collection has no dynamic field, and its fields are: {shown}"

    # --- arithmetic ----------------------------------------------------------
    def bind_arith(self, node: Unary | Arith, left: Node, right: Node | None) -> B:
        op, pos = node.op, node.pos
        desc = f"the expression {_short(render(node))}"
        operands = [self.bind(left)] + ([self.bind(right)] if right is not None else [])
        timed = temporal.bind_arith(self, op, operands, pos, desc)
        if timed is not None:
            return timed
        for b in operands:
            if b.ty not in (*_NUMERIC, Ty.JSON, Ty.NULL):
                raise self.fail(f"arithmetic '{op}' needs numbers, but got {_what(b)}", b.pos)
        if len(operands) == 1:
            (a,) = operands
            if isinstance(a, BConst):
                return const_node(V.negate(op, a.value), pos)
            ty = Ty.NUM if a.ty in (Ty.JSON, Ty.NUM) else a.ty
            return BArith(ty, op, a, None, pos=pos, desc=desc)
        a, b = operands
        if op in ("/", "%") and isinstance(b, BConst) and b.value == 0 and not isinstance(b.value, bool):
            raise self.fail(f"division by zero: the right side of '{op}' is 0", pos)
        if isinstance(a, BConst) and isinstance(b, BConst):
            return const_node(V.arith(op, a.value, b.value), pos)
        tys = {a.ty, b.ty}
        if Ty.JSON in tys or Ty.NUM in tys:
            ty = Ty.NUM if op in ("+", "-", "*", "%") else Ty.FLOAT
        elif op in ("/", "**") or Ty.FLOAT in tys:
            ty = Ty.FLOAT
        else:
            ty = Ty.INT
        return BArith(ty, op, a, b, pos=pos, desc=desc)

    # --- comparisons -----------------------------------------------------------
    def _comparable(self, op: str, a: B, b: B) -> bool:
        special = temporal.comparable(a, b)
        if special is not None:
            return special
        ta, tb = a.ty, b.ty
        if Ty.ARRAY in (ta, tb):
            return False
        if Ty.NULL in (ta, tb):
            return True
        if Ty.JSON in (ta, tb):
            other = tb if ta is Ty.JSON else ta
            if op in ("==", "!="):
                return True
            return other not in (Ty.BOOL, Ty.LIST)
        if ta in _NUMERIC and tb in _NUMERIC:
            return True
        if ta is Ty.STR and tb is Ty.STR:
            return True
        if ta == tb and ta in (Ty.BOOL, Ty.LIST):
            return op in ("==", "!=")
        return False

    def compare(self, op: str, a: B, b: B, pos: int) -> B:
        if not self._comparable(op, a, b):
            raise self._compare_error(op, a, b, pos)
        if isinstance(a, BConst) and isinstance(b, BConst):
            return const_node(V.compare(op, a.value, b.value), pos)
        return BCompare(Ty.BOOL, op, a, b, pos=pos, desc=f"the comparison '{op}' at column {pos}")

    def _compare_error(self, op: str, a: B, b: B, pos: int) -> FilterError:
        culprit = a if not isinstance(a, BConst) else b
        for side in (a, b):
            if side.ty is Ty.ARRAY:
                name = side.name if isinstance(side, BColumn) else "field"
                return self.fail(
                    f"{side.desc} cannot be compared with '{op}'; use ARRAY_CONTAINS({name}, ...), "
                    f"ARRAY_LENGTH({name}) or an element like {name}[0]",
                    side.pos,
                )
        if (
            a.ty == b.ty
            and a.ty in (Ty.BOOL, Ty.LIST)
            or (op not in ("==", "!=") and Ty.JSON in (a.ty, b.ty))
        ):
            bad = [x for x in (a, b) if x.ty in (Ty.BOOL, Ty.LIST)]
            ordered = next((x for x in bad if not isinstance(x, BConst)), bad[0])
            return self.fail(
                f"'{op}' cannot order {_what(ordered)}: booleans and lists can only be compared with == and !=",
                ordered.pos,
            )
        return self.fail(f"cannot compare {_what(a)} with {_what(b)} using '{op}'", culprit.pos)

    def bind_in(self, node: In) -> B:
        v = self.bind(node.value)
        word = "not in" if node.negated else "in"
        if v.ty is Ty.TIME:
            return BIn(Ty.BOOL, v, temporal.time_items(self, node.items, word), pos=node.pos, desc=v.desc)
        if temporal.has_time_literal(node.items):
            raise self.fail(f"'{word}': ISO timestamps only go with a TIMESTAMPTZ field, not {_what(v)}", v.pos)
        items = list_values(node.items)
        for item in items:
            probe = const_node(item, node.items.pos)
            if not self._comparable("==", v, probe):
                raise self.fail(f"'{word}': cannot compare {_what(v)} with {probe.desc}", v.pos)
        if isinstance(v, BConst):
            return const_node(V.member(v.value, items), node.pos)
        return BIn(Ty.BOOL, v, items, pos=node.pos, desc=v.desc)

    def bind_like(self, node: Like) -> B:
        v = self.bind(node.value)
        if v.ty not in (Ty.STR, Ty.JSON, Ty.NULL):
            raise self.fail(f"'like' needs a VARCHAR or JSON value, but got {_what(v)}", v.pos)
        pat = node.pattern
        i = 0
        while i < len(pat):
            if pat[i] == "\\":
                if i + 1 == len(pat):
                    raise self.fail(
                        "the 'like' pattern ends with a lone backslash; write \\\\ for a backslash", node.pos
                    )
                i += 1
            i += 1
        if isinstance(v, BConst):
            return const_node(None if v.value is None else _like_const(v.value, pat), node.pos)
        return BLike(Ty.BOOL, v, pat, pos=node.pos, desc=v.desc)

    # --- functions -------------------------------------------------------------
    def bind_call(self, node: Call) -> B:
        name = node.name
        if name in ("text_match", "phrase_match"):
            from engine.fulltext.text_match import bind_match

            return bind_match(self, node)
        if name.startswith("st_"):
            return spatial.bind_spatial(self, node)
        if name in _UNSUPPORTED_FUNCTIONS:
            why = _UNSUPPORTED_FUNCTIONS[name]
            raise self.fail(f"function {name.upper()} is not supported by this engine: {why}", node.pos)
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0].upper()}?" if close else ""
            raise self.fail(
                f"unknown function {name!r}{hint} (supported: {', '.join(f.upper() for f in FUNCTIONS)})",
                node.pos,
            )
        upper = name.upper()
        want = 1 if name == "array_length" else 2
        if len(node.args) != want:
            raise self.fail(
                f"{upper} takes {want} argument{'s' if want > 1 else ''}, got {len(node.args)}", node.pos
            )
        target = self.bind(node.args[0])
        if target.ty not in (Ty.ARRAY, Ty.JSON):
            raise self.fail(
                f"{upper} needs an ARRAY field or a JSON value, but got {_what(target)}", target.pos
            )
        if name == "array_length":
            return BLength(Ty.INT, target, pos=node.pos, desc=f"{upper}({target.desc})")
        arg = self.bind(node.args[1])
        if not isinstance(arg, BConst) or arg.value is None:
            raise self.fail(f"the second argument of {upper} must be a constant", arg.pos)
        single = not name.endswith(("_all", "_any"))
        if single:
            items = [arg.value]
        elif isinstance(arg.value, list):
            items = arg.value
        else:
            raise self.fail(f"the second argument of {upper} must be a list, like [1, 2]", arg.pos)
        if isinstance(target, BColumn) and target.elem is not None:
            elem = BConst(target.elem, None, desc=f"an element of {target.desc}")
            for item in items:
                probe = const_node(item, arg.pos)
                if not self._comparable("==", elem, probe) or probe.ty is Ty.NULL:
                    raise self.fail(
                        f"{upper}: {target.desc} holds {target.elem.value} values, "
                        f"which cannot be compared with {probe.desc}",
                        arg.pos,
                    )
        return BContains(Ty.BOOL, target, items, name.endswith("_all"), pos=node.pos, desc=f"{upper}(...)")


def _what(b: B) -> str:
    """Describe a bound node for an error message, with its type when the description lacks it."""
    if isinstance(b, (BColumn, BElem, BJson, BConst)):
        return b.desc
    return f"{b.desc} (a {b.ty.value} value)"


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _like_const(s: Any, pattern: str) -> bool | None:
    if not isinstance(s, str):
        return None
    return bool(pc.match_like(pa.array([s]), pattern)[0].as_py())


def pk_values(root: B, pk_name: str, pk_dtype: DataType | None) -> list[Any] | None:
    """The keys of a filter that is exactly `pk == v`, `pk in [...]`, or an `or` of those; else None."""
    terms = root.operands if isinstance(root, BLogic) and root.op == "or" else [root]
    found: list[Any] = []
    for t in terms:
        if isinstance(t, BCompare) and t.op == "==":
            sides = (t.left, t.right)
            col = next((s for s in sides if isinstance(s, BColumn) and s.name == pk_name), None)
            lit = next((s for s in sides if isinstance(s, BConst)), None)
            if col is None or lit is None:
                return None
            found.append(lit.value)
        elif isinstance(t, BIn) and isinstance(t.value, BColumn) and t.value.name == pk_name:
            found.extend(t.items)
        else:
            return None
    out: list[Any] = []
    seen: set[Any] = set()
    for v in found:
        key = _coerce_key(v, pk_dtype)
        if key is not None and (type(key), key) not in seen:
            seen.add((type(key), key))
            out.append(key)
    return out


def _coerce_key(v: Any, dtype: DataType | None) -> Any:
    if dtype is None:
        return v
    if dtype in INTEGER_TYPES:
        if isinstance(v, bool):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return v if isinstance(v, int) and V.INT64_MIN <= v <= V.INT64_MAX else None
    if dtype == DataType.VARCHAR:
        return v if isinstance(v, str) else None
    return v
