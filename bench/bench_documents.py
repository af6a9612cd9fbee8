"""Document ingestion throughput with a real text model: documents/s and chunks/s.

    python bench/bench_documents.py -n 200 --write-docs

Makes a folder of `.txt`, `.md` and `.html` documents (and a Parquet paragraphs file of the same
text) from a fixed vocabulary, then measures, interleaved over `--repeats` runs:

- model-only: the chunk texts through `embed_texts` (the text model's forward pass alone);
- pipeline: `ingest()` of the folder into a fresh database (read, sha256, extract, chunk with the
  model's tokenizer, embed, upsert, flush), as documents/s and chunks/s;
- paragraphs file: `ingest()` of the Parquet file (one record per document, no `emb`), records/s;
- re-run: the same folder again (every file unchanged), documents/s.

Medians are reported. `--write-docs` replaces the section between the documents-benchmark markers of
docs/benchmarks.md, keeping the rest of the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- documents-benchmark:start -->", "<!-- documents-benchmark:end -->"
WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have "
         "an had they you were their one all we can her has there been if more when will would who so no river "
         "mountain market energy protein castle engine harvest language village current theory museum signal "
         "orbit glacier forest bridge metal library coastline festival archive voltage crystal harbour colony "
         "treaty canal furnace pigment estuary census telescope monastery railway mineral vaccine algorithm").split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def make_corpus(folder: Path, n: int, seed: int = 0) -> tuple[list[list[str]], int]:
    """`n` documents of 3-12 paragraphs as .txt/.md/.html files; returns their paragraphs and bytes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    docs, total = [], 0
    for i in range(n):
        paras = [paragraph(rng) for _ in range(rng.randint(3, 12))]
        title = f"Document {i}"
        kind = ("txt", "md", "html")[i % 3]
        if kind == "txt":
            text = title + "\n\n" + "\n\n".join(paras)
        elif kind == "md":
            text = f"# {title}\n\n" + "\n\n".join(f"Some **{p[:20]}**{p[20:]}" for p in paras)
        else:
            text = f"<html><head><title>{title}</title></head><body>" + "".join(f"<p>{p}</p>" for p in paras) + \
                   "</body></html>"
        path = folder / f"doc{i:05d}.{kind}"
        path.write_text(text)
        total += path.stat().st_size
        docs.append(paras)
    return docs, total


def write_parquet(path: Path, docs: list[list[str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"wiki_id": i, "paragraphs": [{"text": p} for p in paras]} for i, paras in enumerate(docs)]
    pq.write_table(pa.Table.from_pylist(rows), path)


def run_ingest(paths: list[Path], emb: Any, opts: Any) -> tuple[float, float, int, Any]:
    """(wall seconds, process CPU seconds, chunks stored, (report, re-run seconds)) of one ingest."""
    from workbench.backends import open_backend
    from workbench.ingest import ingest

    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-docs-"))
    try:
        t, c = time.perf_counter(), time.process_time()
        report = ingest(paths, tmp / "db", "bench", text_embedder=emb, options=opts)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        b = open_backend(str(tmp / "db"))
        chunks = sum(r["chunk_count"] for r in b.query("bench", "part == 1", output_fields=["chunk_count"]))
        b.close()
        t = time.perf_counter()
        again = ingest(paths, tmp / "db", "bench", text_embedder=emb, options=opts)
        rerun = time.perf_counter() - t
        assert again.unchanged == report.new, again.summary()
        return dt, cpu, chunks, (report, rerun)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def machine() -> str:
    import torch

    load = f"; load average {os.getloadavg()[0]:.1f} when the run ended" if hasattr(os, "getloadavg") else ""
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads, Python {platform.python_version()}{load}")


def write_docs(row: str, env: str) -> None:
    existing = []
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in text:
        block = text.split(START, 1)[1].split(END, 1)[0]
        key = " | ".join(row.split(" | ")[:3]) + " |"  # same model, device and chunk tokens: replaced
        existing = [ln for ln in block.splitlines() if ln.startswith("| ") and not ln.startswith("| model ")
                    and not ln.startswith(key)]
    section = "\n".join([
        START,
        "## Document ingestion (`bench/bench_documents.py`)",
        "",
        f"Machine: {env}",
        "",
        "| model | device | chunk tokens | documents | chunks | model-only chunks/s | pipeline docs/s "
        "| pipeline chunks/s | ratio | CPU ms/chunk model-only / pipeline | paragraphs file records/s "
        "| re-run docs/s | command |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *existing, row,
        "",
        "Documents: `.txt`, `.md` and `.html` files of 3 to 12 paragraphs of 2 to 6 sentences (fixed vocabulary,",
        "seeded). Model-only: the chunk texts through `embed_texts` alone. Pipeline: `ingest()` of the folder into",
        "a fresh embedded database (read, sha256, extract, chunk with the model's tokenizer, embed, upsert, flush).",
        "Paragraphs file: the same text as one Parquet file in the Wikipedia shape (`wiki_id`, `paragraphs`",
        "without `emb`: embedded here, one chunk per paragraph). Re-run: the folder again, every file unchanged.",
        "Medians of interleaved runs; the ratio (pipeline chunks/s over model-only chunks/s) is the median of",
        "the runs' own ratios. CPU ms/chunk is the process CPU time per chunk, which other processes on the",
        "machine disturb less than wall-clock rates: on a shared 2-core machine single runs vary widely (see",
        "the load). The text model's forward pass dominates the pipeline.",
        END,
    ])
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=200, help="number of documents")
    ap.add_argument("--text-model", default=None, help="model name or folder (default: the packaged MiniLM)")
    ap.add_argument("--chunk-tokens", type=int, default=128)
    ap.add_argument("--device", default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write-docs", action="store_true", help=f"update the section in {DOC.relative_to(ROOT)}")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from workbench.chunking import ChunkSpec, Paragraph, chunk_paragraphs
    from workbench.ingest import IngestOptions
    from workbench.text_embedders import load_text_embedder

    emb = load_text_embedder(args.text_model, device=args.device, batch_size=args.batch_size)
    data = Path(tempfile.mkdtemp(prefix="wb-bench-corpus-"))
    try:
        docs, nbytes = make_corpus(data / "docs", args.n)
        write_parquet(data / "wiki.parquet", docs)
        spec = ChunkSpec(args.chunk_tokens, args.chunk_tokens * 3 // 16)
        texts = [c.text for paras in docs
                 for c in chunk_paragraphs([Paragraph(p) for p in paras], emb.count_tokens, spec)]
        print(f"{emb!r}; {args.n} documents, {nbytes / 1e6:.1f} MB, {len(texts)} chunks", flush=True)
        emb.embed_texts(texts[: emb.batch_size])  # warm-up
        opts = IngestOptions(kind="documents", chunk_tokens=args.chunk_tokens)
        mo, mo_cpu, pl, pl_cpu, ratios, pq_rates, reruns = [], [], [], [], [], [], []
        chunks = 0
        for i in range(args.repeats):  # interleaved, so that load from other processes hits all alike
            t, c = time.perf_counter(), time.process_time()
            emb.embed_texts(texts)
            mo.append(len(texts) / (time.perf_counter() - t))
            mo_cpu.append((time.process_time() - c) / len(texts))
            dt, cpu, chunks, (report, rerun) = run_ingest([data / "docs"], emb, opts)
            assert report.new == args.n and not report.skipped, report.summary()
            pl.append(dt)
            pl_cpu.append(cpu / chunks)
            ratios.append(chunks / dt / mo[-1])
            reruns.append(args.n / rerun)
            dt_pq, _, _, _ = run_ingest([data / "wiki.parquet"], emb, opts)
            pq_rates.append(args.n / dt_pq)
            print(f"  run {i + 1}: model-only {mo[-1]:.0f} chunks/s, pipeline {args.n / dt:.1f} docs/s "
                  f"({chunks / dt:.0f} chunks/s), paragraphs file {pq_rates[-1]:.1f} records/s", flush=True)
        dt, m, ratio = statistics.median(pl), statistics.median(mo), statistics.median(ratios)
        cpu_mo, cpu_pl = statistics.median(mo_cpu) * 1000, statistics.median(pl_cpu) * 1000
        pq_rate, rerun_rate = statistics.median(pq_rates), statistics.median(reruns)
        print(f"model-only {m:.0f} chunks/s ({cpu_mo:.0f} ms CPU per chunk); pipeline {args.n / dt:.1f} docs/s, "
              f"{chunks / dt:.0f} chunks/s ({cpu_pl:.0f} ms CPU per chunk), {ratio:.2f} x model-only; "
              f"paragraphs file {pq_rate:.1f} records/s; re-run {rerun_rate:.0f} docs/s")
        if args.write_docs:
            command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
            row = (f"| {emb.identity.model} | {emb.device} | {args.chunk_tokens} | {args.n} | {chunks} | {m:.0f} | "
                   f"{args.n / dt:.1f} | {chunks / dt:.0f} | {ratio:.2f} | {cpu_mo:.0f} / {cpu_pl:.0f} | "
                   f"{pq_rate:.1f} | {rerun_rate:.0f} | `{command}` |")
            write_docs(row, machine())
            print(f"wrote {DOC}")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
