"""Collection properties: `alter_collection_properties` / `drop_collection_properties`.

Milvus's keys are checked and honoured or refused by `engine.collection_props` (the table there and in
docs/engine.md). The engine's storage settings are properties with documented `engine.*` keys (see
docs/storage.md): `engine.seal_rows`, `engine.seal_bytes`, `engine.max_segment_bytes` and
`engine.purge_deleted_ratio`, checked here. Other processes pick a change up at their next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import collection_admin as admin_ops
from engine import collection_props as cp
from engine.client.time_args import check_timezone_property
from engine.client.validation import check_consistency
from engine.collection import SETTING_KEYS
from engine.errors import MilvusException, ParamError, UnsupportedError, brief
from engine.namespaces import parse_bool
from engine.schema_evolution import alter_collection

if TYPE_CHECKING:
    from engine.collection import Collection
    from engine.schema import CollectionSchema


def check_engine_properties(props: dict[str, Any]) -> dict[str, Any]:
    """Validate `engine.*` keys (type and range) and `timezone`; return the properties with values normalised."""
    check_timezone_property(props)
    out = dict(props)
    for key, value in props.items():
        if not isinstance(key, str):
            raise ParamError(f"property keys must be strings, got {key!r}")
        if not key.startswith("engine."):
            continue
        if key not in SETTING_KEYS:
            raise ParamError(f"unknown engine property {key!r}; the engine knows {sorted(SETTING_KEYS)}")
        _attr, kind, lo, hi = SETTING_KEYS[key]
        try:
            if isinstance(value, bool):
                raise ValueError
            v = kind(value)
            if kind is int and isinstance(value, float) and value != int(value):
                raise ValueError
        except (TypeError, ValueError):
            raise ParamError(f"property {key!r} must be a {kind.__name__}, got {value!r}") from None
        if not lo <= v <= hi:
            raise ParamError(f"property {key!r} = {v!r} is out of range [{lo}, {hi}]")
        out[key] = v
    return out


def check_collection_properties(props: dict[str, Any], schema: CollectionSchema) -> dict[str, Any]:
    """Every key checked (`engine.*` and Milvus's), values as stored."""
    if not isinstance(props, dict):
        raise ParamError(f"properties must be a dict, got {type(props).__name__} {brief(props, 80)}")
    checked = check_engine_properties(props)
    has_key = any(f.is_partition_key for f in schema.fields)
    return cp.check_milvus_properties(checked, partition_key=has_key, auto_id=schema.primary_field.auto_id)


class PropertiesMixin:
    """Mixed into MilvusClient; relies on its `_coll`."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def alter_collection_properties(self, collection_name: str, properties: dict[str, Any],
                                    timeout: float | None = None, **kwargs: Any) -> None:
        """Set properties (see docs/engine.md, "Collection properties"); all are checked before any is set."""
        if kwargs:
            raise ParamError(f"alter_collection_properties does not take {sorted(kwargs)}")
        if not isinstance(properties, dict) or not properties:
            raise ParamError(f"properties must be a non-empty dict, got {brief(properties, 80)}")
        coll = self._coll(collection_name)
        checked = check_collection_properties(properties, coll.schema)
        enable_dynamic = False
        if cp.DYNAMIC in checked:
            if len(checked) != 1:
                raise ParamError("cannot alter dynamic schema with other properties at the same time")
            if not parse_bool(cp.DYNAMIC, checked.pop(cp.DYNAMIC)):
                if coll.schema.enable_dynamic_field:
                    raise UnsupportedError(f"{cp.DYNAMIC}=false is not supported: the engine cannot drop a "
                                           "collection's dynamic field and the keys stored in it")
                return  # already without a dynamic field: nothing to change
            enable_dynamic = not coll.schema.enable_dynamic_field
        description = checked.pop(cp.DESCRIPTION, None)
        consistency = checked.pop(cp.CONSISTENCY, None)
        if consistency is not None:
            consistency = check_consistency(int(consistency) if consistency.isdigit() else consistency)
        if cp.ISOLATION in checked:
            self._check_isolation_change(coll, parse_bool(cp.ISOLATION, checked[cp.ISOLATION]))
        alter_collection(coll, {**coll.properties, **checked}, description=description, consistency=consistency,
                         enable_dynamic=enable_dynamic, timeout=timeout)

    def drop_collection_properties(self, collection_name: str, property_keys: list[str],
                                   timeout: float | None = None, **kwargs: Any) -> None:
        """Remove properties (keys that are not set are no error); TTL removed means rows no longer expire."""
        if kwargs:
            raise ParamError(f"drop_collection_properties does not take {sorted(kwargs)}")
        keys = set(cp.check_dropped_keys(property_keys))
        coll = self._coll(collection_name)
        if cp.ISOLATION in keys:
            self._check_isolation_change(coll, False)
        props = {k: v for k, v in coll.properties.items() if k not in keys}
        admin_ops.set_properties(coll, props, timeout)

    @staticmethod
    def _check_isolation_change(coll: Collection, new: bool) -> None:
        """Milvus refuses switching partition key isolation while a vector index exists."""
        old = parse_bool(cp.ISOLATION, str(coll.properties.get(cp.ISOLATION, "false")))
        vector_fields = {f.name for f in coll.schema.fields if f.is_vector}
        if new != old and any(s.field in vector_fields for s in coll.indexes.specs()):
            raise MilvusException("can not alter partition key isolation mode if the collection already has a "
                                  "vector index. Please drop the index first")
