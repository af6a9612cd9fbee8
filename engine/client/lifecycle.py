"""`truncate_collection` and `add_collection_field` calls of `MilvusClient`.

`truncate_collection` removes every row in one catalog transaction and keeps the collection itself: its
schema, properties, indexes, partitions, aliases and load state (`Collection.truncate`; a crash leaves
all the rows or none). `add_collection_field` adds a nullable scalar field (`engine.schema_evolution`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ParamError
from engine.schema import FieldSchema, check_name
from engine.schema_evolution import add_field
from engine.types import VECTOR_TYPES, DataType

if TYPE_CHECKING:
    from engine.collection import Collection


class LifecycleMixin:
    """Mixed into MilvusClient; relies on its `_coll`."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def truncate_collection(self, collection_name: str, timeout: float | None = None, **kwargs: Any) -> None:
        """Delete every row of the collection (or of the collection an alias names), keeping everything else."""
        self._coll(collection_name).truncate(timeout)

    def add_collection_field(self, collection_name: str, field_name: str, data_type: DataType, desc: str = "",
                             timeout: float | None = None, **kwargs: Any) -> None:
        """Add a field to an existing collection: a scalar with `nullable=True`, optionally a `default_value`.

        Rows stored before it read as the default value, or null; see docs/engine.md."""
        coll = self._coll(collection_name)
        check_name(field_name, "field name")
        try:
            dtype = DataType(int(data_type))
        except (TypeError, ValueError):
            raise ParamError(f"data_type: unknown data type {data_type!r}") from None
        if dtype in VECTOR_TYPES and not kwargs.get("nullable", False):
            raise ParamError("Adding vector field to existing collection requires nullable=True")
        f = FieldSchema.build(field_name, dtype, description=desc, **kwargs)
        add_field(coll, f, timeout)
