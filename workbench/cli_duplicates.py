"""`workbench duplicates` and `workbench uniqueness`: thin commands over `workbench.duplicate_ops`."""

from __future__ import annotations

import sys
from typing import Any

import click

from workbench.cli_common import (
    ProgressLine,
    bar_text,
    collection_option,
    debug_option,
    echo_json,
    resolve_target,
    target_options,
)
from workbench.duplicates import ScanProgress


class _ScanBar(ProgressLine):
    """The progress line of a scan: phase, bar and rows."""

    def __call__(self, ev: ScanProgress) -> None:
        final = ev.total > 0 and ev.done >= ev.total
        if not self.enabled or not self.due(ev.phase, final):
            return
        bar, _ = bar_text(ev.fraction, None)
        self.show(f"{ev.phase:<10} {bar} {ev.done:,}/{ev.total:,}", final)


def _csv_out(path: str) -> Any:
    return sys.stdout if path == "-" else open(path, "w", newline="", encoding="utf-8")


@click.command()
@target_options
@collection_option()
@click.option("--exact", "mode", flag_value="exact", help="Rows with the same file content (sha256).")
@click.option("--perceptual", "mode", flag_value="perceptual",
              help="Images within --threshold bits by their perceptual hashes (re-encodes, resizes, small crops "
                   "and colour shifts).")
@click.option("--near", "mode", flag_value="near", default=True,
              help="Rows at least --threshold similar on a vector field (the default).")
@click.option("--threshold", "-t", type=float, default=None,
              help="--near: cosine similarity (default 0.98), or L2 distance for L2 fields; --perceptual: bits "
                   "(default 8).")
@click.option("--field", default=None, metavar="FIELD",
              help="--near: the vector field, e.g. embedding or images[embedding] (MAX_SIM between entities).")
@click.option("--k", "k", type=click.IntRange(1, 1024), default=5, show_default=True,
              help="--near: neighbours looked at per row.")
@click.option("--filter", "-f", "filter_", default="", metavar="EXPR", help="Only rows matching this filter.")
@click.option("--json", "as_json", is_flag=True, help="Print the clusters and pairs as JSON.")
@click.option("--csv", "csv_path", default=None, metavar="OUT",
              help="Write one line per row in a cluster to OUT ('-': standard output).")
@click.option("--mark", is_flag=True, help="Keep one row per cluster, set duplicate_of on the others.")
@click.option("--unmark", is_flag=True, help="Clear duplicate_of on every marked row first.")
@click.option("--delete", is_flag=True, help="Delete every row but the one kept per cluster (needs --yes).")
@click.option("--yes", is_flag=True, help="Confirm --delete.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def duplicates(db: str | None, connection: str | None, collection: str, mode: str, threshold: float | None,
               field: str | None, k: int, filter_: str, as_json: bool, csv_path: str | None, mark: bool,
               unmark: bool, delete: bool, yes: bool, quiet: bool) -> None:
    """Find duplicate rows: exact (sha256), perceptual (image hashes) or near (vectors), as clusters.

    Near duplicates come from the engine's batched k-NN self-join (on Milvus: batched searches), joined
    into clusters; the row kept per cluster is the largest image (then file, then path). --mark writes
    duplicate_of = the kept row's id on the others ('duplicate_of is null' keeps one per cluster);
    --delete removes them (with --yes).
    """
    from workbench.duplicate_ops import find_duplicates, summary, write_csv

    if delete and not yes:
        raise click.UsageError("--delete removes rows for good: add --yes to confirm (or --mark them instead)")
    if mark and delete:
        raise click.UsageError("give --mark or --delete, not both")
    if as_json and csv_path == "-":
        raise click.UsageError("--json and --csv - both print to standard output; write the CSV to a file")
    bar = _ScanBar(enabled=not quiet and not as_json)
    outcome = find_duplicates(resolve_target(db, connection), collection, mode, threshold=threshold, field=field,
                              filter=filter_, k=k, mark=mark, unmark=unmark, delete=delete, on_progress=bar)
    if csv_path is not None:
        out = _csv_out(csv_path)
        try:
            n = write_csv(outcome.scan, out)
        finally:
            if out is not sys.stdout:
                out.close()
        if csv_path != "-" and not as_json:
            click.echo(f"wrote {n:,} line(s) to {csv_path}", err=True)
    if as_json:
        d = outcome.scan.to_dict()
        d.update(marked=outcome.marked.marked if outcome.marked else None, deleted=outcome.deleted,
                 cleared=outcome.cleared)
        echo_json(d)
    elif csv_path != "-":
        click.echo(summary(outcome))


@click.command()
@target_options
@collection_option()
@click.option("--field", default=None, metavar="FIELD", help="The vector field (default: the only one, or embedding).")
@click.option("--pick", "pick", type=click.IntRange(1, 1_000_000), default=None, metavar="N",
              help="Pick the N most diverse rows (greedy farthest-point) instead of scoring every row.")
@click.option("--sample", type=click.IntRange(1, 10_000_000), default=None,
              help="--pick: look at a random sample of this many rows when there are more (default 50,000).")
@click.option("--filter", "-f", "filter_", default="", metavar="EXPR", help="Only rows matching this filter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "csv_path", default=None, metavar="OUT", help="Write CSV to OUT ('-': standard output).")
@click.option("--limit", "-n", type=click.IntRange(1, 10_000_000), default=20, show_default=True,
              help="Rows to print (without --json or --csv).")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def uniqueness(db: str | None, connection: str | None, collection: str, field: str | None, pick: int | None,
               sample: int | None, filter_: str, as_json: bool, csv_path: str | None, limit: int,
               quiet: bool) -> None:
    """Score each row's uniqueness (distance to its nearest neighbour: 1 - cosine), most unique first,
    or --pick the N most diverse rows for a small representative subset."""
    import csv

    from workbench.duplicate_ops import diverse
    from workbench.duplicate_ops import uniqueness as run_uniqueness

    bar = _ScanBar(enabled=not quiet and not as_json)
    target = resolve_target(db, connection)
    if pick is not None:
        sel = diverse(target, collection, pick, field=field, filter=filter_, sample=sample, on_progress=bar)
        rows = [{"rank": i, "id": pk, "distance": d} for i, (pk, d) in enumerate(sel.picks, 1)]
        head = (f"{len(sel.picks)} most diverse of {sel.rows_total:,} rows ({sel.field}, {sel.metric}); distance: to "
                "the rows picked before")
        notes = sel.notes
    else:
        if sample is not None:
            raise click.UsageError("--sample applies to --pick")
        u = run_uniqueness(target, collection, field=field, filter=filter_, on_progress=bar)
        rows = [{"rank": i, "id": pk, "uniqueness": s, "nearest": nn} for i, (pk, s, nn) in enumerate(u.scores, 1)]
        head = f"uniqueness of {len(rows):,} rows ({u.field}, {u.metric}): distance to the nearest neighbour"
        notes = []
    if csv_path is not None:
        out = _csv_out(csv_path)
        try:
            w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["rank", "id"])
            w.writeheader()
            w.writerows(rows)
        finally:
            if out is not sys.stdout:
                out.close()
    if as_json:
        echo_json({"rows": rows, "notes": notes})
    elif csv_path != "-":
        click.echo(head)
        for n in notes:
            click.echo(f"  note: {n}")
        for r in rows[:limit]:
            score = r.get("uniqueness", r.get("distance"))
            click.echo(f"{r['rank']:5d}  {score:.4f}  {r['id']}" + (f"  (nearest {r['nearest']})" if "nearest" in r
                                                                      else ""))
        if len(rows) > limit:
            click.echo(f"... {len(rows) - limit:,} more (--csv OUT lists them all)")
