"""Upgrade a version-1 database (one process at a time, logs without headers) to version 2, in place.

Called once, holding the write lock, right after the catalog's tables were upgraded:

* each collection's format-1 logs (``wal_*.log``) are read, and their records after
  `sealed_lsn` are written to a format-2 log, which the catalog then names; only
  after that commit are the old logs removed;
* segments that version 1 had already replaced (state ``compacted`` or ``dropped``,
  whose files it removed at the next open) are removed with their index files.

Sealed segment files and per-segment index files are read by version 2 as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.storage.catalog import Catalog
from engine.storage.fsutil import fsync_dir
from engine.storage.wal import WriteAheadLog, encode_batch, read_legacy_log, wal_name


def legacy_logs_pending(root: Path, catalog: Catalog) -> bool:
    """Whether a collection still has format-1 logs to convert (an upgrade was interrupted, or not run)."""
    with catalog.read() as tx:
        if tx.row("select 1 from segments where state not in ('sealed')") is not None:
            return True
        ids = [r["id"] for r in tx.all("select id from collections where state = 'active' and wal_file is null")]
    return any(any((root / "collections" / str(i) / "wal").glob("wal_*.log")) for i in ids)


def migrate_v1_logs(root: Path, catalog: Catalog) -> None:
    with catalog.read() as tx:
        colls = tx.all("select id, sealed_lsn, wal_file from collections where state = 'active'")
        stale = tx.all("select id, collection_id, file from segments where state != 'sealed'")
    for r in stale:
        seg_dir = root / "collections" / str(r["collection_id"]) / "segments"
        (seg_dir / r["file"]).unlink(missing_ok=True)
        shutil.rmtree(seg_dir / f"{Path(r['file']).stem}.idx", ignore_errors=True)
        with catalog.transaction() as tx:
            tx.execute("delete from segment_indexes where segment_id = ?", [r["id"]])
            tx.execute("delete from segments where id = ?", [r["id"]])
    for c in colls:
        if c["wal_file"]:
            continue
        wal_dir = root / "collections" / str(c["id"]) / "wal"
        old = sorted(wal_dir.glob("wal_*.log")) if wal_dir.is_dir() else []
        sealed = int(c["sealed_lsn"] or 0)
        records = [rec for path in old for rec in read_legacy_log(path) if rec.lsn > sealed]
        name = wal_name(sealed + 1)
        wal_dir.mkdir(parents=True, exist_ok=True)
        with catalog.transaction() as tx:
            tx.add_intent(f"collections/{c['id']}/wal/{name}", c["id"], "migration", "WRITE")
        log = WriteAheadLog.create(wal_dir / name, sealed + 1)
        for rec in records:
            if rec.batch is not None:
                log.append_batch(rec.lsn, rec.kind, rec.partition, rec.batch)
            else:
                log.append_delete(rec.lsn, list(rec.pks or []))
        log.close()
        fsync_dir(wal_dir)
        with catalog.transaction() as tx:
            tx.update("collections", "id = ?", [c["id"]], {"wal_file": name})
            tx.bump_version(c["id"])
            tx.drop_intents([f"collections/{c['id']}/wal/{name}"])
        for path in old:
            path.unlink()
        fsync_dir(wal_dir)


__all__ = ["encode_batch", "migrate_v1_logs"]
