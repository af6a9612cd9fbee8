"""Stateful property test of the storage layer against a plain dict model.

Hypothesis drives random sequences of inserts (with nullable, defaulted and
dynamic fields), upserts, deletes by id and by `id in [...]` filter, flushes,
compactions, close-and-reopen, and partition creation, inserts and drops. After every step
the collection must equal the model exactly: every row field by field (vectors
to 1e-6), each row in its partition, count(*) and get_collection_stats, and a
COSINE search over everything must give the brute-force numpy top-k (to 1e-5).

STORAGE_EXAMPLES / STORAGE_STEPS scale the run (defaults 40 / 25).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine import DataType, MilvusClient

# An exception in an engine thread (the background index builder) is a bug too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


C = "props"
DIM = 4
SEAL_ROWS = 7  # seal every few rows, so data keeps moving from the WAL into segments
MAX_PK = 80
PARTITION_POOL = ("pa", "pb")
DYN_KEYS = ("color", "k", "tags")

Row = dict[str, Any]


def vector(seed: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    if not np.any(v):
        v[0] = 1
    return [float(x) for x in v]


ABSENT = object()

# One user row minus its primary key: (vector seed, n, s, d, dynamic fields); ABSENT leaves a field out.
row_parts = st.tuples(
    st.integers(0, 2**32 - 1),
    st.one_of(st.just(ABSENT), st.none(), st.integers(-(2**31), 2**31 - 1)),
    st.one_of(st.just(ABSENT), st.none(), st.text(max_size=6)),
    st.one_of(st.just(ABSENT), st.none(), st.integers(-1000, 1000)),
    st.dictionaries(st.sampled_from(DYN_KEYS), st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans()),
                    max_size=2),
)


def build_row(pk: int, parts: tuple[Any, ...]) -> tuple[Row, Row]:
    """(row to insert, row as query(output_fields=["*"]) must return it)."""
    seed, n, s, d, dyn = parts
    given: Row = {"id": pk, "vec": vector(seed)}
    for name, v in (("n", n), ("s", s), ("d", d)):
        if v is not ABSENT:
            given[name] = v
    given.update(dyn)
    stored: Row = {
        "id": pk,
        "vec": vector(seed),
        "n": None if n is ABSENT else n,
        "s": None if s is ABSENT else s,
        "d": 7 if d is ABSENT or d is None else d,
        **dyn,
    }
    return given, stored


class StorageMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="storage-props-"))
        self.path = self.dir / "p.db"
        self.client = MilvusClient(str(self.path))
        schema = self.client.create_schema(enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("n", DataType.INT32, nullable=True)
        schema.add_field("s", DataType.VARCHAR, max_length=32, nullable=True)
        schema.add_field("d", DataType.INT64, default_value=7)
        ip = self.client.prepare_index_params()
        ip.add_index("vec", index_type="FLAT", metric_type="COSINE")  # exact, so the oracle's top-k is the answer
        self.client.create_collection(C, schema=schema, index_params=ip)
        self.client.alter_collection_properties(C, {"engine.seal_rows": SEAL_ROWS})
        self.model: dict[int, tuple[str, Row]] = {}  # pk -> (partition, stored row)
        self.partitions = ["_default"]
        self.step = 0

    def teardown(self) -> None:
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers -----------------------------------------------------------
    def live_in(self, partition: str) -> list[int]:
        return sorted(k for k, (p, _) in self.model.items() if p == partition)

    # --- rules -------------------------------------------------------------
    @rule(data=st.data())
    def insert(self, data: st.DataObject) -> None:
        partition = data.draw(st.sampled_from(self.partitions), label="partition")
        free = [k for k in range(MAX_PK) if k not in self.model]
        if not free:
            return
        pks = data.draw(st.lists(st.sampled_from(free), min_size=1, max_size=8, unique=True), label="pks")
        pairs = [build_row(pk, data.draw(row_parts, label=f"row {pk}")) for pk in pks]
        res = self.client.insert(C, [g for g, _ in pairs], partition_name=partition)
        assert res == {"insert_count": len(pks), "ids": pks, "cost": 0}
        for pk, (_, stored) in zip(pks, pairs):
            self.model[pk] = (partition, stored)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def insert_with_a_live_key_replaces_it(self, data: st.DataObject) -> None:
        live = data.draw(st.sampled_from(sorted(self.model)), label="live pk")
        free = [k for k in range(MAX_PK) if k not in self.model]
        others = data.draw(st.lists(st.sampled_from(free), max_size=4, unique=True), label="fresh pks") if free else []
        pks = data.draw(st.permutations([*others, live]), label="order")
        pairs = [build_row(pk, data.draw(row_parts, label=f"row {pk}")) for pk in pks]
        partition = self.model[live][0]
        res = self.client.insert(C, [g for g, _ in pairs], partition_name=partition)
        assert res == {"insert_count": len(pks), "ids": list(pks), "cost": 0}
        for pk, (_, stored) in zip(pks, pairs):
            self.model[pk] = (partition, stored)

    @rule(data=st.data())
    def upsert(self, data: st.DataObject) -> None:
        partition = data.draw(st.sampled_from(self.partitions), label="partition")
        here = self.live_in(partition)
        free = [k for k in range(MAX_PK) if k not in self.model]
        old = data.draw(st.lists(st.sampled_from(here), max_size=5, unique=True), label="old") if here else []
        new = data.draw(st.lists(st.sampled_from(free), max_size=3, unique=True), label="new") if free else []
        pks = old + new
        if not pks:
            return
        pairs = [build_row(pk, data.draw(row_parts, label=f"row {pk}")) for pk in pks]
        res = self.client.upsert(C, [g for g, _ in pairs], partition_name=partition)
        assert res["upsert_count"] == len(pks)
        for pk, (_, stored) in zip(pks, pairs):
            self.model[pk] = (partition, stored)

    @rule(pks=st.lists(st.integers(0, MAX_PK + 5), min_size=1, max_size=10))
    def delete_ids(self, pks: list[int]) -> None:
        expected = len({k for k in pks if k in self.model})
        assert self.client.delete(C, ids=pks) == {"delete_count": expected, "cost": 0}
        for k in pks:
            self.model.pop(k, None)

    @rule(pks=st.lists(st.integers(0, MAX_PK + 5), min_size=1, max_size=10, unique=True))
    def delete_by_filter(self, pks: list[int]) -> None:
        expected = len([k for k in pks if k in self.model])
        assert self.client.delete(C, filter=f"id in {pks}") == {"delete_count": expected, "cost": 0}
        for k in pks:
            self.model.pop(k, None)

    @rule()
    def flush(self) -> None:
        self.client.flush(C)

    @rule(size=st.sampled_from([500, 2_000, 10_000]))
    def compact(self, size: int) -> None:
        self.client.alter_collection_properties(C, {"engine.max_segment_bytes": size})
        self.client.compact(C)

    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = MilvusClient(str(self.path))
        self.client.alter_collection_properties(C, {"engine.seal_rows": SEAL_ROWS})

    @precondition(lambda self: len(self.partitions) < 1 + len(PARTITION_POOL))
    @rule(data=st.data())
    def create_partition(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([p for p in PARTITION_POOL if p not in self.partitions]), label="name")
        self.client.create_partition(C, name)
        self.partitions.append(name)

    @precondition(lambda self: len(self.partitions) > 1)
    @rule(data=st.data())
    def drop_partition(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.partitions[1:]), label="name")
        self.client.drop_partition(C, name)
        self.partitions.remove(name)
        self.model = {k: v for k, v in self.model.items() if v[0] != name}

    # --- invariants --------------------------------------------------------
    @invariant()
    def rows_equal_the_model(self) -> None:
        rows = self.client.query(C, filter="", limit=10**6, output_fields=["*"])
        got = {r["id"]: r for r in rows}
        assert len(got) == len(rows), "a primary key is returned twice"
        assert sorted(got) == sorted(self.model), (
            f"missing {sorted(set(self.model) - set(got))}, unexpected {sorted(set(got) - set(self.model))}")
        for pk, r in got.items():
            expected = self.model[pk][1]
            assert set(r) == set(expected), (pk, r, expected)
            np.testing.assert_allclose(r["vec"], expected["vec"], atol=1e-6, err_msg=f"id {pk}")
            for k in expected:
                if k != "vec":
                    assert r[k] == expected[k], f"id {pk} field {k}: {r[k]!r} != {expected[k]!r}"
        assert sorted(self.client.list_partitions(C)) == sorted(self.partitions)
        for p in self.partitions:
            ids = [r["id"] for r in self.client.query(C, filter="", limit=10**6, output_fields=["id"],
                                                      partition_names=[p])]
            assert sorted(ids) == self.live_in(p), f"partition {p!r}"

    @invariant()
    def counts_equal_the_model(self) -> None:
        n = len(self.model)
        assert self.client.query(C, filter="id >= 0", output_fields=["count(*)"]) == [{"count(*)": n}]
        assert self.client.get_collection_stats(C) == {"row_count": n}

    @invariant()
    def search_equals_brute_force(self) -> None:
        self.step += 1
        q = np.random.default_rng(self.step).standard_normal(DIM).astype(np.float32)
        k = 10
        hits = self.client.search(C, data=[q.tolist()], limit=k, output_fields=["n"])[0]
        if not self.model:
            assert hits == []
            return
        ids = np.array(sorted(self.model))
        base = np.array([self.model[i][1]["vec"] for i in ids], dtype=np.float64)
        q64 = q.astype(np.float64)
        scores = base @ q64 / (np.linalg.norm(base, axis=1) * np.linalg.norm(q64))
        order = sorted(range(len(ids)), key=lambda j: (-scores[j], ids[j]))[:k]
        assert len(hits) == len(order)
        np.testing.assert_allclose([h["distance"] for h in hits], scores[order], atol=1e-5)
        by_id = dict(zip(ids.tolist(), scores))
        for h in hits:
            assert h["id"] in by_id, f"search returned {h['id']}, which is not live"
            assert abs(h["distance"] - by_id[h["id"]]) <= 1e-5
            assert h["entity"] == {"n": self.model[h["id"]][1]["n"]}
        ranked = sorted(scores, reverse=True)
        for j, o in enumerate(order):  # where the oracle has no near-tie, the ids must match exactly
            near = [ranked[x] for x in (j - 1, j + 1) if 0 <= x < len(ranked)]
            if all(abs(scores[o] - s) > 1e-5 for s in near):
                assert hits[j]["id"] == int(ids[o]), f"rank {j}: {hits[j]['id']} != {int(ids[o])}"


StorageMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("STORAGE_EXAMPLES", "40")),
    stateful_step_count=int(os.environ.get("STORAGE_STEPS", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStorageMachine = StorageMachine.TestCase
