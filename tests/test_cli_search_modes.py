"""`workbench search` modes: hybrid (text + image, several fields; RRF and weighted), grouping, range search,
and the combinations refused with a reason. Each mode's result is checked against what it must be, computed
from plain searches of the same collection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ingest_fixtures import gradient, tiny_checkpoint_file

from workbench.cli import cli

FOLDERS = ("cats", "dogs", "birds")
PER_FOLDER = 4
N = len(FOLDERS) * PER_FOLDER


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """12 pictures in 3 folders, ingested with crops (an `embedding` field and a `views[embedding]` MAX_SIM field)."""
    root = tmp_path_factory.mktemp("modes")
    pics = root / "pics"
    for i, folder in enumerate(FOLDERS):
        (pics / folder).mkdir(parents=True)
        for j in range(PER_FOLDER):
            gradient(64 + 8 * j, 48, seed=i * PER_FOLDER + j).save(pics / folder / f"{folder}_{j}.png")
    db = root / "lib.db"
    r = CliRunner().invoke(cli, ["ingest", str(pics), "--db", str(db), "-c", "pics", "--multiview", "--grid", "2",
                                 "--checkpoint", str(tiny_checkpoint_file()), "-q"])
    assert r.exit_code == 0, r.output
    return {"db": db, "query": pics / "dogs" / "dogs_1.png"}


@pytest.fixture(autouse=True)
def _own_query_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_QUERY_CACHE", str(tmp_path / "query-vectors"))


def run(lib: dict[str, Path], *args: str) -> Any:
    """`workbench search` on `embedding` (the default there is `views[embedding]`, a MAX_SIM field) unless
    a --field is given."""
    field = () if "--field" in args else ("--field", "embedding")
    return CliRunner().invoke(cli, ["search", "--db", str(lib["db"]), "-c", "pics", *field, *args])


def hits(lib: dict[str, Path], *args: str) -> list[dict[str, Any]]:
    r = run(lib, *args, "--json")
    assert r.exit_code == 0, r.output
    return list(json.loads(r.stdout))


def test_grouping_gives_the_best_hits_of_each_folder(lib: dict[str, Path]) -> None:
    every = hits(lib, "-t", "a bright picture", "-k", str(N))
    assert len(every) == N
    grouped = hits(lib, "-t", "a bright picture", "-k", "2", "--group-by", "folder", "--group-size", "3")
    # the two folders whose best picture ranks highest, the best three of each, in their own order
    order: list[str] = []
    for h in every:
        if h["folder"] not in order:
            order.append(h["folder"])
    want = [h["id"] for f in order[:2] for h in [x for x in every if x["folder"] == f][:3]]
    assert [h["id"] for h in grouped] == want
    assert all(h["group"] == h["folder"] for h in grouped)
    r = run(lib, "-t", "a bright picture", "-k", "2", "--group-by", "folder", "--group-size", "3")
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0].startswith("scores: COSINE similarity")
    assert [ln for ln in lines if ln.startswith("folder = ")] == [f"folder = {f}" for f in order[:2]]
    one_each = hits(lib, "-t", "a bright picture", "-k", "5", "--group-by", "folder")
    assert sorted(h["folder"] for h in one_each) == sorted(FOLDERS)
    # no --field: grouping takes the top-level `embedding` over the default MAX_SIM field (Milvus groups no
    # EmbeddingList search)
    r = CliRunner().invoke(cli, ["search", "--db", str(lib["db"]), "-c", "pics", "-t", "a bright picture", "-k", "5",
                                 "--group-by", "folder", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == one_each


def test_strict_group_size_leaves_out_small_groups(lib: dict[str, Path]) -> None:
    loose = hits(lib, "-t", "x", "-k", "3", "--group-by", "folder", "--group-size", "2",
                 "--filter", 'not (folder == "birds" and file_name != "birds_0.png")')
    assert sorted(h["folder"] for h in loose).count("birds") == 1
    strict = hits(lib, "-t", "x", "-k", "3", "--group-by", "folder", "--group-size", "2", "--strict-group-size",
                  "--filter", 'not (folder == "birds" and file_name != "birds_0.png")')
    assert "birds" not in {h["folder"] for h in strict} and len(strict) == 4


def test_range_keeps_exactly_the_scores_inside(lib: dict[str, Path]) -> None:
    every = hits(lib, "-t", "a dark picture", "-k", str(N))
    scores = sorted(h["score"] for h in every)
    lo, hi = (scores[2] + scores[3]) / 2, (scores[8] + scores[9]) / 2
    got = hits(lib, "-t", "a dark picture", "-k", str(N), "--min-score", str(lo), "--max-score", str(hi))
    assert {h["id"] for h in got} == {h["id"] for h in every if lo < h["score"] <= hi}
    assert len(got) == 6
    above = hits(lib, "-t", "a dark picture", "-k", str(N), "--min-score", str(lo))
    assert {h["id"] for h in above} == {h["id"] for h in every if h["score"] > lo}
    below = hits(lib, "-t", "a dark picture", "-k", str(N), "--max-score", str(hi))
    assert {h["id"] for h in below} == {h["id"] for h in every if h["score"] <= hi}


def test_hybrid_text_and_image_fused_by_rrf(lib: dict[str, Path]) -> None:
    text = hits(lib, "-t", "a dog", "-k", str(N))
    image = hits(lib, "-i", str(lib["query"]), "-k", str(N))
    fused = hits(lib, "-t", "a dog", "--also-image", str(lib["query"]), "-k", "5", "--rrf-k", "10")
    rank_t = {h["id"]: i + 1 for i, h in enumerate(text)}
    rank_i = {h["id"]: i + 1 for i, h in enumerate(image)}
    want = {k: 1 / (10 + rank_t[k]) + 1 / (10 + rank_i[k]) for k in rank_t}
    assert [round(h["score"], 5) for h in fused] == [round(v, 5) for v in sorted(want.values(), reverse=True)[:5]]
    for h in fused:
        assert h["score"] == pytest.approx(want[h["id"]], abs=1e-6)
        t_score = next(x["score"] for x in text if x["id"] == h["id"])
        assert h["scores"]["text 'a dog'"] == pytest.approx(t_score, abs=1e-4)
        assert h["scores"]["image dogs_1.png"] == pytest.approx(
            next(x["score"] for x in image if x["id"] == h["id"]), abs=1e-4)
    r = run(lib, "-t", "a dog", "--also-image", str(lib["query"]), "-k", "2")
    assert r.exit_code == 0 and r.stdout.startswith("scores: fused score, RRF (k=60)")
    assert "text 'a dog' " in r.stdout and "image dogs_1.png " in r.stdout


def test_hybrid_weighted(lib: dict[str, Path]) -> None:
    text = {h["id"]: h["score"] for h in hits(lib, "-t", "a dog", "-k", str(N))}
    image = {h["id"]: h["score"] for h in hits(lib, "-i", str(lib["query"]), "-k", str(N))}
    fused = hits(lib, "-i", str(lib["query"]), "--also-text", "a dog", "-k", str(N), "--ranker", "weighted",
                 "--weights", "0.8,0.2")
    assert len(fused) == N
    for h in fused:  # Milvus's COSINE normalisation: (1 + cosine) / 2; the image request comes first here
        assert h["score"] == pytest.approx(0.8 * (1 + image[h["id"]]) / 2 + 0.2 * (1 + text[h["id"]]) / 2, abs=1e-4)
    assert fused[0]["file_name"] == "dogs_1.png"


@pytest.fixture(scope="module")
def two(lib: dict[str, Path]) -> dict[str, Path]:
    """`lib` with 'pics2': each picture's `embedding` and its first crop's as `crop`, two top-level fields."""
    from two_vector_fields import copy_with_two_fields

    from workbench.templates import open_client

    client = open_client(lib["db"])
    try:
        copy_with_two_fields(client, lib["db"], "pics", "pics2")
    finally:
        client.close()
    return lib


def test_hybrid_of_two_fields(two: dict[str, Path]) -> None:
    def found(*args: str) -> list[dict[str, Any]]:
        r = CliRunner().invoke(cli, ["search", "--db", str(two["db"]), "-c", "pics2", "-i", str(two["query"]),
                                     *args, "--json"])
        assert r.exit_code == 0, r.output
        return list(json.loads(r.stdout))

    whole = found("--field", "embedding", "-k", str(N))
    crops = found("--field", "crop", "-k", str(N))
    fused = found("--field", "embedding", "--field", "crop", "-k", "3")
    rank_w = {h["id"]: i + 1 for i, h in enumerate(whole)}
    rank_c = {h["id"]: i + 1 for i, h in enumerate(crops)}
    assert len(fused) == 3
    for h in fused:
        assert h["score"] == pytest.approx(1 / (60 + rank_w[h["id"]]) + 1 / (60 + rank_c[h["id"]]), abs=1e-6)
    assert fused[0]["file_name"] == "dogs_1.png"


def test_hybrid_of_a_max_sim_field_is_refused_and_the_automatic_field_is_top_level(lib: dict[str, Path]) -> None:
    r = run(lib, "-i", str(lib["query"]), "--field", "embedding", "--field", "views[embedding]")
    assert r.exit_code == 1 and "Milvus has no hybrid search with EmbeddingList requests" in r.stderr
    # no --field on a multi-view collection: a hybrid search takes `embedding`, not views[embedding] (MAX_SIM)
    r = CliRunner().invoke(cli, ["search", "--db", str(lib["db"]), "-c", "pics", "-t", "a dog", "--also-image",
                                 str(lib["query"]), "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    assert all(set(h["scores"]) == {"text 'a dog'", "image dogs_1.png"} for h in json.loads(r.stdout))
    assert json.loads(r.stdout) == hits(lib, "-t", "a dog", "--also-image", str(lib["query"]), "-k", "3")


@pytest.mark.parametrize("args, message", [
    (("--group-by", "folder", "--min-score", "0.1"), "a grouping search cannot have a score range"),
    (("--group-by", "folder", "--field", "views[embedding]"), "Milvus does not group EmbeddingList searches"),
    (("--min-score", "0.1", "--field", "views[embedding]"), "Milvus has no range search on EmbeddingList"),
    (("--group-by", "modified"), "cannot group by modified (DOUBLE)"),
    (("--group-by", "nope"), "has no such field; group by one of bytes, camera, duplicate_of, file_name, folder"),
    (("--min-score", "0.5", "--max-score", "0.2"), "must be less than the maximum score"),
    (("--also-image", "IMG", "--ranker", "weighted", "--weights", "0.5"),
     "needs one weight per request, 2 in all (1. text 'x' on embedding; 2. image dogs_1.png on embedding); got 1"),
    (("--also-image", "IMG", "--weights", "0.5,2"), "weights must be between 0 and 1"),
])
def test_refused_combinations_say_why(lib: dict[str, Path], args: tuple[str, ...], message: str) -> None:
    args = tuple(str(lib["query"]) if a == "IMG" else a for a in args)
    r = run(lib, "-t", "x", *args)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: ") and message in r.stderr


@pytest.mark.parametrize("args, message", [
    (("--ranker", "rrf"), "fuse a hybrid search"),
    (("--weights", "1,2"), "fuse a hybrid search"),
    (("--group-size", "2"), "go with --group-by FIELD"),
    (("--also-text", "y"), "--also-text goes with --image"),
])
def test_flags_without_their_mode_are_usage_errors(lib: dict[str, Path], args: tuple[str, ...], message: str) -> None:
    r = run(lib, "-t", "x", *args)
    assert r.exit_code == 2 and message in r.output


@pytest.mark.parametrize("args", [("--group-by", "folder"), ("--min-score", "0.1"), ("--also-image", "IMG")])
def test_a_documents_collection_refuses_the_modes_with_the_reason(tmp_path: Path, lib: dict[str, Path],
                                                                  args: tuple[str, ...]) -> None:
    from workbench.templates import create_from_template, open_client, template_by_name

    db = tmp_path / "docs.db"
    client = open_client(db)
    create_from_template(client, "notes", template_by_name("documents"), 32)
    client.close()
    args = tuple(str(lib["query"]) if a == "IMG" else a for a in args)
    r = CliRunner().invoke(cli, ["search", "--db", str(db), "-c", "notes", "-t", "x", *args])
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: 'notes' is a Documents collection: hybrid, grouping and range search are "
                               "not offered there yet")
