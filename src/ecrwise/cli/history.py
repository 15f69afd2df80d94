"""`ecrwise history`: stored bytes and cost per repository and in total across snapshots, and the savings
realised between two snapshots (`--from`, `--to`; default the first and the last). Thin: loads snapshots,
calls `analysis.inventory` per snapshot and `analysis.history`, renders.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise.analysis.history import History, build_history
from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, StoreOpt, open_store, prices
from ecrwise.cli.snapshot_data import inventory_of
from ecrwise.errors import UserError
from ecrwise.pricing.book import PriceBook
from ecrwise.records.ecr import ImageLayer
from ecrwise.report.output import (Column, dump_csv, dump_json, envelope, human_bytes, human_usd, iso, rich_table,
                                   stderr_console, stdout_console, usd)
from ecrwise.store import Store

app = typer.Typer(help="Storage and cost across snapshots; savings realised between two.",
                  invoke_without_command=True, no_args_is_help=False)

CSV_COLUMNS = ["account", "region", "repository", "status", "from_bytes", "to_bytes", "removed_bytes", "added_bytes",
               "net_bytes", "realised_savings_usd", "added_cost_usd"]


def load_history(st: Store, book: PriceBook, from_id: int | None = None, to_id: int | None = None,
                 upto: int | None = None) -> History:
    """Every snapshot (up to `upto`) through the inventory, and the layers of --from and --to."""
    snaps = st.snapshots()
    if upto is not None:
        snaps = [s for s in snaps if s.id <= upto]
    if not snaps:
        raise UserError(f"{st.path}: the store has no snapshot yet; run `ecrwise scan` first")
    ids = [s.id for s in snaps]
    for flag, sid in (("--from", from_id), ("--to", to_id)):
        if sid is not None and sid not in ids:
            raise UserError(f"{flag} {sid}: no such snapshot in {st.path} (snapshots: "
                            f"{', '.join(str(i) for i in ids[-10:])})")
    a = from_id if from_id is not None else ids[0]
    b = to_id if to_id is not None else ids[-1]
    points = []
    for s in snaps:
        points.append((s.id, s.taken_at, inventory_of(st, s.id, book)))
    return build_history(points, st.load(a, ImageLayer), st.load(b, ImageLayer), a, b, book)


def history_items(h: History) -> list[dict[str, Any]]:
    """One item per repository of any snapshot: its change between --from and --to, and its points."""
    series = {(r.account, r.region, r.repository): r for r in h.repositories}
    items = []
    seen = set()
    for c in h.changes:
        seen.add(c.key)
        items.append({"account": c.account, "region": c.region, "repository": c.repository, "status": c.status,
                      "from_bytes": c.from_bytes, "to_bytes": c.to_bytes, "removed_bytes": c.removed_bytes,
                      "added_bytes": c.added_bytes, "net_bytes": c.net_bytes,
                      "realised_savings_usd": usd(c.realised_savings), "added_cost_usd": usd(c.added_cost),
                      "arithmetic": c.arithmetic, "points": _points(series.get(c.key))})
    for key, r in series.items():
        if key not in seen:  # existed only in snapshots between --from and --to (or outside them)
            items.append({"account": r.account, "region": r.region, "repository": r.repository,
                          "status": "outside-range", "from_bytes": 0, "to_bytes": 0, "removed_bytes": 0,
                          "added_bytes": 0, "net_bytes": 0, "realised_savings_usd": 0.0, "added_cost_usd": 0.0,
                          "arithmetic": {}, "points": _points(r)})
    return items


def _points(r: Any) -> list[dict[str, Any]]:
    if r is None:
        return []
    return [{"snapshot_id": sid, "stored_bytes": b, "monthly_cost_usd": usd(c)} for sid, (b, c) in sorted(r.points.items())]


def history_totals(h: History) -> dict[str, Any]:
    t = h.totals()
    return {
        "snapshots": [{"snapshot_id": s.snapshot_id, "taken_at": iso(s.taken_at), "repositories": s.repositories,
                       "images": s.images, "stored_bytes": s.stored_bytes, "naive_bytes": s.naive_bytes,
                       "monthly_cost_usd": usd(s.monthly_cost)} for s in h.snapshots],
        "from": t["from"], "to": t["to"], "from_taken_at": iso(t["from_taken_at"]),
        "to_taken_at": iso(t["to_taken_at"]),
        "from_bytes": t["from_bytes"], "to_bytes": t["to_bytes"], "removed_bytes": t["removed_bytes"],
        "added_bytes": t["added_bytes"], "net_bytes": t["net_bytes"],
        "realised_savings_usd": usd(t["realised_savings"]), "added_cost_usd": usd(t["added_cost"]),
        "from_monthly_cost_usd": usd(t["from_monthly_cost"]), "to_monthly_cost_usd": usd(t["to_monthly_cost"]),
        "repositories_removed": t["repositories_removed"], "repositories_added": t["repositories_added"],
    }


@app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    from_id: Optional[int] = typer.Option(None, "--from", metavar="ID", help="Earlier snapshot (default: the first)."),
    to_id: Optional[int] = typer.Option(None, "--to", metavar="ID", help="Later snapshot (default: the last)."),
    all_repositories: bool = typer.Option(False, "--all", help="Table: list unchanged repositories too."),
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Stored bytes and cost across snapshots, and the savings realised between --from and --to."""
    if ctx.invoked_subcommand is not None:
        return
    book = prices(price_file)
    with open_store(store) as st:
        h = load_history(st, book, from_id, to_id)
    items = history_items(h)
    totals = history_totals(h)
    if fmt is Fmt.json:
        dump_json(envelope("history", {"from": h.from_id, "to": h.to_id, "prices": book.describe()}, items, totals,
                           h.warnings))
        return
    if fmt is Fmt.csv:
        dump_csv(items, CSV_COLUMNS)
        return
    console = stdout_console()
    console.print(rich_table("Billed storage per snapshot", [
        Column("snapshot_id", "snapshot", str, "right"), Column("taken_at", "taken at (UTC)", lambda s: s[:16].replace("T", " ")),
        Column("repositories", "repositories", str, "right"), Column("images", "images", str, "right"),
        Column("stored_bytes", "billed", human_bytes, "right"), Column("naive_bytes", "per-image sum", human_bytes, "right"),
        Column("monthly_cost_usd", "$/month", human_usd, "right")], totals["snapshots"]))
    rows = [i for i in items if i["status"] != "outside-range" and (all_repositories or i["status"] != "unchanged")]
    console.print(rich_table(f"Realised between snapshot {h.from_id} and {h.to_id}", [
        Column("repository", "repository"), Column("region", "region"), Column("status", "status"),
        Column("from_bytes", "before", human_bytes, "right"), Column("to_bytes", "after", human_bytes, "right"),
        Column("removed_bytes", "gone", human_bytes, "right"), Column("added_bytes", "new", human_bytes, "right"),
        Column("realised_savings_usd", "realised $/mo", human_usd, "right")], rows,
        {k: totals[k] for k in ("from_bytes", "to_bytes", "removed_bytes", "added_bytes", "realised_savings_usd")}))
    r = totals
    console.print(f"{human_bytes(r['removed_bytes'])} no longer billed: {human_usd(r['realised_savings_usd'])}/month "
                  f"realised · {human_bytes(r['added_bytes'])} new ({human_usd(r['added_cost_usd'])}/month) · "
                  f"repositories: {len(r['repositories_removed'])} removed, {len(r['repositories_added'])} added · "
                  f"{sum(1 for i in items if i['status'] == 'unchanged')} unchanged (--all lists them)",
                  highlight=False)
    err = stderr_console()
    for w in h.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
