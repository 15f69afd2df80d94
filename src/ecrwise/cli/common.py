"""Options and helpers shared by the CLI's commands. The CLI parses, calls the layers, picks a renderer."""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer

from ecrwise.pricing.book import PriceBook, load_price_book
from ecrwise.pricing.price_list import latest_price_file
from ecrwise.store import STORE_ENV, Store, default_store_path


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


StoreOpt = typer.Option(None, "--store", envvar=STORE_ENV, help="DuckDB store file "
                        "(default: $XDG_DATA_HOME/ecrwise/ecrwise.duckdb).", show_default=False)
SnapshotOpt = typer.Option(None, "--snapshot", help="Snapshot id (default: the latest).")
PriceFileOpt = typer.Option(None, "--price-file", help="JSON file overriding price-book entries (default: the "
                            "newest prices-YYYY-MM-DD.json `prices update` wrote next to the store, if any).")
FormatOpt = typer.Option(Fmt.table, "--format", "-f", help="Output format.")


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SnapshotInputs:
    """The option group every snapshot report takes (`--snapshot --store --price-file --format`), declared once
    here instead of four parameters in each command; a command asks for it with `snapshot_inputs`."""
    snapshot: Optional[int]
    store: Optional[Path]
    price_file: Optional[Path]
    fmt: Fmt

    def prices(self) -> PriceBook:
        return prices(self.price_file, self.store, announce=self.fmt is Fmt.table)


# The four click options, in the order `--help` lists them; each keeps the parameter name it always had.
_INPUT_PARAMS = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, default, annotation in (("snapshot", SnapshotOpt, Optional[int]),
                                                   ("store", StoreOpt, Optional[Path]),
                                                   ("price_file", PriceFileOpt, Optional[Path]),
                                                   ("fmt", FormatOpt, Fmt))]


def snapshot_inputs(command: F) -> F:
    """Give `command` the snapshot option group in place of its keyword-only `inputs: SnapshotInputs` parameter.

    Typer reads a command's options from its signature (`inspect.signature`, which honours `__signature__`), so
    the wrapper shows the four options where `inputs` stood and folds what click parsed back into one value.
    """
    sig = inspect.signature(command, eval_str=True)
    if "inputs" not in sig.parameters:
        raise TypeError(f"{command.__qualname__}: @snapshot_inputs needs a keyword-only `inputs` parameter")
    params = []
    for p in sig.parameters.values():
        params.extend(_INPUT_PARAMS if p.name == "inputs" else [p])
    names = [f.name for f in fields(SnapshotInputs)]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inputs = SnapshotInputs(**{n: kwargs.pop(n) for n in names})
        return command(*args, inputs=inputs, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    return wrapper  # type: ignore[return-value]


def store_path(store: Optional[Path]) -> Path:
    return Path(store) if store else default_store_path()


def open_store(store: Optional[Path], read_only: bool = True) -> Store:
    return Store(store_path(store), read_only=read_only)


def price_file_for(price_file: Optional[Path], store: Optional[Path] = None) -> Optional[Path]:
    """The price file a command uses: `--price-file` when given, else the newest dated file `prices update`
    wrote next to the store (its default output directory), else None (the shipped book alone)."""
    return price_file if price_file else latest_price_file(store_path(store).parent)


def prices(price_file: Optional[Path], store: Optional[Path] = None, *, announce: bool = False) -> PriceBook:
    """The price book for a command. A dated file picked up by default is named once on stderr (`announce`,
    for table output) so a changed figure is never a surprise; the figures' arithmetic names it too."""
    path = price_file_for(price_file, store)
    book = load_price_book(path)
    if announce and path is not None and not price_file:
        typer.echo(f"prices: {path} (as of {book.files[-1]['as_of']})", err=True)
    return book


def record_applied(store: Optional[Path], command: str, rows: list[tuple[str, str, str, float | None]]) -> None:
    """Record what an `--apply` changed, (account, region, resource, predicted monthly savings) each, into the
    store for `billing savings` (`store.applied`). Only into an existing store (the one the plan was made from,
    normally): a change never creates a store; without one it says so on stderr."""
    from datetime import datetime, timezone

    from ecrwise.store.applied import AppliedChange, record_applied as write

    if not rows:
        return
    path = store_path(store)
    if not path.exists():
        typer.echo(f"not recorded for `billing savings`: no store at {path} (give --store)", err=True)
        return
    now = datetime.now(timezone.utc)
    with Store(path) as st:
        write(st, [AppliedChange(now, command, account, region, resource, predicted)
                   for account, region, resource, predicted in rows])
