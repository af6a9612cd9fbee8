"""Exact search over rows no index covers yet (growing rows, unindexed sealed segments).

A growing segment keeps what searches derive from its rows (primary keys, vectors, inverse norms) per
inserted batch and hands it to the next snapshot, and COSINE divides by cached inverse norms instead of
normalising stored vectors at every search. These tests hold those shortcuts to a numpy oracle after every
insert and delete, for each float vector type and metric, filtered and not, and check that a snapshot after
an insert reuses its predecessor's blocks instead of rebuilding them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.storage.segment import GrowingSegment

DIM = 8


def bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> the float32 value of its bfloat16 (truncating, as the engine stores bf16 bits)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFF0000)
    return bits.view(np.float32)


def make(client: MilvusClient, dtype: DataType, metric: str) -> None:
    s = client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", dtype, dim=DIM)
    s.add_field("g", DataType.INT64)
    client.create_collection("c", schema=s, properties={"engine.seal_rows": 10_000})
    del metric


def oracle(metric: str, q: np.ndarray, x: np.ndarray, ids: list[int], k: int) -> list[int]:
    if metric == "COSINE":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        s = -(xn @ (q / np.linalg.norm(q)))
    elif metric == "IP":
        s = -(x @ q)
    else:
        s = ((x - q) ** 2).sum(axis=1)
    order = np.lexsort((np.array(ids), s))
    return [ids[i] for i in order[:k]]


@pytest.mark.parametrize("dtype", [DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR])
@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_growing_search_matches_numpy_after_every_write(tmp_path: Path, dtype: DataType, metric: str) -> None:
    rng = np.random.default_rng(7)
    client = MilvusClient(str(tmp_path / "g.db"))
    make(client, dtype, metric)
    live: dict[int, tuple[np.ndarray, int]] = {}
    next_id = 0
    for step in range(14):
        if step % 4 == 3 and live:
            gone = [int(i) for i in rng.choice(sorted(live), size=min(5, len(live)), replace=False)]
            client.delete("c", ids=gone)
            for i in gone:
                live.pop(i)
        else:
            n = int(rng.integers(1, 30))
            vecs = rng.standard_normal((n, DIM)).astype(np.float32)
            if step == 2:
                vecs[0] = 0.0  # a zero vector: cosine 0, never NaN
            if dtype == DataType.FLOAT16_VECTOR:
                vecs = vecs.astype(np.float16).astype(np.float32)
            elif dtype == DataType.BFLOAT16_VECTOR:
                vecs = bf16(vecs)
            rows = []
            for v in vecs:
                value = v.astype(np.float16) if dtype == DataType.FLOAT16_VECTOR else v
                rows.append({"id": next_id, "v": value, "g": next_id % 3})
                live[next_id] = (v, next_id % 3)
                next_id += 1
            if dtype == DataType.BFLOAT16_VECTOR:
                for r in rows:
                    r["v"] = r["v"].astype(np.float32)
            client.insert("c", rows)
        ids = sorted(live)
        x = np.stack([live[i][0] for i in ids])
        q = rng.standard_normal(DIM).astype(np.float32)
        for flt, keep in (("", lambda g: True), ("g == 1", lambda g: g == 1), ("g >= 1", lambda g: g >= 1)):
            sel = [j for j, i in enumerate(ids) if keep(live[i][1])]
            want = oracle(metric, q, x[sel], [ids[j] for j in sel], 5)
            got = client.search("c", data=[q], limit=5, filter=flt, search_params={"metric_type": metric})[0]
            assert [h["id"] for h in got] == want, (step, flt)
    client.close()


def test_a_snapshot_after_an_insert_reuses_the_blocks_of_the_one_before(tmp_path: Path) -> None:
    client = MilvusClient(str(tmp_path / "r.db"))
    client.create_collection("c", dimension=DIM, properties={"engine.seal_rows": 10_000})
    rng = np.random.default_rng(1)
    q = rng.standard_normal(DIM).astype(np.float32)

    def growing() -> GrowingSegment:
        (seg,) = [s.data for s in client.db.get("c").snapshot.segments if isinstance(s.data, GrowingSegment)]
        return seg

    client.insert("c", [{"id": i, "vector": rng.standard_normal(DIM)} for i in range(50)])
    client.search("c", data=[q], limit=3)
    first = growing()
    before = first.vector_blocks("vector")
    client.insert("c", [{"id": 100 + i, "vector": rng.standard_normal(DIM)} for i in range(10)])
    client.search("c", data=[q], limit=3)
    second = growing()
    assert second is not first
    after = second.vector_blocks("vector")
    assert len(after) == len(before) + 1 and all(a is b for a, b in zip(after, before))
    assert second.inverse_norm_blocks("vector")[0] is first.inverse_norm_blocks("vector")[0]
    assert second.pk_column().tolist() == list(range(50)) + list(range(100, 110))
    client.close()


def test_an_unindexed_sealed_segment_is_searched_exactly(tmp_path: Path) -> None:
    """Sealed by flush without an index: one block, cosine from cached inverse norms, same answer as numpy."""
    client = MilvusClient(str(tmp_path / "s.db"))
    s = client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("c", schema=s)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    client.insert("c", [{"id": i, "v": x[i]} for i in range(300)])
    client.flush("c")
    for _ in range(5):
        q = rng.standard_normal(DIM).astype(np.float32)
        got = client.search("c", data=[q], limit=7, search_params={"metric_type": "COSINE"})[0]
        assert [h["id"] for h in got] == oracle("COSINE", q, x, list(range(300)), 7)
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        assert got[0]["distance"] == pytest.approx(float(xn[got[0]["id"]] @ (q / np.linalg.norm(q))), abs=1e-5)
    client.close()
