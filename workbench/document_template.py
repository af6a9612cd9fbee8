"""The "Documents" template: one entity per document, its text chunks as an Array of Structs.

    chunks: ARRAY<STRUCT<text VARCHAR, position INT32, page INT32, emb FLOAT_VECTOR(text model dim)>>

with an HNSW index (metric MAX_SIM_COSINE) on `chunks[emb]`, so a search ranks whole documents by their
best-matching chunk. With page images (PDFs), a second Array of Structs `pages` holds a CLIP vector and a
thumbnail per page, as the "PDF documents" template does; its vectors are of the CLIP model's dimension
(`FieldSpec.space == "image"`), the chunks' of the text model's.

With `full_text` (the default, where the backend has BM25 functions), `text` holds the entity's chunk
texts joined by blank lines, cut at 65,535 UTF-8 bytes (Milvus's VARCHAR maximum), with the `english`
analyzer; a BM25 function fills `text_sparse` (SPARSE_INVERTED_INDEX, metric BM25) from it, so words
search ranks whole documents as meaning search does. The chunks cannot carry a BM25 field themselves:
Milvus has no analyzers or sparse vectors inside an Array of Structs. Joining the chunks (rather than
storing the raw file) gives the text the passages are cut from, for PDFs and paragraph files alike;
the cut applies to documents over 64 KB, whose words past it are not searched by words (the ingest
report lists each cut).

A document with more chunks than `chunks` holds (`max_capacity`, 1,024 by default) is stored as several
entities, parts 1..n (`part`, `parts`), and the ingest report says so.
"""

from __future__ import annotations

from workbench.templates import FieldSpec, Template, _common

DEFAULT_MAX_CHUNKS = 1024
DEFAULT_CHUNK_TEXT_BYTES = 8192
DEFAULT_MAX_PAGE_IMAGES = 1024
FULL_TEXT_BYTES = 65535  # Milvus's largest VARCHAR max_length
TEXT_ANALYZER = "english"
FORMATS = ("txt", "md", "html", "pdf", "parquet", "jsonl")


def documents_template(max_chunks: int = DEFAULT_MAX_CHUNKS, text_max_bytes: int = DEFAULT_CHUNK_TEXT_BYTES,
                       page_images: bool = False, max_pages: int = DEFAULT_MAX_PAGE_IMAGES,
                       full_text: bool = True) -> Template:
    """The "Documents" template; with `page_images`, the `pages` Array of Structs of CLIP page vectors;
    with `full_text`, the `text` field and its BM25 output `text_sparse`."""
    fields = [
        *_common("document (for a paragraphs file: the file)"),
        FieldSpec("record_key", "VARCHAR", "the record's key (wiki_id) in a Parquet/JSONL paragraphs file",
                  max_length=512, nullable=True),
        FieldSpec("part", "INT32", "1-based part: a document with more chunks than one entity holds is split",
                  required=True),
        FieldSpec("parts", "INT32", "how many parts the document is stored as"),
        FieldSpec("title", "VARCHAR", "title (first heading, HTML title, PDF metadata, title column)",
                  max_length=1024, nullable=True),
        FieldSpec("format", "VARCHAR", f"source format: {', '.join(FORMATS)}", max_length=16),
        FieldSpec("page_count", "INT32", "pages of a PDF (0 for other formats)"),
        FieldSpec("chunk_count", "INT32", "chunks of the whole document (all parts)"),
        FieldSpec("embedding", "FLOAT_VECTOR", "mean of this entity's chunk embeddings (normalised)",
                  vector=True, metric="COSINE"),
        FieldSpec("chunks", "STRUCT_ARRAY", "paragraphs or chunks of the text, one embedding each", required=True,
                  max_capacity=max_chunks, sub=(
                      FieldSpec("text", "VARCHAR", "the chunk's text", max_length=text_max_bytes, required=True),
                      FieldSpec("position", "INT32", "0-based position of the chunk in the document", required=True),
                      FieldSpec("page", "INT32", "1-based PDF page of the chunk (0: no pages)", required=True),
                      FieldSpec("emb", "FLOAT_VECTOR", "text-model embedding of the chunk", vector=True,
                                metric="MAX_SIM_COSINE", required=True),
                  )),
    ]
    if full_text:
        fields += [
            FieldSpec("text", "VARCHAR", "the chunks' text joined (first 64 KB): the input of the BM25 function",
                      max_length=FULL_TEXT_BYTES, analyzer=TEXT_ANALYZER),
            FieldSpec("text_sparse", "SPARSE_FLOAT_VECTOR", "BM25 term weights of `text` (filled by Milvus)",
                      metric="BM25", bm25_of="text"),
        ]
    if page_images:
        fields.append(FieldSpec(
            "pages", "STRUCT_ARRAY", "PDF pages: number, CLIP embedding of the rendered page, thumbnail",
            required=True, max_capacity=max_pages, sub=(
                FieldSpec("page", "INT32", "1-based page number", required=True),
                FieldSpec("image_vector", "FLOAT_VECTOR", "CLIP embedding of the rendered page", vector=True,
                          metric="MAX_SIM_COSINE", required=True, space="image"),
                FieldSpec("thumbnail", "VARCHAR", "page thumbnail, relative to <db>/workbench", max_length=1024),
            )))
    return Template("Documents", "documents", "Documents ingested by Vector Workbench (text chunks)",
                    tuple(fields))
