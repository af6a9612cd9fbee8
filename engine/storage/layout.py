"""Accounting for every file of a database directory, and finishing what a crashed writer left.

A file is *explained* when the catalog references it (a collection directory, a
segment file, a delete sidecar, an index directory, the current write-ahead log)
or when the intent log (`pending_files`) announces it: a file being written, or
one that a commit made garbage and that is about to be removed. `account_for_files`
lists the directory first and reads the catalog after, so a file created meanwhile
by another process was announced before it was created.

Unexplained data files are never deleted: opening the database refuses, naming
them, because they mean the catalog lost track of data (a damaged or replaced
catalog), and guessing would destroy it.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import CorruptionError
from engine.storage.catalog import Catalog, recovery_advice
from engine.storage.fsutil import fsync_dir, remove_paths

# Top-level entries that are not data (the workbench keeps its sidecars in workbench/).
_TOP_LEVEL = {"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal", "WRITE.lock",
              "LOCK", "collections", "trash", "workbench"}


def _base(name: str) -> str:
    return name[: -len(".tmp")] if name.endswith(".tmp") else name


def explained_paths(catalog: Catalog) -> tuple[set[str], set[str], dict[int, str]]:
    """(referenced paths, announced paths, collection id -> state), all relative to the database root."""
    refs: set[str] = set()
    with catalog.read() as tx:
        colls = {int(r["id"]): r["state"] for r in tx.all("select id, state from collections")}
        for r in tx.all("select id, wal_file from collections where wal_file is not null"):
            refs.add(f"collections/{r['id']}/wal/{r['wal_file']}")
        for r in tx.all("select collection_id, file, del_file from segments"):
            base = f"collections/{r['collection_id']}/segments"
            refs.add(f"{base}/{r['file']}")
            if r["del_file"]:
                refs.add(f"{base}/{r['del_file']}")
        for r in tx.all("select s.collection_id, si.file from segment_indexes si join segments s on s.id = si.segment_id"):
            refs.add(f"collections/{r['collection_id']}/segments/{r['file']}")
        intents = {r["path"] for r in tx.all("select path from pending_files")}
    return refs, intents, colls


def account_for_files(root: Path, catalog: Catalog) -> None:
    """Raise CorruptionError naming every data file that neither the catalog nor its intent log explains."""
    bad = unexplained_files(root, catalog)
    if bad:
        listing = ", ".join(str(root / b) for b in bad[:8]) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
        raise CorruptionError(
            f"{root} holds data files its catalog does not account for: {listing}. The catalog may be damaged, "
            f"replaced or restored from an older copy. {recovery_advice(root)}", str(root / bad[0]))


def unexplained_files(root: Path, catalog: Catalog) -> list[str]:
    """Paths (relative to `root`) of the data files that neither the catalog nor its intent log explains."""
    found = _list_data_files(root)
    refs, intents, colls = explained_paths(catalog)
    known = refs | intents
    known_dirs = {str(Path(p).parent) for p in known} | {str(Path(p).parent.parent) for p in known}
    bad: list[str] = []
    for rel, is_dir in found:
        parts = rel.split("/")
        if len(parts) == 2:  # collections/<id>
            if not parts[1].isdigit() or int(parts[1]) not in colls:
                bad.append(rel)
            continue
        if parts[-1] == "MAINT.lock" and len(parts) == 3:
            continue
        if len(parts) == 3 and parts[2] in ("segments", "wal") and is_dir:
            continue
        if is_dir and parts[-1].endswith(".idx") and not _has_entries(root / rel):
            continue  # an empty index directory (its last index was removed) holds no data
        name = _base(parts[-1])
        candidate = "/".join([*parts[:-1], name])
        if candidate in known or rel in known_dirs or _inside(candidate, known):
            continue
        bad.append(rel)
    # Listed first, the catalog read after: a file another process removed in between (it replaced it, and
    # then dropped its reference and intent) is gone, not unexplained.
    return [rel for rel in bad if (root / rel).exists()]


def _has_entries(path: Path) -> bool:
    try:
        return any(path.iterdir())
    except FileNotFoundError:
        return False


def _inside(candidate: str, known: set[str]) -> bool:
    """Whether `candidate` lies inside a referenced or announced directory (index directories)."""
    p = Path(candidate)
    return any(str(parent) in known for parent in p.parents)


def _list_data_files(root: Path) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    colls = root / "collections"
    if not colls.is_dir():
        return out
    for cdir in _entries(colls):
        out.append((f"collections/{cdir.name}", cdir.is_dir()))
        for sub in _entries(cdir) if cdir.is_dir() else []:
            rel = f"collections/{cdir.name}/{sub.name}"
            out.append((rel, sub.is_dir()))
            if sub.name in ("segments", "wal") and sub.is_dir():
                out += [(f"{rel}/{f.name}", f.is_dir()) for f in _entries(sub)]
    return out


def _entries(path: Path) -> list[Path]:
    """The entries of a directory that other processes may be changing (one that vanished has none)."""
    try:
        return list(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def recover_intents(root: Path, catalog: Catalog) -> None:
    """Finish writes of dead writers (call holding the write lock): remove announced files nobody references.

    Intents held under a collection's maintenance lock are left to that collection's next maintainer,
    which holds the lock and so knows their owner is gone."""
    refs, _, _ = explained_paths(catalog)
    with catalog.read() as tx:
        rows = tx.all("select path, lock from pending_files where lock = 'WRITE'")
    if not rows:
        return
    paths = [root / r["path"] for r in rows if r["path"] not in refs]
    remove_paths(paths)
    for d in {p.parent for p in paths}:
        if d.exists():
            fsync_dir(d)
    with catalog.transaction() as tx:
        tx.drop_intents([r["path"] for r in rows])


def clean_maint_intents(root: Path, catalog: Catalog, collection_id: int) -> None:
    """Remove what a dead maintainer of the collection announced but never committed (hold its MAINT lock)."""
    with catalog.read() as tx:
        rows = tx.all("select path from pending_files where collection_id = ? and lock = 'MAINT'", [collection_id])
    if not rows:
        return
    remove_paths([root / r["path"] for r in rows])
    with catalog.transaction() as tx:
        tx.drop_intents([r["path"] for r in rows])
