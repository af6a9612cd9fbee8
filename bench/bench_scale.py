#!/usr/bin/env python
"""Benchmark the engine as users fill it: default settings, rows in batches of 1,000, many seals and merges,
against ONE raw hnswlib index over the same rows (and Milvus Lite where it fits), in one run (issue 12).

    PYTHONPATH=. python bench/bench_scale.py [--n 300000 --dim 128 --sizes 100000,300000
                                              --rss-n 100000 --rss-dim 512 --parts growth,layers,spawn,write,milvus,rss
                                              --json results.json --out docs/benchmarks.md]
    PYTHONPATH=. python bench/bench_scale.py --n 1000000 --sizes 100000,300000,1000000 ...

Parts (`--parts`, all by default):
  growth  default ingestion through each size of --sizes (the last is --n): insert in --batch-row batches and
          flush (engine) / add_items (one hnswlib index); then interleaved ef sweeps (recall@10 against exact numpy,
          p50/p95) and disk sizes. Gives the ingestion, latency, growth and disk goals.
  layers  where one search's time goes (hnswlib on the engine's graph, HNSWIndex.search, client.search) + cProfile
  spawn   fresh `python -c` processes: spawn → first result, memory after open + 50 queries (engine vs hnswlib)
  write   search p50/p95 here while another process inserts (seals, background merge) vs quiet
  milvus  Milvus Lite with its defaults on the same rows, 3-way interleaved sweep (skipped past --milvus-lite-budget)
  rss     a second data set (--rss-n × --rss-dim): default ingestion, then RSS / spawn / disk in fresh processes

The section goes between `<!-- engine-scale:start/end -->` in --out (other sections are kept), the plots beside it.

    python bench/bench_scale.py --report-from results.json [more.json ...] [--out docs/benchmarks.md]

rebuilds the section from `--json` dumps, running nothing (parts of later files replace those of earlier ones,
so a 100k × 512 RSS run and a 300k × 128 run can make one section; a later file with its own growth run, e.g. a
1M × 128 one, gets a subsection of its own and its own lines in the growth plot).
"""

from __future__ import annotations

import argparse
import json
import os
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
from bench.engine_dataset import EFS, MILVUS_EFS, headline, log  # noqa: E402
from bench.engine_results_json import TIME_FORMAT, jsonable  # noqa: E402
from bench.scale_children import profile_open, spawn_runs, writer_main  # noqa: E402
from bench.scale_report import (  # noqa: E402
    GROWTH_SVG,
    RECALL_SVG,
    SCALE_END,
    SCALE_START,
    build_report,
    growth_svg,
    recall_svg,
)
from bench.scale_runs import (  # noqa: E402
    load_average,
    milvus_lite_run,
    rss_dataset,
    run_growth,
    search_layers,
    write_while_searching,
)

PARTS = ("growth", "layers", "spawn", "write", "milvus", "rss")


def _ints(s: str) -> tuple[int, ...]:
    return tuple(int(v) for v in s.split(",") if v)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300_000, help="rows at the last size")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--sizes", type=_ints, default=None,
                   help="growth checkpoints, ascending (default: 100000 and --n, plus 300000 when --n > 300000)")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--M", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="hnswlib build threads (the engine uses all cores)")
    p.add_argument("--batch", type=int, default=1000, help="rows per insert call")
    p.add_argument("--efs", type=_ints, default=EFS[:-2])
    p.add_argument("--sweep-reps", type=int, default=3)
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--spawn-runs", type=int, default=5)
    p.add_argument("--write-rows", type=int, default=70_000, help="rows the writer inserts (past one seal)")
    p.add_argument("--write-timeout", type=float, default=1200)
    p.add_argument("--milvus-lite-budget", type=float, default=900, help="seconds for Milvus Lite's insert + index")
    p.add_argument("--milvus-lite-efs", type=_ints, default=MILVUS_EFS[:-1])
    p.add_argument("--milvus-lite-queries", type=int, default=100)
    p.add_argument("--rss-n", type=int, default=100_000)
    p.add_argument("--rss-dim", type=int, default=512)
    p.add_argument("--rss-runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the working directory")
    p.add_argument("--json", type=Path, default=None, help="also dump the results here")
    p.add_argument("--report-from", type=Path, nargs="+", default=None, metavar="JSON",
                   help="run nothing: rebuild the section and plots from --json dumps")
    a = p.parse_args(argv)
    if a.sizes is None:
        a.sizes = tuple(s for s in (100_000, 300_000) if s < a.n) + (a.n,)
    a.sizes = tuple(sorted(set(s for s in a.sizes if s <= a.n) | {a.n}))
    bad = set(a.parts.split(",")) - set(PARTS)
    if bad:
        p.error(f"unknown parts {sorted(bad)}")
    return a


def write_outputs(R: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    gpath, rpath = out.with_name(GROWTH_SVG), out.with_name(RECALL_SVG)
    if R.get("growth"):
        gpath.write_text(growth_svg(R))
        rpath.write_text(recall_svg(R))
    write_section(out, build_report(R, gpath.name, rpath.name), start=SCALE_START, end=SCALE_END)


def report_from(paths: list[Path], out: Path) -> dict[str, Any]:
    """Merge the dumps (later parts replace earlier ones) and write the section; runs nothing."""
    R: dict[str, Any] = {}
    commands: list[str] = []
    extra: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for p in paths:
        d = json.loads(Path(p).read_text())
        runs += [{"command": c, **{k: d.get(k) for k in ("generated", "total_s", "load_start", "load_end")}}
                 for c in d.get("commands", [])[:1]]
        if d.get("growth") and R.get("growth"):  # a second growth run: its own subsection
            extra.append(d)
            commands += [c for c in d.get("commands", []) if c not in commands]
            for k in ("spawn", "milvus_lite", "write"):  # its other parts still replace earlier ones
                if d.get(k) is not None:
                    R[k] = d[k]
            continue
        for c in d.get("commands", []):
            if c not in commands:
                commands.append(c)
        if d.get("rss") and R.get("rss"):  # a repeat of the RSS part: the later one is shown, the earlier noted
            R.setdefault("rss_earlier", []).append({**R["rss"], "generated": R.get("generated")})
        errors = R.get("errors", []) + d.get("errors", [])
        profiles = {**R.get("profiles", {}), **d.get("profiles", {})}
        R.update({k: v for k, v in d.items() if v is not None})
        R["errors"], R["profiles"] = errors, profiles
    R["commands"] = commands
    R["extra_runs"] = extra
    R["runs"] = runs
    R["rerendered_from"] = [str(p) for p in paths]
    R["rerendered"] = time.strftime(TIME_FORMAT)
    write_outputs(R, out)
    log(f"wrote {out} from {', '.join(map(str, paths))}")
    return R


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child-writer":
        writer_main(argv[1:])
        return {}
    args = parse_args(argv)
    if args.report_from:
        return report_from(args.report_from, Path(args.out))
    from engine.collection import DEFAULT_MAX_SEGMENT_BYTES, DEFAULT_SEAL_BYTES, DEFAULT_SEAL_ROWS

    parts = set(args.parts.split(","))
    t_start = time.perf_counter()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="engine-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    model = EmbeddingModel()
    R: dict[str, Any] = {
        "commands": ["python bench/bench_scale.py " + " ".join(argv) if argv else "python bench/bench_scale.py"],
        "args": vars(args), "facts": machine_facts(), "model": model.describe(), "dim": args.dim,
        "engine_defaults": {"seal_rows": DEFAULT_SEAL_ROWS, "seal_bytes": DEFAULT_SEAL_BYTES,
                            "max_segment_bytes": DEFAULT_MAX_SEGMENT_BYTES},
        "load_start": load_average(), "errors": [], "profiles": {}, "timings": {},
    }

    def section(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as exc:
            traceback.print_exc()
            R["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        finally:
            R["timings"][name] = time.perf_counter() - t0

    keep: dict[str, Any] = {}
    try:
        gen = EmbeddingGenerator(args.dim, model, seed=args.seed)
        if parts & {"growth", "layers", "spawn", "write", "milvus"}:
            log(f"data: {args.n:,} × {args.dim} + {args.queries} queries; sizes {list(args.sizes)}; "
                f"load {load_average()}")
            x = gen.sample(args.n + args.queries, seed=args.seed + 1)
            q, x = x[: args.queries], x[args.queries:]
            R["growth"] = section("growth", lambda: run_growth(x, q, list(args.sizes), work, args, keep))
            last = (R["growth"] or [None])[-1]
            eh = headline(last["sweep"]["engine"]) if last else None
            hh = headline(last["sweep"]["hnswlib"]) if last else None
            ef = eh["ef"] if eh else args.efs[-1]
            client = keep.get("client")
            if client is not None and "layers" in parts:
                log("search layers and profile")
                R["profiles"]["layers"] = section("layers", lambda: search_layers(client, keep["hnswlib"], q, ef))
            if client is not None and "spawn" in parts:
                log("spawn → first result (fresh processes)")
                R["spawn"] = section("spawn", lambda: spawn_runs(
                    {"engine": keep["db"], "hnswlib": keep["hnswlib_path"]}, q, ef, work, args.spawn_runs))
                if R["spawn"] and hh:  # spawn children search the engine at its ef and hnswlib at its own
                    R["spawn"]["ef"] = ef
                R["profiles"]["open"] = section("profile open", lambda: profile_open(keep["db"], q, ef, work))
            if client is not None and "milvus" in parts:
                from bench.common import exact_topk
                from bench.scale_runs import search_fns

                log(f"Milvus Lite at {len(x):,} rows")
                truth = exact_topk(q[: args.milvus_lite_queries], x, 10)
                R["milvus_lite"] = section("Milvus Lite", lambda: milvus_lite_run(
                    x, q, truth, work, args, search_fns(client, keep["hnswlib"])))
            if client is not None and "write" in parts:
                R["write"] = section("write while searching", lambda: write_while_searching(
                    client, keep["hnswlib"], keep["db"], gen, q, ef, args.n, work, args))
            if client is not None:
                client.close()
            keep.clear()
        if "rss" in parts:
            log(f"RSS data set {args.rss_n:,} × {args.rss_dim}")
            gen2 = EmbeddingGenerator(args.rss_dim, model, seed=args.seed + 20)
            RS = section("rss build", lambda: rss_dataset(gen2, args, work))
            if RS:
                qs = RS.pop("queries")
                paths = {k: Path(v) for k, v in RS.pop("paths").items()}
                RS["spawn"] = section("rss spawn", lambda: spawn_runs(paths, qs, 64, work, args.rss_runs))
                R["profiles"]["open_rss"] = section("profile open (rss)",
                                                    lambda: profile_open(paths["engine"], qs, 64, work))
                RS["load_after"] = load_average()
            R["rss"] = RS
        R["load_end"] = load_average()
        R["total_s"] = time.perf_counter() - t_start
        R["generated"] = time.strftime(TIME_FORMAT)
        data = jsonable(R)
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=1))
        write_outputs(json.loads(json.dumps(data)), Path(args.out))
        log(f"wrote {args.out} in {R['total_s'] / 60:.1f} min; errors: {R['errors'] or 'none'}")
        return R
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
