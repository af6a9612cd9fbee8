"""How tests/data/v1_library.tar.gz was made: a version-1 database (the engine before storage v2).

Version 1 kept its catalog in schema version 1 (sqlite-utils), its logs as headerless ``wal_*.log``
files, the delete bits of sealed segments inline in the catalog, and segment files that do not
describe themselves. To make it again, with the engine of commit 26b8591 (the last version 1):

    mkdir /tmp/v1 && git archive 26b8591 engine | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1 python tests/data/make_v1_library.py /tmp/v1/v1_library.db
    tar -czf tests/data/v1_library.tar.gz -C /tmp/v1 v1_library.db

The rows it holds are `V1_EXPECTED` in tests/test_recovery.py.
"""

import sys

import numpy as np

from engine import DataType, MilvusClient

DIM = 8


def vec(i: int) -> list[float]:
    v = np.random.default_rng(i).standard_normal(DIM)
    return [float(x) for x in (v / np.linalg.norm(v)).astype(np.float32)]


def row(i: int) -> dict:
    return {"id": i, "vec": vec(i), "tag": f"t{i}"}


def main(db: str) -> None:
    c = MilvusClient(db)
    schema = c.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    ip = c.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 8})
    c.create_collection("c", schema=schema, index_params=ip)
    c.create_partition("c", "p1")
    c.insert("c", [row(i) for i in range(0, 100)])
    c.insert("c", [row(i) for i in range(100, 150)], partition_name="p1")
    c.flush("c")  # two sealed segments
    c.insert("c", [row(i) for i in range(150, 200)])
    c.delete("c", ids=[5, 6, 120])
    c.flush("c")  # a third, and delete bits in the catalog
    c.delete("c", ids=[7, 151])  # in the log only
    c.insert("c", [row(i) for i in range(200, 220)])  # growing rows, in the log only
    c.close()


if __name__ == "__main__":
    main(sys.argv[1])
