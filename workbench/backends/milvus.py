"""`MilvusBackend`: pymilvus on a Milvus server or a Milvus Lite file, and how to describe one (`BackendSpec`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from workbench.backends.base import ClientBackend, index_params_for
from workbench.backends.capabilities import (
    BFLOAT16_VECTOR,
    BINARY_VECTOR,
    EMBEDDED_CAPABILITIES,
    FLOAT16_VECTOR,
    SPARSE_FLOAT_VECTOR,
    BackendError,
    Row,
    milvus_capabilities,
    scrub,
)
from workbench.backends.shapes import SegmentView, normalize_schema, vector_paths
from workbench.backends.swap import replace_by_renames
from workbench.settings import server_workspace


# --- Milvus (server or Milvus Lite) --------------------------------------------------------------
@dataclass(frozen=True)
class BackendSpec:
    """How to open a backend. `token` and `password` never appear in repr() or messages."""

    kind: str  # "embedded", "milvus" or "milvus-lite"
    uri: str
    user: str = ""
    db_name: str = ""
    token: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    secure: bool | None = None
    server_pem_path: str = ""
    server_name: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    ca_pem_path: str = ""
    timeout: float | None = None
    probe: bool = False  # probe Array-of-Structs support on a server (creates and drops a collection)

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.password, f"{self.user}:{self.password}" if self.password else "")
                     if s)

    def client_kwargs(self) -> dict[str, Any]:
        """pymilvus.MilvusClient keyword arguments (secrets included: pass them on, never print them)."""
        kw: dict[str, Any] = {"uri": self.uri}
        for k in ("user", "password", "db_name", "token", "server_pem_path", "server_name", "client_pem_path",
                  "client_key_path", "ca_pem_path"):
            if getattr(self, k):
                kw[k] = getattr(self, k)
        if self.secure is not None:
            kw["secure"] = self.secure
        if self.timeout is not None:
            kw["timeout"] = self.timeout
        return kw


SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "grpcs://", "unix:")


def probe_struct_arrays(client: Any) -> bool:
    """Whether the server keeps an Array of Structs field: create a scratch collection, look, drop it."""
    from pymilvus import DataType, MilvusClient

    name = f"_workbench_probe_{uuid.uuid4().hex[:12]}"
    try:
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        st = MilvusClient.create_struct_field_schema()
        st.add_field("e", DataType.FLOAT_VECTOR, dim=2)
        s.add_field("s", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=2)
        client.create_collection(name, schema=s)
        fields = normalize_schema(dict(client.describe_collection(name)))["fields"]
        return any(f["name"] == "s" for f in fields)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.drop_collection(name)


def workspace_for(spec: BackendSpec) -> Path:
    """The `workspace` of the backend `spec` names, without opening it: `<db>/workbench` for the engine,
    `<file>.workbench` beside a Milvus Lite database, and a per-server folder (`server_workspace`)."""
    path = Path(spec.uri).expanduser()
    if spec.kind == "embedded":
        return path / "workbench"
    if spec.kind == "milvus-lite":
        return path.with_name(path.name + ".workbench")
    return server_workspace(spec.uri, spec.db_name)


class MilvusBackend(ClientBackend):
    """pymilvus.MilvusClient: a Milvus server (uri, token, db_name, TLS) or a Milvus Lite file."""

    def __init__(self, spec: BackendSpec | str, **client_kwargs: Any) -> None:
        if isinstance(spec, str):
            spec = BackendSpec(kind="milvus-lite" if not spec.startswith(SERVER_SCHEMES) else "milvus", uri=spec)
        self.spec = spec
        self._secrets = spec.secrets()
        self._half: dict[str, dict[str, int]] = {}
        lite = spec.kind == "milvus-lite"
        self.label = f"Milvus Lite {spec.uri}" if lite else f"Milvus at {scrub(spec.uri)}"
        try:
            import pymilvus
        except ImportError:
            raise BackendError("pymilvus is not installed; install the 'milvus' extra "
                               "(pip install 'vector-workbench[milvus]')") from None
        if lite:
            if not spec.uri.endswith(".db"):
                raise BackendError(f"a Milvus Lite database is a file whose name ends in .db, not {spec.uri!r}")
            try:
                Path(spec.uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise BackendError(f"cannot create the folder of {spec.uri}: {e.strerror or e}") from None
        self.workspace = workspace_for(spec)
        self.capabilities = EMBEDDED_CAPABILITIES  # replaced below, once connected
        with self._errors("connect"):
            kw = spec.client_kwargs()
            if lite:
                kw["uri"] = str(Path(spec.uri).expanduser())
            self.client = pymilvus.MilvusClient(**kw, **client_kwargs)
        with self._errors("get_server_version"):
            version = str(self.client.get_server_version())
        lite = lite or version.startswith("milvus_lite")
        probe = probe_struct_arrays(self.client) if (lite or spec.probe) else None
        self.capabilities = milvus_capabilities(version, lite=lite, struct_probe=probe)

    def _api(self) -> SimpleNamespace:
        import pymilvus
        from pymilvus.client.embedding_list import EmbeddingList

        return SimpleNamespace(AnnSearchRequest=pymilvus.AnnSearchRequest, RRFRanker=pymilvus.RRFRanker,
                               WeightedRanker=pymilvus.WeightedRanker, EmbeddingList=EmbeddingList,
                               DataType=pymilvus.DataType, Function=pymilvus.Function,
                               FunctionType=pymilvus.FunctionType, MilvusClient=pymilvus.MilvusClient)

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        s = self._build_schema(schema)
        if not indexes:  # Milvus cannot load a collection whose vector fields have no index
            indexes = [{"field_name": p, "index_type": "AUTOINDEX",
                        "metric_type": _default_metric(f, "[" in p)} for p, f in vector_paths(schema)]
        self.client.create_collection(name, schema=s, index_params=index_params_for(self.client, indexes))

    def _after_index_build(self, name: str) -> None:
        """Load the collection again (dropping an index released it); a field still without an index
        keeps it released, which `is_loaded` then shows."""
        with contextlib.suppress(Exception):
            self.client.load_collection(name)

    def _forget(self, name: str) -> None:
        self._half.pop(name, None)

    def _half_fields(self, name: str) -> dict[str, int]:
        if name not in self._half:
            self._half[name] = {f["name"]: f["type"] for f in self.schema(name)["fields"]
                                if f["type"] in (FLOAT16_VECTOR, BFLOAT16_VECTOR)}
        return self._half[name]

    def _rows_in(self, name: str, rows: list[Row]) -> list[Row]:
        """FLOAT16 vectors as float16 arrays and BFLOAT16 vectors as raw bytes, as pymilvus takes them."""
        half = self._half_fields(name)
        if not half:
            return rows
        out = []
        for r in rows:
            r = dict(r)
            for k, t in half.items():
                v = r.get(k)
                if v is None or isinstance(v, bytes):
                    continue
                r[k] = np.asarray(v, dtype=np.float16) if t == FLOAT16_VECTOR else bf16_bytes(v)
            out.append(r)
        return out

    def _rows_out(self, name: str, rows: list[Row]) -> list[Row]:
        """FLOAT16/BFLOAT16 vectors (bytes from pymilvus) as lists of floats."""
        half = self._half_fields(name)
        if not half:
            return rows
        for r in rows:
            for k, t in half.items():
                v = r.get(k)
                if isinstance(v, list) and len(v) == 1 and isinstance(v[0], bytes):
                    v = v[0]
                if isinstance(v, (bytes, bytearray)):
                    r[k] = (np.frombuffer(v, dtype=np.float16).astype(np.float32).tolist() if t == FLOAT16_VECTOR
                            else bf16_floats(v))
        return rows

    def replace_collection(self, source: str, target: str) -> list[str]:
        """Put `source` in the place of `target` with three renames (`swap.replace_by_renames`): the old
        data is set aside, not dropped, until `source` has its name; returns notes (a backup that was
        kept). Between the first two renames readers find no `target`."""
        self._forget(source)
        self._forget(target)
        return replace_by_renames(self, source, target)

    def segments(self, name: str) -> list[SegmentView]:
        """The server's persistent segments (list_persistent_segments)."""
        self.capabilities.require("segments")
        with self._errors("list_persistent_segments"):
            infos = self.client.list_persistent_segments(name)
        return [SegmentView(segment_id=getattr(s, "segment_id", 0), num_rows=int(getattr(s, "num_rows", 0)),
                            state=_state_name(getattr(s, "state", "")), level=_state_name(getattr(s, "level", "")),
                            compaction_from=tuple(getattr(s, "compaction_from", ()) or ()))
                for s in infos]


def bf16_bytes(v: Any) -> bytes:
    """bfloat16 bits (round to nearest even) of float values, little-endian."""
    f = np.ascontiguousarray(np.asarray(v, dtype=np.float32)).view(np.uint32)
    bits = ((f + 0x7FFF + ((f >> 16) & 1)) >> 16).astype("<u2")
    return bits.tobytes()


def bf16_floats(b: bytes) -> list[float]:
    """Float values of little-endian bfloat16 bits."""
    bits = np.frombuffer(b, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).astype(float).tolist()


def _state_name(v: Any) -> str:
    name = getattr(v, "name", None)
    return str(name if name is not None else v)


def _default_metric(f: dict[str, Any], in_struct: bool) -> str:
    if in_struct:
        return "MAX_SIM_COSINE"
    if f["type"] == BINARY_VECTOR:
        return "HAMMING"
    if f["type"] == SPARSE_FLOAT_VECTOR:
        return "IP"
    return "COSINE"


