"""Export to Parquet (one file, one per segment, or split by rows) and JSONL."""


from __future__ import annotations

import json
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.backends import (
    BINARY_VECTOR,
    FLOAT16_VECTOR,
    SPARSE_FLOAT_VECTOR,
    Backend,
    Row,
    primary_field,
)
from workbench.transfer.arrow_layout import arrow_schema, rows_to_table
from workbench.transfer.checksums import _binary
from workbench.transfer.progress import (
    PARTITION,
    CancelToken,
    TransferError,
    TransferProgress,
    TransferReport,
    _Clock,
    run,
)
from workbench.transfer.staging import _Cancelled


# --- export ----------------------------------------------------------------------------------------------
def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("parquet", "jsonl"):
            raise TransferError(f"format must be 'parquet' or 'jsonl', not {fmt!r}")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "parquet"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "x"


def _jsonable(row: Row, schema: dict[str, Any]) -> Row:
    """A row for JSONL: binary vectors as hex, float16 vectors as lists, everything else as is."""
    out = dict(row)
    for f in schema["fields"]:
        v = out.get(f["name"])
        if v is None:
            continue
        if f["type"] == BINARY_VECTOR:
            out[f["name"]] = _binary(v).hex()
        elif f["type"] == SPARSE_FLOAT_VECTOR:
            out[f["name"]] = {str(k): x for k, x in dict(v).items()}
        elif isinstance(v, np.ndarray):
            out[f["name"]] = v.tolist()
    return out


def _from_jsonable(row: Row, schema: dict[str, Any]) -> Row:
    for f in schema["fields"]:
        v = row.get(f["name"])
        if v is None:
            continue
        if f["type"] == BINARY_VECTOR and isinstance(v, str):
            row[f["name"]] = bytes.fromhex(v)
        elif f["type"] == SPARSE_FLOAT_VECTOR:
            row[f["name"]] = {int(k): float(x) for k, x in dict(v).items()}
        elif f["type"] == FLOAT16_VECTOR:
            row[f["name"]] = np.asarray(v, dtype=np.float16)
    return row


class _Writer:
    """Writes one export file (Parquet or JSONL) through a temporary name; `commit` renames it."""

    def __init__(self, path: Path, fmt: str, schema: dict[str, Any], arrow: pa.Schema) -> None:
        self.path, self.fmt, self.schema, self.arrow = path, fmt, schema, arrow
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.rows = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._pq = pq.ParquetWriter(self.tmp, arrow)
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8")

    def write(self, rows: list[Row]) -> None:
        if self.fmt == "parquet":
            self._pq.write_table(rows_to_table(rows, self.schema, self.arrow))
        else:
            for r in rows:
                self._fh.write(json.dumps(_jsonable(r, self.schema), ensure_ascii=False, default=str) + "\n")
        self.rows += len(rows)

    def close(self) -> None:
        if self.fmt == "parquet":
            self._pq.close()
        else:
            self._fh.close()

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".schema.json")


def export_collection(
    backend: Backend,
    name: str,
    dest: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    layout: str = "single",
    rows_per_file: int = 100_000,
    batch_size: int = 1000,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Export every live row of `name` to `dest`.

    `layout`: "single" (one file, `dest`), "segments" (a directory `dest` with one file per segment,
    where the backend says which rows are in which segment: the embedded engine does, Milvus does not),
    or "split" (a directory with files of at most `rows_per_file` rows, for any backend). `fmt` is
    "parquet" or "jsonl" (default: from the file name; directories get Parquet). JSONL files get the
    schema in a `<file>.schema.json` sidecar. Files appear only when complete; a cancelled export
    leaves none of its own behind.
    """
    clock = _Clock()
    dest_path = Path(dest).expanduser()
    if layout not in ("single", "segments", "split"):
        raise TransferError(f"layout must be 'single', 'segments' or 'split', not {layout!r}")
    f = _format_of(dest_path, fmt)
    ext = ".parquet" if f == "parquet" else ".jsonl"
    if not backend.has_collection(name):
        raise TransferError(f"no collection {name!r} on {backend.label}")
    schema = backend.schema(name)
    indexes = [i.spec() for i in backend.list_indexes(name)]
    partitions = backend.list_partitions(name)
    partitioned = len(partitions) > 1
    arrow = arrow_schema(schema, indexes, name, partitioned)
    total = backend.count(name)
    report = TransferReport("export", name)
    yield TransferProgress("planning", 0, total, clock(), f"exporting {total} rows of {name!r}")
    done = 0
    writers: list[_Writer] = []
    committed: list[Path] = []

    def new_writer(path: Path) -> _Writer:
        w = _Writer(path, f, schema, arrow)
        writers.append(w)
        return w

    def batches(size: int) -> Iterator[list[Row]]:
        for part in partitions if partitioned else [None]:
            for batch in backend.iter_rows(name, batch_size=size, output_fields=["*"],
                                           partitions=[part] if part else None):
                if part:
                    for r in batch:
                        r[PARTITION] = part
                yield batch

    try:
        if layout == "single":
            dest_path.parent.mkdir(parents=True, exist_ok=True)
            w = new_writer(dest_path)
            for batch in batches(batch_size):
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled
                w.write(batch)
                done += len(batch)
                report.batches += 1
                yield TransferProgress("writing", done, total, clock(), f"{done}/{total} rows")
            if not w.rows and f == "parquet":
                w.write([])
        elif layout == "segments":
            segs = backend.segment_keys(name)
            dest_path.mkdir(parents=True, exist_ok=True)
            pk = primary_field(schema)["name"]
            for view, keys in segs:
                w = new_writer(dest_path / f"segment-{_safe(str(view.segment_id))}{ext}")
                for i in range(0, len(keys), batch_size):
                    if cancel is not None and cancel.cancelled:
                        raise _Cancelled
                    chunk = keys[i:i + batch_size]
                    rows = backend.get(name, chunk, output_fields=["*"])
                    order = {k: j for j, k in enumerate(chunk)}
                    rows.sort(key=lambda r: order.get(r[pk], 0))
                    if partitioned:
                        for r in rows:
                            r[PARTITION] = view.partition or "_default"
                    w.write(rows)
                    done += len(rows)
                    report.batches += 1
                    yield TransferProgress("writing", done, total, clock(),
                                           f"segment {view.segment_id}: {done}/{total} rows")
        else:
            if rows_per_file < 1:
                raise TransferError("rows_per_file must be at least 1")
            dest_path.mkdir(parents=True, exist_ok=True)
            w = None
            for batch in batches(min(batch_size, rows_per_file)):
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled
                while batch:
                    if w is None or w.rows >= rows_per_file:
                        w = new_writer(dest_path / f"part-{len(writers):05d}{ext}")
                    take = batch[: rows_per_file - w.rows]
                    batch = batch[len(take):]
                    w.write(take)
                    done += len(take)
                report.batches += 1
                yield TransferProgress("writing", done, total, clock(), f"{done}/{total} rows")
        for w in writers:
            w.commit()
            committed.append(w.path)
            if f == "jsonl":
                _sidecar(w.path).write_text(json.dumps({"collection": name, "schema": schema, "indexes": indexes},
                                                       indent=2, default=str))
    except (_Cancelled, GeneratorExit, Exception) as e:
        for w in writers:
            if w.path not in committed:
                w.abort()
        if isinstance(e, _Cancelled):
            report.rows, report.cancelled, report.elapsed_s = done, True, clock()
            yield TransferProgress("cancelled", done, total, clock(), "cancelled", report)
            return
        raise
    report.rows, report.files, report.elapsed_s = done, [str(p) for p in committed], clock()
    yield TransferProgress("done", done, total, clock(), report.summary(), report)


def export_to_file(backend: Backend, name: str, dest: str | os.PathLike[str], **options: Any) -> TransferReport:
    """`export_collection` run to its end (what the CLI's `export` command calls)."""
    return run(export_collection(backend, name, dest, **options))


