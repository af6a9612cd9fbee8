"""Schema functions: pymilvus's `Function` / `FunctionType`, and the rules of a BM25 function.

A BM25 function reads one VARCHAR field with ``enable_analyzer=True`` and fills one
SPARSE_FLOAT_VECTOR field with the term frequencies of its analyzed text (Milvus's "Full Text
Search"). The output field is filled by the engine: inserting it is refused, and Milvus's rule
that its raw data cannot be read back (`output_fields`) holds too. pymilvus's own `Function`
objects are accepted (read through `to_dict()`), so code needs no change beyond the import.
TEXTEMBEDDING and MINHASH functions are refused, naming them; a RERANK function belongs in
`search(ranker=...)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import SchemaError, UnsupportedError, brief
from engine.types import DataType
from engine.vectors.function_rankers import Function, FunctionType

if TYPE_CHECKING:
    from engine.schema import CollectionSchema, FieldSchema


# One `Function` class serves schema functions (BM25 here) and rerank functions (search(ranker=)),
# as in pymilvus: engine/vectors/function_rankers.py holds it, with pymilvus's checks.
__all__ = ["Function", "FunctionType", "as_function", "validate_functions"]


def as_function(obj: Any) -> Function:
    """An engine `Function` for ours or pymilvus's (read through its `to_dict()`)."""
    if isinstance(obj, Function):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is None:
        raise SchemaError(f"add_function needs a Function, got {type(obj).__name__} {brief(obj, 60)}")
    d = dict(to_dict())
    for key in ("name", "type"):
        if key not in d:
            raise SchemaError(f"function {brief(obj, 60)} has no {key!r}")
    return Function.from_dict(d)


def is_on(f: FieldSchema, flag: str) -> bool:
    """A boolean text parameter (`enable_analyzer`, `enable_match`), stored as Milvus does ("true")."""
    return str(f.params.get(flag, "false")).lower() == "true"


def validate_functions(schema: CollectionSchema) -> None:
    """Milvus's rules for schema functions; marks BM25 outputs `is_function_output`. SchemaError names the fault."""
    from engine.schema import check_name

    names: set[str] = set()
    outputs: dict[str, str] = {}
    for fn in schema.functions:
        check_name(fn.name, "function name")
        if fn.name in names:
            raise SchemaError(f"duplicate function name {fn.name!r}")
        names.add(fn.name)
        if fn.type == FunctionType.RERANK:
            raise SchemaError(f"function {fn.name!r} is a RERANK function: pass it to search(ranker=...), "
                              "not to the schema")
        if fn.type != FunctionType.BM25:
            raise UnsupportedError(f"function {fn.name!r}: {fn.type.name} functions are not supported by the engine; "
                                   "BM25 is")
        if fn.params:
            raise SchemaError(f"BM25 function {fn.name!r} takes no params, got {brief(fn.params)} "
                              "(bm25_k1 and bm25_b are index parameters of the output field)")
        if len(fn.input_field_names) != 1 or len(fn.output_field_names) != 1:
            raise SchemaError(f"BM25 function {fn.name!r} needs exactly one input and one output field, got "
                              f"{fn.input_field_names} -> {fn.output_field_names}")
        src, dst = schema.field(fn.input_field_names[0]), schema.field(fn.output_field_names[0])
        if src is None or dst is None:
            missing = fn.input_field_names[0] if src is None else fn.output_field_names[0]
            raise SchemaError(f"BM25 function {fn.name!r}: field {missing!r} is not in the schema")
        if src.dtype != DataType.VARCHAR or not is_on(src, "enable_analyzer"):
            raise SchemaError(f"BM25 function {fn.name!r}: input field {src.name!r} must be a VARCHAR field with "
                              "enable_analyzer=True")
        if dst.dtype != DataType.SPARSE_FLOAT_VECTOR:
            raise SchemaError(f"BM25 function {fn.name!r}: output field {dst.name!r} must be SPARSE_FLOAT_VECTOR, "
                              f"not {dst.dtype.name}")
        if dst.name in outputs:
            raise SchemaError(f"field {dst.name!r} is the output of two functions ({outputs[dst.name]!r}, {fn.name!r})")
        if dst.nullable or dst.default_value is not None:
            raise SchemaError(f"BM25 output field {dst.name!r} cannot be nullable or have a default value")
        outputs[dst.name] = fn.name
        dst.is_function_output = True
    for f in schema.fields:
        if f.is_function_output and f.name not in outputs:
            raise SchemaError(f"field {f.name!r} is marked as a function output, but no function fills it")


def bm25_functions(schema: CollectionSchema) -> dict[str, tuple[str, str]]:
    """output field -> (function name, input field) of every BM25 function."""
    return {fn.output_field_names[0]: (fn.name, fn.input_field_names[0])
            for fn in schema.functions if fn.type == FunctionType.BM25}


def sparse_index_metric(schema: CollectionSchema, field: FieldSchema, requested: Any) -> str:
    """The metric of a sparse field's index: BM25 on a BM25 output (the only one allowed), else IP."""
    expected = "BM25" if field.name in bm25_functions(schema) else "IP"
    if requested in (None, ""):
        return expected
    if not isinstance(requested, str) or requested.upper() != expected:
        what = "the output of a BM25 function" if expected == "BM25" else "a sparse field filled by you"
        raise SchemaError(f"index on {field.name!r}: metric type {brief(requested)} does not fit {what}; "
                          f"use {expected}")
    return expected
