"""bench_scale.py's fresh processes: spawn to first result and RSS (engine vs hnswlib), the profile of the
engine's open + first search, and the writer of the write-while-searching run.

The spawn/RSS children are plain `python -c` programs holding only what a user would write (imports, open,
search) plus reads of /proc/self/status between the steps; the parent times spawn to the first result from
its side (the child prints a line right after its first result).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import median

ROOT = Path(__file__).resolve().parents[1]
COLL = "scale"
K = 10

_PRELUDE = r"""
import sys, time, json
_t0 = time.perf_counter()
def _mem():
    out = {}
    for line in open('/proc/self/status'):
        k, _, v = line.partition(':')
        if k in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem'):
            out[k] = int(v.split()[0]) * 1024
    out['modules'] = len(sys.modules)
    out['pandas'] = int('pandas' in sys.modules)
    return out
_marks = [('start', 0.0, _mem())]
def _mark(name):
    _marks.append((name, time.perf_counter() - _t0, _mem()))
path, qfile, ef = sys.argv[1], sys.argv[2], int(sys.argv[3])
"""

_ENGINE = r"""
import numpy as np
from engine import MilvusClient
_mark('import')
qs = np.load(qfile)
c = MilvusClient(path)
_mark('open')
def one(q):
    return [h['id'] for h in c.search('__COLL__', data=[q], anns_field='vec', limit=__K__,
                                        search_params={'metric_type': 'COSINE', 'params': {'ef': ef}})[0]]
""".replace("__COLL__", COLL).replace("__K__", str(K))

_HNSWLIB = r"""
import numpy as np
import hnswlib
_mark('import')
qs = np.load(qfile)
c = hnswlib.Index(space='ip', dim=int(qs.shape[1]))
c.load_index(path)
c.set_ef(ef)
_mark('open')
def one(q):
    return c.knn_query(q.reshape(1, -1), k=__K__, num_threads=1)[0][0].tolist()
""".replace("__K__", str(K))

_FINISH = r"""
first = one(qs[0])
_mark('first result')
print('FIRST', flush=True)
for q in qs[1:50]:
    one(q)
_mark('50 queries')
print('DONE ' + json.dumps({'marks': _marks, 'nq': int(min(len(qs), 50)), 'first': first}), flush=True)
"""

CODE = {"engine": _PRELUDE + _ENGINE + _FINISH, "hnswlib": _PRELUDE + _HNSWLIB + _FINISH}

# The engine's open + first search under cProfile (a separate child: the profiler slows it down).
PROFILE_CODE = r"""
import cProfile, pstats, sys, time, io, json
path, qfile, ef = sys.argv[1], sys.argv[2], int(sys.argv[3])
pr = cProfile.Profile()
t0 = time.perf_counter()
pr.enable()
import numpy as np
from engine import MilvusClient
qs = np.load(qfile)
c = MilvusClient(path)
r = c.search('__COLL__', data=[qs[0]], anns_field='vec', limit=__K__, search_params={'metric_type': 'COSINE', 'params': {'ef': ef}})
pr.disable()
wall = time.perf_counter() - t0
st = pstats.Stats(pr)
rows = []
for (file, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
    rows.append([file, line, name, nc, tt, ct])
print('PROFILE ' + json.dumps({'wall_s': wall, 'rows': rows}), flush=True)
""".replace("__COLL__", COLL).replace("__K__", str(K))


PYCACHE: Path | None = None  # set by spawn_runs: where the children keep their bytecode


def _env() -> dict[str, str]:
    """The children's environment: the repository on the path, and bytecode caching ON (an installed engine has
    its .pyc files; with PYTHONDONTWRITEBYTECODE every child would compile the engine's sources again), into
    a private prefix so that nothing is written into the source tree or the virtual environment."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def spawn_once(system: str, path: Path, qfile: Path, ef: int, timeout: float = 600) -> dict[str, Any]:
    """One fresh `python -c` process: wall time from spawn to its first result (seen from here), its marks."""
    cmd = [sys.executable, "-c", CODE[system], str(path), str(qfile), str(ef)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=_env())
    assert p.stdout is not None
    first_s = None
    done: dict[str, Any] | None = None
    for line in p.stdout:
        if line.startswith("FIRST") and first_s is None:
            first_s = time.perf_counter() - t0
        elif line.startswith("DONE "):
            done = json.loads(line[5:])
    _, err = p.communicate(timeout=timeout)
    if first_s is None or done is None:
        raise RuntimeError(f"{system} child failed (rc {p.returncode}): {err[-1000:]}")
    marks = {name: {"t": t, **mem} for name, t, mem in done["marks"]}
    return {"spawn_to_first_s": first_s, "marks": marks, "nq": done["nq"], "first": done["first"]}


def spawn_runs(paths: dict[str, Path], queries: np.ndarray, ef: int, work: Path, runs: int) -> dict[str, Any]:
    """`runs` fresh processes per system, alternating systems; medians per system (the page cache is warm).

    One untimed warm-up process per system first writes the bytecode caches (see `_env`)."""
    global PYCACHE
    PYCACHE = work / "pycache"
    qfile = work / "spawn_queries.npy"
    np.save(qfile, np.ascontiguousarray(queries[:50], dtype=np.float32))
    raw: dict[str, list[dict[str, Any]]] = {s: [] for s in paths}
    names = list(paths)
    for s in names:
        spawn_once(s, paths[s], qfile, ef)
    for r in range(runs):
        for s in (names if r % 2 == 0 else names[::-1]):
            raw[s].append(spawn_once(s, paths[s], qfile, ef))
    out: dict[str, Any] = {}
    for s, rs in raw.items():
        stages = list(rs[0]["marks"])
        out[s] = {
            "runs": len(rs),
            "spawn_to_first_s": median(x["spawn_to_first_s"] for x in rs),
            "spawn_to_first_all": [x["spawn_to_first_s"] for x in rs],
            # inside the child: seconds since its first line of code, and memory, at each step (medians)
            "stages": {st: {k: median(x["marks"][st][k] for x in rs) for k in rs[0]["marks"][st]} for st in stages},
            "first_ids": rs[0]["first"],
        }
    return out


def profile_open(path: Path, queries: np.ndarray, ef: int, work: Path, top: int = 25) -> dict[str, Any]:
    """cProfile of `import engine` + `MilvusClient(path)` + the first search, in a fresh process."""
    qfile = work / "profile_queries.npy"
    np.save(qfile, np.ascontiguousarray(queries[:1], dtype=np.float32))
    p = subprocess.run([sys.executable, "-c", PROFILE_CODE, str(path), str(qfile), str(ef)], capture_output=True,
                       text=True, cwd=str(ROOT), env=_env(), timeout=600)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("PROFILE ")), None)
    if line is None:
        raise RuntimeError(f"profile child failed (rc {p.returncode}): {p.stderr[-1000:]}")
    data = json.loads(line[8:])
    rows = data["rows"]

    def short(file: str, lineno: int, name: str) -> str:
        f = file.replace(str(ROOT) + os.sep, "")
        for marker in ("site-packages" + os.sep, "lib" + os.sep + "python3.11" + os.sep):
            if marker in f:
                f = f.split(marker, 1)[1]
        return f"{f}:{lineno}({name})" if lineno else name

    by_tt = sorted(rows, key=lambda r: -r[4])[:top]
    eng = [r for r in rows if ("engine" + os.sep) in r[0] or r[2] in ("load_index", "crc32")]
    by_ct = sorted(eng, key=lambda r: -r[5])[:top]
    imports = sum(r[5] for r in rows if r[2] == "<module>" and r[0].endswith("engine/__init__.py"))

    def fmt(r: list[Any]) -> list[Any]:
        return [short(r[0], r[1], r[2]), r[3], r[4] * 1000, r[5] * 1000]

    return {"wall_s": data["wall_s"], "import_engine_s": imports, "by_tottime": [fmt(r) for r in by_tt],
            "engine_cumtime": [fmt(r) for r in by_ct]}


# ----------------------------------------------------------------------------- the writer child


def writer_main(argv: list[str]) -> None:
    """`--child-writer DB VECTORS.npy FIRST_ID BATCH`: insert the rows in batches, then flush; JSON events."""
    db, vfile, first_s, batch_s = argv
    from engine import MilvusClient

    x = np.load(vfile)
    first, batch = int(first_s), int(batch_s)
    c = MilvusClient(db)

    def ev(kind: str, **kw: Any) -> None:
        print("EVENT " + json.dumps({"ev": kind, "t": time.time(), **kw}), flush=True)

    ev("start")
    for s in range(0, len(x), batch):
        t0 = time.perf_counter()
        c.insert(COLL, [{"id": first + i, "vec": x[i]} for i in range(s, min(len(x), s + batch))])
        ev("batch", dur=time.perf_counter() - t0, rows=min(len(x), s + batch))
    ev("inserted")
    t0 = time.perf_counter()
    c.flush(COLL)
    ev("flushed", dur=time.perf_counter() - t0,
       segments=[[s.level, s.num_rows] for s in c.list_persistent_segments(COLL)])
    c.close()
    sys.stdout.flush()
    os._exit(0)
