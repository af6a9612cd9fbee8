"""Engine extensions for watching a database that other processes write: change tokens, the writer.

`change_token()` is cheap (a `PRAGMA data_version`, a catalog read only when it moved, and a
look at each log's header), so an app can poll it a few times a second and refresh its views
when it changes; `write_lock_holder()` says which process is writing right now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.database import Database


class LiveMixin:
    """Mixed into MilvusClient; relies on its `db` and `_db_name` (the current database)."""

    _db_name: str

    @property
    def db(self) -> Database:  # provided by MilvusClient
        raise NotImplementedError

    def change_token(self, collection_name: str | None = None) -> str:
        """An opaque value that changes whenever the collection's data changes (committed or acknowledged,
        by any process), or, without a name, whenever collections are created, dropped, renamed or altered."""
        db = self.db
        if collection_name is None:
            with db.catalog.read() as tx:
                rows = tx.all("select id, name, version from collections where state = 'active' order by id")
            return ";".join(f"{r['id']}:{r['name']}:{r['version']}" for r in rows)
        coll = db.get(collection_name, self._db_name)
        return coll.change_token()

    def write_lock_holder(self) -> dict[str, Any] | None:
        """The process writing to this database now: `{"pid", "program", "since"}`, or None."""
        return self.db.write_holder()
