"""Smoke test of bench/bench_engine.py: tiny sizes, no Milvus Lite, report sections present; --report-from."""

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


@pytest.fixture(scope="module")
def tiny_run(bench, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny benchmark run (no Milvus Lite, no 1M): its report, plot and `--json` dump."""
    tmp_path = tmp_path_factory.mktemp("bench")
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nIngestion section of another engineer.\n")
    t0 = time.perf_counter()
    R = bench.main([
        "--n", "2000", "--dim", "32", "--queries", "20", "--skip-milvus-lite", "--skip-1m",
        "--efs", "16,32,64,128",
        "--gauss-n", "1000", "--gauss-dim", "32",
        "--maxsim-entities", "100", "--maxsim-per-entity", "20", "--maxsim-dim", "16", "--maxsim-queries", "8",
        "--maxsim-m", "2,4", "--maxsim-efs", "16,64",
        "--build-reps", "1", "--build-rep-n", "1000", "--cold-runs", "1",
        "--workdir", str(tmp_path / "work"), "--out", str(out), "--json", str(tmp_path / "results.json"),
    ])
    return {"dir": tmp_path, "out": out, "R": R, "elapsed": time.perf_counter() - t0,
            "json": tmp_path / "results.json", "svg": tmp_path / "benchmarks-recall-qps.svg"}


def _section(text: str) -> str:
    return text.split("<!-- engine-bench:start -->", 1)[1].split("<!-- engine-bench:end -->", 1)[0]


def test_bench_engine_smoke(tiny_run: dict) -> None:
    tmp_path, elapsed = tiny_run["dir"], tiny_run["elapsed"]
    text = tiny_run["out"].read_text()
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
    assert "re-rendered" not in text
    for row in ("insert, rows/s", "index build, s", "p50 latency", "filtered 1%", "cold open", "bytes on disk"):
        assert row in text, row
    svg = tiny_run["svg"].read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert not (tmp_path / "work").exists()  # the working directory is removed
    assert elapsed < 30, f"smoke run took {elapsed:.1f} s"


def test_report_from_json_matches_the_run(bench, tiny_run: dict, tmp_path: Path) -> None:
    """--report-from rebuilds the same report and plot from the dump, running nothing, and says so."""
    out = tmp_path / "docs" / "benchmarks.md"
    out.parent.mkdir()
    out.write_text("# Benchmarks\n\nother text\n")
    t0 = time.perf_counter()
    bench.main(["--report-from", str(tiny_run["json"]), "--out", str(out)])
    assert time.perf_counter() - t0 < 5
    text = out.read_text()
    assert "other text" in text
    live, again = _section(tiny_run["out"].read_text()), _section(text)
    lines = again.splitlines()
    note = [ln for ln in lines if ln.startswith("Report re-rendered from saved results on ")]
    assert len(note) == 1 and str(tiny_run["json"]) in note[0]
    i = lines.index(note[0])
    assert lines[i + 1] == "" and lines[:i] + lines[i + 2:] == live.splitlines()  # otherwise identical
    assert f"on {tiny_run['R']['generated']};" in again  # the run's date, not the re-render's
    assert (out.parent / "benchmarks-recall-qps.svg").read_text() == tiny_run["svg"].read_text()


def test_report_from_older_dump(bench, tiny_run: dict, tmp_path: Path) -> None:
    """Dumps from before --report-from: args as a Namespace repr, no dataset summary, no generation time."""
    import argparse
    import json
    import os

    R = json.loads(tiny_run["json"].read_text())
    R["args"] = repr(argparse.Namespace(**{**R["args"], "efs": tuple(R["args"]["efs"]),
                                           "out": Path(R["args"]["out"])}))
    del R["dataset_info"], R["generated"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(R))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    out = tmp_path / "benchmarks.md"
    bench.main(["--report-from", str(old), "--out", str(out)])
    text = _section(out.read_text())
    stamp = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(1_700_000_000))
    assert f"Generated by `bench/bench_engine.py` on {stamp};" in text
    live = _section(tiny_run["out"].read_text())
    for line in live.splitlines():
        if not line.startswith("Generated by"):
            assert line in text, line


def test_help_runs_as_a_script() -> None:
    import subprocess

    p = subprocess.run([sys.executable, "bench/bench_engine.py", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "--report-from" in p.stdout


def test_bench_documents_writes_its_section_and_keeps_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """bench/bench_documents.py: the corpus it makes, and its section of docs/benchmarks.md (the real
    benchmark runs the text model for minutes; only its writing and data are checked here)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    mod = _load("bench_documents_under_test", ROOT / "bench" / "bench_documents.py")
    docs, nbytes = mod.make_corpus(tmp_path / "c", 6)
    assert len(docs) == 6 and nbytes > 0 and all(3 <= len(p) <= 12 for p in docs)
    assert sorted(p.suffix for p in (tmp_path / "c").iterdir()) == [".html", ".html", ".md", ".md", ".txt", ".txt"]
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nother engineer's text\n")
    monkeypatch.setattr(mod, "DOC", out)
    mod.write_docs("| m | cpu | 128 | 6 | 40 | 1 | 2 | 3 | 0.5 | 9 / 9 | 4 | 5 | `cmd` |", "machine A")
    mod.write_docs("| m | cpu | 64 | 6 | 80 | 1 | 2 | 3 | 0.5 | 4 | 5 | `cmd2` |", "machine B")
    mod.write_docs("| m | cpu | 128 | 6 | 41 | 1 | 2 | 3 | 0.5 | 4 | 5 | `cmd3` |", "machine C")
    text = out.read_text()
    assert "other engineer's text" in text and text.count(mod.START) == 1 and "machine C" in text
    assert "`cmd2`" in text and "`cmd3`" in text and "`cmd` |" not in text  # same model/device/tokens: replaced
# ----------------------------------------------------------------------------- bench/bench_scale.py


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny bench_scale run (every part but Milvus Lite), its section and `--json` dump."""
    pytest.importorskip("hnswlib")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    scale = _load("bench_scale_under_test", ROOT / "bench" / "bench_scale.py")
    tmp_path = tmp_path_factory.mktemp("scale")
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n<!-- engine-bench:start -->\nthe one-segment section\n<!-- engine-bench:end -->\n")
    R = scale.main([
        "--n", "3000", "--dim", "16", "--sizes", "1500,3000", "--queries", "20", "--efs", "16,64",
        "--sweep-reps", "1", "--spawn-runs", "1", "--write-rows", "1500", "--rss-n", "1000", "--rss-dim", "16",
        "--rss-runs", "1", "--parts", "growth,layers,spawn,write,rss",
        "--workdir", str(tmp_path / "work"), "--out", str(out), "--json", str(tmp_path / "results.json"),
    ])
    return {"scale": scale, "dir": tmp_path, "out": out, "R": R, "json": tmp_path / "results.json"}


def test_bench_scale_smoke(scale_run: dict) -> None:
    text = scale_run["out"].read_text()
    assert "the one-segment section" in text  # the other section is kept
    assert text.count("<!-- engine-scale:start -->") == 1 and text.count("<!-- engine-scale:end -->") == 1
    section = text.split("<!-- engine-scale:start -->", 1)[1]
    for heading in ("## Scale: default ingestion", "### Setup", "### Goals", "### Growth", "### Write while searching",
                    "### Spawn to first result, and memory", "### Where the time goes"):
        assert heading in section, heading
    assert "### Parts that failed" not in section, section.split("### Parts that failed", 1)[-1]
    for goal in ("p50 latency at recall@10", "insert + flush + index", "growth of p50", "disk after flush",
                 "process spawn → first result", "RSS after open + 50 queries", "p95 search latency while"):
        assert goal in section, goal
    R = scale_run["R"]
    assert [s["n"] for s in R["growth"]] == [1500, 3000]
    assert R["write"]["segments_after"]  # the writer flushed
    for name in ("benchmarks-scale-growth.svg", "benchmarks-scale-recall.svg"):
        svg = (scale_run["dir"] / name).read_text()
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert not (scale_run["dir"] / "work").exists()


def test_bench_scale_report_from(scale_run: dict, tmp_path: Path) -> None:
    """--report-from merges dumps and rebuilds the section, running nothing."""
    import json

    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nother text\n")
    d = json.loads(scale_run["json"].read_text())
    rss_only = {k: d[k] for k in ("commands", "args", "facts", "model", "dim", "engine_defaults", "load_start",
                                  "load_end", "generated", "total_s", "rss")}
    rss_only["commands"] = ["python bench/bench_scale.py --parts rss"]
    (tmp_path / "rss.json").write_text(json.dumps(rss_only))
    scale_run["scale"].main(["--report-from", str(scale_run["json"]), str(tmp_path / "rss.json"), "--out", str(out)])
    text = out.read_text()
    assert "other text" in text and "Report re-rendered" in text
    assert "python bench/bench_scale.py --parts rss" in text
    live = scale_run["out"].read_text().split("### Goals", 1)[1].split("###", 1)[0]
    for row in live.strip().splitlines():
        assert row in text, row  # the same goals...
    assert "(earlier run of the RSS part" in text  # ...and the first dump's RSS part noted as an earlier run
