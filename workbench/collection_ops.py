"""Reading collections: list, describe, stats, export, and search by text or image.

Each function is what one `workbench` command calls. `db` is a database target (see
`workbench.targets`): a `Backend` the caller holds, or an engine directory, `lite:FILE` or
`http(s)://host:port` to open for the call. Every database call goes through the Backend protocol.

Search (`workbench.searching`, re-exported here) embeds the query with the model recorded for the
collection and runs a plain, hybrid, grouping or range search (`workbench.search_modes`); products
collections go to `workbench.product_search` (MAX_SIM over each product's images, the best image and
the others).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.backends import Backend, CapabilityError
from workbench.searching import SearchHit as SearchHit  # search lives there; these names stay importable here
from workbench.searching import _query_vector as _query_vector
from workbench.searching import _split_path as _split_path
from workbench.searching import default_anns_field as default_anns_field
from workbench.searching import search as search
from workbench.targets import (
    DbTarget,
    backend_bytes,
    dir_size,
    ensure_loaded,
    live_count,
    open_target,
    require_collection,
)
from workbench.templates import collection_kind, existing_fields, read_meta, thumbnails_dir

if TYPE_CHECKING:  # (keeps `import workbench.collection_ops` light)
    from workbench.transfer import CancelToken, TransferProgress, TransferReport


def list_collections(db: DbTarget) -> list[dict[str, Any]]:
    """Each collection with its row count, kind and model; `temporary` says what a collection of an
    import or copy that is running or was interrupted is (`<name>__importing_…`, …; None for others)."""
    from workbench.backends import describe_leftover

    with open_target(db, create=False) as backend:
        out = []
        for name in sorted(backend.list_collections()):
            desc = backend.describe_collection(name)
            meta = read_meta(backend, name) or {}
            out.append({
                "name": name,
                "rows": live_count(backend, name),  # None: released on a Milvus server
                "kind": collection_kind(backend, name, desc),
                "model": _model_text(meta),
                "temporary": describe_leftover(name),
            })
        return out


def _model_text(meta: dict[str, Any]) -> str | None:
    from workbench.embedders import EmbedderIdentity

    rec = meta.get("embedder")
    return EmbedderIdentity.from_dict(rec).describe() if rec else None


def _field_summary(desc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in existing_fields(desc).values():
        d: dict[str, Any] = {"name": f.name, "type": f.dtype}
        d.update({k: v for k, v in f.params.items() if k in ("dim", "max_length", "max_capacity")})
        if f.is_primary:
            d["primary"] = True
        if f.nullable:
            d["nullable"] = True
        if f.sub:
            d["fields"] = [dict({"name": s.name, "type": s.dtype},
                                **{k: v for k, v in s.params.items() if k in ("dim", "max_length")})
                           for s in f.sub.values()]
        out.append(d)
    return out


def describe(db: DbTarget, collection: str) -> dict[str, Any]:
    """Schema (fields, sub-fields), kind, and the workbench's record (model, template, options)."""
    with open_target(db, create=False) as backend:
        desc = require_collection(backend, collection)
        meta = read_meta(backend, collection) or {}
        return {
            "name": collection,
            "backend": backend.label,
            "kind": collection_kind(backend, collection, desc),
            "description": desc.get("description", ""),
            "fields": _field_summary(desc),
            "model": _model_text(meta),
            "workbench": meta,
        }


def stats(db: DbTarget, collection: str) -> dict[str, Any]:
    """Row count (live rows, with count(*); None for a released collection on a Milvus server),
    thumbnails on disk, database size, model; segments where the backend lists them (`segments`: None
    elsewhere). `database_bytes` is None for a server."""
    with open_target(db, create=False) as backend:
        require_collection(backend, collection)
        rows = live_count(backend, collection)
        segments = None
        if backend.capabilities.supports("segments"):
            segments = [{"id": str(v.segment_id), "rows": v.num_rows, "state": v.state,
                         "deleted_rows": v.deleted_rows, "bytes": v.size_bytes}
                        for v in backend.segments(collection)]
        thumb_bytes, thumb_count = dir_size(thumbnails_dir(backend, collection))
        meta = read_meta(backend, collection) or {}
        return {"name": collection, "backend": backend.label, "rows": rows, "thumbnails": thumb_count,
                "thumbnail_bytes": thumb_bytes, "database_bytes": backend_bytes(backend),
                "segments": segments, "model": _model_text(meta), "kind": meta.get("kind")}


# --- export ------------------------------------------------------------------------
def export(db: DbTarget, collection: str, dest: str | os.PathLike[str], fmt: str | None = None,
           layout: str = "single", rows_per_file: int | None = None, *, batch_size: int = 1000,
           cancel: CancelToken | None = None,
           on_progress: Callable[[TransferProgress], None] | None = None) -> TransferReport:
    """Export every row (vectors included) to Parquet or JSONL (`workbench.transfer.export_collection`).

    `fmt`: "parquet" or "jsonl" (default: from the file name). `layout`: "single" (the file `dest`),
    "segments" (a directory with one file per segment, where the backend tells which rows are in which)
    or "split" (a directory of files of at most `rows_per_file` rows).
    """
    from workbench.transfer import export_collection, run

    with open_target(db, create=False) as backend:
        require_collection(backend, collection)
        reason = backend.capabilities.why_not("segment_export") if layout == "segments" else None
        if reason:
            raise CapabilityError(f"cannot export {collection!r} from {backend.label} one file per segment: {reason} "
                                  "(--layout split --rows-per-file N)")
        ensure_loaded(backend, collection)
        options: dict[str, Any] = {"fmt": fmt, "layout": layout, "cancel": cancel, "batch_size": batch_size}
        if rows_per_file is not None:
            options["rows_per_file"] = rows_per_file
        return run(export_collection(backend, collection, dest, **options), on_progress)


def export_parquet(db: DbTarget, collection: str, dest: str | os.PathLike[str], batch_size: int = 1000) -> int:
    """Write every row to one Parquet file; return the row count (`export` with fmt="parquet")."""
    return export(db, collection, dest, fmt="parquet", batch_size=batch_size).rows


# --- import and copy ---------------------------------------------------------------
def import_file(db: DbTarget, src: str | os.PathLike[str], collection: str | None = None, mode: str = "create",
                primary_key: str | None = None, *, batch_size: int = 1000, skip_unsupported: bool = False,
                verify: str = "sample", cancel: CancelToken | None = None,
                on_progress: Callable[[TransferProgress], None] | None = None) -> TransferReport:
    """Import a Parquet or JSONL file (or a directory of them) into `collection`
    (`workbench.transfer.import_collection`: built in a temporary collection, checked as `verify` says,
    then put in place); the name defaults to the one recorded in the export, else the file's name.
    `mode`: "create", "replace" or "append"."""
    from workbench.templates import check_collection_name
    from workbench.transfer import import_collection, run

    name = check_collection_name(collection or recorded_collection_name(src))
    with open_target(db) as backend:
        if mode == "append" and backend.has_collection(name):
            ensure_loaded(backend, name)
        return run(import_collection(backend, src, name, mode=mode, primary_key=primary_key, batch_size=batch_size,
                                     skip_unsupported=skip_unsupported, verify=verify, cancel=cancel), on_progress)


def recorded_collection_name(src: str | os.PathLike[str]) -> str:
    """The collection named in an export (Parquet metadata or JSONL sidecar), else the file's name."""
    import json
    import re

    p = Path(src).expanduser()
    first = p
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in (".parquet", ".jsonl", ".ndjson")
                       and not q.name.startswith("."))
        first = files[0] if files else p
    recorded = ""
    try:
        if first.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            recorded = (pq.read_schema(first).metadata or {}).get(b"milvus.collection", b"").decode()
        elif first.suffix.lower() in (".jsonl", ".ndjson"):
            side = first.with_name(first.name + ".schema.json")
            if side.exists():
                recorded = str(json.loads(side.read_text()).get("collection") or "")
    except (OSError, ValueError):
        recorded = ""
    if recorded:
        return recorded
    stem = re.sub(r"\W+", "_", p.stem if p.is_file() else p.name).strip("_") or "imported"
    return stem if re.match(r"[A-Za-z_]", stem) else f"c_{stem}"


def copy_between(source: DbTarget, target: DbTarget, collection: str, *, target_name: str | None = None,
                 batch_size: int = 1000, if_exists: str = "fail", verify: str = "sample",
                 skip_unsupported: bool = False, keep_partial: bool = False, cancel: CancelToken | None = None,
                 on_progress: Callable[[TransferProgress], None] | None = None) -> TransferReport:
    """Copy `collection` from `source` to `target` (`workbench.transfer.copy_collection`), then the
    workbench's record of it (model, template) and its thumbnails, so the copy can be searched as is."""
    from workbench.templates import check_collection_name
    from workbench.transfer import copy_collection, run

    dest = check_collection_name(target_name or collection)
    with open_target(source, create=False) as src, open_target(target) as dst:
        require_collection(src, collection)
        ensure_loaded(src, collection)
        if if_exists == "append" and dst.has_collection(dest):
            ensure_loaded(dst, dest)
        report = run(copy_collection(src, dst, collection, target_name=dest, batch_size=batch_size,
                                     if_exists=if_exists, skip_unsupported=skip_unsupported, verify=verify,
                                     keep_partial=keep_partial, cancel=cancel), on_progress)
        if report.ok:  # the copy is in place (a cancel or a failed check left the target and its record as they were)
            note = _copy_workbench_files(src, collection, dst, dest)
            if note:
                report.notes.append(note)
        return report


def _copy_workbench_files(src: Backend, name: str, dst: Backend, dest: str) -> str | None:
    """The sidecar record and thumbnails of `name` into the target's workspace. Thumbnails keep their
    folder (rows store paths relative to the workspace, naming the source collection)."""
    import shutil

    from workbench.templates import write_meta

    same = Path(src.workspace).resolve() == Path(dst.workspace).resolve()
    if same and name == dest:
        return None
    meta = read_meta(src, name)
    if meta is None:
        return None
    write_meta(dst, dest, meta)
    thumbs = thumbnails_dir(src, name)
    n = 0
    if thumbs.is_dir() and not same:
        rel = thumbs.relative_to(src.workspace)
        shutil.copytree(thumbs, Path(dst.workspace) / rel, dirs_exist_ok=True)
        n = dir_size(thumbs)[1]
    return f"copied the workbench record of {name!r} (model, template) and {n} thumbnails"
