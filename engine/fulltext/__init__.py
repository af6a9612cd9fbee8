"""Full-text search: analyzers, BM25 functions, SPARSE_FLOAT_VECTOR fields and their inverted index,
TEXT_MATCH / PHRASE_MATCH filters (docs/fulltext.md)."""
