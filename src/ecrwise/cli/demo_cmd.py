"""`ecrwise demo`: start the stand-in, build the demo estate, scan it, report, say what to do next."""
from __future__ import annotations


import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ecrwise.cli.common import Fmt
from ecrwise.errors import UserError
from ecrwise.report.output import stderr_console
from ecrwise.store import default_store_path


def demo_store_path(store: Path | None) -> Path:
    return Path(store) if store else default_store_path().with_name("demo.duckdb")


def no_lifecycle_policy_line(inv: Any, path: Path) -> str:
    """Counted as `ecr.no-lifecycle-policy` counts them: a repository tagged ecrwise:retain is kept on purpose."""
    from ecrwise.analysis.storage_checks import RETAIN_TAG, retained

    no_policy = sum(1 for r in inv.rows if not r.lifecycle_policy and not retained(r))
    return (f"  · {no_policy} of {len(inv.rows)} repositories have no lifecycle policy (repositories tagged "
            f"{RETAIN_TAG} are excluded): `ecrwise lifecycle template playbook-base > policy.json`, then "
            f"`ecrwise lifecycle plan --store {path} --policy policy.json --out plan.json` shows what it would "
            f"free and protects the images ECS still runs.")


def previous_month(day: datetime) -> str:
    first = day.replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def import_demo_bill(path: Path, book: Any, period: str) -> str | None:
    """A month of CUR 2.0 export billed from the demo store's own figures with the two deliberate gaps (as in
    docs/billing.md), imported into the store; returns one line about the reconciliation's top gap (None when
    the snapshot has nothing to bill)."""
    from ecrwise.billing import schema
    from ecrwise.billing.importer import import_export
    from ecrwise.cli.billing_feed import snapshot_estimates, store_reconciliation
    from ecrwise.demo.billing_export import EndpointUsage, NatUsage, RepoUsage, usage_with_gaps, write_export
    from ecrwise.pricing.book import GIB
    from ecrwise.report.output import human_bytes
    from ecrwise.store import Store

    with Store(path, read_only=True) as st:
        est = snapshot_estimates(st, period, book).estimates
    if not est.get("storage"):
        return None
    usage = usage_with_gaps(period, est["storage"][0].account,
                            [RepoUsage(s.account, s.region, s.repository, s.estimated_bytes) for s in est["storage"]],
                            [NatUsage(n.account, n.region, n.nat_gateway_id, n.pull_bytes) for n in est["nat"]],
                            [EndpointUsage(e.account, e.region, e.vpc_endpoint_id, e.az_count, 5 * GIB)
                             for e in est["endpoints"]])
    with tempfile.TemporaryDirectory(prefix="ecrwise-demo-bill-") as tmp, Store(path, read_only=False) as st:
        import_export(st.con, write_export(usage, tmp, fmt=schema.CUR2, book=book))
        rec, _, _ = store_reconciliation(st, book, period)
    top = rec.rows[0]
    size = human_bytes(top.gap_bytes) if top.gap_bytes is not None else f"{top.gap_quantity:,.0f} {top.unit}"
    return (f"Billed vs estimated ({period}, a generated CUR 2.0 month with two deliberate gaps): the top gap is "
            f"{top.resource} ({top.region}), {size} {top.note or 'billed above the estimate'}, "
            f"{'+' if top.gap_usd >= 0 else '-'}${abs(top.gap_usd):,.2f}: "
            f"`ecrwise billing reconcile --store {path}`.")


def run_demo(*, keep_running: bool, store: Path | None) -> None:
    try:
        from ecrwise.demo.estate import build_estate
        from ecrwise.demo.standin import StandIn, stand_in_env
    except ImportError as e:  # moto is an extra
        raise UserError(f"the demo needs the stand-in: pip install 'ecrwise[demo]' ({e})") from None
    from ecrwise.analysis.inventory import sort_rows
    from ecrwise.cli.scan_cmd import run_and_save
    from ecrwise.cli.snapshot_data import load_inventory
    from ecrwise.pricing.book import load_price_book
    from ecrwise.report import repos as view
    from ecrwise.store import Store

    err = stderr_console()
    path = demo_store_path(store)
    standin = StandIn()
    url = standin.start()
    try:
        t0 = time.monotonic()
        err.print(f"[bold]ecrwise demo[/] · AWS stand-in (moto, real HTTP) at {url}")
        estate = build_estate(url)
        n_images = sum(len(r.images) for r in estate.repositories)
        err.print(f"built the demo estate: {len(estate.repositories)} repositories, {n_images} images in "
                  f"{', '.join(estate.regions)} ({time.monotonic() - t0:.1f}s)")
        with stand_in_env(url):
            snap = run_and_save(profile=None, regions=list(estate.regions), all_regions=False, role_arns=[],
                                org_role=None, only=None, workers=16, store=path, fmt=Fmt.table, quiet=True)
        err.print(f"scanned it into snapshot {snap.id} of {path} ({time.monotonic() - t0:.1f}s)")
        book = load_price_book()
        with Store(path, read_only=True) as st:
            _, inv = load_inventory(st, snap.id, book)
        view.print_table(inv, sort_rows(inv.rows, "cost")[:15], title="Top 15 ECR repositories by monthly cost")
        t = view.totals(inv)
        saved = t["naive_bytes"] - t["stored_bytes"]
        from ecrwise.cli.findings import top_findings_lines
        from ecrwise.cli.report import write_report

        print()
        print("Top 5 findings by monthly savings")
        for line in top_findings_lines(path, snap.id, book):
            print(f"  {line}")
        print()
        print("What to do next")
        print(f"  · The money is in image pulls: `ecrwise pulls --store {path}` shows which services pull how "
              f"much through a NAT gateway, and `ecrwise network --store {path}` which VPC endpoints are missing "
              f"or broken (`ecrwise network fix --vpc ID --format terraform --out DIR` writes the fix).")
        print(f"  · A per-image sum would report {t['naive_bytes'] / 2**30:,.1f} GiB; ECR bills "
              f"{t['stored_bytes'] / 2**30:,.1f} GiB (shared layers are stored once: {saved / 2**30:,.1f} GiB "
              f"less).")
        print(f"  · Start with the {t['repositories_above_median']} repositories above the median "
              f"(${t['median_monthly_cost_usd']:.2f}/month): `ecrwise repos --store {path} --sort cost`.")
        print(no_lifecycle_policy_line(inv, path))
        print(f"  · Spreadsheet users: `ecrwise repos --store {path} --playbook > repos.csv`.")
        bill = import_demo_bill(path, book, previous_month(snap.taken_at))
        if bill:
            print()
            print(bill)
        report = write_report(path, snap.id, path.with_name("ecrwise-report.html"), book)
        print()
        print(f"HTML report (one self-contained file to mail): {report['path']}")
        if keep_running:
            print()
            print("The stand-in stays up; point ecrwise (or the AWS CLI) at it:")
            print(f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
                  f"AWS_DEFAULT_REGION=us-east-1 ECRWISE_STORE={path}")
            print("Press Ctrl-C to stop it.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        standin.stop()

