"""bench_scale.py's report: the docs/benchmarks.md section (between its own markers, beside the other
sections) and two hand-written SVG plots, from the results dict (live, or loaded back from `--json`)."""

from __future__ import annotations

import math
from typing import Any

from bench.common import _COLOURS, _MARKERS, _esc, _marker, fmt, fmt_bytes, md_table, median, svg_recall_qps
from bench.engine_dataset import TARGET, at_ef, headline

SCALE_START = "<!-- engine-scale:start -->"
SCALE_END = "<!-- engine-scale:end -->"
GROWTH_SVG = "benchmarks-scale-growth.svg"
RECALL_SVG = "benchmarks-scale-recall.svg"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**NOT met**")


def heads(step: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    return headline(step["sweep"]["engine"]), headline(step["sweep"]["hnswlib"])


def goals(R: dict[str, Any]) -> list[list[Any]]:
    """[goal, measured, ratio, target, verdict] rows."""
    rows: list[list[Any]] = []
    G = R.get("growth") or []
    if G:
        last = G[-1]
        eh, hh = heads(last)
        if eh and hh:
            r = _ratio(eh["p50_ms"], hh["p50_ms"])
            same = at_ef(last["sweep"]["hnswlib"], eh["ef"])
            per = [a / b for a, b in zip(eh["p50_ms_reps"], hh["p50_ms_reps"]) if b]
            rows.append([f"p50 latency at recall@10 ≥ {TARGET}, {last['n']:,} × {R['dim']}, default ingestion",
                         f"engine {fmt(eh['p50_ms'])} ms (ef={eh['ef']}, recall {eh['recall']:.3f}, "
                         f"{len(last['engine_step']['segments'])} segment(s)) vs one hnswlib index "
                         f"{fmt(hh['p50_ms'])} ms (ef={hh['ef']}, recall {hh['recall']:.3f}); per interleaved "
                         f"pass {', '.join(fmt(v) for v in per)}; at the same ef={eh['ef']}: "
                         f"{fmt(_ratio(eh['p50_ms'], same['p50_ms'] if same else None))}×",
                         r, "≤ 1.3×", _met(r is not None and r <= 1.3)])
        else:
            rows.append(["p50 latency at recall ≥ 0.95", "a system never reached the recall in the ef sweep", None,
                         "≤ 1.3×", "–"])
        ec, hc = last["engine_cum"], last["hnswlib_cum"]
        r = _ratio(ec["total_s"], hc["total_s"])
        rows.append([f"insert + flush + index, {last['n']:,} × {R['dim']} in {R['args']['batch']:,}-row batches",
                     f"engine {fmt(ec['total_s'])} s (insert calls {fmt(ec['insert_s'])} s, flushes "
                     f"{fmt(ec['flush_s'])} s; {fmt(ec['cpu_s'])} CPU s) vs hnswlib add_items {fmt(hc['total_s'])} s "
                     f"({fmt(hc['cpu_s'])} CPU s); CPU-time ratio {fmt(_ratio(ec['cpu_s'], hc['cpu_s']))}",
                     r, "≤ 1.2×", _met(r is not None and r <= 1.2)])
        if len(G) >= 2:
            first = G[0]
            e0, h0 = heads(first)
            e1, h1 = heads(last)
            if e0 and h0 and e1 and h1:
                eg, hg = e1["p50_ms"] / e0["p50_ms"], h1["p50_ms"] / h0["p50_ms"]
                rows.append([f"growth of p50 at recall ≥ {TARGET}, {first['n']:,} → {last['n']:,} rows",
                             f"engine ×{fmt(eg)} ({fmt(e0['p50_ms'])} → {fmt(e1['p50_ms'])} ms), hnswlib ×{fmt(hg)} "
                             f"({fmt(h0['p50_ms'])} → {fmt(h1['p50_ms'])} ms)"
                             + ("" if last["n"] >= 1_000_000 else "; 1M not in this run"),
                             _ratio(eg, hg), "≤ 1× (engine's growth / hnswlib's)", _met(eg <= hg)])
        D = last["disk"]
        r = _ratio(D["engine"], D["hnswlib"])
        rows.append([f"disk after flush, {last['n']:,} × {R['dim']}",
                     f"engine directory {fmt_bytes(D['engine'])} vs vectors {fmt_bytes(D['vectors'])} + graph "
                     f"{fmt_bytes(D['hnswlib'] - D['vectors'])} = {fmt_bytes(D['hnswlib'])} (the saved hnswlib index)",
                     r, "≤ 1.1×", _met(r is not None and r <= 1.1)])
    S = R.get("spawn")
    if S and "engine" in S and "hnswlib" in S:
        r = _ratio(S["engine"]["spawn_to_first_s"], S["hnswlib"]["spawn_to_first_s"])
        rows.append([f"process spawn → first result, {R['growth'][-1]['n']:,} × {R['dim']}" if G else "spawn",
                     f"engine {fmt(S['engine']['spawn_to_first_s'])} s vs hnswlib load_index + knn_query "
                     f"{fmt(S['hnswlib']['spawn_to_first_s'])} s (medians of {S['engine']['runs']})",
                     r, "≤ 2×", _met(r is not None and r <= 2)])
    if S and "engine" in S and "hnswlib" in S and G:
        a, b = (S[k]["stages"]["50 queries"]["VmRSS"] for k in ("engine", "hnswlib"))
        rows.append([f"RSS after open + 50 queries, {G[-1]['n']:,} × {R['dim']} (for information)",
                     f"engine {fmt_bytes(a)} vs hnswlib {fmt_bytes(b)} (the spawn children)", _ratio(a, b),
                     "(goal set at 100k × 512)", "–"])
    RS = R.get("rss")
    if RS and RS.get("spawn"):
        se, sh = RS["spawn"]["engine"]["stages"], RS["spawn"]["hnswlib"]["stages"]
        a, b = se["50 queries"]["VmRSS"], sh["50 queries"]["VmRSS"]
        r = _ratio(a, b)
        rows.append([f"RSS after open + 50 queries, {RS['n']:,} × {RS['dim']}, fresh processes",
                     f"engine {fmt_bytes(a)} (peak {fmt_bytes(se['50 queries']['VmHWM'])}) vs hnswlib "
                     f"{fmt_bytes(b)} (peak {fmt_bytes(sh['50 queries']['VmHWM'])})",
                     r, "≤ 1.3×", _met(r is not None and r <= 1.3)])
        for E in R.get("rss_earlier") or []:  # the same part run before: its ratios too, so the noise shows
            ee, eh_ = E["spawn"]["engine"], E["spawn"]["hnswlib"]
            rows.append([f"(earlier run of the RSS part, {E.get('generated', '')}, load {E.get('load_before')})",
                         f"RSS {fmt(_ratio(ee['stages']['50 queries']['VmRSS'], eh_['stages']['50 queries']['VmRSS']))}×, "
                         f"spawn {fmt(_ratio(ee['spawn_to_first_s'], eh_['spawn_to_first_s']))}×, insert + flush + "
                         f"index {fmt(_ratio(E['engine_ingest']['total_s'], E['hnswlib_build']['total_s']))}× "
                         f"({fmt(E['engine_ingest']['total_s'])} s vs {fmt(E['hnswlib_build']['total_s'])} s)",
                         None, "", "–"])
        D = RS["disk"]
        r = _ratio(D["engine"], D["hnswlib"])
        rows.append([f"disk after flush, {RS['n']:,} × {RS['dim']}",
                     f"engine {fmt_bytes(D['engine'])} vs vectors + graph {fmt_bytes(D['hnswlib'])}",
                     r, "≤ 1.1×", _met(r is not None and r <= 1.1)])
        r = _ratio(RS["spawn"]["engine"]["spawn_to_first_s"], RS["spawn"]["hnswlib"]["spawn_to_first_s"])
        rows.append([f"process spawn → first result, {RS['n']:,} × {RS['dim']}",
                     f"engine {fmt(RS['spawn']['engine']['spawn_to_first_s'])} s vs hnswlib "
                     f"{fmt(RS['spawn']['hnswlib']['spawn_to_first_s'])} s", r, "≤ 2×", _met(r is not None and r <= 2)])
        ei, hb = RS["engine_ingest"], RS["hnswlib_build"]
        r = _ratio(ei["total_s"], hb["total_s"])
        rows.append([f"insert + flush + index, {RS['n']:,} × {RS['dim']}",
                     f"engine {fmt(ei['total_s'])} s ({fmt(ei['cpu_s'])} CPU s) vs one hnswlib build "
                     f"{fmt(hb['total_s'])} s ({fmt(hb['cpu_s'])} CPU s)", r, "≤ 1.2×", _met(r is not None and r <= 1.2)])
    W = R.get("write")
    if W:
        q, m = W["phases"]["quiet (before)"], W["phases"]["while a merge runs (MAINT.lock held)"]
        w = W["phases"]["whole write (insert + flush)"]
        rows.append(["p95 search latency while another process writes and merges",
                     f"quiet p95 {fmt(q.get('p95_ms'))} ms; during the whole write {fmt(w.get('p95_ms'))} ms; while a "
                     f"merge runs {fmt(m.get('p95_ms'))} ms (see the table below)",
                     _ratio(w.get("p95_ms"), q.get("p95_ms")), "reported (no target)", "–"])
    return rows


def svg_growth(series: dict[str, list[tuple[float, float, str]]], title: str, subtitle: str = "",
               width: int = 820, height: int = 480) -> str:
    """Rows (x, log10) against p50 latency (y, log10); each series a list of (rows, ms, label)."""
    left, right, top, bottom = 80, 200, 60, 60
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, y) for s in series.values() for x, y, _ in s if x > 0 and y > 0]
    if not pts:
        pts = [(1e5, 0.1), (1e6, 1.0)]
    x0, x1 = math.floor(math.log10(min(p[0] for p in pts)) * 2) / 2, math.ceil(math.log10(max(p[0] for p in pts)) * 2) / 2
    y0, y1 = math.floor(math.log10(min(p[1] for p in pts))), math.ceil(math.log10(max(p[1] for p in pts)))
    if x1 <= x0:
        x1 = x0 + 0.5
    if y1 <= y0:
        y1 = y0 + 1

    def X(v: float) -> float:
        return left + (math.log10(v) - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return top + ph - (math.log10(v) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="15" font-weight="bold">{_esc(title)}</text>']
    if subtitle:
        out.append(f'<text x="{left}" y="42" fill="#555">{_esc(subtitle)}</text>')
    for e in range(y0, y1 + 1):
        for m in range(1, 10):
            v = m * 10.0**e
            if v > 10.0**y1:
                break
            y = Y(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                       f'stroke="{"#d0d0d0" if m == 1 else "#f2f2f2"}"/>')
            if m in (1, 2, 5):
                out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    xs = sorted({x for s in series.values() for x, _, _ in s})
    for v in xs:
        x = X(v)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{v / 1000:,.0f}k</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 18}" text-anchor="middle">rows (log scale)</text>')
    out.append(f'<text x="20" y="{top + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 20 '
               f'{top + ph / 2:.1f})">p50 ms at recall@10 ≥ {TARGET} (log scale)</text>')
    ly = top + 10
    for i, (name, s) in enumerate(series.items()):
        colour, kind = _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)]
        good = [(x, y, lab) for x, y, lab in s if x > 0 and y > 0]
        if len(good) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for j, (x, y, _) in enumerate(good))
            out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for x, y, lab in good:
            out.append(_marker(kind, X(x), Y(y), colour))
            out.append(f'<text x="{X(x) + 6:.1f}" y="{Y(y) - 6:.1f}" font-size="9" fill="{colour}">{_esc(lab)}</text>')
        out.append(_marker(kind, left + pw + 18, ly, colour))
        out.append(f'<text x="{left + pw + 30}" y="{ly + 4}">{_esc(name)}</text>')
        ly += 20
    out.append(f'<text x="{left + pw + 12}" y="{ly + 10}" fill="#777" font-size="10">labels: ef used</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def growth_svg(R: dict[str, Any]) -> str:
    series: dict[str, list[tuple[float, float, str]]] = {"engine (default ingestion)": [], "one hnswlib index": []}
    for st in R.get("growth") or []:
        eh, hh = heads(st)
        if eh:
            series["engine (default ingestion)"].append((st["n"], eh["p50_ms"], f"ef={eh['ef']}"))
        if hh:
            series["one hnswlib index"].append((st["n"], hh["p50_ms"], f"ef={hh['ef']}"))
    for X in R.get("extra_runs") or []:
        n = X["growth"][-1]["n"]
        size = f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"
        for label, key in ((f"engine ({size} run)", "engine"), (f"hnswlib ({size} run)", "hnswlib")):
            series[label] = [(st["n"], h["p50_ms"], f"ef={h['ef']}") for st in X["growth"]
                             if (h := headline(st["sweep"][key]))]
    M = R.get("milvus_lite")
    if M and M.get("sweep3"):
        mh = headline(M["sweep3"]["Milvus Lite"])
        if mh:
            series["Milvus Lite (defaults)"] = [(M["n"], mh["p50_ms"], f"ef={mh['ef']}")]
    return svg_growth(series, f"Latency at recall@10 ≥ {TARGET} as rows grow ({R['dim']}-d embedding-like)",
                      "each system at its smallest ef reaching the recall; single-query p50, interleaved")


def recall_svg(R: dict[str, Any]) -> str:
    last = (R.get("growth") or [None])[-1]
    series: dict[str, list[tuple[float, float, str]]] = {}
    if last:
        for name in ("engine", "hnswlib"):
            series[name] = [(p["recall"], p["qps"], str(p["ef"])) for p in last["sweep"][name]]
    M = R.get("milvus_lite")
    if M and M.get("sweep3"):
        series["Milvus Lite"] = [(p["recall"], p["qps"], str(p["ef"])) for p in M["sweep3"]["Milvus Lite"]]
    n = last["n"] if last else 0
    return svg_recall_qps(series, f"Recall vs QPS, {n:,} × {R['dim']}, default ingestion (batches of 1,000)",
                          "engine after flush vs one hnswlib index over all rows, same run, interleaved")


def _stage_table(stages: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = []
    for sysname, st in stages.items():
        prev = 0.0
        for name, m in st.items():
            rows.append([sysname, name, f"{m['t']:.3f}", f"{m['t'] - prev:.3f}", fmt_bytes(m["VmRSS"]),
                         fmt_bytes(m.get("RssAnon")), fmt_bytes(m.get("RssFile")), fmt_bytes(m["VmHWM"]),
                         fmt(None if m.get("modules") is None else int(m["modules"])), "–" if m.get("pandas") is None else ("yes" if m["pandas"] else "no")])
            prev = m["t"]
    return md_table(["system", "step (in the child)", "s since first line", "step s", "VmRSS", "RssAnon", "RssFile",
                     "VmHWM (peak)", "modules loaded", "pandas loaded"], rows)


def _profile_rows(rows: list[list[Any]], n: int = 12) -> str:
    return md_table(["function", "calls", "own ms", "cumulative ms"],
                    [[f"`{r[0]}`", r[1], r[2], r[3]] for r in rows[:n]])


def growth_table(G: list[dict[str, Any]]) -> str:
    rows = []
    for st in G:
        eh, hh = heads(st)
        es = st["engine_step"]
        levels = ", ".join(f"{s['level']} {s['rows']:,}" for s in es["segments"])
        rows.append([f"{st['n']:,}", f"{len(es['segments_before_flush'])} → {len(es['segments'])} ({levels})",
                     st["engine_cum"]["total_s"], st["hnswlib_cum"]["total_s"],
                     _ratio(st["engine_cum"]["total_s"], st["hnswlib_cum"]["total_s"]),
                     _ratio(st["engine_cum"]["cpu_s"], st["hnswlib_cum"]["cpu_s"]),
                     f"{eh['ef']} / {eh['recall']:.3f} / {fmt(eh['p50_ms'])} / {fmt(eh['p95_ms'])}" if eh else "–",
                     f"{hh['ef']} / {hh['recall']:.3f} / {fmt(hh['p50_ms'])} / {fmt(hh['p95_ms'])}" if hh else "–",
                     _ratio(eh["p50_ms"], hh["p50_ms"]) if eh and hh else None,
                     fmt_bytes(st["disk"]["engine"]), fmt_bytes(st["disk"]["hnswlib"]),
                     _ratio(st["disk"]["engine"], st["disk"]["hnswlib"])])
    return md_table(["rows", "engine segments before → after flush (level rows)", "engine insert+flush s (cum.)",
                     "hnswlib add_items s (cum.)", "wall ratio", "CPU ratio",
                     "engine ef / recall / p50 / p95 ms", "hnswlib ef / recall / p50 / p95 ms", "p50 ratio",
                     "engine disk", "hnswlib file", "disk ratio"], rows)


def build_report(R: dict[str, Any], growth_svg_name: str, recall_svg_name: str) -> str:
    L: list[str] = []
    args = R["args"]
    L.append("## Scale: default ingestion against one hnswlib index (`bench/bench_scale.py`)\n")
    runs = R.get("runs") or [{"command": c, "generated": R["generated"], "total_s": R["total_s"],
                              "load_start": R["load_start"], "load_end": R["load_end"]} for c in R["commands"][:1]]
    L.append("Each run's command (from the repository root, `PYTHONPATH=.`), when it ended, how long it took and "
             "the load average (1, 5, 15 min) at its start and end:\n")
    L.append("```\n" + "\n".join(r["command"] for r in runs) + "\n```\n")
    L.append(md_table(["run", "ended", "minutes", "load at start", "load at end"],
                      [[str(i + 1), r["generated"], f"{r['total_s'] / 60:.1f}", str(r["load_start"]),
                        str(r["load_end"])] for i, r in enumerate(runs)]) + "\n")
    if R.get("rerendered"):
        src = " ".join(R.get("rerendered_from") or [])
        L.append(f"Report re-rendered on {R['rerendered']} from the saved results "
                 f"(`python bench/bench_scale.py --report-from {src}`); every number is the runs'.\n")
    peak = max((max(r["load_start"][0], r["load_end"][0]) for r in runs if r.get("load_start")), default=0.0)
    L.append(f"**The machine was shared** with other engineers' test runs while this ran ("
             f"{R['facts'].get('cores available')} cores; 1-minute load average up to {peak} at the runs' starts and "
             "ends)"
             + (f"; load before each growth step of the first run: "
                f"{', '.join(str(s['load_before']) for s in R.get('growth') or [])}" if R.get("growth") else "")
             + ". Latencies are medians over interleaved single-query calls; build times are single runs, so "
             "wall-clock build ratios move by ±30% between runs (compare the CPU-time ratios).\n")
    L.append(md_table(["fact", "value"], [[k, v] for k, v in R["facts"].items()]) + "\n")
    L.append("### Setup\n")
    L.append(f"* **Data**: embedding-like vectors from `bench/common.py` ({R['model']}), seed {args['seed']} "
             f"(fresh: not the engine-bench data); {args['queries']} held-out queries. Ground truth: exact numpy "
             f"top-10 by inner product (= cosine) over the rows present at each size.")
    L.append(f"* **Engine**: `MilvusClient(path)` with **default settings** (`engine.seal_rows` "
             f"{R['engine_defaults']['seal_rows']:,}, `engine.seal_bytes` {fmt_bytes(R['engine_defaults']['seal_bytes'])}, "
             f"`engine.max_segment_bytes` {fmt_bytes(R['engine_defaults']['max_segment_bytes'])}); schema `id` INT64 + "
             f"`vec` FLOAT_VECTOR; index HNSW M={args['M']}, efConstruction={args['ef_construction']}, COSINE. Rows "
             f"arrive as dicts with numpy vectors in batches of {args['batch']:,}; `flush()` at each size (it seals "
             "and waits until every sealed segment is merged and indexed). Insert + flush time is wall time of the "
             "insert loop plus `flush()`, background merges included; CPU time is the process's, all threads.")
    L.append(f"* **hnswlib**: one `hnswlib.Index(space='ip')` over all rows, M={args['M']}, "
             f"efConstruction={args['ef_construction']}, `add_items(num_threads={args['threads']})` of the new rows "
             "at each size (the same graph work as one build over all rows; the times add up). The engine builds with "
             f"hnswlib's `num_threads=-1`, i.e. all {R['facts'].get('cores available')} cores: the same thread "
             "count. The engine's and hnswlib's steps alternate which goes first.")
    L.append(f"* **Latency**: one query per call on one thread; hnswlib `knn_query(k=10, num_threads=1)` after "
             f"`set_ef(ef)`; the engine `client.search(limit=10, params={{'ef': ef}})`. For each ef in "
             f"{', '.join(map(str, args['efs']))} the two systems alternate query by query, {args['sweep_reps']} "
             f"passes; each point is the median over the passes of p50/p95. **Headline**: each system at its smallest "
             f"ef reaching recall@10 ≥ {TARGET}.")
    L.append("* **Disk**: bytes of every file in the database directory after flush (`du`-like sum of file sizes) "
             "against the hnswlib index saved with `save_index` = the vectors (n × dim × 4) plus the graph "
             "(links, levels and labels: the rest of that file).")
    L.append("* **Spawn → first result / RSS**: a fresh `python -c` process per run (systems alternating), timed by "
             "the parent from `Popen` until the child prints after its first result; the child imports, opens "
             "(`MilvusClient(path)`, or `hnswlib.Index.load_index`), searches once, then 49 more queries; memory "
             "from its `/proc/self/status`. Page cache warm (the files were just written), as on a desktop.\n")

    L.append("### Goals\n")
    L.append(md_table(["goal", "measured", "ratio", "target", "verdict"], goals(R)) + "\n")

    G = R.get("growth") or []
    if G:
        L.append("### Growth: ingestion and latency at each size\n")
        L.append(f"![latency at recall ≥ {TARGET} as rows grow]({growth_svg_name})\n")
        L.append(growth_table(G) + "\n")
        last = G[-1]
        L.append(f"Full ef sweep at {last['n']:,} rows (medians of {args['sweep_reps']} interleaved passes):\n")
        L.append(f"![recall vs QPS]({recall_svg_name})\n")
        srows = []
        for pe in last["sweep"]["engine"]:
            ph = at_ef(last["sweep"]["hnswlib"], pe["ef"])
            srows.append([pe["ef"], f"{pe['recall']:.3f}", pe["p50_ms"], pe["p95_ms"],
                          f"{ph['recall']:.3f}" if ph else "–", ph["p50_ms"] if ph else None,
                          ph["p95_ms"] if ph else None, _ratio(pe["p50_ms"], ph["p50_ms"] if ph else None)])
        L.append(md_table(["ef", "engine recall", "engine p50 ms", "engine p95 ms", "hnswlib recall", "hnswlib p50 ms",
                           "hnswlib p95 ms", "p50 ratio"], srows) + "\n")
        parts = last["disk"]["engine_parts"]
        L.append("Engine directory after flush, by kind of file: "
                 + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])) + ".\n")
    for X in R.get("extra_runs") or []:
        XG = X["growth"]
        sizes = ", ".join(f"{st['n']:,}" for st in XG)
        L.append(f"### Larger run: {XG[-1]['n']:,} × {X['dim']}, sizes {sizes}\n")
        L.append(f"A separate run (`{X['commands'][0]}`, generated {X.get('generated')}, {X['total_s'] / 60:.1f} min, "
                 f"load average {X['load_start']} at its start and {X['load_end']} at its end; parts "
                 f"{X['args']['parts']}), on its own data (same generator and seed). Its goals:\n")
        L.append(md_table(["goal", "measured", "ratio", "target", "verdict"], goals(X)) + "\n")
        L.append(growth_table(XG) + "\n")
        ly = (X.get("profiles") or {}).get("layers")
        if ly:
            L.append("One search at ef=" + str(ly["ef"]) + ", p50 per layer: "
                     + "; ".join(f"{k} {fmt(v)} ms" for k, v in ly["p50_ms"].items()) + ".\n")
    M = R.get("milvus_lite")
    if M:
        L.append("### Milvus Lite (its default settings)\n")
        if M.get("skipped"):
            L.append(f"Skipped at {M['n']:,} rows: {M['skipped']}.\n")
        elif M.get("error"):
            L.append(f"Failed: {M['error']}\n")
        else:
            mh = headline(M["sweep3"]["Milvus Lite"])
            eh3 = headline(M["sweep3"]["engine"])
            L.append(f"Same {M['n']:,} rows in batches of {args['batch']:,} through pymilvus `MilvusClient` on a Lite "
                     f"file, HNSW M={args['M']}/efConstruction={args['ef_construction']} requested; what it built: "
                     f"{M['internals'].get('indexes')}, segments {M['internals'].get('segments')}. Insert "
                     f"{fmt(M['insert_s'])} s, flush {fmt(M['flush_s'])} s, indexed after {fmt(M['total_s'])} s in all "
                     f"({fmt(M['cpu_s'])} CPU s) against the engine's {fmt(G[-1]['engine_cum']['total_s'])} s. Disk "
                     f"{fmt_bytes(M['disk'])}. At recall ≥ {TARGET}: Milvus Lite "
                     + (f"p50 {fmt(mh['p50_ms'])} ms (ef={mh['ef']})" if mh else "never reached it")
                     + (f", the engine {fmt(eh3['p50_ms'])} ms (ef={eh3['ef']}) in the same 3-way interleaved sweep "
                        f"({args['milvus_lite_queries']} queries, 1 pass)" if eh3 else "") + ".\n")
            rows = []
            for name, sw in M["sweep3"].items():
                for p in sw:
                    rows.append([name, p["ef"], f"{p['recall']:.3f}", p["p50_ms"], p["p95_ms"]])
            L.append(md_table(["system", "ef", "recall@10", "p50 ms", "p95 ms"], rows) + "\n")
    W = R.get("write")
    if W:
        L.append("### Write while searching\n")
        L.append(f"This process searches (ef={W['ef']}, one query per call) while another process opens the same "
                 f"database and inserts {W['rows']:,} new rows in batches of {W['batch']:,} (crossing the seal "
                 f"threshold: a seal, then a background merge that extends the big segment's graph in the writer's "
                 f"process), then calls `flush()`. The writer's inserts took {fmt(W['writer_insert_s'])} s (batch p50 "
                 f"{fmt(W['writer_batch_p50_ms'])} ms, max {fmt(W['writer_batch_max_ms'])} ms), its flush "
                 f"{fmt(W['writer_flush_s'])} s; segments after: {W['segments_after']}. Each search is tagged by "
                 "whether some process held the collection's maintenance lock when it started. Load average at the "
                 f"end: {W['load']}.\n")
        C = W.get("control") or {}
        rows = [[k, v.get("n"), v.get("p50_ms"), v.get("p95_ms"), v.get("max_ms"), C.get(k, {}).get("p50_ms"),
                 C.get(k, {}).get("p95_ms")] for k, v in W["phases"].items()]
        L.append(md_table(["phase", "searches", "engine p50 ms", "engine p95 ms", "engine max ms",
                           "control: hnswlib p50 ms", "control: hnswlib p95 ms"], rows) + "\n")
        L.append("The control column is this process's own hnswlib index searched right after each engine search "
                 "(same query and ef): where it slows down too, the cause is CPU contention with the writer "
                 "(2 cores), not the engine.\n")
        L.append(f"Searches slower than 10× the quiet p50: {W['searches_over_10x_quiet_p50']}"
                 + (f" (slowest {fmt(W['slowest_ms'])} ms)" if W.get("slowest_ms") else "") + ".\n")
    S, RS = R.get("spawn"), R.get("rss")
    if S or RS:
        L.append("### Spawn to first result, and memory\n")
        for label, sp in ((f"{G[-1]['n']:,} × {R['dim']}" if G else "", S),
                          (f"{RS['n']:,} × {RS['dim']}" if RS else "", (RS or {}).get("spawn"))):
            if not sp:
                continue
            L.append(f"**{label}**: spawn → first result, each run: "
                     + "; ".join(f"{k} {', '.join(f'{v:.2f}' for v in sp[k]['spawn_to_first_all'])} s"
                                 for k in sp if k in ("engine", "hnswlib"))
                     + ". Inside the child (medians):\n")
            L.append("(Children run with bytecode caching on, in a private `PYTHONPYCACHEPREFIX`, after one untimed "
                     "warm-up process per system: as an installed package with its `.pyc` files.)\n")
            L.append(_stage_table({k: sp[k]["stages"] for k in sp if k in ("engine", "hnswlib")}) + "\n")
        if RS:
            D = RS["disk"]
            L.append(f"{RS['n']:,} × {RS['dim']} engine directory: "
                     + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in sorted(D["engine_parts"].items(), key=lambda kv: -kv[1]))
                     + f"; hnswlib file {fmt_bytes(D['hnswlib'])} (vectors {fmt_bytes(D['vectors'])}). Engine segments "
                     f"after flush: {[(s['level'], s['rows']) for s in RS['engine_ingest']['segments']]}.\n")
    P = R.get("profiles") or {}
    if P:
        L.append("### Where the time goes (diagnosis)\n")
        ly = P.get("layers")
        if ly:
            L.append(f"**One search at ef={ly['ef']}** ({ly['segments']} sealed segment(s)), p50 per layer, each "
                     "layer run as a block over the queries, blocks rotating, medians of 3 passes:\n")
            base = ly["p50_ms"].get("hnswlib knn_query on the engine's graph (k=ef, ef_=1)")
            L.append(md_table(["layer", "p50 ms", "minus hnswlib on the engine's graph"],
                              [[k, v, (v - base) if base is not None and not k.startswith("Database") else None]
                               for k, v in ly["p50_ms"].items()]) + "\n")
            client_ms = ly["p50_ms"].get("MilvusClient.search")
            index_ms = ly["p50_ms"].get("HNSWIndex.search")
            if base and client_ms and index_ms:
                L.append(f"Per call, the engine adds {fmt(client_ms - base)} ms to hnswlib's own search of its graph: "
                         f"{fmt(index_ms - base)} ms in `HNSWIndex.search` (query normalisation, asking hnswlib for "
                         f"ef results instead of k, the COSINE norm division and re-rank, the read lock) and "
                         f"{fmt(client_ms - index_ms)} ms above it (catalog look-up and sync per call, planning, "
                         f"merging, hits): a fixed cost per call, which makes `MilvusClient.search` "
                         f"{fmt(client_ms / base)}× hnswlib's {fmt(base)} ms on the same graph.\n")
            pr = ly["profile"]
            L.append(f"cProfile of {pr['title']} (wall {pr['wall_s']:.2f} s under the profiler, "
                     f"{pr['sqlite_calls']} SQLite `execute` calls):\n")
            L.append(md_table(["function", "calls", "own ms", "cumulative ms", "share"], pr["by_tottime"][:12]) + "\n")
        for key, title in (("open", f"{G[-1]['n']:,} × {R['dim']}" if G else ""),
                           ("open_rss", f"{RS['n']:,} × {RS['dim']}" if RS else "")):
            op = P.get(key)
            if not op:
                continue
            L.append(f"**Open + first search in a fresh process, {title}** (cProfile; wall {op['wall_s']:.2f} s under "
                     f"the profiler, `import engine` {op['import_engine_s']:.2f} s of it). Engine functions (and "
                     "hnswlib's load, zlib's crc32) by cumulative time:\n")
            L.append(_profile_rows(op["engine_cumtime"]) + "\n")
            L.append("By own time:\n")
            L.append(_profile_rows(op["by_tottime"], 10) + "\n")
    if R.get("errors"):
        L.append("### Parts that failed\n")
        L.extend(f"* {e}" for e in R["errors"])
        L.append("")
    return "\n".join(L)


__all__ = ["SCALE_START", "SCALE_END", "GROWTH_SVG", "RECALL_SVG", "build_report", "growth_svg", "recall_svg",
           "goals", "median"]
