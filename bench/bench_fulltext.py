"""Retrieval quality of words (BM25), meaning (paragraph MAX_SIM), one vector per document and hybrid (RRF),
on a corpus built here from the Python standard library's docstrings; and BM25 latency vs a brute-force scan.

    python bench/bench_fulltext.py --docs 1500 --queries 400 --min-body 100 --write-docs

Corpus: one document per public module, class or function of the standard library whose docstring has
a one-line summary and at least `--min-body` characters after it. The document is the docstring
**without its summary paragraph**; the query is the summary line with the object's own name (and its
dotted parts) removed, so a query is never a substring of its document and must be found by its words
or its meaning. Exactly one document is relevant per query: recall@10 is the share of queries whose
document is in the top 10, MRR the mean of 1/rank (0 beyond the top 100).

Systems, all through `engine.MilvusClient` on one collection (text + BM25 function, `chunks` Array of
Structs of paragraph embeddings with MAX_SIM HNSW, `embedding` = the normalised mean of a document's
chunk embeddings with HNSW), embedded with the packaged all-MiniLM-L6-v2:
- BM25: `search(data=[query], anns_field="sparse")` (english analyzer, k1 1.2, b 0.75);
- paragraph MAX_SIM: `chunks[emb]` with the query's embedding;
- one vector per document: `embedding` (the mean of the chunk embeddings);
- hybrid: `hybrid_search` of BM25 and MAX_SIM requests fused with RRFRanker(60).
Latency: the engine's BM25 search (sealed, indexed) against a brute-force scan that scores every
document with the same formula in numpy (exactness checked: same top 10), median of all queries.
`--write-docs` replaces the section between the fulltext-benchmark markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import platform
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- fulltext-benchmark:start -->", "<!-- fulltext-benchmark:end -->"
SKIP = ("antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip",
        "pydoc_data", "__phello__", "_", "xxsubtype", "msvcrt", "winreg", "winsound", "_winapi", "nt")


def corpus(limit: int, min_body: int) -> list[dict[str, str]]:
    """(name, document, query) from the standard library's docstrings, in a fixed order."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    warnings.simplefilter("ignore")
    for mod_name in sorted(sys.stdlib_module_names):
        if mod_name.startswith(SKIP) or len(out) >= limit:
            continue
        try:
            mod = importlib.import_module(mod_name)
        except BaseException:  # some modules refuse to import here (platform, GUI)
            continue
        objects = [(mod_name, mod)] + [(f"{mod_name}.{n}", o) for n, o in sorted(vars(mod).items())
                                       if not n.startswith("_") and (inspect.isclass(o) or inspect.isfunction(o))
                                       and getattr(o, "__module__", None) == mod_name]
        for name, obj in objects:
            doc = inspect.getdoc(obj) or ""
            parts = doc.split("\n\n", 1)
            if len(parts) < 2 or len(parts[1]) < min_body or parts[0].count("\n") or doc in seen:
                continue
            seen.add(doc)
            query = parts[0]
            for piece in sorted(set(name.split(".")), key=len, reverse=True):
                query = re.sub(rf"\b{re.escape(piece)}\b", " ", query)
            query = re.sub(r"\s+", " ", query).strip(" .")
            if len(query.split()) < 3:
                continue
            out.append({"name": name, "text": parts[1], "query": query})
            if len(out) >= limit:
                break
    return out


def chunks_of(text: str, max_words: int = 120) -> list[str]:
    """Paragraphs, long ones cut at `max_words` words."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        words = para.split()
        for i in range(0, len(words), max_words):
            out.append(" ".join(words[i : i + max_words]))
    return [c for c in out if c] or [text[:500]]


def build(path: str, docs: list[dict[str, str]], emb: Any) -> tuple[Any, float]:
    from engine import DataType, Function, FunctionType, MilvusClient

    c = MilvusClient(path)
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params={"type": "english"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=emb.dim)
    st = c.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=65535)
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=emb.dim)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=1024)
    s.add_function(Function("bm25", FunctionType.BM25, ["text"], ["sparse"]))
    ip = c.prepare_index_params()
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    ip.add_index("embedding", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    ip.add_index("chunks[emb]", index_type="HNSW", metric_type="MAX_SIM_COSINE",
                 params={"M": 16, "efConstruction": 200})
    c.create_collection("docs", schema=s, index_params=ip)
    t0 = time.perf_counter()
    all_chunks = [chunks_of(d["text"]) for d in docs]
    vecs = emb.embed_texts([ch for cs in all_chunks for ch in cs])
    embed_s = time.perf_counter() - t0
    rows, at = [], 0
    for i, (d, cs) in enumerate(zip(docs, all_chunks)):
        v = np.asarray(vecs[at : at + len(cs)], dtype=np.float32)
        at += len(cs)
        mean = v.mean(axis=0)
        rows.append({"id": i, "text": d["text"][:60000], "embedding": (mean / np.linalg.norm(mean)).tolist(),
                     "chunks": [{"text": t[:60000], "emb": e.tolist()} for t, e in zip(cs, v)]})
    for i in range(0, len(rows), 200):
        c.insert("docs", rows[i : i + 200])
    c.flush("docs")
    return c, embed_s


def ranks(pages: list[list[Any]]) -> list[int]:
    """1-based rank of document `qi` in the hits of query `qi` (0: not found)."""
    out = []
    for qi, hits in enumerate(pages):
        ids = [h["id"] for h in hits]
        out.append(ids.index(qi) + 1 if qi in ids else 0)
    return out


def quality(r: list[int]) -> tuple[float, float]:
    return sum(1 for x in r if 0 < x <= 10) / len(r), sum(1 / x for x in r if x) / len(r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--min-body", type=int, default=200)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    from engine import AnnSearchRequest, EmbeddingList, RRFRanker
    from engine.fulltext.analyzers import build_analyzer
    from workbench.text_embedders import load_text_embedder

    docs = corpus(args.docs, args.min_body)
    emb = load_text_embedder(None, "cpu")
    tmp = tempfile.mkdtemp(prefix="bench_fulltext_")
    c, embed_s = build(str(Path(tmp) / "db"), docs, emb)
    rng = np.random.default_rng(0)
    qids = sorted(rng.choice(len(docs), size=min(args.queries, len(docs)), replace=False).tolist())
    queries = [docs[i]["query"] for i in qids]
    qvecs = np.asarray(emb.embed_texts(queries), dtype=np.float32)
    k = 100

    def remap(pages: list[list[Any]]) -> list[int]:
        return ranks([[{"id": qids.index(h["id"]) if h["id"] in qids else -1} for h in p] for p in pages])

    words = remap(c.search("docs", queries, anns_field="sparse", limit=k))
    meaning = remap(c.search("docs", [EmbeddingList(v.reshape(1, -1)) for v in qvecs], anns_field="chunks[emb]",
                             limit=k, search_params={"metric_type": "MAX_SIM_COSINE", "params": {"ef": 200}}))
    onevec = remap(c.search("docs", qvecs.tolist(), anns_field="embedding", limit=k,
                            search_params={"metric_type": "COSINE", "params": {"ef": 200}}))
    both = []
    for q, v in zip(queries, qvecs):
        reqs = [AnnSearchRequest([q], "sparse", {"metric_type": "BM25"}, k),
                AnnSearchRequest([EmbeddingList(v.reshape(1, -1))], "chunks[emb]",
                                 {"metric_type": "MAX_SIM_COSINE", "params": {"ef": 200}}, k)]
        both.append(c.hybrid_search("docs", reqs, RRFRanker(60), limit=k)[0])
    hybrid = remap(both)
    # latency: engine BM25 vs a numpy brute-force scan with the same formula
    an = build_analyzer({"type": "english"})
    tfs = [Counter(an.terms(d["text"])) for d in docs]
    lengths = np.array([sum(t.values()) for t in tfs], dtype=np.float64)
    df = Counter(term for t in tfs for term in t)
    n, avg = len(docs), max(lengths.sum() / len(docs), 1.0)

    def scan(query: str) -> list[int]:
        scores = np.zeros(n)
        for term, qtf in Counter(an.terms(query)).items():
            if term in df:
                w = qtf * math.log1p((n - df[term] + 0.5) / (df[term] + 0.5))
                tf = np.array([t.get(term, 0) for t in tfs], dtype=np.float64)
                scores += w * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths / avg))
        order = np.lexsort((np.arange(n), -scores))
        return [int(i) for i in order[:10] if scores[i] > 0]

    engine_ms, scan_ms, same = [], [], 0
    for q in queries:
        t0 = time.perf_counter()
        hits = c.search("docs", [q], anns_field="sparse", limit=10)[0]
        engine_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        top = scan(q)
        scan_ms.append((time.perf_counter() - t0) * 1000)
        same += [h["id"] for h in hits] == top
    rows = [("BM25 (words)", words), ("paragraph MAX_SIM (meaning)", meaning),
            ("one vector per document (mean of chunk vectors)", onevec), ("hybrid: BM25 + MAX_SIM, RRF k=60", hybrid)]
    chunk_count = sum(len(chunks_of(d["text"])) for d in docs)
    lines = [START, "## Full text: retrieval quality and BM25 latency", "",
             f"`python bench/bench_fulltext.py --docs {args.docs} --queries {args.queries} --min-body {args.min_body} "
             "--write-docs` "
             f"(Python {platform.python_version()}, {platform.machine()}, CPU only).", "",
             f"Corpus: {len(docs)} documents (docstrings of the Python {platform.python_version()} standard library "
             f"without their summary paragraph, {chunk_count} paragraph chunks embedded with all-MiniLM-L6-v2 in "
             f"{embed_s:.0f} s); {len(queries)} queries (the summary lines, the object's name removed); one relevant "
             "document per query.", "",
             "| system | recall@10 | MRR |", "|---|---:|---:|"]
    for label, r in rows:
        rec, mrr = quality(r)
        lines.append(f"| {label} | {rec:.3f} | {mrr:.3f} |")
    lines += ["", f"BM25 latency over {len(docs)} documents, one query at a time (median of {len(queries)}): "
              f"engine search (sealed, SPARSE_INVERTED_INDEX) {statistics.median(engine_ms):.2f} ms, "
              f"numpy brute-force scan of every document {statistics.median(scan_ms):.2f} ms; "
              f"identical top 10 for {same}/{len(queries)} queries.",
              "", END]
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        text = DOC.read_text()
        if START in text and END in text:
            text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: section, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
