"""`ecrwise prices update`: current list prices from the AWS Price List API into a dated price file. Thin:
fetches, parses, writes, renders with `report.billing`."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import List, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, StoreOpt, store_path
from ecrwise.pricing.book import load_price_book
from ecrwise.report import billing as view
from ecrwise.report.render import check_format, render

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

    check_format("prices-update", fmt)  # before any request is made
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
    render(view.prices_update_result(path, provenance(parsed), parsed.warnings), fmt)

