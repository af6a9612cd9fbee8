"""How `MilvusClient` calls treat a collection in partition key mode (see `engine.partition_keys`).

Writes name no partition: each row goes where its key hashes to. Reads name no partition: a filter
that pins the key reads only the partitions its values hash to. Naming partitions, and the calls that
manage partitions by name, are refused with Milvus's messages. With `partitionkey.isolation`, a search
filter must pin one key with `==`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import collection_props as cp
from engine import partition_keys as pk
from engine.namespaces import parse_bool

if TYPE_CHECKING:
    from engine.collection import Collection


def in_key_mode(coll: Collection) -> bool:
    return pk.key_field(coll.schema) is not None


def refuse_in_key_mode(coll: Collection, what: str) -> None:
    """Milvus refuses creating, dropping, loading and releasing partitions by name in partition key mode."""
    key = pk.key_field(coll.schema)
    if key is not None:
        raise pk.PartitionKeyModeError(f"disable {what} if partition key mode is used "
                                       f"(collection {coll.name!r}, partition key {key.name!r})")


class KeyModeMixin:
    """Mixed into MilvusClient; relies on its `_check_partitions`."""

    def _check_partitions(self, coll: Collection, names: Any) -> list[str] | None:  # provided by PartitionsMixin
        raise NotImplementedError

    def _write_partition(self, coll: Collection, partition: str, named: bool) -> str:
        """The partition a write goes to: `partition`, or the key routing in partition key mode."""
        if not in_key_mode(coll):
            return partition
        if named:
            raise pk.PartitionKeyModeError(pk.MANUAL)
        return pk.ROUTED

    def _read_partitions(self, coll: Collection, names: Any, flt: str | None,
                         params: dict[str, Any] | None) -> list[str] | None:
        """The partitions a read covers: those named, or in partition key mode those the filter can match."""
        if not in_key_mode(coll):
            return self._check_partitions(coll, names)
        if names:
            raise pk.PartitionKeyModeError(pk.MANUAL)
        return pk.prune(coll.schema, coll.partitions(), flt, params)

    @staticmethod
    def _check_isolation(coll: Collection, flt: str | None, params: dict[str, Any] | None) -> None:
        """With `partitionkey.isolation` on, a search filter must pin exactly one key with `==`."""
        value = coll.properties.get(cp.ISOLATION)
        if value is not None and parse_bool(cp.ISOLATION, str(value)):
            pk.check_isolation_filter(coll.schema, flt, params)
