#!/usr/bin/env python
"""Benchmark the embedded engine against raw hnswlib, numpy brute force and Milvus Lite.

    python bench/bench_engine.py [--n 100000 --dim 512 --queries 200 --skip-milvus-lite --skip-1m
                                  --out docs/benchmarks.md]

Everything runs in one process on the same data (cold opens run in fresh subprocesses
of this script, `--child`). The report goes between the engine-bench markers of
`--out` (anything else in that file is kept), the recall-vs-QPS plot beside it.

    python bench/bench_engine.py --report-from results.json [--out docs/benchmarks.md]

rebuilds the report and the plot from the results a run dumped with `--json`, running nothing.

This file is the entry point (arguments, the run's order, outputs); the work lives in
bench/engine_dataset.py (data, ground truth, sweeps), engine_runs.py (numpy, hnswlib, engine runs),
engine_milvus_lite.py, engine_cold_open.py (the `--child` processes), engine_profiles.py,
engine_report.py and engine_results_json.py (the `--json` dump and loading it back).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import EmbeddingGenerator, EmbeddingModel, machine_facts, write_section  # noqa: E402
from bench.engine_cold_open import child_main, cold_open  # noqa: E402
from bench.engine_dataset import EFS, MAXSIM_EFS, MILVUS_EFS, TARGET, Dataset, headline, log  # noqa: E402
from bench.engine_milvus_lite import bench_milvus_lite  # noqa: E402
from bench.engine_profiles import explain_profiles, profile_summary  # noqa: E402
from bench.engine_report import build_report, recall_qps_svg  # noqa: E402
from bench.engine_results_json import jsonable, load_results  # noqa: E402
from bench.engine_runs import (  # noqa: E402
    bench_gaussian,
    bench_large,
    bench_maxsim,
    bench_numpy,
    build_ratio_reps,
    engine_finish,
    profile_engine_build,
    profile_engine_insert,
    run_pair,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--M", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="hnswlib build threads (the engine uses all cores)")
    p.add_argument("--batch", type=int, default=5000, help="insert batch size")
    p.add_argument("--efs", type=lambda s: tuple(int(v) for v in s.split(",")), default=EFS)
    p.add_argument("--skip-milvus-lite", action="store_true")
    p.add_argument("--milvus-lite-n", type=int, default=0, help="rows for Milvus Lite (0 = all)")
    p.add_argument("--milvus-lite-queries", type=int, default=0, help="queries for Milvus Lite sweeps (0 = all)")
    p.add_argument("--milvus-lite-efs", type=lambda s: tuple(int(v) for v in s.split(",")), default=MILVUS_EFS)
    p.add_argument("--milvus-lite-index-timeout", type=float, default=1800)
    p.add_argument("--skip-1m", action="store_true")
    p.add_argument("--large-n", type=int, default=1_000_000)
    p.add_argument("--large-dim", type=int, default=128)
    p.add_argument("--skip-gauss", action="store_true")
    p.add_argument("--gauss-n", type=int, default=50_000)
    p.add_argument("--gauss-dim", type=int, default=256)
    p.add_argument("--skip-maxsim", action="store_true")
    p.add_argument("--maxsim-entities", type=int, default=4000)
    p.add_argument("--maxsim-per-entity", type=int, default=50)
    p.add_argument("--maxsim-dim", type=int, default=128)
    p.add_argument("--maxsim-queries", type=int, default=100)
    p.add_argument("--maxsim-m", type=lambda s: tuple(int(v) for v in s.split(",")), default=(8, 32))
    p.add_argument("--maxsim-ratio", type=float, default=3)
    p.add_argument("--maxsim-efs", type=lambda s: tuple(int(v) for v in s.split(",")), default=MAXSIM_EFS)
    p.add_argument("--build-reps", type=int, default=5, help="alternating engine/hnswlib build repeats")
    p.add_argument("--sweep-reps", type=int, default=3, help="interleaved engine/hnswlib ef-sweep repeats")
    p.add_argument("--build-rep-n", type=int, default=20_000)
    p.add_argument("--cold-runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--svg", type=Path, default=None, help="default: benchmarks-recall-qps.svg beside --out")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the working directory")
    p.add_argument("--json", type=Path, default=None, help="also dump raw results here")
    p.add_argument("--report-from", type=Path, default=None, metavar="JSON",
                   help="run nothing: rebuild the report section (--out) and the plot (--svg) from the results "
                        "a previous run dumped with --json")
    return p.parse_args(argv)


def write_outputs(R: dict[str, Any], args: argparse.Namespace, out_path: Path, svg_path: Path) -> None:
    """The report section into `out_path` and the recall-vs-QPS plot into `svg_path`."""
    report = build_report(R, args, svg_path.name)
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    svg_path.write_text(recall_qps_svg(R, args))
    write_section(out_path, report)


def report_from(json_path: Path, out_path: Path, svg_path: Path) -> dict[str, Any]:
    """Rebuild the report and the plot from a `--json` dump, without running any benchmark."""
    R = load_results(json_path, lambda command: parse_args(shlex.split(command)[2:]))
    R["explanations"] = explain_profiles(R)
    write_outputs(R, R["args"], out_path, svg_path)
    log(f"wrote {out_path} and {svg_path} from {json_path}")
    return R


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        child_main(argv[1:])
        return {}
    args = parse_args(argv)
    t_start = time.perf_counter()
    out_path = Path(args.out)
    svg_path = args.svg or out_path.with_name("benchmarks-recall-qps.svg")
    if args.report_from:
        return report_from(Path(args.report_from), out_path, svg_path)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="engine-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    R: dict[str, Any] = {"errors": [], "profiles": {}, "facts": machine_facts()}
    R["args"] = args
    R["command"] = "python bench/bench_engine.py " + " ".join(argv) if argv else "python bench/bench_engine.py"
    model = EmbeddingModel()
    R["model"] = model.describe()
    from engine.collection import DEFAULT_SEAL_ROWS

    R["default_seal_rows"] = DEFAULT_SEAL_ROWS
    with contextlib.suppress(Exception):
        import engine.index.hnsw as hnsw_mod

        R["hnsw_constants"] = {k: getattr(hnsw_mod, k) for k in ("EXACT_MAX_ROWS", "EXACT_COST_RATIO", "_ADD_BATCH")
                               if hasattr(hnsw_mod, k)}

    R["timings"] = {}

    def section(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as exc:
            traceback.print_exc()
            R["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        finally:
            R["timings"][name] = R["timings"].get(name, 0.0) + time.perf_counter() - t0

    try:
        log(f"data: {args.n:,} × {args.dim} + {args.queries} queries")
        gen = EmbeddingGenerator(args.dim, model, seed=args.seed)
        x = gen.sample(args.n + args.queries, seed=args.seed + 1)
        ds = Dataset(f"{args.n:,} × {args.dim} embedding-like", x[args.queries:], x[: args.queries], args.seed)
        R["dataset"] = ds
        log(f"ground truth in {ds.truth_s:.1f} s")

        R["numpy"] = section("numpy", lambda: bench_numpy(ds, work, args))
        pair = section("hnswlib + engine", lambda: run_pair(ds, work, args))
        R["hnswlib"], R["engine"] = pair if pair else (None, None)
        E = R["engine"]
        if E:
            R["profiles"]["search"] = E.pop("profile_search", None)
            eh = headline(E["sweep"])
            ef = eh["ef"] if eh else args.efs[-1]
            if E.get("filtered") and any(f["recall"] < TARGET for f in E["filtered"].values()):
                bad = min(E["filtered"].items(), key=lambda kv: kv[1]["recall"])
                fs = E["fsearch_fn"]
                R["profiles"]["filtered"] = section("profile filtered", lambda: profile_summary(
                    lambda: [fs(ds.q[i], ef, bad[1]["expr"], None) for i in range(len(ds.q))],
                    f"engine: {len(ds.q)} filtered searches `{bad[1]['expr']}` at ef={ef}"))
            engine_finish(E)
        if not args.skip_milvus_lite:
            R["milvus_lite"] = section("Milvus Lite", lambda: bench_milvus_lite(ds, work, args))
        if E and R["hnswlib"] and args.build_reps:
            log("build ratio repeats")
            R["build_reps"] = section("build repeats", lambda: build_ratio_reps(ds, work, args))
        # profiles for goals that may be missed (cheap; included in the page as details)
        R["profiles"]["build"] = section("profile build", lambda: profile_engine_build(ds, work, args))
        M = R.get("milvus_lite")
        if E and M and E["insert_rows_s"] <= M["insert_rows_s"]:
            R["profiles"]["insert"] = section("profile insert", lambda: profile_engine_insert(ds, work, args))

        # cold opens
        cold: dict[str, Any] = {}
        if E:
            eh = headline(E["sweep"])
            ef = eh["ef"] if eh else args.efs[-1]
            log("cold opens")
            for sysname, res in (("engine", E), ("hnswlib", R["hnswlib"]), ("numpy", R["numpy"]),
                                 ("milvus_lite", R.get("milvus_lite"))):
                if not res:
                    continue
                sef = ef
                if sysname == "milvus_lite":
                    mh = headline(res["sweep"])
                    sef = mh["ef"] if mh else ef
                r = section(f"cold open {sysname}",
                            lambda sysname=sysname, res=res, sef=sef: cold_open(sysname, res["path"], ds.q, sef,
                                                                                 work, args.cold_runs))
                if r:
                    cold[sysname] = r
                    log(f"  {sysname}: open+first {r['open_first_s']:.2f} s, RSS {r['rss_after'] / 2**20:.0f} MiB")
        R["cold"] = cold

        if not args.skip_maxsim:
            log(f"MAX_SIM: {args.maxsim_entities:,} entities × {args.maxsim_per_entity}")
            R["maxsim"] = section("MAX_SIM", lambda: bench_maxsim(work, args))
            if R["maxsim"]:
                R["profiles"]["maxsim"] = R["maxsim"].pop("profile", None)
        if not args.skip_gauss:
            log(f"Gaussian case: {args.gauss_n:,} × {args.gauss_dim}")
            R["gaussian"] = section("Gaussian", lambda: bench_gaussian(work, args))
            if R["gaussian"]:
                R["gaussian"]["engine"].pop("profile_search", None)
        if not args.skip_1m:
            R["large"] = section("1M", lambda: bench_large(work, args))

        R["explanations"] = explain_profiles(R)
        R["total_s"] = time.perf_counter() - t_start
        R["generated"] = time.strftime("%Y-%m-%d %H:%M %Z")
        R["dataset_info"] = vars(ds.summary())
        write_outputs(R, args, out_path, svg_path)
        if args.json:
            Path(args.json).write_text(json.dumps(jsonable(R), indent=1))
        log(f"wrote {out_path} and {svg_path} in {R['total_s'] / 60:.1f} min")
        return R
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
