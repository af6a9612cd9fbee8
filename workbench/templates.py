"""Collection templates for ingestion, schema compatibility checks, and collection metadata.

Templates ("Images", "PDF documents", "Product with multiple images") are
declarative field lists turned into engine schemas on first ingest. An existing
collection (possibly edited by the user) is checked field by field: ingestion
writes the template fields the collection has, and refuses with a message naming
the field when a required one is missing or has the wrong type.

Which model embedded a collection is kept in a sidecar file,
`<db>/workbench/collections/<name>.json`, next to the engine's own files.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.settings import CollectionError, workbench_dir

INT_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64"})
PHASH_LENGTH = 208  # workbench.perceptual.FIELD_LENGTH: 13 hashes of 16 hex digits
MARK_FIELD = "duplicate_of"  # where "keep one, mark the rest" writes (workbench.duplicate_marks)
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})


@dataclass(frozen=True)
class FieldSpec:
    """One template field. `dtype` is a DataType name; "STRUCT_ARRAY" is an Array of Structs."""

    name: str
    dtype: str
    description: str = ""
    max_length: int | None = None
    vector: bool = False  # FLOAT_VECTOR with the model's dimension
    metric: str | None = None
    required: bool = False  # ingestion cannot work without it
    nullable: bool = False
    is_primary: bool = False
    max_capacity: int | None = None
    sub: tuple[FieldSpec, ...] = ()
    space: str = ""  # whose dimension a vector has: "" the template's main model, "image" CLIP beside a text model
    analyzer: str | None = None  # VARCHAR with a built-in analyzer ("english"): enable_analyzer, enable_match
    bm25_of: str | None = None  # SPARSE_FLOAT_VECTOR filled by a BM25 function of this VARCHAR field


@dataclass(frozen=True)
class Template:
    """A ready-made collection layout for one kind of ingestion."""

    name: str
    kind: str  # "images", "pdfs", "products", "documents"
    description: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _common(kind_label: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("id", "VARCHAR", "sha256 of the path (first 32 hex digits)", max_length=64, is_primary=True,
                  required=True),
        FieldSpec("path", "VARCHAR", f"absolute path of the {kind_label}", max_length=4096, required=True),
        FieldSpec("file_name", "VARCHAR", "file name", max_length=1024),
        FieldSpec("folder", "VARCHAR", "name of the parent folder (a handy label)", max_length=1024),
        FieldSpec("bytes", "INT64", "file size in bytes"),
        FieldSpec("modified", "DOUBLE", "modification time, seconds since 1970"),
        FieldSpec("sha256", "VARCHAR", "sha256 of the file content", max_length=64, required=True),
    )


def images_template(multiview: bool = False, grid: int = 3) -> Template:
    """The "Images" template; with `multiview`, a `views` Array of Structs (whole image + grid crops)."""
    fields = [
        *_common("image"),
        FieldSpec("width", "INT32", "width in pixels, after EXIF orientation"),
        FieldSpec("height", "INT32", "height in pixels, after EXIF orientation"),
        FieldSpec("format", "VARCHAR", "image format (JPEG, PNG, ...)", max_length=16),
        FieldSpec("taken_at", "VARCHAR", "EXIF capture time (ISO 8601, local time)", max_length=32, nullable=True),
        FieldSpec("camera", "VARCHAR", "EXIF camera make and model", max_length=256, nullable=True),
        FieldSpec("thumbnail", "VARCHAR", "thumbnail path, relative to <db>/workbench", max_length=1024),
        FieldSpec("phash", "VARCHAR", "perceptual hashes (pHash) of the image and 12 crops, hex "
                  "(workbench.perceptual)", max_length=PHASH_LENGTH, nullable=True),
        FieldSpec(MARK_FIELD, "VARCHAR", "primary key of the image this one duplicates (set by the duplicates "
                  "view or `workbench duplicates --mark`); null when not marked", max_length=128, nullable=True),
        FieldSpec("embedding", "FLOAT_VECTOR", "CLIP embedding of the whole image", vector=True, metric="COSINE",
                  required=True),
    ]
    if multiview:
        fields.append(FieldSpec(
            "views", "STRUCT_ARRAY", "whole image and grid crops, one embedding each", required=True,
            max_capacity=1 + grid * grid,
            sub=(
                FieldSpec("embedding", "FLOAT_VECTOR", vector=True, metric="MAX_SIM_COSINE", required=True),
                FieldSpec("x0", "INT32", "crop box left, original pixels"),
                FieldSpec("y0", "INT32", "crop box top"),
                FieldSpec("x1", "INT32", "crop box right"),
                FieldSpec("y1", "INT32", "crop box bottom"),
            ),
        ))
    return Template("Images", "images", "Images ingested by Vector Workbench", tuple(fields))


def pdf_template(max_pages: int = 1024, text_max_bytes: int = 8192) -> Template:
    """The "PDF documents" template: one entity per PDF, a `pages` Array of Structs."""
    return Template("PDF documents", "pdfs", "PDF documents ingested by Vector Workbench", (
        *_common("PDF"),
        FieldSpec("title", "VARCHAR", "document title from the PDF metadata", max_length=1024, nullable=True),
        FieldSpec("author", "VARCHAR", "author from the PDF metadata", max_length=512, nullable=True),
        FieldSpec("page_count", "INT32", "number of pages in the PDF"),
        FieldSpec("embedding", "FLOAT_VECTOR", "mean of the page image embeddings (normalised)", vector=True,
                  metric="COSINE"),
        FieldSpec("pages", "STRUCT_ARRAY", "per page: number, text, image and text embeddings, thumbnail",
                  required=True, max_capacity=max_pages, sub=(
                      FieldSpec("page", "INT32", "1-based page number", required=True),
                      FieldSpec("text", "VARCHAR", "page text (truncated)", max_length=text_max_bytes),
                      FieldSpec("image_vector", "FLOAT_VECTOR", "CLIP embedding of the rendered page", vector=True,
                                metric="MAX_SIM_COSINE", required=True),
                      FieldSpec("text_vector", "FLOAT_VECTOR",
                                "CLIP text embedding of the page text (the image embedding when there is no text)",
                                vector=True, metric="MAX_SIM_COSINE"),
                      FieldSpec("thumbnail", "VARCHAR", "page thumbnail, relative to <db>/workbench",
                                max_length=1024),
                  )),
    ))


def product_template(max_images: int = 16) -> Template:
    """The "Product with multiple images" template: one entity per product, its photos (front, side,
    angle shots...) as the elements of `images`, searched by MAX_SIM over them (`workbench.products`)."""
    return Template("Product with multiple images", "products", "Products with several photos each", (
        FieldSpec("id", "VARCHAR", "product id or SKU", max_length=128, is_primary=True, required=True),
        FieldSpec("name", "VARCHAR", "product name (the manifest's title)", max_length=512, required=True),
        FieldSpec("description", "VARCHAR", "product description", max_length=8192, nullable=True),
        FieldSpec("category", "VARCHAR", "category", max_length=256, nullable=True),
        FieldSpec("price", "DOUBLE", "price", nullable=True),
        FieldSpec("source", "VARCHAR", "the product folder or manifest it was ingested from", max_length=4096,
                  nullable=True),
        FieldSpec("digest", "VARCHAR", "sha256 of the product's record and image files (size, time): an "
                  "unchanged product is skipped when ingested again", max_length=64, nullable=True),
        FieldSpec("image_count", "INT32", "number of images stored", nullable=True),
        FieldSpec("embedding", "FLOAT_VECTOR", "embedding of the main image", vector=True, metric="COSINE",
                  required=True),
        FieldSpec("images", "STRUCT_ARRAY", "the product's photos", required=True, max_capacity=max_images, sub=(
            FieldSpec("path", "VARCHAR", "image path", max_length=4096, required=True),
            FieldSpec("embedding", "FLOAT_VECTOR", vector=True, metric="MAX_SIM_COSINE", required=True),
            FieldSpec("angle", "VARCHAR", "front, side, back... (\"\" when not given)", max_length=64),
            FieldSpec("is_primary", "BOOL", "the product's main image"),
            FieldSpec("thumbnail", "VARCHAR", "thumbnail path, relative to <db>/workbench", max_length=1024),
            FieldSpec("sha256", "VARCHAR", "sha256 of the image file", max_length=64),
        )),
    ))


TEMPLATE_NAMES = ("Images", "PDF documents", "Product with multiple images", "Documents")


def template_by_name(name: str, **options: Any) -> Template:
    """A template by its display name or kind ("images", "pdfs", "products", "documents")."""
    key = name.strip().lower()
    if key in ("documents", "document", "docs"):
        from workbench.document_template import documents_template

        return documents_template(**options)
    if key in ("images", "image"):
        return images_template(**options)
    if key in ("pdf documents", "pdfs", "pdf"):
        return pdf_template(**options)
    if key in ("product with multiple images", "products", "product"):
        return product_template(**options)
    raise CollectionError(f"unknown template {name!r}; the templates are {', '.join(TEMPLATE_NAMES)}")


# --- schema building -------------------------------------------------------------
_HNSW = {"M": 16, "efConstruction": 200}


def create_from_template(client: Any, name: str, template: Template, dim: int) -> None:
    """Create collection `name` in the engine from `template`, with vectors of `dim`, and its indexes."""
    from engine import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=template.description)
    index = client.prepare_index_params()
    for f in template.fields:
        if f.dtype == "STRUCT_ARRAY":
            st = MilvusClient.create_struct_field_schema()
            for s in f.sub:
                st.add_field(s.name, DataType[s.dtype], **_params(s, dim))
                if s.vector:
                    index.add_index(field_name=f"{f.name}[{s.name}]", index_type="HNSW",
                                    metric_type=s.metric or "MAX_SIM_COSINE", params=dict(_HNSW))
            schema.add_field(f.name, DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st,
                             max_capacity=f.max_capacity, description=f.description)
            continue
        schema.add_field(f.name, DataType[f.dtype], is_primary=f.is_primary, description=f.description,
                         **_params(f, dim))
        if f.vector:
            index.add_index(field_name=f.name, index_type="HNSW", metric_type=f.metric or "COSINE",
                            params=dict(_HNSW))
        if f.bm25_of:
            from engine import Function, FunctionType

            schema.add_function(Function(name=f"{f.name}_bm25", function_type=FunctionType.BM25,
                                         input_field_names=[f.bm25_of], output_field_names=[f.name]))
            index.add_index(field_name=f.name, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=index)


def _params(f: FieldSpec, dim: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.max_length is not None:
        out["max_length"] = f.max_length
    if f.vector:
        if f.space:
            raise CollectionError(f"field {f.name!r} needs the dimension of the {f.space} model; create the "
                                  "collection with template_schema(..., dims=...)")
        out["dim"] = dim
    if f.nullable:
        out["nullable"] = True
    if f.analyzer:
        out.update(enable_analyzer=True, enable_match=True, analyzer_params={"type": f.analyzer})
    return out


# --- compatibility of an existing collection ---------------------------------------
@dataclass
class ExistingField:
    """A field of an existing collection, normalised from describe_collection()."""

    name: str
    dtype: str
    params: dict[str, Any] = field(default_factory=dict)
    is_primary: bool = False
    auto_id: bool = False
    nullable: bool = False
    has_default: bool = False
    sub: dict[str, ExistingField] = field(default_factory=dict)

    @property
    def is_struct_array(self) -> bool:
        return self.dtype == "STRUCT_ARRAY"


def _type_name(value: Any) -> str:
    from engine import DataType

    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return value.upper()
    try:
        return DataType(int(value)).name
    except (ValueError, TypeError):
        return str(value)


def _existing_field(d: dict[str, Any]) -> ExistingField:
    dtype = _type_name(d.get("type"))
    subs = d.get("struct_fields") or d.get("fields")
    elem = d.get("element_type")
    if subs is not None and (dtype in ("ARRAY", "_ARRAY_OF_STRUCT", "ARRAY_OF_STRUCT") or
                             (elem is not None and _type_name(elem) == "STRUCT")):
        dtype = "STRUCT_ARRAY"
    ef = ExistingField(
        name=str(d["name"]), dtype=dtype, params=dict(d.get("params") or {}),
        is_primary=bool(d.get("is_primary")), auto_id=bool(d.get("auto_id")), nullable=bool(d.get("nullable")),
        has_default=d.get("default_value") is not None,
    )
    if dtype == "STRUCT_ARRAY":
        for s in subs or []:
            sub = _existing_field(s)
            ef.sub[sub.name] = sub
    return ef


def existing_fields(description: dict[str, Any]) -> dict[str, ExistingField]:
    """Fields of a describe_collection() result by name (engine and pymilvus layouts both)."""
    out: dict[str, ExistingField] = {}
    for d in list(description.get("fields") or []) + list(description.get("struct_array_fields") or []):
        ef = _existing_field(d)
        out[ef.name] = ef
    return out


@dataclass
class FieldMap:
    """What ingestion may write into an existing collection."""

    pk_name: str
    pk_is_int: bool
    present: dict[str, ExistingField]

    def has(self, name: str) -> bool:
        return name in self.present

    def has_sub(self, name: str, sub: str) -> bool:
        return name in self.present and sub in self.present[name].sub

    def max_length(self, name: str, sub: str | None = None) -> int | None:
        f = self.present.get(name)
        if f is not None and sub is not None:
            f = f.sub.get(sub)
        if f is None:
            return None
        ml = f.params.get("max_length")
        return int(ml) if ml is not None else None


def _compatible(spec: FieldSpec, ex: ExistingField, dim: int, where: str) -> str | None:
    want = spec.dtype
    if want == "STRUCT_ARRAY":
        return None if ex.is_struct_array else f"{where} is {ex.dtype}, but an Array of Structs is needed"
    if spec.vector:
        if ex.dtype != "FLOAT_VECTOR":
            return f"{where} is {ex.dtype}, but a FLOAT_VECTOR is needed"
        have = ex.params.get("dim")
        if have is not None and int(have) != dim:
            return f"{where} has dim {have}, but the model gives {dim}-dimensional vectors"
        return None
    ok = (ex.dtype == want or (want in INT_TYPES and ex.dtype in INT_TYPES) or
          (want in FLOAT_TYPES and ex.dtype in FLOAT_TYPES))
    return None if ok else f"{where} is {ex.dtype}, but {want} is needed"


def check_collection(name: str, description: dict[str, Any], template: Template, dim: int,
                     dims: dict[str, int] | None = None) -> FieldMap:
    """Map `template` onto an existing collection; CollectionError names the first missing or wrong field.
    `dims` gives the dimension of vectors of another model's space (FieldSpec.space), "image" say."""
    fields = existing_fields(description)

    def dim_of(f: FieldSpec) -> int:
        return (dims or {}).get(f.space, dim) if f.space else dim

    pk = next((f for f in fields.values() if f.is_primary), None)
    if pk is None:
        raise CollectionError(f"collection {name!r} has no primary key field")
    if pk.auto_id:
        raise CollectionError(
            f"collection {name!r}: primary key {pk.name!r} is auto_id; ingestion needs a VARCHAR (or INT64) "
            "primary key it can derive from the file path, so that re-runs update rows instead of duplicating them"
        )
    if pk.dtype not in ("VARCHAR", "INT64"):
        raise CollectionError(f"collection {name!r}: primary key {pk.name!r} must be VARCHAR or INT64")
    if pk.dtype == "VARCHAR" and int(pk.params.get("max_length") or 0) < 32:
        raise CollectionError(f"collection {name!r}: primary key {pk.name!r} needs max_length of at least 32")
    present: dict[str, ExistingField] = {pk.name: pk}
    for spec in template.fields:
        if spec.is_primary:
            continue
        ex = fields.get(spec.name)
        if ex is None:
            if spec.required:
                raise CollectionError(
                    f"collection {name!r} has no field {spec.name!r} ({_spec_type(spec)}), which "
                    f"{template.name} ingestion needs; add it or ingest into a new collection"
                )
            continue
        problem = _compatible(spec, ex, dim_of(spec), f"field {spec.name!r} of collection {name!r}")
        if problem:
            raise CollectionError(problem)
        for s in spec.sub:
            exs = ex.sub.get(s.name)
            if exs is None:
                if s.required:
                    raise CollectionError(
                        f"collection {name!r} has no sub-field {spec.name}[{s.name}] ({_spec_type(s)}), which "
                        f"{template.name} ingestion needs"
                    )
                continue
            problem = _compatible(s, exs, dim_of(s), f"sub-field {spec.name}[{s.name}] of collection {name!r}")
            if problem:
                raise CollectionError(problem)
        for extra in set(ex.sub) - {s.name for s in spec.sub}:
            raise CollectionError(
                f"collection {name!r}: sub-field {spec.name}[{extra}] is not one ingestion can fill"
            )
        present[spec.name] = ex
    for ex in fields.values():
        if ex.name not in present and not (ex.nullable or ex.has_default):
            raise CollectionError(
                f"collection {name!r}: field {ex.name!r} is not one {template.name} ingestion fills; "
                "make it nullable or give it a default value"
            )
    return FieldMap(pk.name, pk.dtype == "INT64", present)


def _spec_type(f: FieldSpec) -> str:
    if f.dtype == "STRUCT_ARRAY":
        return "Array of Structs"
    return f.dtype + (f"(max_length={f.max_length})" if f.max_length else "")


def guess_kind(description: dict[str, Any]) -> str | None:
    """"documents" for a collection with a `chunks` Array of Structs, "pdfs" for one with `pages`,
    "products" for one with `images`, "images" for one with `embedding` + `path`."""
    fields = existing_fields(description)
    if "chunks" in fields and fields["chunks"].is_struct_array:
        return "documents"
    if "pages" in fields and fields["pages"].is_struct_array:
        return "pdfs"
    if "images" in fields and fields["images"].is_struct_array:
        return "products"
    if "path" in fields and "embedding" in fields:
        return "images"
    return None


# --- collection metadata sidecar ---------------------------------------------------
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")  # matched in full: `$` lets "x\n" through


def check_collection_name(name: str) -> str:
    """`name` if it is a valid collection name (Milvus rules), else CollectionError saying why."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CollectionError(
            f"collection name {name!r} is invalid: use letters, digits and underscores, starting with a "
            "letter or underscore (for example my_photos)"
        )
    return name


def workspace_of(where: Any) -> Path:
    """The folder of the workbench's own files for a backend (its `workspace`) or a database directory
    (`<db>/workbench`)."""
    ws = getattr(where, "workspace", None)
    if ws is not None:
        return Path(ws)
    return workbench_dir(Path(where).expanduser())


def meta_path(db: Any, collection: str) -> Path:
    """The sidecar of `collection`; `db` is a Backend or a database directory."""
    return workspace_of(db) / "collections" / f"{check_collection_name(collection)}.json"


def read_meta(db: Any, collection: str) -> dict[str, Any] | None:
    """The workbench's record of a collection (template, model identity, options), or None."""
    try:
        return dict(json.loads(meta_path(db, collection).read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CollectionError(f"cannot read {meta_path(db, collection)}: {e}") from e


def write_meta(db: Any, collection: str, meta: dict[str, Any]) -> None:
    """Write the sidecar atomically (with an `updated` timestamp)."""
    p = meta_path(db, collection)
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, updated=time.time())
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, p)


def thumbnails_dir(db: Any, collection: str) -> Path:
    """`<workspace>/thumbnails/<collection>`: thumbnails named by content sha256 (`db`: a Backend or a
    database directory). Rows store thumbnail paths relative to the workspace."""
    return workspace_of(db) / "thumbnails" / check_collection_name(collection)


# --- opening a database and reading collections ------------------------------------------
def open_client(db: str | os.PathLike[str], create: bool = True) -> Any:
    """An engine `MilvusClient` on database directory `db` (created when missing if `create`)."""
    from engine import MilvusClient, MilvusException

    path = Path(db).expanduser()
    if not create and not path.exists():
        raise CollectionError(f"no database at {path} (ingest something first, or pass --db)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return MilvusClient(str(path))
    except MilvusException as e:
        msg = str(getattr(e, "message", "") or e)
        raise CollectionError(msg if str(path) in msg else f"cannot open database {path}: {msg}") from e
    except OSError as e:
        raise CollectionError(f"cannot open database {path}: {e.strerror or e}") from e


def require_collection(client: Any, db: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """describe_collection(name), or CollectionError listing the collections that exist."""
    if not client.has_collection(name):
        names = client.list_collections()
        raise CollectionError(
            f"no collection {name!r} in {db}; "
            + (f"the collections are: {', '.join(sorted(names))}" if names else "the database has no collections")
        )
    return dict(client.describe_collection(name))


def collection_kind(db: Any, name: str, description: dict[str, Any]) -> str | None:
    """"images", "pdfs", "products", "documents" or None, from the sidecar or the schema."""
    return (read_meta(db, name) or {}).get("kind") or guess_kind(description)
