"""`workbench search`: a text or image query, and the search modes (hybrid, grouping, range).

A thin layer over `workbench.collection_ops.search` (`workbench.searching`); what the modes mean and
which combinations are refused is `workbench.search_modes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workbench.cli_common import (
    collection_option,
    debug_option,
    demo_model,
    echo_json,
    model_options,
    resolve_target,
    status,
    target_options,
)


def _modes(also_text: str | None, also_image: str | None, fields: tuple[str, ...], ranker: str | None,
           weights: str | None, rrf_k: int | None, group_by: str | None, group_size: int | None,
           strict: bool, min_score: float | None, max_score: float | None) -> Any:
    """The `SearchModes` the flags ask for; flags that do nothing without another are usage errors."""
    from workbench.search_modes import Fusion, Grouping, ScoreRange, SearchModes, parse_weights

    hybrid = also_text is not None or also_image is not None or len(fields) > 1
    if not hybrid and (ranker or weights or rrf_k is not None):
        raise click.UsageError("--ranker, --weights and --rrf-k fuse a hybrid search: add --also-text, "
                               "--also-image or a second --field")
    if weights and ranker == "rrf" or rrf_k is not None and ranker == "weighted":
        raise click.UsageError("--weights go with --ranker weighted, --rrf-k with --ranker rrf")
    kind = ranker or ("weighted" if weights else "rrf")
    if kind == "weighted" and not weights:
        raise click.UsageError("--ranker weighted needs --weights, one per request (e.g. --weights 0.7,0.3)")
    fusion = Fusion(kind, rrf_k if rrf_k is not None else 60, parse_weights(weights) if weights else ())
    if group_by is None and (group_size is not None or strict):
        raise click.UsageError("--group-size and --strict-group-size go with --group-by FIELD")
    group = Grouping(group_by, group_size or 1, strict) if group_by else None
    rng = ScoreRange(min_score, max_score) if min_score is not None or max_score is not None else None
    return SearchModes(group=group, score_range=rng, fusion=fusion)


@click.command()
@target_options
@collection_option()
@click.option("--text", "-t", default=None, help="Search with this text.")
@click.option("--image", "-i", default=None, type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="Search with this image file.")
@click.option("--also-text", default=None, metavar="TEXT",
              help="Hybrid: also search with this text (with --image), the two fused by --ranker.")
@click.option("--also-image", default=None, type=click.Path(exists=True, dir_okay=False, path_type=str),
              metavar="PATH", help="Hybrid: also search with this image (with --text), the two fused by --ranker.")
@click.option("--filter", "-f", "filter_", default="", metavar="EXPR",
              help='Milvus filter expression, e.g. \'folder == "cats" and width > 800\'.')
@click.option("--limit", "-k", default=10, show_default=True, type=click.IntRange(1, 16384),
              help="Hits (with --group-by: groups).")
@click.option("--field", "anns_fields", multiple=True, metavar="FIELD",
              help="Vector field to search, e.g. embedding, views[embedding], pages[text_vector], chunks[emb]. "
                   "Repeat it for a hybrid search of several fields.")
@click.option("--ranker", type=click.Choice(["rrf", "weighted"]), default=None,
              help="Hybrid: fuse by reciprocal rank (rrf, the default) or by weighted scores.")
@click.option("--weights", default=None, metavar="W1,W2,..",
              help="Hybrid, weighted: one weight (0 to 1) per request, queries first then fields: "
                   "text on each field, then the --also query on each field. With --mode both (documents): "
                   "words, meaning [and page images].")
@click.option("--rrf-k", type=click.IntRange(1, 16383), default=None, help="Hybrid, rrf: k in 1/(k + rank) [60].")
@click.option("--group-by", default=None, metavar="FIELD",
              help="Grouping: the best groups of this scalar field (e.g. folder), --group-size hits each.")
@click.option("--group-size", type=click.IntRange(1, 10), default=None, help="Grouping: hits per group [1].")
@click.option("--strict-group-size", is_flag=True, help="Grouping: leave out groups with fewer hits.")
@click.option("--min-score", type=float, default=None, metavar="X",
              help="Range: COSINE/IP keep score > X (larger is closer); L2 keep distance ≥ X.")
@click.option("--max-score", type=float, default=None, metavar="Y",
              help="Range: COSINE/IP keep score ≤ Y; L2 keep distance < Y (smaller is closer).")
@model_options
@click.option("--text-model", default=None, metavar="NAME_OR_PATH",
              help="Documents: the text model (default: the one the collection records; another is refused).")
@click.option("--mode", type=click.Choice(["words", "meaning", "both"]), default=None,
              help="Documents: words (BM25), meaning (paragraph MAX_SIM, the default) or both (hybrid, RRF; "
                   "--weights W1,W2[,W3] weigh words, meaning [and page images] instead).")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--no-cache", is_flag=True, help="Embed the query with the model even when its vector is cached.")
@debug_option
def search(db: str | None, connection: str | None, collection: str, text: str | None, image: str | None,
           also_text: str | None, also_image: str | None, filter_: str, limit: int, anns_fields: tuple[str, ...],
           ranker: str | None, weights: str | None, rrf_k: int | None, group_by: str | None,
           group_size: int | None, strict_group_size: bool, min_score: float | None, max_score: float | None,
           model: str | None, pretrained: str | None, checkpoint: str | None, device: str | None,
           text_model: str | None, mode: str | None, as_json: bool, no_cache: bool) -> None:
    """Search a collection by text or by image; uses the model the collection was embedded with.

    Hybrid search: --also-image with --text (or --also-text with --image), or --field repeated, fused
    by --ranker rrf (--rrf-k) or weighted (--weights). Grouping: --group-by FIELD (--group-size,
    --strict-group-size). Range: --min-score / --max-score, in the metric's units (COSINE: larger is
    closer; L2: smaller is closer). On a documents collection, whole documents are ranked by their best
    chunk (MAX_SIM; --mode meaning), by BM25 (--mode words) or both fused (--mode both, with --weights
    for words, meaning [and page images]), each shown with its best passages (the query's words in
    [brackets]). The query's vector is kept (per model, in the user cache folder), so a query searched
    before needs no model load.
    """
    from workbench.collection_ops import search as run_search
    from workbench.demo_model import DEMO_MODEL, DEMO_MODEL_WARNING_CLI

    if (text is None) == (image is None):
        raise click.UsageError("give exactly one of --text or --image")
    if also_text is not None and text is not None:
        raise click.UsageError("--also-text goes with --image (a text and an image, fused)")
    if also_image is not None and image is not None:
        raise click.UsageError("--also-image goes with --text (a text and an image, fused)")
    doc_weights = None
    if mode is not None and weights is not None:  # a documents search mode's weights: words, meaning [, pages]
        try:
            doc_weights = [float(w) for w in weights.split(",")]
        except ValueError:
            raise click.BadParameter(f"{weights!r} is not a comma-separated list of numbers",
                                     param_hint="--weights") from None
        weights = None
    modes = _modes(also_text, also_image, anns_fields, ranker, weights, rrf_k, group_by, group_size,
                   strict_group_size, min_score, max_score)
    target = resolve_target(db, connection)
    demo = model == DEMO_MODEL
    model, pretrained, checkpoint = demo_model(model, pretrained, checkpoint, quiet=True)  # warned after the results
    embedder = None if no_cache or model or pretrained or checkpoint or text_model or mode == "words" else _cached_embedder(
        target, collection, device, as_json, by_text=text is not None,
        anns_field=anns_fields[0] if len(anns_fields) == 1 else None)
    demo = demo or bool(embedder is not None and embedder.demo)
    hits = run_search(target, collection, text=text, image=image, filter=filter_, embedder=embedder, limit=limit,
                      anns_fields=anns_fields, model=model, pretrained=pretrained, checkpoint=checkpoint,
                      device=device, on_status=None if as_json else status, text_model=text_model,
                      also_text=also_text, also_image=also_image, modes=modes, mode=mode, weights=doc_weights)
    if demo and not as_json:
        click.echo(DEMO_MODEL_WARNING_CLI, err=True)
    if as_json:
        echo_json([h.to_dict() for h in hits])
        return
    _print_hits(hits, modes)


def _print_hits(hits: list[Any], modes: Any) -> None:
    if not hits:
        click.echo("no results")
        return
    kind = hits[0].extra.get("score_kind")
    if kind and (modes.group is not None or modes.ranged or hits[0].scores is not None):
        click.echo(f"scores: {kind}")
    group: Any = object()
    for i, h in enumerate(hits, 1):
        if modes.group is not None and h.group != group:
            group = h.group
            click.echo(f"{modes.group.field} = {group}")
        where = h.fields.get("path") or h.id
        extra = f"  (page {h.page})" if h.page is not None else ""
        if h.box is not None:
            extra += f"  (crop {h.box[0]},{h.box[1]}-{h.box[2]},{h.box[3]})"
        if h.scores:
            extra += "  (" + ", ".join(f"{k} {v:.4f}" for k, v in h.scores.items()) + ")"
        snippet = ""
        if h.page_text and h.passages is None:
            s = " ".join(h.page_text.split())
            snippet = f'  "{s[:60]}{"..." if len(s) > 60 else ""}"'
        if h.passages is not None:
            title = h.fields.get("title")
            key = h.fields.get("record_key")
            extra = (f"  [{key}]" if key else "") + (f"  {title}" if title else "")
            if (h.fields.get("parts") or 1) > 1:
                extra += f"  (part {h.fields.get('part')} of {h.fields.get('parts')})"
        best = h.extra.get("best_image")
        if best:  # a product: its best-matching image, then the others
            others = ", ".join(o["angle"] or Path(str(o["path"])).name for o in h.extra.get("other_images") or [])
            extra = (f"  {h.fields.get('name') or ''}  best: {best['angle'] or Path(str(best['path'])).name} "
                     f"({best['score']:.3f})" + (f"  also: {others}" if others else ""))
        click.echo(f"{i:3d}  {h.score:.4f}  {where}{extra}{snippet}")
        for p in h.passages or []:
            s = " ".join(marked(p["text"], p.get("matches") or []).split())
            page = f" p.{p['page']}" if p["page"] else ""
            click.echo(f"       {p['score']:.4f}  #{p['position']}{page}  \"{s[:100]}{'...' if len(s) > 100 else ''}\"")


def marked(text: str, spans: list[list[int]], left: str = "[", right: str = "]") -> str:
    """`text` with each matched span (`[start, end]`, from a passage's `matches`) put in brackets."""
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue
        out += [text[at:start], left, text[start:end], right]
        at = end
    return "".join(out) + text[at:]


def _cached_embedder(target: Any, collection: str, device: str | None, quiet: bool, *, by_text: bool,
                     anns_field: str | None) -> Any:
    """A `CachedQueryEmbedder` for the model the search will use (None when the collection records none).

    A documents collection records its text model as `embedder` and its CLIP model (page images) as
    `image_embedder`: a text query on its chunks uses the text model, anything else the CLIP model."""
    from workbench.cli_cache import CachedQueryEmbedder
    from workbench.demo_model import is_demo_identity
    from workbench.embedders import TEXT_FAMILY, EmbedderIdentity, embedder_for_collection
    from workbench.targets import workspace_target
    from workbench.templates import read_meta
    from workbench.text_embedders import text_embedder_for_collection

    try:
        meta = read_meta(workspace_target(target), collection) or {}
        rec = meta.get("embedder") or None
        text_model_query = bool(rec and rec.get("family") == TEXT_FAMILY and by_text
                                and (anns_field is None or anns_field == "embedding" or anns_field.startswith("chunks")))
        if rec and rec.get("family") == TEXT_FAMILY and not text_model_query:
            rec = meta.get("image_embedder") or None
        identity = EmbedderIdentity.from_dict(rec) if rec else None
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return None
    if identity is None:
        return None
    on_status = None if quiet else status
    if text_model_query:
        embedder = CachedQueryEmbedder(identity, lambda: text_embedder_for_collection(
            target, collection, device=device, on_status=on_status))
    else:
        embedder = CachedQueryEmbedder(identity, lambda: embedder_for_collection(
            target, collection, device=device, on_status=on_status))
    embedder.demo = is_demo_identity(rec)  # the untrained demo model: the results get its warning
    return embedder
