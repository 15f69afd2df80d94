"""`ecrwise findings`: every finding of every registered check, ranked by monthly savings; filters; formats
table, json, csv, markdown and sarif; `--fail-on-*` gates for CI. Thin: loads a snapshot, calls
`analysis.findings`, renders with `report.findings`.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from ecrwise.cli.common import PriceFileOpt, SnapshotOpt, StoreOpt, prices
from ecrwise.errors import UserError
from ecrwise.report import sanitize
from ecrwise.report.output import stderr_console
from ecrwise.report.render import render

app = typer.Typer(help="Every finding of every analysis, ranked by monthly savings.", invoke_without_command=True,
                  no_args_is_help=False)


class FindingsFmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    sarif = "sarif"


DEFAULT_COST_TAGS = ["team", "cost-center", "owner", "project"]


def check_options(*, now: Any, crash_loop_threshold: float = 12.0, redundant_days: int = 90,
                  large_image_gib: float = 1.0, cost_tags: list[str] | None = None,
                  lifecycle_template: str = "playbook-base") -> dict[str, Any]:
    """The options every registered check reads (see each check module's docstring)."""
    from ecrwise.lifecycle.templates import TEMPLATES

    if lifecycle_template not in TEMPLATES:
        raise UserError(f"--lifecycle-template {lifecycle_template}: choose one of {', '.join(TEMPLATES)}")
    return {"now": now, "crash_loop_threshold": crash_loop_threshold, "storage.redundant_days": redundant_days,
            "storage.large_image_bytes": int(large_image_gib * 2**30),
            "storage.cost_allocation_keys": tuple(cost_tags or DEFAULT_COST_TAGS),
            "storage.lifecycle_template": lifecycle_template}


def _severity(value: Optional[str], flag: str) -> Optional[str]:
    from ecrwise.analysis.checks import SEVERITIES

    if value is not None and value not in SEVERITIES:
        raise UserError(f"{flag} {value}: choose one of {', '.join(reversed(SEVERITIES))}")
    return value


def _list_checks(fmt: FindingsFmt) -> None:
    from ecrwise.analysis.findings import registry
    from ecrwise.report.findings import checks_result
    from ecrwise.report.render import render

    render(checks_result(list(registry().values())), fmt, flag="--list-checks --format")


@app.callback(invoke_without_command=True)
def findings(
    ctx: typer.Context,
    check: List[str] = typer.Option([], "--check", metavar="ID|FAMILY|GLOB",
                                    help="Only these checks: an id, a family (storage, lifecycle, ecs, network) or "
                                         "a glob like 'ecr.*' (repeatable)."),
    severity: Optional[str] = typer.Option(None, "--severity", metavar="LEVEL",
                                           help="Only findings at or above: info, low, medium, high, critical."),
    account: List[str] = typer.Option([], "--account", help="Only this account (repeatable)."),
    region: List[str] = typer.Option([], "--region", help="Only this region (repeatable)."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the first N (totals and gates "
                                                                  "still cover every selected finding)."),
    fail_on_savings: Optional[float] = typer.Option(None, "--fail-on-savings", metavar="USD", min=0.0,
                                                    help="Exit 1 when the selected findings save at least this "
                                                         "much a month."),
    fail_on_severity: Optional[str] = typer.Option(None, "--fail-on-severity", metavar="LEVEL",
                                                   help="Exit 1 when a selected finding is at least this severe."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the registered checks and exit."),
    redundant_days: int = typer.Option(90, "--redundant-days", min=1,
                                       help="No push and no pull for this many days makes a repository redundant."),
    large_image_gib: float = typer.Option(1.0, "--large-image-gib", min=0.001, help="Images above this are large."),
    cost_tag: List[str] = typer.Option([], "--cost-tag", metavar="KEY",
                                       help="Cost allocation tag keys (repeatable; default team, cost-center, "
                                            "owner, project)."),
    lifecycle_template: str = typer.Option("playbook-base", "--lifecycle-template",
                                           help="Policy the no-lifecycle-policy savings are simulated with."),
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               help="Starts per desired task per day above which a service "
                                                    "crash-loops."),
    docs_base_url: Optional[str] = typer.Option(None, "--docs-base-url", envvar="ECRWISE_DOCS_BASE_URL",
                                                help="SARIF: where the docs are served; rules get helpUri from it."),
    sarif_artifact: Optional[str] = typer.Option(None, "--sarif-artifact", metavar="PATH",
                                                 help="SARIF: a repository file to anchor results to (GitHub code "
                                                      "scanning needs a physical location)."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: FindingsFmt = typer.Option(FindingsFmt.table, "--format", "-f", help="Output format."),
) -> None:
    """Every finding from every analysis (storage, lifecycle, pulls, ECS, network), ranked by monthly savings."""
    if ctx.invoked_subcommand is not None:
        return
    if list_checks:
        _list_checks(fmt)
        return
    from ecrwise.analysis.findings import collect, registry, select, threshold_met, unknown_check_specs
    from ecrwise.cli.snapshot_data import load_records, snapshot_warnings
    from ecrwise.report import findings as view

    _severity(severity, "--severity")
    _severity(fail_on_severity, "--fail-on-severity")
    unknown = unknown_check_specs(check)
    if unknown:
        raise UserError(f"--check {' '.join(unknown)}: matches no registered check (see `ecrwise findings "
                        "--list-checks`)")
    book = prices(price_file)
    snap, records = load_records(store, snapshot)
    options = check_options(now=snap.taken_at, crash_loop_threshold=crash_loop_threshold,
                            redundant_days=redundant_days, large_image_gib=large_image_gib, cost_tags=cost_tag,
                            lifecycle_template=lifecycle_template)
    result = select(collect(records, book, options), checks=check, severity=severity, accounts=account,
                    regions=region)
    checks = registry()
    render(view.result([view.item(it, checks) for it in result.items], view.totals_json(result.totals()),
                       snapshot_warnings(snap, records) + result.warnings, snap.as_dict() | {"prices": book.describe()},
                       f"Findings · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC), ranked by monthly savings",
                       checks, top=top, docs_base_url=docs_base_url, artifact=sarif_artifact), fmt)
    reasons = threshold_met(result.items, savings_usd=fail_on_savings, severity=fail_on_severity)
    if reasons:
        err = stderr_console()
        for r in reasons:
            err.print(sanitize.line(f"ecrwise: gate: {r}"), highlight=False, markup=False)
        raise typer.Exit(1)


def top_findings_lines(store: Optional[Path], snapshot: Optional[int], book: Any, n: int = 5) -> list[str]:
    """The first n findings by savings, one line each (what `ecrwise demo` prints)."""
    from ecrwise.analysis.findings import collect
    from ecrwise.cli.snapshot_data import load_records
    from ecrwise.report.output import human_usd

    snap, records = load_records(store, snapshot)
    result = collect(records, book, check_options(now=snap.taken_at))
    lines = []
    for it in result.items[:n]:
        f = it.finding
        message = sanitize.line(f.message)  # AWS text, printed plain by `ecrwise demo`
        text = message if len(message) <= 96 else message[:95] + "…"
        lines.append(f"{human_usd(f.monthly_savings_usd):>10}/mo  {f.severity:<8} {f.check:<30} {text}")
    t = result.totals()
    lines.append(f"{t['findings']} findings in all, {human_usd(t['monthly_savings'])}/month to save (overlaps "
                 f"counted once): `ecrwise findings --store {store}`" if store else "")
    return [line for line in lines if line]
