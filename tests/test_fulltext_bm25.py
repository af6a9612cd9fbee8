"""Full text in the engine: BM25 scores and rankings against an exact Python oracle of Milvus's
formula, analyzers, sparse vectors (IP), TEXT_MATCH / PHRASE_MATCH, refusals, and the index files.

The oracle (`oracle_scores`) evaluates, in plain Python floats over the live rows of the whole
collection, score = sum_t  qtf(t) * ln(1 + (N - n_t + 0.5)/(n_t + 0.5)) * tf*(k1+1)/(tf + k1*(1-b+b*dl/avgdl))
with avgdl = max(total/N, 1): Milvus's BM25 (engine/fulltext/bm25.py).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from engine import DataType, Function, FunctionType, MilvusClient
from engine.errors import DataError, FilterError, MilvusException, ParamError, SchemaError, UnsupportedError
from engine.fulltext.analyzers import ENGLISH_STOP_WORDS, build_analyzer

WORDS = ("apple banana cherry delta echo fox golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango").split()


def bm25_schema(analyzer: dict | None = None, match: bool = True):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    kw = {"analyzer_params": analyzer} if analyzer else {}
    s.add_field("text", DataType.VARCHAR, max_length=4000, enable_analyzer=True, enable_match=match, **kw)
    s.add_field("tag", DataType.INT64)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    return s


def make(tmp_path, analyzer=None, index=True, params=None, **props):
    c = MilvusClient(str(tmp_path / "db"))
    ip = None
    if index:
        ip = c.prepare_index_params()
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=params or {})
    c.create_collection("docs", schema=bm25_schema(analyzer), index_params=ip, **props)
    return c


def oracle_scores(texts: dict[int, str], query: str, k1=1.2, b=0.75, analyzer=None) -> dict[int, float]:
    an = build_analyzer(analyzer)
    docs = {pk: Counter(an.terms(t)) for pk, t in texts.items()}
    n = len(docs)
    total = sum(sum(c.values()) for c in docs.values())
    avg = max(total / n, 1.0) if n else 1.0
    q = Counter(an.terms(query))
    out = {}
    for pk, tf in docs.items():
        dl = sum(tf.values())
        score, hit = 0.0, False
        for term, qtf in q.items():
            if term not in tf:
                continue
            hit = True
            df = sum(1 for c in docs.values() if term in c)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += qtf * idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * dl / avg))
        if hit:
            out[pk] = score
    return out


def check_against_oracle(c, texts, queries, k1=1.2, b=0.75, limit=10, partitions=None, live=None, **kw):
    for query in queries:
        want = oracle_scores(texts, query, k1, b)
        if live is not None:
            want = {pk: s for pk, s in want.items() if pk in live}
        hits = c.search("docs", data=[query], anns_field="sparse", limit=limit, partition_names=partitions,
                        search_params={"metric_type": "BM25", **kw})[0]
        ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        assert len(hits) == len(ranked), query
        for h, (pk, score) in zip(hits, ranked):
            assert h["distance"] == pytest.approx(score, rel=2e-6, abs=1e-6), (query, pk)
        # the same set and order, ties aside (float32 distances)
        assert [h["id"] for h in hits] == [pk for pk, _ in ranked] or \
            all(abs(h["distance"] - s) < 1e-5 for h, (_, s) in zip(hits, ranked))


def random_texts(rng: random.Random, n: int, start: int = 0) -> dict[int, str]:
    return {i: " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30))) for i in range(start, start + n)}


def test_bm25_matches_the_exact_oracle_across_growing_sealed_deleted_and_partitions(tmp_path):
    rng = random.Random(7)
    c = make(tmp_path)
    c.create_partition("docs", "p2")
    texts = random_texts(rng, 120)
    c.insert("docs", [{"id": i, "text": t, "tag": i % 3} for i, t in texts.items() if i < 60])
    c.flush("docs")  # sealed and indexed
    c.insert("docs", [{"id": i, "text": t, "tag": i % 3} for i, t in texts.items() if 60 <= i < 90],
             partition_name="p2")
    c.insert("docs", [{"id": i, "text": t, "tag": i % 3} for i, t in texts.items() if i >= 90])  # growing
    queries = ["apple banana", "tango tango sierra", "zulu", "mike november oscar papa quebec", "fox"]
    check_against_oracle(c, texts, queries, limit=200)
    # deletes leave the statistics: they are over live rows only
    c.delete("docs", ids=list(range(0, 120, 7)))
    live = {pk: t for pk, t in texts.items() if pk % 7}
    check_against_oracle(c, live, queries, limit=200)
    c.flush("docs")
    check_against_oracle(c, live, queries, limit=200)
    # a partition-restricted search scores with the whole collection's statistics
    p2 = {pk for pk in live if 60 <= pk < 90}
    check_against_oracle(c, live, queries, limit=200, partitions=["p2"], live=p2)
    # upsert replaces a document's terms
    c.upsert("docs", [{"id": 1, "text": "zulu zulu apple", "tag": 0}])
    live[1] = "zulu zulu apple"
    check_against_oracle(c, live, ["zulu", "apple"], limit=200)


def test_bm25_k1_and_b_from_the_index_and_the_search(tmp_path):
    rng = random.Random(3)
    texts = random_texts(rng, 50)
    c = make(tmp_path, params={"bm25_k1": 1.6, "bm25_b": 0.3})
    c.insert("docs", [{"id": i, "text": t, "tag": 0} for i, t in texts.items()])
    c.flush("docs")
    check_against_oracle(c, texts, ["apple echo", "golf golf"], k1=1.6, b=0.3, limit=60)
    check_against_oracle(c, texts, ["apple echo"], k1=2.0, b=1.0, limit=60, params={"bm25_k1": 2.0, "bm25_b": 1.0})
    with pytest.raises(ParamError, match="bm25_b"):
        c.search("docs", ["apple"], anns_field="sparse", search_params={"params": {"bm25_b": 1.5}})


def test_filter_and_limit_and_output_fields(tmp_path):
    rng = random.Random(11)
    texts = random_texts(rng, 40)
    c = make(tmp_path)
    c.insert("docs", [{"id": i, "text": t, "tag": i % 2} for i, t in texts.items()])
    want = oracle_scores(texts, "kilo lima")
    hits = c.search("docs", ["kilo lima"], anns_field="sparse", filter="tag == 1", limit=5, output_fields=["text"])[0]
    best = sorted(((pk, s) for pk, s in want.items() if pk % 2), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [h["id"] for h in hits] == [pk for pk, _ in best]
    assert all(h["entity"]["text"] == texts[h["id"]] for h in hits)
    with pytest.raises(ParamError, match="not allowed to retrieve raw data of field sparse"):
        c.search("docs", ["kilo"], anns_field="sparse", output_fields=["sparse"])
    assert "sparse" not in c.query("docs", filter="id == 1", output_fields=["*"])[0]


def test_refusals_change_nothing(tmp_path):
    c = make(tmp_path)
    with pytest.raises(DataError, match="output of BM25 function"):
        c.insert("docs", [{"id": 1, "text": "a", "tag": 0, "sparse": {1: 1.0}}])
    with pytest.raises(ParamError, match="metric type not match"):
        c.search("docs", ["a"], anns_field="sparse", search_params={"metric_type": "IP"})
    with pytest.raises(ParamError, match="searched with text"):
        c.search("docs", [{1: 0.5}], anns_field="sparse")
    with pytest.raises(ParamError, match="drop_ratio_search"):
        c.search("docs", ["a"], anns_field="sparse", search_params={"params": {"drop_ratio_search": 1.5}})
    assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 0


def test_schema_rules(tmp_path):
    c = MilvusClient(str(tmp_path / "db"))
    s = bm25_schema()
    s.fields[1].params.pop("enable_analyzer")
    s.fields[1].params.pop("enable_match")
    with pytest.raises(SchemaError, match="enable_analyzer=True"):
        c.create_collection("x", schema=s)
    for params, err in (({"type": "chinese"}, UnsupportedError), ({"tokenizer": "jieba"}, UnsupportedError),
                        ({"type": "nope"}, SchemaError), ({"tokenizer": "standard", "filter": ["reverse"]},
                                                           UnsupportedError)):
        with pytest.raises(err):
            c.create_collection("x", schema=bm25_schema(params))
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("n", DataType.INT64, enable_match=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(SchemaError, match="VARCHAR fields only"):
        c.create_collection("x", schema=s)
    s = bm25_schema()
    with pytest.raises(UnsupportedError, match="TEXTEMBEDDING"):  # refused as it is added, naming it
        s.add_function(Function("emb", FunctionType.TEXTEMBEDDING, ["text"], ["sparse"]))
    s = bm25_schema()
    s.functions.append(Function("emb", FunctionType.TEXTEMBEDDING, ["text"], ["sparse"]))
    with pytest.raises(UnsupportedError, match="TEXTEMBEDDING"):  # and again by the schema's validation
        c.create_collection("x", schema=s)
    assert not c.has_collection("x")


def test_describe_and_reopen_keep_functions_and_text_params(tmp_path):
    c = make(tmp_path, analyzer={"type": "english"})
    d = c.describe_collection("docs")
    assert d["functions"][0]["name"] == "bm25" and d["functions"][0]["input_field_names"] == ["text"]
    text = next(f for f in d["fields"] if f["name"] == "text")
    assert text["params"]["enable_analyzer"] == "true" and text["params"]["enable_match"] == "true"
    assert next(f for f in d["fields"] if f["name"] == "sparse")["is_function_output"] is True
    c.insert("docs", [{"id": 1, "text": "The runners were running", "tag": 0}])
    c.close()
    c2 = MilvusClient(str(tmp_path / "db"))
    assert c2.search("docs", ["run"], anns_field="sparse")[0][0]["id"] == 1  # english stemming, after reopen
    assert c2.query("docs", filter='TEXT_MATCH(text, "runner")', output_fields=["id"]) == [{"id": 1}]


def test_analyzers():
    std = build_analyzer(None)
    assert std.terms("Hello, WORLD! hello-world foo_bar 3.14 Ünïcode") == \
        ["hello", "world", "hello", "world", "foo", "bar", "3", "14", "ünïcode"]
    eng = build_analyzer({"type": "english"})
    assert eng.terms("The runners are running quickly to the stations") == ["runner", "run", "quick", "station"]
    assert "the" in ENGLISH_STOP_WORDS
    custom = build_analyzer({"tokenizer": "whitespace", "filter": ["lowercase", {"type": "stop", "stop_words": ["a"]},
                                                                   {"type": "length", "max": 5}]})
    assert custom.tokens("A Quick brownish fox") == [("quick", 1), ("fox", 3)]
    assert build_analyzer({"type": "standard", "stop_words": ["of"]}).terms("Lord of Rings") == ["lord", "rings"]


def test_text_match_and_phrase_match_against_an_oracle(tmp_path):
    rng = random.Random(5)
    texts = random_texts(rng, 80)
    c = make(tmp_path)
    c.insert("docs", [{"id": i, "text": t, "tag": i % 2} for i, t in texts.items() if i < 40])
    c.flush("docs")
    c.insert("docs", [{"id": i, "text": t, "tag": i % 2} for i, t in texts.items() if i >= 40])
    toks = {pk: t.split() for pk, t in texts.items()}

    def phrase_oracle(words, slop):
        out = set()
        for pk, ts in toks.items():
            pos = {w: [i for i, t in enumerate(ts) if t == w] for w in words}
            if all(pos.values()):
                import itertools
                for choice in itertools.product(*(pos[w] for w in words)):
                    if len(set(choice)) == len(choice):
                        shifts = [p - i for i, p in enumerate(choice)]
                        if max(shifts) - min(shifts) <= slop:
                            out.add(pk)
                            break
        return out

    def ids(flt):
        return {r["id"] for r in c.query("docs", filter=flt, output_fields=["id"])}

    for q in ("apple", "apple zulu", "Mike NOVEMBER"):
        want = {pk for pk, ts in toks.items() if set(q.lower().split()) & set(ts)}
        assert ids(f'TEXT_MATCH(text, "{q}")') == want
    for words, slop in ((["apple", "banana"], 0), (["fox", "golf"], 1), (["golf", "fox"], 2),
                        (["echo", "echo"], 3), (["lima", "mike", "november"], 4)):
        assert ids(f'PHRASE_MATCH(text, "{" ".join(words)}", {slop})') == phrase_oracle(words, slop)
    want = {pk for pk, ts in toks.items() if "apple" in ts and pk % 2}
    assert ids('TEXT_MATCH(text, "apple") and tag == 1') == want


def test_phrase_match_examples_from_the_docs(tmp_path):
    c = make(tmp_path)
    c.insert("docs", [{"id": 1, "text": "machine learning boosts efficiency", "tag": 0},
                      {"id": 2, "text": "learning machine models", "tag": 0},
                      {"id": 3, "text": "deep learning machine", "tag": 0},
                      {"id": 4, "text": "machine deep learning", "tag": 0}])

    def ids(flt):
        return sorted(r["id"] for r in c.query("docs", filter=flt, output_fields=["id"]))

    assert ids('PHRASE_MATCH(text, "machine learning")') == [1]
    assert ids('PHRASE_MATCH(text, "machine learning", 1)') == [1, 4]
    assert ids('PHRASE_MATCH(text, "machine learning", 2)') == [1, 2, 3, 4]


def test_match_needs_enable_match_and_reports_columns(tmp_path):
    c = MilvusClient(str(tmp_path / "db"))
    c.create_collection("docs", schema=bm25_schema(match=False))
    with pytest.raises(FilterError, match="enable_match=True") as e:
        c.query("docs", filter='id > 0 and TEXT_MATCH(text, "a")')
    assert e.value.position == 23  # the field inside TEXT_MATCH(...)
    c.create_collection("matched", schema=bm25_schema(match=True))
    with pytest.raises(FilterError, match="slop"):
        c.query("matched", filter='PHRASE_MATCH(text, "a b", -1)')


def sparse_collection(c):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    ip = c.prepare_index_params()
    ip.add_index("sv", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    c.create_collection("sp", schema=s, index_params=ip)


def test_sparse_ip_exact_against_numpy(tmp_path):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    c = MilvusClient(str(tmp_path / "db"))
    sparse_collection(c)
    rng = np.random.default_rng(1)
    dense = (rng.random((200, 50)) < 0.1) * rng.random((200, 50))
    rows = []
    for i, r in enumerate(dense):
        nz = np.flatnonzero(r)
        form = i % 3
        v = {int(j): float(r[j]) for j in nz} if form == 0 else [(int(j), float(r[j])) for j in nz] if form == 1 \
            else scipy_sparse.csr_matrix(r.reshape(1, -1))
        rows.append({"id": i, "sv": v})
    c.insert("sp", rows[:120])
    c.flush("sp")
    c.insert("sp", rows[120:])
    dense32 = dense.astype(np.float32)
    q = (rng.random((3, 50)) < 0.2) * rng.random((3, 50))
    queries = [{int(j): float(x[j]) for j in np.flatnonzero(x)} for x in q]
    hits = c.search("sp", queries, anns_field="sv", limit=15, search_params={"metric_type": "IP"})
    for qi, page in enumerate(hits):
        scores = dense32.astype(np.float64) @ q[qi]
        nz = [i for i in np.argsort(-scores, kind="stable") if (dense[i] * q[qi]).any()][:15]
        assert [h["id"] for h in page] == [int(i) for i in nz]
        assert [h["distance"] for h in page] == pytest.approx([scores[i] for i in nz], rel=1e-5)
    got = c.get("sp", ids=[0])[0]["sv"]
    assert got == pytest.approx({int(j): float(np.float32(dense[0, j])) for j in np.flatnonzero(dense[0])})


@pytest.mark.parametrize("bad, match", [({-1: 1.0}, "out of range"), ({2**32 - 1: 1.0}, "out of range"),
                                        ({1: float("nan")}, "finite"), ({1: -0.5}, "non-negative"),
                                        ({"a": 1.0}, "not an integer"), ([(1, 1.0), (1, 2.0)], "twice"),
                                        ("text", "expected a dict")])
def test_sparse_values_are_checked(tmp_path, bad, match):
    c = MilvusClient(str(tmp_path / "db"))
    sparse_collection(c)
    with pytest.raises(DataError, match=match):
        c.insert("sp", [{"id": 1, "sv": {1: 1.0}}, {"id": 2, "sv": bad}])
    assert c.query("sp", filter="", output_fields=["count(*)"])[0]["count(*)"] == 0


def test_sparse_index_files_are_checked_on_load(tmp_path):
    c = make(tmp_path)
    c.insert("docs", [{"id": i, "text": f"apple {i}", "tag": 0} for i in range(20)])
    c.flush("docs")
    idx = list((tmp_path / "db").rglob("seg_*.idx/sparse/docs.npy"))
    assert idx, "the sparse index was built and saved beside its segment"
    c.close()
    data = bytearray(idx[0].read_bytes())
    data[-1] ^= 0xFF
    idx[0].write_bytes(bytes(data))
    c2 = MilvusClient(str(tmp_path / "db"))
    with pytest.raises(MilvusException, match="corrupted"):
        c2.search("docs", ["apple"], anns_field="sparse")


def test_hybrid_search_fuses_bm25_with_a_dense_request(tmp_path):
    from engine import AnnSearchRequest, RRFRanker

    c = MilvusClient(str(tmp_path / "db"))
    s = bm25_schema()
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    c.create_collection("docs", schema=s)
    rng = random.Random(2)
    texts = random_texts(rng, 30)
    vecs = np.random.default_rng(2).random((30, 4)).astype(np.float32)
    c.insert("docs", [{"id": i, "text": t, "tag": 0, "vec": vecs[i].tolist()} for i, t in texts.items()])
    q = vecs[3] + 0.01
    words = c.search("docs", ["apple fox"], anns_field="sparse", limit=10)[0]
    near = c.search("docs", [q.tolist()], anns_field="vec", limit=10, search_params={"metric_type": "L2"})[0]
    fused = c.hybrid_search("docs", [AnnSearchRequest(["apple fox"], "sparse", {"metric_type": "BM25"}, 10),
                                     AnnSearchRequest([q.tolist()], "vec", {"metric_type": "L2"}, 10)],
                            RRFRanker(60), limit=5)[0]
    want: dict[int, float] = {}
    for page in (words, near):
        for rank, h in enumerate(page, 1):
            want[h["id"]] = want.get(h["id"], 0.0) + 1.0 / (60 + rank)
    best = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [h["distance"] for h in fused] == pytest.approx([s for _, s in best], rel=1e-6)
    assert {h["id"] for h in fused} <= set(want)
