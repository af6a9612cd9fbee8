"""`workbench --model demo` (the app's untrained demo model, with its warning) and the query-vector cache of
`workbench search` (a repeated query loads no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ingest_fixtures import make_image_folder

from workbench.cli import cli


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where the demo checkpoint is made once
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    photos = tmp_path / "photos"
    make_image_folder(photos)
    return {"db": tmp_path / "db", "photos": photos, "cache": tmp_path / "cache"}


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_demo_model_ingests_and_searches_with_a_warning(dirs: dict[str, Path]) -> None:
    r = run("ingest", str(dirs["photos"]), "--db", str(dirs["db"]), "-c", "demo", "--model", "demo", "-q")
    assert r.exit_code in (0, 3), r.output
    assert "never trained: search results are random" in r.stderr
    assert "workbench-tiny-test" in r.stdout
    r = run("search", "--db", str(dirs["db"]), "-c", "demo", "-t", "a red square", "-k", "2")
    assert r.exit_code == 0, r.output
    assert "never trained" in r.stderr and len(r.stdout.strip().splitlines()) == 2
    r = run("ingest", str(dirs["photos"]), "--db", str(dirs["db"]), "-c", "x", "--model", "demo", "--checkpoint",
            __file__)
    assert r.exit_code == 2 and "--model demo takes no --pretrained or --checkpoint" in r.output


def test_a_repeated_query_loads_no_model(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.embedders as embedders

    monkeypatch.delenv("WORKBENCH_QUERY_CACHE")  # this test checks the default folder (under XDG_CACHE_HOME)
    r = run("ingest", str(dirs["photos"]), "--db", str(dirs["db"]), "-c", "demo", "--model", "demo", "-q")
    assert r.exit_code in (0, 3), r.output
    loads: list[str] = []
    real = embedders.embedder_for_collection

    def counting(*a: Any, **k: Any) -> Any:
        loads.append("load")
        return real(*a, **k)

    monkeypatch.setattr(embedders, "embedder_for_collection", counting)
    first = run("search", "--db", str(dirs["db"]), "-c", "demo", "-t", "a red square", "--json")
    assert first.exit_code == 0 and loads == ["load"]
    assert list((dirs["cache"] / "vector-workbench" / "query-vectors").rglob("text-*.npy"))
    again = run("search", "--db", str(dirs["db"]), "-c", "demo", "-t", "a red square", "--json")
    assert again.exit_code == 0 and loads == ["load"], "the cached vector needs no model"
    assert again.stdout == first.stdout
    other = run("search", "--db", str(dirs["db"]), "-c", "demo", "-t", "a blue circle", "--json")
    assert other.exit_code == 0 and loads == ["load", "load"]
    fresh = run("search", "--db", str(dirs["db"]), "-c", "demo", "-t", "a red square", "--json", "--no-cache")
    assert fresh.exit_code == 0 and fresh.stdout == first.stdout and len(loads) == 3
