"""Options and helpers shared by the CLI's commands. The CLI parses, calls the layers, picks a renderer."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ecrwise.pricing.book import PriceBook, load_price_book
from ecrwise.store import STORE_ENV, Store, default_store_path


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


StoreOpt = typer.Option(None, "--store", envvar=STORE_ENV, help="DuckDB store file "
                        "(default: $XDG_DATA_HOME/ecrwise/ecrwise.duckdb).", show_default=False)
SnapshotOpt = typer.Option(None, "--snapshot", help="Snapshot id (default: the latest).")
PriceFileOpt = typer.Option(None, "--price-file", help="JSON file overriding price-book entries.")
FormatOpt = typer.Option(Fmt.table, "--format", "-f", help="Output format.")


def store_path(store: Optional[Path]) -> Path:
    return Path(store) if store else default_store_path()


def open_store(store: Optional[Path], read_only: bool = True) -> Store:
    return Store(store_path(store), read_only=read_only)


def prices(price_file: Optional[Path]) -> PriceBook:
    return load_price_book(price_file)
