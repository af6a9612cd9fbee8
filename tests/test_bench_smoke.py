"""Smoke test of bench/bench_engine.py: tiny sizes, no Milvus Lite, report sections present."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("hnswlib")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return _load("bench_engine_under_test", ROOT / "bench" / "bench_engine.py")


def test_write_section_keeps_other_content(tmp_path: Path) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.common import SECTION_END, SECTION_START, write_section

    out = tmp_path / "b.md"
    out.write_text("# Benchmarks\n\n## Ingestion\n\nother engineer's text\n")
    write_section(out, "first body")
    write_section(out, "second body")
    text = out.read_text()
    assert "other engineer's text" in text
    assert text.count(SECTION_START) == 1 and text.count(SECTION_END) == 1
    assert "second body" in text and "first body" not in text


def test_bench_engine_smoke(bench, tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nIngestion section of another engineer.\n")
    t0 = time.perf_counter()
    bench.main([
        "--n", "2000", "--dim", "32", "--queries", "20", "--skip-milvus-lite", "--skip-1m",
        "--efs", "16,32,64,128",
        "--gauss-n", "1000", "--gauss-dim", "32",
        "--maxsim-entities", "100", "--maxsim-per-entity", "20", "--maxsim-dim", "16", "--maxsim-queries", "8",
        "--maxsim-m", "2,4", "--maxsim-efs", "16,64",
        "--build-reps", "1", "--build-rep-n", "1000", "--cold-runs", "1",
        "--workdir", str(tmp_path / "work"), "--out", str(out),
    ])
    elapsed = time.perf_counter() - t0
    text = out.read_text()
    assert "Ingestion section of another engineer." in text
    assert "<!-- engine-bench:start -->" in text and "<!-- engine-bench:end -->" in text
    for heading in (
        "## Engine search benchmark",
        "### Setup",
        "### Headline numbers",
        "### Goals",
        "### Recall vs QPS over ef",
        "### Filtered search",
        "### MAX_SIM",
        "### Pathological case",
        "### Memory and disk",
        "### Profiles",
    ):
        assert heading in text, heading
    assert "### Sections that failed" not in text, text.split("### Sections that failed", 1)[-1]
    assert "Milvus Lite skipped" in text
    for row in ("insert, rows/s", "index build, s", "p50 latency", "filtered 1%", "cold open", "bytes on disk"):
        assert row in text, row
    svg = (tmp_path / "benchmarks-recall-qps.svg").read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert not (tmp_path / "work").exists()  # the working directory is removed
    assert elapsed < 30, f"smoke run took {elapsed:.1f} s"
