"""workbench.backends and workbench.connections: one protocol over the engine and pymilvus (Milvus Lite
here), capability reports, saved connections with secrets kept out of files, logs and messages."""

from __future__ import annotations

import json
import logging
import stat
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from workbench.backends import (
    ARRAY,
    FLOAT_VECTOR,
    INT64,
    STRUCT,
    VARCHAR,
    AnnRequest,
    Backend,
    BackendError,
    BackendSpec,
    CapabilityError,
    EmbeddedBackend,
    MilvusBackend,
    Ranker,
    milvus_capabilities,
    normalize_schema,
    open_backend,
    parse_version,
    probe_struct_arrays,
    scrub,
    spec_from_string,
)
from workbench.connections import (
    Connection,
    ConnectionSettingsError,
    ConnectionStore,
    KeyringSecretStore,
    MemorySecretStore,
    SecretStoreUnavailable,
)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "e.db")
    yield b
    b.close()


@pytest.fixture(params=["embedded", "milvus_lite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue("embedded" if request.param == "embedded" else "lite")


_n = iter(range(10**6))


def fresh() -> str:
    return f"b_{next(_n)}"


SCHEMA: dict[str, Any] = {
    "enable_dynamic_field": True,
    "fields": [
        {"name": "pk", "type": VARCHAR, "params": {"max_length": 16}, "is_primary": True},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 3}},
        {"name": "w", "type": FLOAT_VECTOR, "params": {"dim": 3}},
        {"name": "n", "type": INT64, "nullable": True, "default_value": 4},
    ],
}
INDEXES = [{"field_name": "v", "index_type": "FLAT", "metric_type": "L2"},
           {"field_name": "w", "index_type": "FLAT", "metric_type": "IP"}]


def _fill(b: Backend, name: str, n: int = 20) -> None:
    b.create_collection(name, SCHEMA, INDEXES)
    b.insert(name, [{"pk": f"k{i}", "v": [1.0, float(i), 0.0], "w": [float(i % 4), 1.0, 0.5], "g": i % 3}
                    for i in range(n)])


# --- the protocol on both backends ------------------------------------------------------------------
def test_both_implement_the_protocol(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    assert backend.capabilities.kind in ("embedded", "milvus-lite")


def test_schema_round_trips(backend: Backend) -> None:
    name = fresh()
    backend.create_collection(name, SCHEMA, INDEXES)
    got = backend.schema(name)
    assert got["enable_dynamic_field"] is True
    assert [(f["name"], f["type"]) for f in got["fields"]] == [(f["name"], f["type"]) for f in SCHEMA["fields"]]
    n = next(f for f in got["fields"] if f["name"] == "n")
    assert n["default_value"] == 4 and n["nullable"] is True  # a plain value, not pymilvus's protobuf
    assert name in backend.list_collections() and backend.has_collection(name)
    backend.drop_collection(name)
    assert not backend.has_collection(name)


def test_search_hits_have_one_shape(backend: Backend) -> None:
    """{"id", "distance", "entity"} whatever the primary key is called; entity only has what was asked."""
    name = fresh()
    _fill(backend, name)
    res = backend.search(name, [[1.0, 2.0, 0.0]], anns_field="v", limit=3)
    assert [h["id"] for h in res[0]] == ["k2", "k1", "k3"]
    assert res[0][0] == {"id": "k2", "distance": 0.0, "entity": {}}
    res = backend.search(name, [[1.0, 2.0, 0.0]], anns_field="v", limit=2, filter="g == 1", output_fields=["g", "n"])
    assert [h["entity"] for h in res[0]] == [{"g": 1, "n": 4}, {"g": 1, "n": 4}]


def test_rows_counts_and_deletes(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name)
    assert backend.count(name) == 20 and backend.count(name, "g == 0") == 7
    assert sorted(r["pk"] for r in backend.get(name, ["k1", "k2", "nope"])) == ["k1", "k2"]
    assert backend.get(name, ["k1"], output_fields=["g"]) == [{"pk": "k1", "g": 1}]
    backend.delete(name, ids=["k1", "k2"])
    backend.delete(name, filter="g == 0")
    assert backend.count(name) == 11
    backend.upsert(name, [{"pk": "k1", "v": [0.0, 0.0, 1.0], "w": [0.0, 0.0, 1.0], "g": 9}])
    assert backend.count(name, "g == 9") == 1
    rows = [r for batch in backend.iter_rows(name, batch_size=5) for r in batch]
    assert len(rows) == 12 and all(isinstance(r["v"], list) for r in rows)
    assert sorted(r["pk"] for r in backend.query(name, filter="g == 9")) == ["k1"]
    with pytest.raises(BackendError, match="ids or a filter"):
        backend.delete(name)


def test_hybrid_search(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name)
    reqs = [AnnRequest([[1.0, 5.0, 0.0]], "v", 10), AnnRequest([[3.0, 1.0, 0.5]], "w", 10, filter="g != 2")]
    rrf = backend.hybrid_search(name, reqs, Ranker("rrf", k=60), limit=4, output_fields=["g"])
    assert len(rrf[0]) == 4 and rrf[0][0]["id"] in {"k5", "k3", "k7"} and "g" in rrf[0][0]["entity"]
    weighted = backend.hybrid_search(name, reqs, Ranker("weighted", weights=(0.5, 0.5)), limit=3)
    assert len(weighted[0]) == 3 and weighted[0][0]["entity"] == {}
    with pytest.raises(BackendError, match="unknown ranker"):
        backend.hybrid_search(name, reqs, Ranker("median"), limit=3)


def test_index_views_use_the_backends_own_progress(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name)
    backend.flush(name)
    idx = {i.field_name: i for i in backend.list_indexes(name)}
    assert set(idx) == {"v", "w"}
    assert (idx["v"].index_type, idx["v"].metric_type, idx["w"].metric_type) == ("FLAT", "L2", "IP")
    assert idx["v"].total_rows == 20 and idx["v"].indexed_rows == 20 and idx["v"].pending_index_rows == 0


def test_backend_errors_are_one_line(backend: Backend) -> None:
    with pytest.raises(BackendError) as e:
        backend.query("no_such_collection", filter="x > 1")
    assert "\n" not in str(e.value) and "no_such_collection" in str(e.value)


# --- capabilities ------------------------------------------------------------------------------------
def test_embedded_capabilities(embedded: EmbeddedBackend) -> None:
    caps = embedded.capabilities
    for feat in ("struct_arrays", "max_sim", "segments", "index_progress", "float16_vectors", "segment_export"):
        assert caps.supports(feat) and caps.why_not(feat) is None
    assert caps.supports("sparse_vectors") and caps.supports("full_text")  # engine/fulltext (issue 14)
    assert not caps.supports("int8_vectors") and "engine" in (caps.why_not("int8_vectors") or "")
    with pytest.raises(KeyError):
        caps.supports("teleportation")


def test_milvus_lite_capabilities_say_what_is_missing(lite: MilvusBackend) -> None:
    caps = lite.capabilities
    assert caps.kind == "milvus-lite" and caps.server_version.startswith("milvus_lite")
    assert not caps.supports("struct_arrays") and not caps.supports("max_sim")
    assert "drops such fields" in (caps.why_not("struct_arrays") or "")
    assert not caps.supports("segments") and not caps.supports("float16_vectors")
    assert caps.supports("index_progress") and caps.supports("sparse_vectors")
    assert probe_struct_arrays(lite.client) is False  # what the report is based on, probed on the server
    with pytest.raises(CapabilityError, match="Array of Structs"):
        caps.require("struct_arrays")
    d = caps.to_dict()
    assert d["features"]["struct_arrays"] is False and d["duplicate_pk_insert"] == "replaces"


def test_server_capabilities_follow_the_version() -> None:
    new = milvus_capabilities("v2.6.4", lite=False)
    assert new.supports("struct_arrays") and new.supports("max_sim") and new.supports("segments")
    assert new.supports("int8_vectors") and not new.supports("segment_export")
    old = milvus_capabilities("v2.5.10", lite=False)
    assert not old.supports("struct_arrays") and "2.6.4" in (old.why_not("max_sim") or "")
    assert not old.supports("int8_vectors") and old.supports("float16_vectors") and old.supports("sparse_vectors")
    older = milvus_capabilities("v2.3.5-lite", lite=False)  # the `milvus` package's embedded standalone server
    assert older.kind == "milvus" and older.supports("binary_vectors") and older.supports("segments")
    for feature in ("float16_vectors", "bfloat16_vectors", "sparse_vectors"):
        assert not older.supports(feature) and "2.4" in (older.why_not(feature) or "")
    probed = milvus_capabilities("v2.6.4", lite=False, struct_probe=False)
    assert not probed.supports("struct_arrays")
    assert parse_version("milvus_lite-3.2.2") == (3, 2, 2) and parse_version("v2.6.4-rc1") == (2, 6, 4)
    assert parse_version("unknown") == ()


STRUCT_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 2}},
        {"name": "chunks", "type": ARRAY, "element_type": STRUCT, "params": {"max_capacity": 4},
         "struct_fields": [{"name": "e", "type": FLOAT_VECTOR, "params": {"dim": 2}},
                           {"name": "t", "type": VARCHAR, "params": {"max_length": 8}}]},
    ],
}


def test_struct_arrays_on_the_engine(embedded: EmbeddedBackend) -> None:
    embedded.create_collection("s", STRUCT_SCHEMA)
    embedded.insert("s", [{"id": 1, "v": [1.0, 0.0], "chunks": [{"e": [1.0, 0.0], "t": "a"}, {"e": [0.0, 1.0], "t": "b"}]},
                          {"id": 2, "v": [0.0, 1.0], "chunks": [{"e": [0.6, 0.8], "t": "c"}]}])
    res = embedded.search("s", [np.array([[0.0, 1.0]])], anns_field="chunks[e]", limit=2, output_fields=["chunks[t]"])
    assert res[0][0]["id"] == 1 and res[0][0]["entity"] == {"chunks": [{"t": "a"}, {"t": "b"}]}
    schema = embedded.schema("s")
    assert schema["fields"][2]["struct_fields"][0]["name"] == "e"


def test_struct_arrays_refused_on_milvus_lite(lite: MilvusBackend) -> None:
    name = fresh()
    with pytest.raises(CapabilityError, match="chunks"):
        lite.create_collection(name, STRUCT_SCHEMA)
    assert not lite.has_collection(name)
    with pytest.raises(CapabilityError, match="MAX_SIM"):
        lite.search(name, [[[1.0, 0.0]]], anns_field="chunks[e]", limit=1)


def test_a_silently_dropped_field_is_caught(lite: MilvusBackend) -> None:
    """Were the capability report wrong, create_collection still notices the lost field and undoes."""
    real = lite.capabilities
    lite.capabilities = replace(real, supported=real.supported | {"struct_arrays", "max_sim"})
    try:
        name = fresh()
        with pytest.raises(CapabilityError, match="dropped field.*chunks"):
            lite.create_collection(name, STRUCT_SCHEMA)
        assert not lite.has_collection(name)
    finally:
        lite.capabilities = real


def test_segments(embedded: EmbeddedBackend, lite: MilvusBackend) -> None:
    for b in (embedded, lite):
        _fill(b, "segs")
        b.flush("segs")
    segs = embedded.segments("segs")
    assert sum(s.num_rows for s in segs) == 20 and segs[0].index_states
    keys = embedded.segment_keys("segs")
    assert sorted(k for _, ks in keys for k in ks) == sorted(f"k{i}" for i in range(20))
    with pytest.raises(CapabilityError, match="list_persistent_segments"):
        lite.segments("segs")
    with pytest.raises(CapabilityError, match="rows_per_file"):
        lite.segment_keys("segs")


def test_lite_counts_a_partition_correctly(lite: MilvusBackend) -> None:
    """Milvus Lite 3.x ignores partition_names in an unfiltered count(*); the backend works around it."""
    name = fresh()
    _fill(lite, name, 5)
    lite.create_partition(name, "p1")
    lite.insert(name, [{"pk": "x", "v": [0.0, 0.0, 1.0], "w": [0.0, 0.0, 1.0]}], partition="p1")
    assert lite.count(name, partitions=["p1"]) == 1 and lite.count(name) == 6
    assert sorted(lite.list_partitions(name)) == ["_default", "p1"]


# --- opening -----------------------------------------------------------------------------------------
def test_spec_from_string(tmp_path: Path) -> None:
    f = tmp_path / "lite.db"
    f.write_bytes(b"")
    assert spec_from_string("https://milvus.example:19530").kind == "milvus"
    assert spec_from_string("tcp://10.0.0.1:19530").kind == "milvus"
    assert spec_from_string("lite:/tmp/x.db") == BackendSpec(kind="milvus-lite", uri="/tmp/x.db")
    assert spec_from_string(str(f)).kind == "milvus-lite"  # an existing file is Milvus Lite
    assert spec_from_string(str(tmp_path / "photos.db")).kind == "embedded"  # else an engine directory
    assert spec_from_string("embedded:/data/x").uri == "/data/x"


def test_open_backend(tmp_path: Path, lite: MilvusBackend) -> None:
    b = open_backend(tmp_path / "db")
    assert isinstance(b, EmbeddedBackend)
    b.close()
    with pytest.raises(BackendError, match="no database"):
        open_backend(tmp_path / "missing", create=False)
    with pytest.raises(BackendError, match=r"ends in \.db"):
        open_backend("lite:/tmp/not-a-lite-file")
    with pytest.raises(BackendError, match="unknown backend kind"):
        open_backend(BackendSpec(kind="redis", uri="x"))
    lb = open_backend(f"lite:{tmp_path / 'other.db'}")
    assert isinstance(lb, MilvusBackend) and lb.capabilities.kind == "milvus-lite"
    lb.close()


# --- secrets -------------------------------------------------------------------------------------------
def test_scrub() -> None:
    assert scrub("failed at https://bob:hunter2@host:19530/x") == "failed at https://bob:***@host:19530/x"
    assert scrub("token tok-123456 rejected", ["tok-123456"]) == "token *** rejected"
    assert scrub("auth bob:pw-secret / pw-secret", ["bob:pw-secret"]) == "auth *** / ***"
    assert "pw" not in repr(BackendSpec(kind="milvus", uri="http://h", token="pw-1", password="pw-2"))


def test_connection_errors_never_show_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for spec in (BackendSpec(kind="milvus", uri="http://127.0.0.1:1", token="sekrit-token-123", timeout=1),
                 BackendSpec(kind="milvus", uri="http://bob:hunter2pw@127.0.0.1:1", timeout=1),
                 BackendSpec(kind="milvus", uri="http://127.0.0.1:1", user="bob", password="hunter3pw", timeout=1)):
        with pytest.raises(BackendError) as e:
            open_backend(spec)
        text = str(e.value) + repr(e.value) + "".join(str(a) for a in e.value.args)
        assert e.value.__cause__ is None and e.value.__suppress_context__
        for secret in ("sekrit-token-123", "hunter2pw", "hunter3pw"):
            assert secret not in text
    for secret in ("sekrit-token-123", "hunter2pw", "hunter3pw"):
        assert secret not in caplog.text


# --- saved connections ------------------------------------------------------------------------------------
class FakeKeyring:
    """The keyring module's three calls, in memory."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, key: str) -> str | None:
        return self.data.get((service, key))

    def set_password(self, service: str, key: str, secret: str) -> None:
        self.data[(service, key)] = secret

    def delete_password(self, service: str, key: str) -> None:
        del self.data[(service, key)]


def test_saved_connections_keep_secrets_out_of_the_file(tmp_path: Path) -> None:
    secrets = MemorySecretStore()
    store = ConnectionStore(tmp_path / "conf" / "connections.json", secrets)
    store.save(Connection("prod", kind="milvus", uri="https://milvus.example:19530", db_name="photos",
                          server_name="milvus.example"), secret="tok-ABCDEF-123")
    store.save(Connection("local", kind="embedded", uri=str(tmp_path / "db")))
    text = store.path.read_text()
    assert "tok-ABCDEF-123" not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    saved = json.loads(text)["connections"]
    assert [c["name"] for c in saved] == ["local", "prod"] and saved[1]["has_secret"] is True
    spec = store.spec("prod")
    assert spec.token == "tok-ABCDEF-123" and spec.secure is True and spec.db_name == "photos"
    assert "tok-ABCDEF" not in repr(spec)
    assert store.get("local").has_secret is False
    store.save(Connection("prod", kind="milvus", uri="https://milvus.example:19530"))  # secret=None keeps it
    assert store.spec("prod").token == "tok-ABCDEF-123"
    store.delete("prod")
    assert secrets.get("connection:prod") is None
    with pytest.raises(ConnectionSettingsError, match="no saved connection 'prod'.*local"):
        store.get("prod")


def test_a_password_in_the_uri_moves_to_the_secret_store(tmp_path: Path) -> None:
    store = ConnectionStore(tmp_path / "c.json", MemorySecretStore())
    conn = store.save(Connection("srv", kind="milvus", uri="https://bob:pa55word@milvus.example:19530/"))
    assert conn.uri == "https://milvus.example:19530/" and conn.user == "bob" and conn.has_secret
    assert "pa55word" not in store.path.read_text()
    spec = store.spec("srv")
    assert (spec.user, spec.password, spec.token) == ("bob", "pa55word", "")
    with pytest.raises(ConnectionSettingsError, match="not both"):
        store.save(Connection("srv", kind="milvus", uri="https://bob:x@h:1"), secret="y")


@pytest.mark.parametrize("uri, saved, user, password, port", [
    ("https://root:pw@[::1]:19531", "https://[::1]:19531", "root", "pw", 19531),
    ("https://bob:p:w@x@[fe80::1]:19530/db?a=1", "https://[fe80::1]:19530/db?a=1", "bob", "p:w@x", 19530),
    ("http://alice@[2001:db8::5]", "http://[2001:db8::5]", "alice", "", None),
    ("https://carol:s3cret@Milvus.Example:443", "https://Milvus.Example:443", "carol", "s3cret", 443),
])
def test_uris_with_ipv6_hosts_and_credentials_round_trip(tmp_path: Path, uri: str, saved: str, user: str,
                                                         password: str, port: int | None) -> None:
    """The user info leaves the URI (the password for the secret store), and the host stays as written:
    an IPv6 literal keeps its brackets (it used to be saved as `https://::1:19531`)."""
    store = ConnectionStore(tmp_path / "c.json", MemorySecretStore())
    conn = store.save(Connection("v6", kind="milvus", uri=uri))
    assert (conn.uri, conn.user, conn.has_secret) == (saved, user, bool(password))
    if password:
        assert password not in store.path.read_text()
    spec = store.spec("v6")
    assert (spec.uri, spec.user, spec.password) == (saved, user, password)
    assert urlsplit(spec.uri).port == port


def test_a_uri_that_cannot_be_parsed_is_refused_without_showing_its_password(tmp_path: Path) -> None:
    store = ConnectionStore(tmp_path / "c.json", MemorySecretStore())
    with pytest.raises(ConnectionSettingsError, match="cannot be parsed") as info:
        store.save(Connection("v6", kind="milvus", uri="https://root:hunter2pw@[::1:19531"))
    assert "hunter2pw" not in str(info.value)
    assert not store.path.exists()


def test_connections_are_validated(tmp_path: Path) -> None:
    store = ConnectionStore(tmp_path / "c.json", MemorySecretStore())
    with pytest.raises(ConnectionSettingsError, match="kind"):
        store.save(Connection("x", kind="postgres", uri="x"))
    with pytest.raises(ConnectionSettingsError, match="http"):
        store.save(Connection("x", kind="milvus", uri="milvus.example:19530"))
    with pytest.raises(ConnectionSettingsError, match="name"):
        store.save(Connection("a/b", kind="embedded", uri="x"))
    with pytest.raises(ConnectionSettingsError, match="name"):  # `$` would let the newline through
        store.save(Connection("prod\n", kind="embedded", uri="x"))


def test_keyring_store_with_an_injected_backend(tmp_path: Path) -> None:
    kr = FakeKeyring()
    store = ConnectionStore(tmp_path / "c.json", KeyringSecretStore(backend=kr))
    store.save(Connection("prod", kind="milvus", uri="https://h:19530"), secret="tok-1")
    assert kr.data == {("vector-workbench", "connection:prod"): "tok-1"}
    assert store.spec("prod").token == "tok-1"
    kr.data.clear()
    with pytest.raises(ConnectionSettingsError, match="missing from the keyring"):
        store.spec("prod")
    store.delete("prod")  # deleting a secret that is gone is fine


def test_without_keyring_saving_a_secret_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if not installed
    store = ConnectionStore(tmp_path / "c.json")
    with pytest.raises(SecretStoreUnavailable, match="pip install keyring"):
        store.save(Connection("prod", kind="milvus", uri="https://h:19530"), secret="tok-1")
    assert not store.path.exists()
    store.save(Connection("local", kind="embedded", uri=str(tmp_path / "db")))  # no secret: no keyring needed
    assert [c.name for c in store.list()] == ["local"]


def test_open_saved_connections(tmp_path: Path, lite: MilvusBackend) -> None:
    store = ConnectionStore(tmp_path / "c.json", MemorySecretStore())
    store.save(Connection("local", kind="embedded", uri=str(tmp_path / "db")))
    store.save(Connection("lite", kind="milvus-lite", uri=str(tmp_path / "lite.db")))
    for name, kind in (("local", "embedded"), ("lite", "milvus-lite")):
        b = store.open(name)
        assert b.capabilities.kind == kind
        b.close()


def test_normalize_schema_reads_pymilvus_struct_layout() -> None:
    """describe_collection from a Milvus 2.6 server lists Array-of-Structs fields in `fields` (pymilvus
    converts them) or, raw, in `struct_array_fields`; both become the neutral layout."""
    user = {"fields": [{"name": "id", "type": 5, "is_primary": True, "params": {}},
                       {"name": "c", "type": 22, "element_type": 201, "params": {"max_capacity": 4},
                        "struct_fields": [{"name": "e", "type": 101, "params": {"dim": 2}}]}]}
    norm = normalize_schema(user)
    assert norm["fields"][1] == {"name": "c", "type": ARRAY, "element_type": STRUCT, "description": "",
                                 "params": {"max_capacity": 4},
                                 "struct_fields": [{"name": "e", "type": 101, "description": "", "params": {"dim": 2}}]}


def test_bfloat16_bytes_round_trip() -> None:
    """The bytes MilvusBackend sends pymilvus for BFLOAT16 vectors (and reads back) keep bf16 values."""
    from workbench.backends import bf16_bytes, bf16_floats

    values = [0.10009765625, -2.5, 2.0**100, 1.0]  # all exactly representable in bfloat16
    assert bf16_floats(bf16_bytes(values)) == values
    assert bf16_floats(bf16_bytes([0.1]))[0] == 0.10009765625  # rounded to nearest


# --- administration calls the app uses, on both backends ------------------------------------------------
def test_rename_release_load_and_partitions(backend: Backend) -> None:
    name, new = fresh(), fresh()
    _fill(backend, name)
    assert backend.is_loaded(name)
    backend.release(name)
    assert not backend.is_loaded(name)
    backend.load(name)
    assert backend.is_loaded(name)
    backend.create_partition(name, "extra")
    backend.insert(name, [{"pk": "p1", "v": [0.0, 0.0, 1.0], "w": [0.0, 0.0, 1.0]}], partition="extra")
    assert backend.count(name, partitions=["extra"]) == 1
    assert [r["pk"] for r in backend.get(name, ["p1", "k1"], output_fields=["pk"], partitions=["extra"])] == ["p1"]
    assert [r["pk"] for r in backend.query(name, "pk in {keys}", output_fields=["pk"],
                                           filter_params={"keys": ["k3", "k4"]})] in (["k3", "k4"], ["k4", "k3"])
    backend.delete(name, ids=["p1"])
    backend.drop_partition(name, "extra")
    assert "extra" not in backend.list_partitions(name)
    backend.rename_collection(name, new)
    assert not backend.has_collection(name) and backend.count(new) == 20
    backend.drop_collection(new)


def test_iter_rows_limit(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name, n=30)
    got = [r for batch in backend.iter_rows(name, batch_size=7, output_fields=["pk"], limit=12) for r in batch]
    assert len(got) == 12 and len({r["pk"] for r in got}) == 12
    backend.drop_collection(name)


def test_drop_and_rebuild_an_index_with_progress(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name, n=50)
    backend.flush(name)
    backend.drop_index(name, "w")
    assert [i.field_name for i in backend.list_indexes(name)] == ["v"]
    events = list(backend.create_index_iter(name, [{"field_name": "w", "index_type": "FLAT", "metric_type": "IP"}]))
    assert events and all(e.field_name == "w" for e in events)
    assert {i.field_name: i.metric_type for i in backend.list_indexes(name)} == {"v": "L2", "w": "IP"}
    backend.load(name)
    hits = backend.search(name, [[1.0, 1.0, 0.5]], anns_field="w", limit=3)
    assert len(hits[0]) == 3
    backend.drop_collection(name)


def test_compaction_summary(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name, n=40)
    backend.flush(name)
    backend.delete(name, ids=[f"k{i}" for i in range(10)])
    summary = backend.compact(name)
    assert summary.state.endswith("Completed")
    if backend.capabilities.kind == "embedded":
        assert summary.rows_purged == 10 and "purged 10" in summary.describe()
    assert backend.count(name) == 30
    backend.drop_collection(name)


def test_engine_only_inspection_is_explained_elsewhere(embedded: EmbeddedBackend, lite: MilvusBackend) -> None:
    name = fresh()
    _fill(embedded, name, n=30)
    embedded.flush(name)
    assert embedded.memory_usage(name)["total"] >= 0
    assert isinstance(embedded.index_stats(name, "v"), list)
    last = list(embedded.recall_check_iter(name, "v", k=5, ef_values=(16,), n_queries=5))[-1]
    assert "results" in last
    for feature, call in [("memory_usage", lambda: lite.memory_usage(name)),
                          ("index_internals", lambda: lite.index_stats(name, "v")),
                          ("recall_check", lambda: list(lite.recall_check_iter(name, "v")))]:
        assert not lite.capabilities.supports(feature)
        with pytest.raises(CapabilityError, match="Milvus Lite"):
            call()


def test_workspaces(tmp_path: Path, embedded: EmbeddedBackend, lite: MilvusBackend,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.backends import workspace_for
    from workbench.settings import server_workspace

    assert embedded.workspace == embedded.path / "workbench"
    assert lite.workspace.name.endswith(".db.workbench")
    # derived without opening, the same folders as the opened backends use
    assert workspace_for(BackendSpec(kind="embedded", uri=str(embedded.path))) == embedded.workspace
    assert workspace_for(lite.spec) == lite.workspace
    monkeypatch.setenv("WORKBENCH_WORKSPACES", str(tmp_path / "ws"))
    a = server_workspace("https://bob:s3cret@milvus.example.com:19530", "photos")
    assert a.parent == tmp_path / "ws" and a.name.startswith("milvus.example.com_19530_photos-")
    assert "s3cret" not in str(a) and "bob" not in str(a)
    assert server_workspace("https://milvus.example.com:19530", "other") != a


def test_an_existing_milvus_lite_database_is_recognised(lite: MilvusBackend, tmp_path: Path) -> None:
    """Milvus Lite 3.x keeps its database in a directory named like a file: a plain path to it means Milvus
    Lite, not a new engine database inside it."""
    path = Path(lite.spec.uri)
    assert path.exists()
    assert spec_from_string(str(path)).kind == "milvus-lite"
    engine_dir = tmp_path / "e.db"
    EmbeddedBackend(engine_dir).close()
    assert spec_from_string(str(engine_dir)).kind == "embedded"


def test_nullable_fields_follow_the_server_version() -> None:
    from workbench.template_schema import blank_varchar_fields, template_schema
    from workbench.templates import images_template

    old = milvus_capabilities("v2.4.9", lite=False)
    assert not old.supports("nullable_fields") and "2.5" in (old.why_not("nullable_fields") or "")
    assert milvus_capabilities("v2.5.0", lite=False).supports("nullable_fields")
    with_null, _ = template_schema(images_template(), 8, milvus_capabilities("v2.6.4", lite=False))
    without, _ = template_schema(images_template(), 8, old)
    nullable = {f["name"] for f in with_null["fields"] if f.get("nullable")}
    assert nullable == {"taken_at", "camera", "phash", "duplicate_of"}  # VARCHARs that may be missing
    assert not any(f.get("nullable") for f in without["fields"])
    assert nullable <= blank_varchar_fields(without) and not nullable & blank_varchar_fields(with_null)


def test_search_in_partitions(backend: Backend) -> None:
    name = fresh()
    _fill(backend, name)
    backend.create_partition(name, "near")
    backend.insert(name, [{"pk": "n1", "v": [1.0, 100.0, 0.0], "w": [0.0, 0.0, 1.0]}], partition="near")
    backend.flush(name)
    backend.load(name)
    everywhere = backend.search(name, [[1.0, 3.0, 0.0]], anns_field="v", limit=3)[0]
    assert everywhere[0]["id"] == "k3"
    only = backend.search(name, [[1.0, 3.0, 0.0]], anns_field="v", limit=3, partitions=["near"])[0]
    assert [h["id"] for h in only] == ["n1"]
    hybrid = backend.hybrid_search(name, [AnnRequest([[1.0, 3.0, 0.0]], "v", 3), AnnRequest([[1.0, 1.0, 0.5]], "w", 3)],
                                   Ranker(), limit=3, partitions=["near"])[0]
    assert [h["id"] for h in hybrid] == ["n1"]
    backend.drop_collection(name)


def test_sidecar_collection_names_are_matched_in_full() -> None:
    """The collection name names the metadata sidecar file: `$` used to let "photos\\n" through."""
    from workbench.templates import CollectionError, check_collection_name

    assert check_collection_name("photos_1") == "photos_1"
    for bad in ("photos\n", "1x", "a b", "a" * 256):
        with pytest.raises(CollectionError, match="invalid"):
            check_collection_name(bad)
