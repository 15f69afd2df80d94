"""`ecrwise billing`: import AWS Data Exports, reconcile estimates with the bill, Cost Explorer trends,
realised savings. Thin: parses options, calls `ecrwise.billing` / `ecrwise.aws.cost_explorer` /
`ecrwise.aws.billing_s3`, and renders the result with `report.billing` (no format branches here)."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, StoreOpt, open_store, prices, store_path
from ecrwise.errors import UserError
from ecrwise.report import billing as view
from ecrwise.report.render import check_format, render
from ecrwise.store import STORE_ENV

app = typer.Typer(help="Import CUR 2.0 / FOCUS 1.2 exports, reconcile estimates with the bill, Cost Explorer "
                       "trends, realised savings.", no_args_is_help=True)

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile (S3 import, Cost Explorer).")
PeriodOpt = typer.Option(None, "--period", help="Billing period YYYY-MM (default: the latest imported).")


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value}: not a date (YYYY-MM-DD)") from None


def _account(profile: Optional[str]):
    from ecrwise.aws.session import Account, base_session, caller_account

    session = base_session(profile)
    return Account(caller_account(session, "us-east-1"), session)


def _cache_dir(store: Optional[Path]) -> Path:
    return store_path(store).parent / "billing-cache"


# -- import ------------------------------------------------------------------------------------------------

@app.command("import")
def import_cmd(
    path: str = typer.Argument(..., help="Export folder, data file, Manifest.json, or s3://bucket/prefix."),
    profile: Optional[str] = ProfileOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Import an export's relevant line items; a billing period re-imported replaces its old rows."""
    from ecrwise.billing.importer import import_export

    check_format("billing-import", fmt)
    local: Path | str = path
    if path.startswith("s3://"):
        from ecrwise.aws.billing_s3 import download_export

        local = download_export(_account(profile), path, _cache_dir(store))
    with open_store(store, read_only=False) as s:
        result = import_export(s.con, local)
    render(view.import_result(result), fmt)


# -- reconcile ---------------------------------------------------------------------------------------------

@app.command()
def reconcile(
    estimates: Optional[Path] = typer.Option(None, "--estimates", help="JSON file of estimates "
                                             "({storage, nat, endpoints}); a kind it lists replaces the "
                                             "snapshots' estimate for that kind. See docs/billing.md."),
    period: Optional[str] = PeriodOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Billed versus estimated per repository, NAT gateway and endpoint; gaps in % and $, ranked. Storage and
    NAT pull bytes are estimated from the store's snapshots unless --estimates gives them."""
    from ecrwise.billing.inputs import load_estimates
    from ecrwise.cli.billing_feed import store_reconciliation

    check_format("billing-reconcile", fmt)
    given = load_estimates(estimates) if estimates else {}
    book = prices(price_file, store, announce=fmt is Fmt.table)
    with open_store(store, read_only=True) as s:  # the estimates go into temp tables, in memory
        rec, sources, warnings = store_reconciliation(s, book, period, given=given)
    render(view.reconcile_result(rec, sources=sources, warnings=warnings), fmt)


# -- trend -------------------------------------------------------------------------------------------------

@app.command()
def trend(
    since: Optional[str] = typer.Option(None, "--since", help="First day (default: 30 days ago)."),
    until: Optional[str] = typer.Option(None, "--until", help="Day after the last (default: today)."),
    spike_k: float = typer.Option(3.0, "--spike-k", min=1.0, help="A day is an anomaly above k × the rolling median."),
    spike_window: int = typer.Option(7, "--spike-window", min=1, help="Days in the rolling median."),
    min_spike_usd: float = typer.Option(1.0, "--min-spike-usd", min=0.0,
                                        help="Over a zero median, a day must cost more than this."),
    profile: Optional[str] = ProfileOpt,
    store: Optional[Path] = typer.Option(None, "--store", envvar=STORE_ENV, show_default=False,
                                         help="Store whose NAT spike and crash-loop days the anomaly days link to "
                                              "(default: the "
                                              "default store, when there is one)."),
    fmt: Fmt = FormatOpt,
) -> None:
    """Daily cost per usage type (ECR, NAT gateway, VPC endpoints, public IPv4) from Cost Explorer, anomaly days
    flagged and linked to the NAT spike and crash-loop days of the same day in the store."""
    from ecrwise.aws.cost_explorer import daily_cost_pages
    from ecrwise.billing.trend import link_events, parse_cost_and_usage, trends

    check_format("billing-trend", fmt)
    end = _day(until, "--until") if until else date.today()
    start = _day(since, "--since") if since else end - timedelta(days=30)
    links, linked = None, None
    if store is not None or store_path(None).exists():  # a store named but missing is an error; none, no links
        from ecrwise.cli.billing_feed import crash_loop_events, nat_spike_events

        with open_store(store, read_only=True) as s:
            spikes, spike_snaps = nat_spike_events(s)
            loops, loop_snaps = crash_loop_events(s, prices(None, store))
        events, linked = spikes + loops, sorted(set(spike_snaps) | set(loop_snaps))
    pages = daily_cost_pages(_account(profile), start, end)
    out = trends(parse_cost_and_usage(pages), k=spike_k, window=spike_window, min_spike_usd=min_spike_usd)
    if linked is not None:
        links = link_events([a for t in out for a in t.anomalies], events)
    render(view.trend_result(out, start, end, links=links, linked_snapshots=linked), fmt)


# -- savings -----------------------------------------------------------------------------------------------



@app.command()
def savings(
    since: Optional[str] = typer.Option(None, "--since", help="The day of the change (YYYY-MM-DD; default: the "
                                        "day of the last `lifecycle apply --apply` or `network fix --apply` "
                                        "recorded in the store)."),
    days: Optional[int] = typer.Option(None, "--days", min=1, help="Days compared on each side (default: all)."),
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Billed cost per repository / NAT gateway / endpoint before and after a date, as a monthly rate, next to
    the savings ecrwise predicted for the changes applied that day."""
    from ecrwise.billing.savings import realised_savings, unmatched_predictions
    from ecrwise.cli.billing_feed import predictions
    from ecrwise.store.applied import applied_changes, last_apply

    given = _day(since, "--since") if since else None  # a bad date is refused before the store is opened
    with open_store(store, read_only=True) as s:
        if given is None:
            changes = last_apply(s)
            if not changes:
                raise UserError(f"{s.path}: no `lifecycle apply --apply` or `network fix --apply` recorded in the "
                                "store; give --since DATE")
            day = changes[0].at.date()
        else:
            day = given
            changes = [c for c in applied_changes(s) if c.at.date() == day]
        predicted = predictions(changes)
        rows = realised_savings(s.con, day, days=days, predicted=predicted)
    render(view.savings_result(rows, day, unmatched_predictions(rows, predicted)), fmt)

