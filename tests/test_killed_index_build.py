"""An index build killed mid-way is reported truthfully and can be built again (issue 10, item 10).

A child process seals 20,000 rows with no index, then builds HNSW and is killed by the `maint.graph`
fault point while the graph is half built. Reopened, the index must not say "InProgress" (nobody
builds it), must count no rows as indexed, and a new build must finish and serve searches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine import MilvusClient

ROOT = Path(__file__).resolve().parent.parent
N, DIM = 20_000, 8  # more than one chunk (engine.maintenance.CHUNK) of vectors per graph

CHILD = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from engine import DataType, MilvusClient
c = MilvusClient(sys.argv[1])
s = c.create_schema()
s.add_field("id", DataType.INT64, is_primary=True)
s.add_field("vec", DataType.FLOAT_VECTOR, dim={DIM})
c.create_collection("c", schema=s)
rng = np.random.default_rng(5)
x = rng.normal(size=({N}, {DIM})).astype(np.float32)
for lo in range(0, {N}, 5000):
    c.insert("c", [{{"id": i, "vec": x[i]}} for i in range(lo, lo + 5000)])
c.flush("c")
print("SEALED", flush=True)
ip = c.prepare_index_params()
ip.add_index("vec", index_type="HNSW", metric_type="L2", params={{"M": 8, "efConstruction": 64}})
c.create_index("c", ip)
print("BUILT", flush=True)
"""


def test_a_killed_index_build_is_not_in_progress_and_builds_again(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    env = {**os.environ, "VECTOR_WORKBENCH_FAULT": "maint.graph:1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, db], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert "SEALED" in proc.stdout and "BUILT" not in proc.stdout

    client = MilvusClient(db)
    assert client.list_indexes("c") == ["vec"]
    state = client.describe_index("c", "vec")
    assert state is not None
    assert state["state"] == "Unissued", state  # not "InProgress": no process is building it
    assert state["indexed_rows"] == 0 and state["total_rows"] == N
    assert client.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"] == N

    client.flush("c")  # builds what is missing
    state = client.describe_index("c", "vec")
    assert state is not None and state["state"] == "Finished" and state["indexed_rows"] == N, state
    x = np.random.default_rng(5).normal(size=(N, DIM)).astype(np.float32)
    hits = client.search("c", data=[x[123].tolist()], limit=1, search_params={"params": {"ef": 64}})[0]
    assert hits[0]["id"] == 123
    client.close()
