"""Schema evolution: `add_collection_field`, a field added to a collection that already holds rows.

Milvus's rules (docs "Add Fields to an Existing Collection", 2.6): the new field is a scalar (BOOL,
integers, FLOAT, DOUBLE, VARCHAR, JSON or ARRAY of scalars) and must be `nullable=True`, so that rows
written before it have a value for it; it may carry a `default_value`. Vector fields, primary keys,
partition keys, auto ids and Array of Structs fields cannot be added, and the name must be new.

The change is one catalog transaction (the collection's stored schema, and its version so every
process re-reads it) made under the write lock. No data file is rewritten: segment files and log
batches written before the change lack the column, and every reader presents them in the current
schema (`engine.storage.segment.conform`): the missing column reads as the field's `default_value`
when it has one, else as null. Rows inserted afterwards may carry the field; filters, output fields and
`describe_collection` see it at once, in this process and (at their next call) in others.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from engine.errors import SchemaError, UnsupportedError
from engine.rows import check_scalar
from engine.schema import CollectionSchema, FieldSchema
from engine.storage.segment import BYTES_KEY, DEFAULT_VALUE_META
from engine.types import DYNAMIC_FIELD, DataType

if TYPE_CHECKING:
    from engine.collection import Collection


def check_new_field(schema: CollectionSchema, f: FieldSchema) -> CollectionSchema:
    """The collection's schema with `f` appended, checked by Milvus's rules; SchemaError naming the field."""
    if schema.field(f.name) is not None:
        raise SchemaError(f"field {f.name!r} already exists in the collection")
    if f.name == DYNAMIC_FIELD:
        raise SchemaError(f"field name {f.name!r} is reserved for the dynamic field")
    if f.is_primary or f.auto_id:
        raise SchemaError(f"field {f.name!r}: a primary key cannot be added to an existing collection")
    if f.is_vector:
        raise UnsupportedError(f"field {f.name!r}: vector fields cannot be added to an existing collection "
                               "(Milvus 2.6 adds scalar fields only)")
    if f.is_struct_array:
        raise UnsupportedError(f"field {f.name!r}: Array of Structs fields cannot be added to an existing collection")
    if f.is_partition_key:
        raise SchemaError(f"field {f.name!r}: a partition key cannot be added to an existing collection")
    if not f.nullable:
        raise SchemaError(f"field {f.name!r}: a field added to an existing collection must be nullable=True, so "
                          "that the rows already stored have a value for it")
    new = CollectionSchema.from_dict(schema.to_dict())
    new.fields.append(f)
    new.validate()
    # keep the ids of the existing fields; the new one gets the next
    for old, kept in zip(schema.fields, new.fields):
        kept.field_id = old.field_id
    new.fields[-1].field_id = max((x.field_id for x in schema.fields), default=99) + 1
    return new


def add_field(coll: Collection, f: FieldSchema, timeout: float | None = None) -> None:
    """Append `f` to the collection's schema in one catalog transaction (write lock held)."""
    with coll.writing(f"add field {f.name!r} to {coll.name!r}", timeout):
        new = check_new_field(coll.schema, f)
        with coll.commit_tx() as tx:
            tx.update("collections", "id = ?", [coll.id], {"schema": new.to_json()})
        coll._sync_locked()


def with_default_values(arrow_schema: pa.Schema, schema: CollectionSchema) -> pa.Schema:
    """`arrow_schema` with each defaulted field's stored default in its metadata (read by `conform`)."""
    fields = []
    for af in arrow_schema:
        f = schema.field(af.name)
        if f is not None and f.default_value is not None and f.dtype not in (DataType.ARRAY,):
            value: Any = check_scalar(f.default_value, f, 0)
            if isinstance(value, bytes):  # GEOMETRY's WKB: JSON has no bytes (read back by segment.conform)
                value = {BYTES_KEY: base64.b64encode(value).decode("ascii")}
            af = af.with_metadata({DEFAULT_VALUE_META: json.dumps(value).encode()})
        fields.append(af)
    return pa.schema(fields, metadata=arrow_schema.metadata)


def alter_collection(coll: Collection, properties: dict[str, Any], *, description: str | None = None,
                     consistency: str | None = None, enable_dynamic: bool = False,
                     timeout: float | None = None) -> None:
    """Replace the properties and change the description, consistency level or dynamic field, in one
    catalog transaction (write lock held); other processes pick it up at their next call."""
    with coll.writing(f"alter properties of {coll.name!r}", timeout):
        values: dict[str, Any] = {"properties": json.dumps(properties)}
        if description is not None or enable_dynamic:
            new = CollectionSchema.from_dict(coll.schema.to_dict())
            if description is not None:
                new.description = description
                values["description"] = description
            if enable_dynamic:
                new.enable_dynamic_field = True
            values["schema"] = new.to_json()
        if consistency is not None:
            values["consistency_level"] = consistency
        with coll.commit_tx() as tx:
            tx.update("collections", "id = ?", [coll.id], values)
        coll._sync_locked()
