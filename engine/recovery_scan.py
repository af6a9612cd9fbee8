"""Reading a database directory without opening it: its catalog, its collections' files and logs.

Used by `engine.recovery` (`check_database`, `recover_database`). Nothing here
writes into the database directory: the catalog is copied, with its SQLite
journal files, into a temporary directory and read there (so a damaged or
half-checkpointed catalog is never touched, and SQLite never creates files
beside it), and every other file is opened read-only.

What is found wrong is a `Problem`: the path, a kind, what happened and what it
affects (rows, log records), and whether data is lost by it.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.database import no_opening_here
from engine.errors import CorruptionError, MilvusException
from engine.storage.catalog import SCHEMA_VERSION, Catalog
from engine.storage.layout import unexplained_files
from engine.storage.locks import holder_pid_of
from engine.storage.wal import WalDamage, WalRecord, read_log, scan_legacy_log

# What a problem means for the data: "loss" (rows or records that cannot be recovered, or recovered with a
# doubt the files cannot settle: a name two collections claim, a key live twice), "damage" (a file is wrong but
# no data is lost by it: an index the new database builds again, a lost catalog whose collections the files
# describe, a stray file) or "note" (nothing wrong: what was done and why).
LOSS, DAMAGE, NOTE = "loss", "damage", "note"

SEGMENT_RE = re.compile(r"^seg_(\d{8,})\.arrow$")
DELETES_RE = re.compile(r"^seg_(\d{8,})\.del\.(\d+)$")
INDEX_DIR_RE = re.compile(r"^seg_(\d{8,})\.idx$")
LOG_RE = re.compile(r"^log_(\d{16,})\.wal$")
LEGACY_LOG_RE = re.compile(r"^wal_(\d+)\.log$")


@dataclass
class Problem:
    """One thing found wrong (or worth saying), with the file it concerns."""

    path: str
    kind: str  # e.g. "catalog-missing", "segment-damaged", "log-damaged", "unexplained-file"
    detail: str
    severity: str = LOSS
    rows: int | None = None  # rows affected (None: unknown, or none)
    records: int | None = None  # acknowledged log records affected (None: unknown, or none)

    def line(self) -> str:
        what = []
        if self.rows is not None:
            what.append(f"{self.rows} row(s)")
        if self.records is not None:
            what.append(f"{self.records} log record(s)" if self.records >= 0 else "an unknown number of log records")
        affects = f" [affects {', '.join(what)}]" if what and self.severity != NOTE else ""
        return f"{self.kind}: {self.detail}{affects}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- the catalog -----------------------------------------------------------------------------------------


@dataclass
class CatalogView:
    """Everything the catalog says, read from a private copy (columns of version 1 filled in as version 2)."""

    path: Path
    version: int
    collections: list[dict[str, Any]]
    partitions: dict[int, list[str]]
    indexes: dict[int, list[dict[str, Any]]]
    segments: dict[int, list[dict[str, Any]]]  # collection id -> its sealed segments
    segment_indexes: dict[int, dict[str, dict[str, Any]]]  # segment id -> field -> built index
    intents: set[str]  # files announced in the intent log (relative paths)
    unexplained: list[str]  # data files neither referenced nor announced (relative paths)

    def active(self) -> list[dict[str, Any]]:
        return [c for c in self.collections if c["state"] == "active"]

    def knows(self, cid: int) -> bool:
        return any(int(c["id"]) == cid for c in self.collections)


def read_catalog(root: Path) -> tuple[CatalogView | None, Problem | None]:
    """The catalog of `root` as a `CatalogView`, or None and the problem that makes it unusable."""
    path = root / "catalog.sqlite"
    if not path.exists():
        return None, Problem(str(path), "catalog-missing", f"the catalog {path} is missing", DAMAGE)
    if path.stat().st_size == 0:
        return None, Problem(str(path), "catalog-empty", f"the catalog {path} is an empty file", DAMAGE)
    with tempfile.TemporaryDirectory(prefix="vw-catalog-") as tmp:
        copy = Path(tmp) / "catalog.sqlite"
        try:
            _private_copy(root, path, copy)
            return _read_copy(root, path, copy), None
        except CorruptionError as e:
            text = e.message.replace(str(copy), str(path)).replace(tmp, str(root))
            return None, Problem(str(path), "catalog-damaged", text, DAMAGE)
        except (sqlite3.DatabaseError, MilvusException) as e:
            return None, Problem(str(path), "catalog-damaged", f"the catalog {path} cannot be read: {e}", DAMAGE)


def _private_copy(root: Path, path: Path, copy: Path) -> None:
    """Copy the catalog to `copy`: its files, or, where this process has the database open, through
    SQLite (a second connection of one process shares SQLite's locks and keeps them when it closes; a
    plain copy's descriptor would drop them as it closes, see `engine.database.no_opening_here`)."""
    with no_opening_here(root) as open_here:
        if not open_here:
            for suffix in ("", "-wal", "-journal"):  # never -shm: SQLite rebuilds it from the log
                if (root / f"catalog.sqlite{suffix}").exists():
                    shutil.copyfile(root / f"catalog.sqlite{suffix}", copy.with_name(f"catalog.sqlite{suffix}"))
            return
    src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(str(copy))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _read_copy(root: Path, path: Path, copy: Path) -> CatalogView:
    try:
        conn = sqlite3.connect(str(copy))
        try:
            found = [r[0] for r in conn.execute("pragma integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise CorruptionError(f"the catalog {path} is damaged or is not an SQLite database: {e}", str(path)) from None
    if found != ["ok"]:
        raise CorruptionError(f"the catalog {path} fails SQLite's integrity check: {'; '.join(found[:5])}", str(path))
    catalog = Catalog(copy, create=False)
    try:
        version = catalog.version_on_open
        if version == 0:
            raise CorruptionError(f"{path} is an SQLite database but not an engine catalog (no schema version)",
                                  str(path))
        if version > SCHEMA_VERSION:
            raise CorruptionError(f"the catalog {path} has schema version {version}; this engine reads up to "
                                  f"{SCHEMA_VERSION}: use a newer vector-workbench", str(path))
        if version < SCHEMA_VERSION:
            catalog.create_or_migrate()  # on the private copy: version-1 tables read as version 2
        return _view(root, path, version, catalog)
    finally:
        catalog.close()


def _view(root: Path, path: Path, version: int, catalog: Catalog) -> CatalogView:
    with catalog.read() as tx:
        colls = tx.all("select * from collections order by id")
        parts = tx.all("select collection_id, name from partitions order by created, name")
        idx = tx.all("select * from indexes order by created")
        segs = tx.all("select * from segments where state = 'sealed' order by id")
        built = tx.all("select * from segment_indexes")
        intents = {r["path"] for r in tx.all("select path from pending_files")}
    view = CatalogView(path, version, colls, {}, {}, {}, {}, intents, [])
    for r in parts:
        view.partitions.setdefault(int(r["collection_id"]), []).append(r["name"])
    for r in idx:
        view.indexes.setdefault(int(r["collection_id"]), []).append(r)
    for r in segs:
        view.segments.setdefault(int(r["collection_id"]), []).append(r)
    for r in built:
        view.segment_indexes.setdefault(int(r["segment_id"]), {})[r["field"]] = r
    legacy = {c["id"] for c in colls if c["state"] == "active" and not c["wal_file"]}
    view.unexplained = [p for p in unexplained_files(root, catalog)
                        if not (_legacy_log(p) and int(p.split("/")[1]) in legacy)]
    return view


def _legacy_log(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 4 and parts[2] == "wal" and parts[1].isdigit() and bool(LEGACY_LOG_RE.match(parts[3]))


# --- the files of a collection ------------------------------------------------------------------------------


@dataclass
class CollectionFiles:
    """What a collection directory holds, sorted by kind (nothing is read yet)."""

    directory: Path
    segments: dict[int, Path] = field(default_factory=dict)
    deletes: dict[int, list[tuple[int, Path]]] = field(default_factory=dict)  # segment -> [(lsn, file)], oldest first
    index_dirs: dict[int, Path] = field(default_factory=dict)
    logs: list[tuple[int, Path]] = field(default_factory=list)  # (first lsn, file), by first lsn
    legacy_logs: list[Path] = field(default_factory=list)
    temporary: list[Path] = field(default_factory=list)  # *.tmp: writes that never completed
    unknown: list[Path] = field(default_factory=list)


def list_collection_files(directory: Path) -> CollectionFiles:
    out = CollectionFiles(directory)
    seg_dir, wal_dir = directory / "segments", directory / "wal"
    for p in sorted(seg_dir.iterdir()) if seg_dir.is_dir() else []:
        if p.name.endswith(".tmp"):
            out.temporary.append(p)
        elif (m := SEGMENT_RE.match(p.name)) and p.is_file():
            out.segments[int(m.group(1))] = p
        elif (m := DELETES_RE.match(p.name)) and p.is_file():
            out.deletes.setdefault(int(m.group(1)), []).append((int(m.group(2)), p))
        elif (m := INDEX_DIR_RE.match(p.name)) and p.is_dir():
            out.index_dirs[int(m.group(1))] = p
        else:
            out.unknown.append(p)
    for p in sorted(wal_dir.iterdir()) if wal_dir.is_dir() else []:
        if (m := LOG_RE.match(p.name)) and p.is_file():
            out.logs.append((int(m.group(1)), p))
        elif LEGACY_LOG_RE.match(p.name) and p.is_file():
            out.legacy_logs.append(p)
        elif p.name.endswith(".tmp"):
            out.temporary.append(p)
        else:
            out.unknown.append(p)
    for p in sorted(directory.iterdir()) if directory.is_dir() else []:
        if p.name not in ("segments", "wal", "MAINT.lock"):
            out.unknown.append(p)
    for dels in out.deletes.values():
        dels.sort()
    out.logs.sort()
    return out


# --- logs ---------------------------------------------------------------------------------------------------------


@dataclass
class LogContents:
    """The intact records of one log file, and what is wrong with the rest."""

    path: Path
    start: int  # the first lsn the file is for (from its name; the header's when the name has none)
    records: list[WalRecord]
    header_start: int | None = None
    damage: str | None = None
    affected: int | None = None  # acknowledged records lost (-1: unknown)
    torn_final: bool = False  # a final append that was never acknowledged (not a loss)


def read_log_file(path: Path, start: int) -> LogContents:
    """Read a format-2 log without modifying it (see `engine.storage.wal.read_log`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        return LogContents(path, start, [], damage=f"write-ahead log {path} cannot be opened: {e}", affected=-1)
    try:
        got = read_log(fd, path)
    except WalDamage as e:
        return LogContents(path, start, [], damage=e.message, affected=e.affected)
    finally:
        os.close(fd)
    out = LogContents(path, start, got.records, got.header.start_lsn, torn_final=got.torn_final)
    if got.damage is not None:
        out.damage, out.affected = got.damage.message, got.damage.affected
    return out


def read_legacy_log_file(path: Path) -> LogContents:
    """Read a format-1 log (version-1 databases): its intact records, and whether damage hides more."""
    try:
        records, pos, damaged = scan_legacy_log(path)
    except OSError as e:
        return LogContents(path, 0, [], damage=f"write-ahead log {path} cannot be read: {e}", affected=-1)
    except Exception as e:  # a record whose checksum matches but whose payload does not decode
        return LogContents(path, 0, [], damage=f"write-ahead log {path} (format 1) cannot be decoded: {e}",
                           affected=-1)
    start = records[0].lsn if records else 0
    if damaged:
        return LogContents(path, start, records, damage=f"write-ahead log {path} (format 1) is damaged at byte {pos} "
                           "and intact-looking records follow", affected=-1)
    return LogContents(path, start, records, torn_final=pos < path.stat().st_size)


# --- who is using the directory ------------------------------------------------------------------------------------


def lock_holders(root: Path) -> list[str]:
    """Processes holding the database's write lock or a collection's maintenance lock now (read-only test)."""
    found = []
    for lock in [root / "WRITE.lock", *sorted(root.glob("collections/*/MAINT.lock"))]:
        pid = holder_pid_of(lock)  # (through this process's own descriptor, where it has one)
        if pid is not None:
            found.append(f"pid {pid} holds {lock}")
    return found
