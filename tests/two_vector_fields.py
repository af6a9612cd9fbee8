"""A collection with two top-level vector fields, made from an ingested multi-view one, for hybrid search
of several fields (Milvus fuses no EmbeddingList (MAX_SIM) request, so `views[embedding]` cannot be one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine import DataType, MilvusClient
from workbench.templates import read_meta, write_meta


def copy_with_two_fields(client: Any, where: Any, src: str, dst: str) -> None:
    """`dst`: each row of `src` (ingested with crops) with its `embedding` and, as `crop`, the embedding of
    its first crop; both COSINE; `src`'s record (model, checkpoint), so queries are embedded with the same model.
    `where`: the Backend or database directory that holds the model records."""
    rows = client.query(src, filter="", output_fields=["id", "folder", "file_name", "path", "embedding", "views"],
                        limit=16384)
    dim = len(rows[0]["embedding"])
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, max_length=64, is_primary=True)
    schema.add_field("folder", DataType.VARCHAR, max_length=256)
    schema.add_field("file_name", DataType.VARCHAR, max_length=256)
    schema.add_field("path", DataType.VARCHAR, max_length=1024)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("crop", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("embedding", index_type="FLAT", metric_type="COSINE")
    index.add_index("crop", index_type="FLAT", metric_type="COSINE")
    client.create_collection(dst, schema=schema, index_params=index)
    client.insert(dst, [{"id": r["id"], "folder": r["folder"], "file_name": r["file_name"], "path": r["path"],
                         "embedding": np.asarray(r["embedding"], dtype=np.float32).tolist(),
                         "crop": np.asarray(r["views"][0]["embedding"], dtype=np.float32).tolist()} for r in rows])
    client.flush(dst)
    client.load_collection(dst)
    meta = read_meta(where, src) or {}
    write_meta(where, dst, meta)
