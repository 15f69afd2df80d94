"""`ecrwise prices update`: current list prices from the AWS Price List API into a dated price file. Thin."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, List, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, StoreOpt, store_path
from ecrwise.pricing.book import load_price_book
from ecrwise.report.output import Column, dump_json, envelope, print_warnings, rich_table, stdout_console

app = typer.Typer(help="Price book maintenance.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Price book maintenance (a group, so `prices update` keeps its name as more subcommands come)."""


@app.command()
def update(
    region: List[str] = typer.Option([], "--region", "-r", help="Region to price (repeatable; default: every "
                                     "region of the shipped book)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Price file to write (default: "
                                          "prices-YYYY-MM-DD.json next to the store)."),
    profile: Optional[str] = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile."),
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Fetch list prices (pricing:GetProducts) and write them as a `--price-file`."""
    from ecrwise.aws.pricing_api import fetch_price_lists
    from ecrwise.aws.session import Account, base_session, caller_account
    from ecrwise.pricing.price_list import dated_file_name, parse_price_list, price_file, provenance

    regions = region or load_price_book().regions
    session = base_session(profile)
    lists = fetch_price_lists(Account(caller_account(session, "us-east-1"), session), regions)
    parsed = parse_price_list([s for v in lists.values() for s in v], regions=regions)
    today = date.today()
    doc = price_file(parsed, today)
    path = output or store_path(store).parent / dated_file_name(today)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    load_price_book(path)  # what was written must load as a --price-file
    _show_update(path, provenance(parsed), parsed.warnings, fmt)


def _show_update(path: Path, items: list[dict[str, Any]], warnings: list[str], fmt: Fmt) -> None:
    if fmt is Fmt.json:
        dump_json(envelope("prices-update", None, items, {"price_file": str(path), "prices": len(items)}, warnings))
        return
    stdout_console().print(rich_table(f"Wrote {path}", [
        Column("region", "region"), Column("item", "item"), Column("usd", "USD", lambda x: f"{x:g}", "right"),
        Column("unit", "unit"), Column("usage_type", "usage type"), Column("effective_date", "effective")], items))
    print_warnings(warnings)
