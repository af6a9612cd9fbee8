"""The text keywords of a VARCHAR field: `enable_analyzer`, `enable_match`, `analyzer_params`.

They are kept in the field's type params the way Milvus stores (and `describe_collection`
reports) them: the flags as "true"/"false", `analyzer_params` as JSON text. `check_text_params`
applies Milvus's rules when the schema is validated: VARCHAR fields only, `enable_match` and
`analyzer_params` need `enable_analyzer=True`, and the analyzer must be one this engine has
(engine/fulltext/analyzers.py); nothing is accepted and then ignored.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.errors import SchemaError, UnsupportedError, brief
from engine.fulltext.analyzers import field_analyzer
from engine.types import DataType

if TYPE_CHECKING:
    from engine.schema import FieldSchema

FLAGS = ("enable_analyzer", "enable_match")
TEXT_KEYS = (*FLAGS, "analyzer_params", "multi_analyzer_params")


def _flag(value: Any, key: str, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise SchemaError(f"field {field!r}: {key} must be True or False, got {brief(value)}")


def text_params(field: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The text keywords among `kwargs`, normalised as Milvus stores them."""
    out: dict[str, Any] = {}
    for key in FLAGS:
        if kwargs.get(key) is not None:
            out[key] = _flag(kwargs[key], key, field)
    if kwargs.get("multi_analyzer_params") is not None:
        raise UnsupportedError(f"field {field!r}: multi_analyzer_params (a multi-language analyzer) is not "
                               "supported by the engine; give one analyzer_params")
    value = kwargs.get("analyzer_params")
    if value is not None:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise SchemaError(f"field {field!r}: analyzer_params {brief(value)} is not JSON") from None
        if not isinstance(value, dict):
            raise SchemaError(f"field {field!r}: analyzer_params must be a dict, got {brief(value)}")
        try:
            out["analyzer_params"] = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise SchemaError(f"field {field!r}: analyzer_params {brief(value)} cannot be stored: {e}") from None
    return out


def check_text_params(f: FieldSchema) -> None:
    """Milvus's rules for the text keywords of field `f`; SchemaError/UnsupportedError naming it."""
    given = [k for k in TEXT_KEYS if k in f.params]
    if not given:
        return
    if f.dtype != DataType.VARCHAR:
        raise SchemaError(f"field {f.name!r}: {given} apply to VARCHAR fields only, not {f.dtype.name}")
    if f.params.get("enable_analyzer") != "true":
        needs = [k for k in ("enable_match", "analyzer_params") if k in f.params and f.params[k] != "false"]
        if needs:
            raise SchemaError(f"field {f.name!r}: {needs} need enable_analyzer=True (they work on the analyzer's "
                              "tokens)")
        return
    field_analyzer(f.params, f.name)  # builds it: refuses unsupported analyzers, naming them
