"""Engine benchmark results as JSON: the `--json` dump and loading it back for `--report-from`.

The dump leaves out what does not serialise (search functions, open clients, indexes, the data sets
themselves); tuples become lists and paths strings. `load_results` turns a dump back into the dict that
`build_report` and `recall_qps_svg` read: an `argparse.Namespace` for the run's arguments, a
`DatasetSummary` in place of the data set, and tuples where the report prints them.
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.engine_dataset import DatasetSummary

# arguments that parse_args makes tuples (a dump holds them as lists)
TUPLE_ARGS = ("efs", "milvus_lite_efs", "maxsim_m", "maxsim_efs")
TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def jsonable(o: Any) -> Any:
    if isinstance(o, argparse.Namespace):
        return jsonable(vars(o))
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items() if not callable(v) and k not in ("index", "dataset")}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (str, int, float, bool)) or o is None:
        return o
    return repr(o)


def _namespace_from_repr(text: str) -> argparse.Namespace | None:
    """`Namespace(n=100000, efs=(16, 32), out=PosixPath('...'), ...)` (older dumps) back into a Namespace."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Namespace"):
        return None
    ns = argparse.Namespace()
    for kw in call.keywords:
        if kw.arg is None:
            return None
        v = kw.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id.endswith("Path") and v.args:
            setattr(ns, kw.arg, Path(ast.literal_eval(v.args[0])))
            continue
        try:
            setattr(ns, kw.arg, ast.literal_eval(v))
        except ValueError:
            setattr(ns, kw.arg, ast.unparse(v))
    return ns


def load_results(path: Path, args_from_command: Callable[[str], argparse.Namespace]) -> dict[str, Any]:
    """A `--json` dump as the results dict the report is built from.

    The run's arguments come from the dump (a dict, or a Namespace repr in older dumps), else from
    `args_from_command(R["command"])`. The generation time is the run's own (`generated`), else the
    dump file's modification time: the dump is written right after the report.
    """
    path = Path(path)
    R: dict[str, Any] = json.loads(path.read_text())
    a = R.get("args")
    ns = argparse.Namespace(**a) if isinstance(a, dict) else (_namespace_from_repr(a) if isinstance(a, str) else None)
    if ns is None:
        ns = args_from_command(R.get("command", ""))
    for k in TUPLE_ARGS:
        if isinstance(getattr(ns, k, None), list):
            setattr(ns, k, tuple(getattr(ns, k)))
    R["args"] = ns
    info = R.get("dataset_info")
    if isinstance(info, dict):
        R["dataset"] = DatasetSummary(**info)
    else:
        R["dataset"] = DatasetSummary(f"{ns.n:,} × {ns.dim} embedding-like", ns.n, ns.dim, ns.queries)
    # the report prints the engine's segment list as Python: tuples, as the run held them
    for res in (R.get("engine"), (R.get("gaussian") or {}).get("engine"), (R.get("large") or {}).get("engine")):
        if res and isinstance(res.get("segments"), list):
            res["segments"] = [tuple(s) if isinstance(s, list) else s for s in res["segments"]]
    if isinstance((R.get("maxsim") or {}).get("m"), list):
        R["maxsim"]["m"] = tuple(R["maxsim"]["m"])
    R.setdefault("errors", [])
    R.setdefault("profiles", {})
    R.setdefault("facts", {})
    if not R.get("generated"):
        R["generated"] = time.strftime(TIME_FORMAT, time.localtime(path.stat().st_mtime))
    R["rerendered"] = time.strftime(TIME_FORMAT)
    R["rerendered_from"] = str(path)
    return R
