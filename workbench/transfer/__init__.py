"""Moving data: copy a collection between backends; export and import Parquet and JSONL.

Every job is a generator of `TransferProgress` events, so the app can show a progress bar and the CLI
a progress line; the last event has `report` set. Cancel with a `CancelToken` (checked between
batches) or by closing the generator.

    for ev in copy_collection(EmbeddedBackend("photos.db"), open_backend("https://..."), "photos"):
        print(ev.phase, ev.rows_done, ev.rows_total)
    report = ev.report                     # rows copied, schema plan, verification

    report = run(export_collection(backend, "photos", "photos.parquet"))
    report = run(import_collection(backend, "photos.parquet", "photos_copy"))

Copies and imports write into a temporary collection (`<target>__copying_<tag>`,
`<target>__importing_<tag>`) and verify it before the target changes (`staging.py`): live row counts,
and a checksum of each sampled row (or of every row, with `verify="full"`) computed from a canonical
form in which FLOAT values are compared as float32, vectors as their float32 (float16, bytes)
representation, and JSON with sorted keys. A failure before that leaves the target as it was.

Parquet files hold one column per field: vectors as fixed-size lists (FLOAT16 and BFLOAT16 vectors
widened to float32, which is exact), BINARY vectors as fixed-size binary, ARRAY fields as lists,
Arrays of Structs as lists of structs, JSON fields as JSON text, and the dynamic fields as JSON text in
a `$meta` column. The collection's schema and indexes are in the file's metadata
(`milvus.schema`, `milvus.indexes`), so an import recreates the collection exactly; pandas, DuckDB and
Polars read the files as they are.
"""

from __future__ import annotations

from workbench.transfer.arrow_layout import (
    arrow_schema,
    rows_to_table,
    table_to_rows,
)
from workbench.transfer.checksums import (
    canonical_row,
    row_digest,
)
from workbench.transfer.copying import (
    copy_collection,
    map_schema,
    plan_copy,
    verify_copy,
)
from workbench.transfer.exporting import (
    export_collection,
    export_to_file,
)
from workbench.transfer.importing import (
    import_collection,
    infer_schema,
    read_export_schema,
)
from workbench.transfer.progress import (
    DYNAMIC,
    FORMAT_VERSION,
    META_COLLECTION,
    META_FORMAT,
    META_INDEXES,
    META_SCHEMA,
    PARTITION,
    CancelToken,
    SchemaPlan,
    TransferError,
    TransferProgress,
    TransferReport,
    Verification,
    run,
)

__all__ = [
    "CancelToken",
    "DYNAMIC",
    "FORMAT_VERSION",
    "META_COLLECTION",
    "META_FORMAT",
    "META_INDEXES",
    "META_SCHEMA",
    "PARTITION",
    "SchemaPlan",
    "TransferError",
    "TransferProgress",
    "TransferReport",
    "Verification",
    "arrow_schema",
    "canonical_row",
    "copy_collection",
    "export_collection",
    "export_to_file",
    "import_collection",
    "infer_schema",
    "map_schema",
    "plan_copy",
    "read_export_schema",
    "row_digest",
    "rows_to_table",
    "run",
    "table_to_rows",
    "verify_copy",
]
