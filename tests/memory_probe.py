"""Run one ingestion in a fresh process and print its memory as JSON (Linux only).

    python tests/memory_probe.py '{"folder": "...", "db": "...", "workers": 4, "multiview": false,
                                   "decode_memory": 134217728, "warm": "..."}'

Loads the tiny test CLIP model, runs a warm-up ingestion of the `warm` folder (so that imports,
first-use caches and the model's first forward passes are not counted), then measures the ingestion
of `folder`: RSS before it, the peak RSS during it (VmHWM, reset through /proc/self/clear_refs
before the run) and RSS after the job has ended. `decode_memory` is left out of IngestOptions when
it is null, so that the probe also runs against code without that option.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import tempfile
from pathlib import Path


def _status_mib(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    assert m is not None, f"{key} not in /proc/self/status"
    return int(m.group(1)) / 1024


def main() -> None:
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ingest_fixtures import tiny_clip_embedder

    from workbench.ingest import IngestOptions, ingest

    emb = tiny_clip_embedder()
    extra = {} if cfg.get("decode_memory") is None else {"decode_memory": int(cfg["decode_memory"])}
    opts = IngestOptions(workers=int(cfg["workers"]), multiview=bool(cfg.get("multiview")), **extra)
    with tempfile.TemporaryDirectory(prefix="wb-memprobe-") as tmp:
        if cfg.get("warm"):
            ingest([cfg["warm"]], Path(tmp) / "warm.db", "warm", embedder=emb, options=opts)
        gc.collect()
        before = _status_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        report = ingest([cfg["folder"]], Path(tmp) / "probe.db", "probe", embedder=emb, options=opts)
        peak = _status_mib("VmHWM")
        gc.collect()
        after = _status_mib("VmRSS")
    print(json.dumps({
        "before_mib": before, "peak_mib": peak, "after_mib": after, "ingested": report.ingested,
        "skipped": [f"{s.path}: {s.reason}" for s in report.skipped],
        "decode_memory": getattr(report, "decode_memory", None),
        "decode_memory_peak": getattr(report, "decode_memory_peak", None),
    }))


if __name__ == "__main__":
    main()
