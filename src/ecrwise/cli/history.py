"""`ecrwise history`: stored bytes and cost per repository and in total across snapshots, and the savings
realised between two snapshots (`--from`, `--to`; default the first and the last). Thin: loads snapshots,
calls `analysis.inventory` per snapshot and `analysis.history`, renders with `report.history`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ecrwise.analysis.history import History, history_from
from ecrwise.analysis.inventory import Inventory
from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, StoreOpt, open_store, prices
from ecrwise.cli.snapshot_data import inventory_of, layer_deltas_of
from ecrwise.errors import UserError
from ecrwise.pricing.book import PriceBook
from ecrwise.report import history as view
from ecrwise.report.history import history_items, history_totals  # noqa: F401  (the report's callers)
from ecrwise.report.render import render
from ecrwise.store import Store

app = typer.Typer(help="Storage and cost across snapshots; savings realised between two.",
                  invoke_without_command=True, no_args_is_help=False)

def load_history(st: Store, book: PriceBook, from_id: int | None = None, to_id: int | None = None,
                 upto: int | None = None, known: dict[int, Inventory] | None = None) -> History:
    """Every snapshot (up to `upto`) through the inventory, and the layers of --from and --to. `known` holds
    inventories already computed with `book` (the report's checks made the latest one), by snapshot id."""
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
        inv = (known or {}).get(s.id)
        points.append((s.id, s.taken_at, inv if inv is not None else inventory_of(st, s.id, book)))
    return history_from(points, layer_deltas_of(st, a, b), a, b, book)


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
    book = prices(price_file, store, announce=fmt is Fmt.table)
    with open_store(store) as st:
        h = load_history(st, book, from_id, to_id)
    render(view.result(h, book.describe(), all_repositories=all_repositories), fmt)
