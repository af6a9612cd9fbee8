"""pymilvus's request objects, read by their public attributes (the engine never imports pymilvus).

Code that changed only its import may still build some objects with pymilvus: `IndexParams` from
`pymilvus.MilvusClient.prepare_index_params()`, `AnnSearchRequest`, an `IndexType` enum as
`index_type`, an `EmbeddingList`. These helpers turn them into the engine's own objects; the
rankers are read by engine/vectors/function_rankers.py and the schema by engine/schema_compat.py.
"""

from __future__ import annotations

from typing import Any

from engine.client.requests import AnnSearchRequest
from engine.errors import ParamError, UnsupportedError, brief
from engine.index_params import IndexParams, index_type_name


def as_index_params(obj: Any) -> Any:
    """`index_params` as the engine's `IndexParams`: a pymilvus `IndexParams` (a list of `IndexParam`s
    with `field_name`, `index_type`, `index_name` and `get_index_configs()`) is copied over."""
    if obj is None or isinstance(obj, IndexParams):
        return obj
    if not isinstance(obj, list) or not all(hasattr(ip, "get_index_configs") and hasattr(ip, "field_name")
                                            for ip in obj):
        raise ParamError(f"index_params must come from prepare_index_params(), got {type(obj).__name__}")
    out = IndexParams()
    for ip in obj:
        configs = dict(ip.get_index_configs())
        index_type = configs.pop("index_type", None) or getattr(ip, "index_type", "") or ""
        metric = configs.pop("metric_type", None)
        out.add_index(ip.field_name, index_type=index_type_name(index_type), index_name=ip.index_name or "",
                      metric_type=metric, params=configs)
    return out


def as_ann_request(obj: Any) -> AnnSearchRequest:
    """An `AnnSearchRequest`, the engine's or pymilvus's (read by `data`, `anns_field`, `param`, `limit`,
    `expr`, `expr_params`)."""
    if isinstance(obj, AnnSearchRequest):
        return obj
    attrs = ("data", "anns_field", "param", "limit", "expr")
    if not all(hasattr(obj, a) for a in attrs):
        raise ParamError(f"hybrid_search: {brief(obj, 80)} is not an AnnSearchRequest")
    return AnnSearchRequest(obj.data, obj.anns_field, obj.param, obj.limit, expr=obj.expr,
                            expr_params=getattr(obj, "expr_params", None))


def check_quick_form_args(schema: Any, dimension: Any, primary_field_name: Any, id_type: Any,
                          vector_field_name: Any, metric_type: Any, auto_id: Any, kwargs: dict[str, Any]) -> None:
    """With `schema=`, pymilvus ignores the quick form's arguments; the engine checks that each one given
    (not left at its default) agrees with the schema, and refuses the call if it does not.

    `metric_type` has no counterpart in a schema (metrics belong to index_params): a non-default one is refused.
    """
    wrong: list[str] = []
    vectors = dict(schema.vector_fields())
    pk = schema.primary_field
    if dimension is not None and not any(f.dim == dimension for f in vectors.values()):
        wrong.append(f"dimension={brief(dimension)} (the schema's vector dims are {[f.dim for f in vectors.values()]})")
    if primary_field_name != "id" and primary_field_name != pk.name:
        wrong.append(f"primary_field_name={brief(primary_field_name)} (the primary key is {pk.name!r})")
    if id_type != "int" and not (id_type in ("string", "str") and pk.dtype.name == "VARCHAR"):
        wrong.append(f"id_type={brief(id_type)} (the primary key is {pk.dtype.name})")
    if vector_field_name != "vector" and vector_field_name not in vectors:
        wrong.append(f"vector_field_name={brief(vector_field_name)} (the vector fields are {sorted(vectors)})")
    if metric_type != "COSINE":
        wrong.append(f"metric_type={brief(metric_type)} (set metrics in index_params)")
    if auto_id is not False and auto_id != pk.auto_id:
        wrong.append(f"auto_id={brief(auto_id)} (the schema's primary key has auto_id={pk.auto_id})")
    if "enable_dynamic_field" in kwargs and kwargs["enable_dynamic_field"] != schema.enable_dynamic_field:
        wrong.append(f"enable_dynamic_field={brief(kwargs['enable_dynamic_field'])} (the schema says "
                     f"{schema.enable_dynamic_field})")
    for key in ("max_length", "description"):
        if key in kwargs:
            wrong.append(f"{key}= (a quick-form argument; set it on the schema)")
    if wrong:
        raise ParamError("create_collection with schema=: " + "; ".join(wrong) + ". pymilvus ignores the quick "
                         "form's arguments with a schema; the engine refuses those that disagree with it")


def collection_properties(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`properties=` of create_collection (a dict); `num_shards` / `shards_num` may only be 1 (one shard)."""
    for key in ("num_shards", "shards_num"):
        if key in kwargs and kwargs[key] != 1:
            raise UnsupportedError(f"create_collection({key}={brief(kwargs[key])}): the engine keeps each collection "
                                   "in one shard; leave it out or pass 1")
    props = kwargs.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ParamError(f"properties must be a dict, got {type(props).__name__} {brief(props)}")
    return dict(props)
