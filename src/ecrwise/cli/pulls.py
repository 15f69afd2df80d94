"""`ecrwise pulls`: image-pull traffic and its cost per ECS service (and the pulls per repository no service
explains), crash-looping services, and what each fix saves. Thin: loads a snapshot, calls
`analysis.pulls.analyse_pulls`, renders.
"""
from __future__ import annotations

import dataclasses
import importlib
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, SnapshotOpt, StoreOpt, open_store, prices
from ecrwise.errors import UserError
from ecrwise.report.output import (Column, dump_csv, dump_json, envelope, human_bytes, human_usd, iso, rich_table,
                                   stderr_console, stdout_console, usd)

app = typer.Typer(help="Image-pull traffic and its cost per ECS service; crash-looping services.",
                  invoke_without_command=True, no_args_is_help=False)

CSV_COLUMNS = ["account", "region", "cluster", "service", "launch_type", "desired_count", "images",
               "task_starts_per_day", "starts_evidence", "crash_loop", "reasons", "bytes_per_start",
               "pulled_bytes_per_month", "nat_bytes_per_month", "nat_cost_usd_per_month", "path", "vpc_id",
               "nat_gateway_id", "fixes"]
REPO_CSV_COLUMNS = ["account", "region", "repository", "pulls_per_day", "explained_per_day", "unexplained_per_day",
                    "days", "services"]


class By(str, Enum):
    service = "service"
    repository = "repository"


# -- loading (shared with `ecrwise ecs`) ------------------------------------------------------------------

def record_classes() -> list[type]:
    classes = []
    for mod in ("ecrwise.records.ecr", "ecrwise.records.ecs", "ecrwise.records.network"):
        m = importlib.import_module(mod)
        classes += [c for c in vars(m).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                    and hasattr(c, "__table__") and c.__module__ == mod]
    return classes


def load_records(store: Optional[Path], snapshot: Optional[int]) -> tuple[Any, Any]:
    """(snapshot, Records) with every ECR, ECS and network record of the snapshot."""
    from ecrwise.analysis.checks import Records

    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        by_type = {cls: st.load(snap.id, cls) for cls in record_classes()}
    return snap, Records(by_type, snap.id)


def snapshot_warnings(snap: Any, records: Any) -> list[str]:
    from ecrwise.records.ecs import EcsCluster

    out = [f"scan could not collect {f.service} in {f.account}/{f.region}: {f.error_code}: {f.message}"
           for f in snap.failures if f.service in ("ecs", "network", "cloudwatch")]
    if "ecs" not in snap.services and not records.of(EcsCluster):
        out.append(f"snapshot {snap.id} has no ECS data: run `ecrwise scan --only ecr,ecs,network` (or a full scan)")
    return out


# -- rendering -------------------------------------------------------------------------------------------

def service_item(s: Any) -> dict[str, Any]:
    return {
        "account": s.account, "region": s.region, "cluster": s.cluster, "service": s.service,
        "service_arn": s.service_arn, "launch_type": s.launch_type, "desired_count": s.desired_count,
        "images": [u.as_dict() for u in s.images],
        "task_starts_per_day": round(s.task_starts_per_day, 2),
        "starts_per_desired_task_per_day": round(s.starts_per_desired_task_per_day, 2),
        "starts_evidence": s.starts_evidence, "starts_detail": s.starts_detail,
        "crash_loop": s.crash_loop,
        "reasons": [{"reason": r.reason, "category": r.category, "count": r.count, "source": r.source}
                    for r in s.reasons],
        "bytes_per_start": s.bytes_per_start, "layer_bytes_per_start": s.layer_bytes_per_start,
        "manifest_bytes_per_start": s.manifest_bytes_per_start,
        "pulled_bytes_per_month": s.pulled_bytes_per_month, "nat_bytes_per_month": s.nat_bytes_per_month,
        "nat_cost_usd_per_month": None if s.nat_cost_per_month is None else usd(s.nat_cost_per_month),
        "path": s.path, "path_detail": s.path_detail, "vpc_id": s.vpc_id, "nat_gateway_id": s.nat_gateway_id,
        "pull_behavior": s.pull_behavior,
        "fixes": [{"fix": f.fix, "monthly_savings_usd": None if f.monthly_savings is None else usd(f.monthly_savings),
                   "detail": f.detail, "command": f.command, "arithmetic": f.arithmetic} for f in s.fixes],
        "arithmetic": s.arithmetic, "notes": s.notes,
    }


def repository_item(r: Any) -> dict[str, Any]:
    return {"account": r.account, "region": r.region, "repository": r.repository,
            "pulls_per_day": round(r.pulls_per_day, 2), "explained_per_day": round(r.explained_per_day, 2),
            "unexplained_per_day": round(r.unexplained_per_day, 2), "days": r.days, "services": r.services}


def report_totals(report: Any) -> dict[str, Any]:
    t = report.totals
    return {"services": t["services"], "crash_looping": t["crash_looping"],
            "task_starts_per_day": round(t["task_starts_per_day"], 2),
            "pulled_bytes_per_month": t["pulled_bytes_per_month"], "nat_bytes_per_month": t["nat_bytes_per_month"],
            "nat_cost_usd_per_month": usd(t["nat_cost_per_month"]), "monthly_savings_usd": usd(t["monthly_savings"]),
            "unexplained_pulls_per_day": round(t["unexplained_pulls_per_day"], 2),
            "crash_loop_threshold": report.threshold, "as_of": iso(report.now),
            "repositories": [repository_item(r) for r in report.repositories if r.unexplained_per_day > 0]}


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    row = dict(item)
    row["images"] = " ".join(f"{u['repository'] or u['image']}={u['bytes'] if u['bytes'] is not None else '?'}"
                             for u in item["images"])
    row["reasons"] = "; ".join(f"{r['reason']} ×{r['count']}" for r in item["reasons"][:3])
    row["fixes"] = "; ".join(f"{f['fix']}={'' if f['monthly_savings_usd'] is None else f['monthly_savings_usd']}"
                             for f in item["fixes"])
    return row


EVIDENCE_SHORT = {"service-events": "events", "stopped-tasks": "stopped tasks",
                  "deployment-failed-tasks": "deployments", "repository-pull-count": "pull count ≤", "none": "-"}
VIA_SHORT = {"nat": "NAT", "s3-gateway-endpoint": "S3 gw", "interface-endpoint": "VPCE", "public-ip": "public IP",
             "none": "no route", "unknown": "?", "tgw": "TGW", "other": "other"}


def short_path(item: dict[str, Any]) -> str:
    layers = "+".join(VIA_SHORT.get(v, v) for v in item["path_detail"]["layers_via"])
    manifests = "+".join(VIA_SHORT.get(v, v) for v in item["path_detail"]["manifests_via"])
    return layers if layers == manifests else f"{layers} / {manifests}"


def _best(item: dict[str, Any]) -> tuple[str, float | None]:
    priced = [f for f in item["fixes"] if f["monthly_savings_usd"]]
    if not priced:
        return next((f["fix"] for f in item["fixes"]), "-"), None
    best = max(priced, key=lambda f: f["monthly_savings_usd"])
    return best["fix"], best["monthly_savings_usd"]


def print_table(report: Any, items: list[dict[str, Any]], title: str) -> None:
    cols = [
        Column("name", "service"),
        Column("launch_type", "type"),
        Column("desired_count", "want", str, "right"),
        Column("task_starts_per_day", "starts/day", lambda x: f"{x:,.1f}", "right"),
        Column("evidence", "from"),
        Column("crash_loop", "loop", lambda b: "LOOP" if b else ""),
        Column("bytes_per_start", "per start", human_bytes, "right"),
        Column("pulled_bytes_per_month", "pulled/mo", human_bytes, "right"),
        Column("nat_bytes_per_month", "NAT/mo", human_bytes, "right"),
        Column("nat_cost_usd_per_month", "NAT $/mo", human_usd, "right"),
        Column("short_path", "layers / manifests"),
        Column("best", "best fix"),
        Column("best_usd", "saves/mo", human_usd, "right"),
    ]
    rows = [dict(i, name=f"{i['cluster']}/{i['service']}", best=_best(i)[0], best_usd=_best(i)[1],
                 evidence=EVIDENCE_SHORT.get(i["starts_evidence"], i["starts_evidence"]), short_path=short_path(i))
            for i in items]
    t = report_totals(report)
    footer = {"pulled_bytes_per_month": sum(i["pulled_bytes_per_month"] for i in items),
              "nat_bytes_per_month": sum(i["nat_bytes_per_month"] or 0 for i in items),
              "nat_cost_usd_per_month": usd(sum(s.nat_cost_per_month or 0.0 for s in report.services
                                                if s.service_arn in {i["service_arn"] for i in items}))}
    console = wide_console()
    console.print(rich_table(title, cols, rows, footer))
    for i in items:
        if i["crash_loop"]:
            reasons = "; ".join(f"{r['reason']} ×{r['count']}" for r in i["reasons"][:3]) or "no stop reasons recorded"
            console.print(f"[bold]{i['cluster']}/{i['service']}[/] crash-loops: {i['task_starts_per_day']:,.0f} starts/day "
                          f"for {i['desired_count']} desired ({i['starts_evidence']}); {reasons}", highlight=False)
            for f in i["fixes"]:
                saving = "-" if f["monthly_savings_usd"] is None else human_usd(f["monthly_savings_usd"])
                console.print(f"  · {f['fix']} ({saving}/month): {f['detail']}"
                              + (f" → {f['command']}" if f["command"] else ""), highlight=False)
    repos = [r for r in t["repositories"]][:10]
    if repos:
        rcols = [Column("repository", "repository"), Column("region", "region"),
                 Column("pulls_per_day", "pulls/day", lambda x: f"{x:,.1f}", "right"),
                 Column("explained_per_day", "by services", lambda x: f"{x:,.1f}", "right"),
                 Column("unexplained_per_day", "unexplained", lambda x: f"{x:,.1f}", "right"),
                 Column("services", "services", lambda s: ", ".join(s) or "-")]
        console.print(rich_table("Pulls no ECS service explains (RepositoryPullCount, last 7 days; top 10)", rcols,
                                 repos))
    console.print(f"{t['services']} services · {t['crash_looping']} crash-looping (> {report.threshold:g} starts per "
                  f"desired task per day) · NAT ${t['nat_cost_usd_per_month']:,.2f}/month for pulls · fixes save up to "
                  f"${t['monthly_savings_usd']:,.2f}/month · `--format json` has every figure's arithmetic",
                  highlight=False)


@app.callback(invoke_without_command=True)
def pulls(
    ctx: typer.Context,
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               help="Starts per desired task per day above which a service "
                                                    "crash-loops."),
    by: By = typer.Option(By.service, "--by", help="Rows per service, or per repository (unexplained pulls)."),
    crash_looping: bool = typer.Option(False, "--crash-looping", help="Only crash-looping services."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Pull traffic and its cost per ECS service; crash-looping services; fixes and their savings."""
    if ctx.invoked_subcommand is not None:
        return
    from ecrwise.analysis.pulls import analyse_pulls

    book = prices(price_file)
    snap, records = load_records(store, snapshot)
    try:
        report = analyse_pulls(records, book, crash_loop_threshold=crash_loop_threshold, now=snap.taken_at)
    except ValueError as e:
        raise UserError(f"--crash-loop-threshold: {e}") from None
    warnings = snapshot_warnings(snap, records) + report.warnings
    services = [s for s in report.services if s.crash_loop or not crash_looping]
    if by is By.repository:
        items = [repository_item(r) for r in report.repositories]
        if fmt is Fmt.json:
            dump_json(envelope("pulls-repositories", snap.as_dict() | {"prices": book.describe()}, items,
                               report_totals(report), warnings))
        elif fmt is Fmt.csv:
            dump_csv([dict(i, services=" ".join(i["services"])) for i in items], REPO_CSV_COLUMNS)
        else:
            cols = [Column("repository", "repository"), Column("region", "region"),
                    Column("pulls_per_day", "pulls/day", lambda x: f"{x:,.1f}", "right"),
                    Column("explained_per_day", "by services", lambda x: f"{x:,.1f}", "right"),
                    Column("unexplained_per_day", "unexplained", lambda x: f"{x:,.1f}", "right"),
                    Column("services", "services", lambda s: ", ".join(s) or "-")]
            stdout_console().print(rich_table(f"Pulls per repository · snapshot {snap.id}", cols, items))
            _print_warnings(warnings)
        return
    items = [service_item(s) for s in services]
    if fmt is Fmt.json:
        dump_json(envelope("pulls", snap.as_dict() | {"prices": book.describe()}, items, report_totals(report),
                           warnings))
    elif fmt is Fmt.csv:
        dump_csv([_flat(i) for i in items], CSV_COLUMNS)
    else:
        print_table(report, items, f"Image pulls per ECS service · snapshot {snap.id} "
                                   f"({snap.taken_at:%Y-%m-%d %H:%M} UTC)")
        _print_warnings(warnings)


def wide_console() -> Any:
    """Stdout console; piped output gets room for the wide per-service table."""
    import sys

    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else max(Console().width, 200))


def _print_warnings(warnings: list[str]) -> None:
    console = stderr_console()
    for w in warnings[:20]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
