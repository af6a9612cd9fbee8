"""Alias calls of `MilvusClient` (`create_alias`, `alter_alias`, `drop_alias`, `describe_alias`, `list_aliases`).

They work in the client's current database; the rules are Milvus's (see `engine.aliases`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import aliases
from engine.client.validation import check_lookup_name

if TYPE_CHECKING:
    from engine.database import Database


class AliasesMixin:
    """Mixed into MilvusClient; relies on its `db` and `_db_name`."""

    _db_name: str

    @property
    def db(self) -> Database:  # provided by MilvusClient
        raise NotImplementedError

    def create_alias(self, collection_name: str, alias: str, timeout: float | None = None, **kwargs: Any) -> None:
        """Give collection `collection_name` (a collection's own name, not an alias) the extra name `alias`."""
        aliases.create_alias(self.db, self._db_name, check_lookup_name(collection_name, "collection_name"), alias,
                             timeout)

    def alter_alias(self, collection_name: str, alias: str, timeout: float | None = None, **kwargs: Any) -> None:
        """Move an existing alias to collection `collection_name`, in one commit."""
        aliases.alter_alias(self.db, self._db_name, check_lookup_name(collection_name, "collection_name"), alias,
                            timeout)

    def drop_alias(self, alias: str, timeout: float | None = None, **kwargs: Any) -> None:
        aliases.drop_alias(self.db, self._db_name, check_lookup_name(alias, "alias"), timeout)

    def describe_alias(self, alias: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        """`{"alias": ..., "collection_name": ..., "db_name": ...}`."""
        return aliases.describe_alias(self.db, self._db_name, check_lookup_name(alias, "alias"))

    def list_aliases(self, collection_name: str = "", timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        """`{"aliases": [...], "collection_name": ..., "db_name": ...}` for one collection, or for the database."""
        if collection_name:
            check_lookup_name(collection_name, "collection_name")
        return aliases.list_aliases(self.db, self._db_name, collection_name or "")
