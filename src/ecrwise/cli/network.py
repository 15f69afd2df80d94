"""`ecrwise network`: the VPC endpoint audit, NAT-versus-endpoint cost, fixes (templates or --apply), undo and
NAT alarms. Thin: loads a snapshot, calls `analysis.network_checks` / `pricing.network_cost` /
`remediate.network_templates` / `aws.network_apply`, renders.
"""
from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise import __version__
from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, SnapshotOpt, StoreOpt, open_store, prices, store_path
from ecrwise.errors import AwsUnavailable, PartialFailure, UserError
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.report.output import (Column, dump_json, envelope, human_bytes, human_usd, rich_table,
                                   stderr_console, stdout_console, usd)

app = typer.Typer(help="VPC endpoint audit, NAT-versus-endpoint cost, fixes and NAT alarms.",
                  invoke_without_command=True, no_args_is_help=False)

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile for --apply.")


# -- loading ---------------------------------------------------------------------------------------------

def _record_classes() -> list[type]:
    import importlib

    classes = []
    for mod in ("ecrwise.records.ecr", "ecrwise.records.ecs", "ecrwise.records.network"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        classes += [c for c in vars(m).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                    and hasattr(c, "__table__") and c.__module__ == mod]
    return classes


def load_records(store: Optional[Path], snapshot: Optional[int]) -> tuple[Any, Any]:
    """(snapshot, Records) with every record class of the snapshot."""
    from ecrwise.analysis.checks import Records

    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        by_type = {cls: st.load(snap.id, cls) for cls in _record_classes()}
    return snap, Records(by_type, snap.id)


def _warnings(snap: Any, records: Any) -> list[str]:
    from ecrwise.records.network import Vpc

    out = [f"scan could not collect {f.service} in {f.account}/{f.region}: {f.error_code}: {f.message}"
           for f in snap.failures if f.service in ("network", "cloudwatch", "ecs")]
    if "network" not in snap.services and not records.of(Vpc):
        out.append(f"snapshot {snap.id} has no network data: run `ecrwise scan --only network` (or a full scan)")
    return out


# -- rendering -------------------------------------------------------------------------------------------

def finding_dict(f: Any) -> dict[str, Any]:
    return {"id": f.id, "check": f.check, "severity": f.severity, "account": f.account, "region": f.region,
            "resource": f.resource, "message": f.message,
            "monthly_cost_usd": None if f.monthly_cost_usd is None else usd(f.monthly_cost_usd),
            "monthly_savings_usd": None if f.monthly_savings_usd is None else usd(f.monthly_savings_usd),
            "evidence": f.evidence, "arithmetic": f.arithmetic, "recommendation": f.recommendation, "fix": f.fix}


def nat_dict(s: Any, book: PriceBook) -> dict[str, Any]:
    price = book.price(s.region, "nat_gateway_gb")
    monthly = s.processed_bytes_per_month
    cost = monthly / GIB * price.usd
    return {
        "nat_gateway_id": s.nat_gateway_id, "vpc_id": s.vpc_id, "days": len(s.days),
        "processed_bytes": s.processed_bytes, "median_daily_bytes": int(s.median_daily_bytes),
        "processed_bytes_per_month": monthly,
        "processing_monthly_usd": usd(cost),
        "arithmetic": {"bytes": monthly, "price": price.as_dict(),
                       "formula": f"{s.processed_bytes:,} B over {len(s.days)} days × 30/{len(s.days)} = "
                                  f"{monthly:,} B / 2^30 × ${price.usd:g}/GB = ${cost:,.2f}"},
        "spike_k": s.k, "spike_window_days": s.window,
        "spikes": [{"day": sp.day.isoformat(), "processed_bytes": sp.processed, "median_bytes": int(sp.median),
                    "ratio": None if sp.ratio is None else round(sp.ratio, 2)} for sp in s.spikes],
        "pull_bytes_per_month": s.pull_bytes_per_month,
        "pull_share": None if s.pull_share is None else round(s.pull_share, 4),
        "series": [{"day": d.day.isoformat(), "processed_bytes": d.processed, "downloaded_bytes": d.downloaded}
                   for d in s.days],
    }


def vpc_dict(a: Any, book: PriceBook) -> dict[str, Any]:
    return {
        "account": a.account, "region": a.region, "vpc_id": a.vpc_id, "name": a.name,
        "enable_dns_support": a.vpc.enable_dns_support, "enable_dns_hostnames": a.vpc.enable_dns_hostnames,
        "workload": {"source": a.workload.source, "subnets": list(a.workload.subnet_ids), "azs": a.azs,
                     "cidrs": a.subnet_cidrs, "ecs_services": list(a.workload.ecs_services),
                     "uses_awslogs": a.workload.uses_awslogs,
                     "public_subnets_skipped": list(a.workload.public_subnet_ids)},
        "egress": a.egress, "route_tables": a.route_table_ids, "nat_gateway_ids": a.nat_gateway_ids,
        "services": {k: dataclasses.asdict(v) for k, v in a.services.items()},
        "pull_traffic": None if a.traffic is None else {
            "bytes_per_month": a.traffic.bytes_per_month, "pulls_per_month": a.traffic.pulls_per_month,
            "nat_bytes_per_month": a.traffic.nat_bytes_per_month, "source": a.traffic.source},
        "findings": [finding_dict(f) for f in a.findings],
        "monthly_cost_usd": usd(a.monthly_cost_usd),
        "nat_gateways": [nat_dict(s, book) for s in a.nats],
    }


def _mark(status: Any) -> str:
    if status.ok:
        return status.short or "ok"
    return f"✗ {status.short or status.detail}"


# -- ecrwise network (the audit) -------------------------------------------------------------------------

@app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    vpc: Optional[str] = typer.Option(None, "--vpc", help="Only this VPC."),
    spike_k: float = typer.Option(3.0, "--spike-k", min=1.0, help="A day spikes above k × the rolling median."),
    spike_window: int = typer.Option(7, "--spike-window", min=1, help="Days in the rolling median."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Audit the endpoints image pulls need, per VPC that runs ECS tasks or routes private subnets to a NAT;
    NAT traffic per gateway with its spike days."""
    if ctx.invoked_subcommand:
        return
    from ecrwise.analysis.network_checks import audit_network

    book = prices(price_file)
    snap, records = load_records(store, snapshot)
    result = audit_network(records, book, spike_k=spike_k, spike_window=spike_window)
    vpcs = [a for a in result.vpcs if vpc is None or a.vpc_id == vpc]
    if vpc and not vpcs:
        raise UserError(f"--vpc {vpc}: not audited in snapshot {snap.id} (no such VPC, or no private subnets "
                        "that pull images)")
    spikes = [f for f in result.findings if f.check == "network.nat-traffic-spike"
              and (vpc is None or f.evidence.get("vpc_id") == vpc)]
    warnings = _warnings(snap, records) + result.warnings
    if not any(a.traffic for a in vpcs):
        warnings.append("pull traffic unknown (no `ecrwise pulls` data): findings carry no monthly cost except "
                        "endpoint hours and NAT spikes")
    findings = [f for a in vpcs for f in a.findings] + spikes
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    findings.sort(key=lambda f: (rank.get(f.severity, 5), -(f.monthly_cost_usd or 0.0), f.check, f.resource))
    by_sev: dict[str, int] = {}
    for f in findings:
        by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
    totals = {"vpcs_audited": len(vpcs), "findings": len(findings), "by_severity": by_sev,
              "monthly_cost_usd": usd(sum(f.monthly_cost_usd or 0.0 for f in findings)),
              "nat_gateways": len([s for a in vpcs for s in a.nats]),
              "nat_spike_days": sum(len(s.spikes) for a in vpcs for s in a.nats)}
    if fmt is Fmt.json:
        items = [vpc_dict(a, book) for a in vpcs]
        for f in spikes:  # spike findings belong to their NAT's VPC
            for it in items:
                if it["vpc_id"] == f.evidence.get("vpc_id"):
                    it["findings"].append(finding_dict(f))
        dump_json(envelope("network", snap.as_dict() | {"prices": book.describe()}, items, totals, warnings))
        return
    if fmt is Fmt.csv:
        from ecrwise.report.output import dump_csv

        rows = [finding_dict(f) | {"vpc_id": f.evidence.get("vpc_id")} for f in findings]
        dump_csv(rows, ["vpc_id", "severity", "check", "account", "region", "resource", "monthly_cost_usd",
                        "monthly_savings_usd", "message", "fix"])
        return
    console = stdout_console()
    rows = [{"vpc": f"{a.name}\n{a.vpc_id}" if a.name else a.vpc_id, "subnets": f"{len(a.subnets)} ({a.workload.source})",
             "azs": len(a.azs), "egress": ", ".join(a.nat_gateway_ids) or ", ".join(sorted(set(a.egress.values()))),
             "dns": "on" if a.vpc.enable_dns_support and a.vpc.enable_dns_hostnames else "✗ off",
             **{s: _mark(a.services[s]) for s in ("ecr.api", "ecr.dkr", "s3", "logs")},
             "findings": len(a.findings)} for a in vpcs]
    console.print(rich_table(f"VPC endpoints image pulls need · snapshot {snap.id} "
                             f"({snap.taken_at:%Y-%m-%d %H:%M} UTC)", [
        Column("vpc", "VPC"), Column("subnets", "task subnets"),
        Column("azs", "AZs", str, "right"), Column("egress", "default route"), Column("dns", "VPC DNS"),
        Column("ecr.api", "ecr.api"), Column("ecr.dkr", "ecr.dkr"), Column("s3", "s3 gateway"),
        Column("logs", "logs"), Column("findings", "findings", str, "right")], rows))
    if findings:
        console.print(rich_table("Findings", [
            Column("severity", "severity"), Column("check", "check"), Column("resource", "resource"),
            Column("monthly_cost_usd", "$/month", human_usd, "right"), Column("message", "what")],
            [finding_dict(f) for f in findings]))
    nat_rows = []
    for a in vpcs:
        for s in a.nats:
            d = nat_dict(s, book)
            nat_rows.append({**d, "name": a.name or a.vpc_id,
                             "spike_days": ", ".join(f"{x['day'][5:]} ({x['ratio']}×)" if x["ratio"] else x["day"][5:]
                                                     for x in d["spikes"]) or "-",
                             "share": "-" if s.pull_share is None else f"{s.pull_share:.0%}"})
    if nat_rows:
        console.print(rich_table(f"NAT gateway bytes processed (spike: > {spike_k:g} × median of the "
                                 f"{spike_window} days before)", [
            Column("nat_gateway_id", "NAT gateway"), Column("name", "VPC"), Column("days", "days", str, "right"),
            Column("median_daily_bytes", "median/day", human_bytes, "right"),
            Column("processed_bytes", "total", human_bytes, "right"),
            Column("processing_monthly_usd", "processing $/month", human_usd, "right"),
            Column("spike_days", "spike days"), Column("share", "pulls' share")], nat_rows))
    console.print(f"{totals['findings']} finding(s) in {totals['vpcs_audited']} VPC(s); fix one with "
                  f"`ecrwise network fix --vpc VPC --out DIR` (templates) or `--apply`.", highlight=False)
    _print_warnings(warnings)


def _print_warnings(warnings: list[str]) -> None:
    err = stderr_console()
    for w in warnings[:20]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


# -- ecrwise network cost --------------------------------------------------------------------------------

@app.command("cost")
def cost_cmd(
    pull_gb_month: Optional[float] = typer.Option(None, "--pull-gb-month", min=0.0,
                                                  help="Pull volume in GB (GiB) a month."),
    azs: Optional[int] = typer.Option(None, "--azs", min=1, help="Availability zones the tasks run in."),
    region: Optional[str] = typer.Option(None, "--region", help="Region whose prices to use (default us-east-1)."),
    logs: bool = typer.Option(False, "--logs", help="Add the logs interface endpoint (awslogs)."),
    pulls_per_month: Optional[float] = typer.Option(None, "--pulls-per-month", min=0.0,
                                                    help="Pulls a month (default: pull bytes / 256 MiB)."),
    nat_gateways: Optional[int] = typer.Option(None, "--nat-gateways", min=0,
                                               help="NAT gateways on the NAT path (default: one per AZ)."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """NAT gateway versus VPC endpoints for image pulls, line by line, with break-even volumes. Without
    --pull-gb-month: each VPC's measured pull volume from the snapshot."""
    from ecrwise.pricing.network_cost import network_cost

    book = prices(price_file)
    if region and region not in book.regions:
        _print_warnings([f"--region {region}: not in the price book; using {book.fallback_region} prices"])
    reports: list[tuple[str, Any]] = []
    snap_dict = None
    if pull_gb_month is not None or azs is not None:
        if pull_gb_month is None or azs is None:
            raise UserError("--pull-gb-month and --azs go together (or give neither to use the snapshot's "
                            "measured pull volume)")
        reports.append(("given", network_cost(book, region or "us-east-1", pull_gb_month, azs, logs=logs,
                                              pulls_per_month=pulls_per_month, nat_gateways=nat_gateways)))
    else:
        from ecrwise.analysis.network_checks import audit_network, pull_traffic_from_pulls

        snap, records = load_records(store, snapshot)
        snap_dict = snap.as_dict()
        traffic = pull_traffic_from_pulls(records, book)
        if not traffic:
            raise UserError(f"snapshot {snap.id} has no measured pull volume (it comes from `ecrwise pulls`: "
                            "ECR pull metrics and the ECS services that pull); pass --pull-gb-month N --azs K")
        result = audit_network(records, book, pull_traffic=traffic)
        for a in result.vpcs:
            if a.traffic is None:
                continue
            reports.append((f"{a.vpc_id}" + (f" ({a.name})" if a.name else ""), network_cost(
                book, region or a.region, a.traffic.bytes_per_month / GIB, max(1, len(a.azs)),
                logs=logs or a.workload.uses_awslogs, pulls_per_month=a.traffic.pulls_per_month,
                nat_gateways=len(a.nat_gateway_ids) if nat_gateways is None else nat_gateways)))
    if fmt is Fmt.json:
        items, totals = [], {}
        for label, r in reports:
            for b in r.blocks.values():
                for line in b.lines:
                    items.append({"scope": label, "block": b.key, "block_title": b.title, **line.as_dict()})
            totals[label] = cost_totals(r)
        dump_json(envelope("network-cost", snap_dict, items, totals, []))
        return
    if fmt is Fmt.csv:
        from ecrwise.report.output import dump_csv

        rows = [{"scope": label, "block": b.key, **line.as_dict()} for label, r in reports
                for b in r.blocks.values() for line in b.lines]
        dump_csv(rows, ["scope", "block", "label", "quantity", "unit", "unit_price_usd", "usd", "counted_by_seed",
                        "formula"])
        return
    for label, r in reports:
        print_cost(label, r)


def cost_totals(r: Any) -> dict[str, Any]:
    return {
        "inputs": {"region": r.region, "pull_gb_month": r.pull_gb_month, "azs": r.azs,
                   "nat_gateways": r.nat_gateways, "logs": r.logs, "pulls_per_month": round(r.pulls_per_month, 2),
                   "pulls_estimated": r.pulls_estimated, "manifest_bytes_per_pull": r.manifest_bytes_per_pull,
                   "manifest_gb": round(r.manifest_gb, 6), "layer_gb": round(r.layer_gb, 6),
                   "hours_per_month": r.hours_per_month},
        "blocks": {k: {"title": b.title, "total_usd": usd(b.total_usd), "counted_by_seed_usd": usd(b.seed_usd),
                       "left_out_by_seed_usd": usd(b.left_out_usd), "notes": list(b.notes)}
                   for k, b in r.blocks.items()},
        "savings_usd": {k: usd(v) for k, v in r.savings.items()},
        "break_even": [b.as_dict() for b in r.break_even],
    }


def print_cost(label: str, r: Any) -> None:
    console = stdout_console()
    gb = f"{r.pull_gb_month:,.2f}".rstrip("0").rstrip(".")
    console.print(f"[bold]Image pulls: {gb} GB/month, {r.azs} AZ, {r.region}[/]"
                  + ("" if label == "given" else f" · {label}"), highlight=False)
    console.print(f"  {r.pulls_per_month:,.0f} pulls/month"
                  + (" (estimated: pull bytes / 256 MiB)" if r.pulls_estimated else "")
                  + f"; ECR API + manifests {r.manifest_bytes_per_pull // 1024} KiB/pull = {r.manifest_gb:,.3f} GB; "
                  f"layers from S3 {r.layer_gb:,.3f} GB", highlight=False)
    for b in r.blocks.values():
        rows = [{"label": x.label, "formula": x.formula, "usd": x.usd, "seed": "yes" if x.seed else "no",
                 "note": x.note} for x in b.lines]
        console.print(rich_table(b.title, [
            Column("label", "line"), Column("formula", "quantity × unit price"),
            Column("usd", "$/month", human_usd, "right"), Column("seed", "seed 000 counts it"),
            Column("note", "note")], rows, {"usd": b.total_usd}))
        for n in b.notes:
            console.print(f"  note: {n}", highlight=False)
    nat, seed, ep = r.blocks["nat"], r.blocks["seed"], r.blocks["endpoints"]
    s = r.savings
    console.print(f"[bold]Savings of (c) against (a)[/]: {_saving(s['endpoints_vs_nat_data'])} if the NAT stays for "
                  f"other traffic, {_saving(s['endpoints_vs_nat_removed'])} if it can go; the S3 gateway endpoint "
                  f"alone (d): {_saving(s['s3_only_vs_nat_data'])}.", highlight=False)
    if label == "given":
        _print_seed(nat, seed, ep)
    console.print("[bold]Break-even[/]", highlight=False)
    for be in r.break_even:
        gb_text = "never" if be.gb_per_month is None else f"{be.gb_per_month:,.2f} GB/month"
        console.print(f"  {be.meaning}: {gb_text}  ({be.formula})", highlight=False)
    console.print()


def _saving(x: float) -> str:
    return f"{human_usd(x)}/month" if x >= 0 else f"none (it costs {human_usd(-x)}/month more)"


def _print_seed(nat: Any, seed: Any, ep: Any) -> None:
    console = stdout_console()
    console.print("[bold]Against seed 000[/] (\"NAT ≈ $1,800, PrivateLink ≈ $400\"):", highlight=False)
    console.print(f"  NAT: the seed counts data processing, {human_usd(nat.seed_usd)}; it leaves out gateway hours "
                  f"and the public IPv4 address, {human_usd(nat.left_out_usd)}: {human_usd(nat.total_usd)}.",
                  highlight=False)
    data, fixed = seed.lines[0], seed.lines[1]
    console.print(f"  PrivateLink: the seed puts every byte through one interface endpoint, {human_usd(data.usd)} "
                  f"+ {human_usd(fixed.usd)} fixed = {human_usd(seed.total_usd)}. Pulls need two ECR endpoints and "
                  f"the layers come from S3 through the free gateway endpoint: the correct set-up costs "
                  f"{human_usd(ep.total_usd)}.", highlight=False)


# -- ecrwise network fix / undo --------------------------------------------------------------------------

class FixFormat(str, Enum):
    table = "table"
    json = "json"
    terraform = "terraform"
    cloudformation = "cloudformation"


def _account(profile: Optional[str], region: str, expected: str | None) -> Any:
    from ecrwise.aws.session import Account, base_session, caller_account

    session = base_session(profile)
    account_id = caller_account(session, region)
    if expected and account_id != expected:
        raise UserError(f"--profile: these credentials are for account {account_id}, the VPC is in {expected}")
    return Account(account_id, session)


def _snapshot_vpc(store: Optional[Path], snapshot: Optional[int], vpc: str) -> tuple[Any, Any, Any]:
    """(snapshot, records, Vpc record or None), tolerating a store that does not exist yet."""
    from ecrwise.records.network import Vpc

    path = store_path(store)
    if not path.exists():
        return None, None, None
    snap, records = load_records(store, snapshot)
    return snap, records, next((v for v in records.of(Vpc) if v.vpc_id == vpc), None)


def _journal_dir(backup_dir: Optional[Path], store: Optional[Path]) -> Path:
    return backup_dir or store_path(store).parent / "network-changes"


def _live_audit(account: Any, region: str, vpc: str, records: Any, book: PriceBook) -> Any:
    """The VPC audited from its live network state, with the snapshot's ECS records (which subnets pull)."""
    from ecrwise.analysis.checks import Records
    from ecrwise.analysis.network_checks import audit_network
    from ecrwise.aws.network import by_type
    from ecrwise.aws.network_apply import live_records
    from ecrwise.records import network as net

    from ecrwise.aws.session import error_code

    try:
        live = by_type(live_records(account, region, vpc))
    except Exception as e:  # noqa: BLE001 — every failure becomes an exit code with the reason
        if error_code(e).startswith("InvalidVpcID"):
            raise UserError(f"--vpc {vpc}: no such VPC in account {account.account_id}, region {region}") from None
        raise AwsUnavailable(f"cannot read {vpc} in {region}: {error_code(e)}: {e}") from None
    if not live.get(net.Vpc):
        raise UserError(f"--vpc {vpc}: no such VPC in account {account.account_id}, region {region}")
    merged = {cls: records.of(cls) for cls in _record_classes() if records is not None
              and cls.__module__ != net.__name__}
    merged.update(live)
    result = audit_network(Records(merged), book, pull_traffic={})
    return result.vpc(vpc)


@app.command("fix")
def fix_cmd(
    vpc: str = typer.Option(..., "--vpc", help="The VPC to fix."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write Terraform (main.tf) and/or CloudFormation "
                                       "(template.json) here."),
    apply: bool = typer.Option(False, "--apply", help="Create the missing pieces through the API now."),
    fmt: FixFormat = typer.Option(FixFormat.table, "--format", "-f",
                                  help="terraform | cloudformation (which template to write to --out; default "
                                       "both) or table | json (how to print the plan)."),
    region: Optional[str] = typer.Option(None, "--region", help="Region of the VPC (default: from the snapshot)."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help="Where --apply writes its journal "
                                              "(default: next to the store, network-changes/)."),
    profile: Optional[str] = ProfileOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
) -> None:
    """The missing endpoints and security group for one VPC: as Terraform / CloudFormation (--out), or created
    now (--apply; tagged ecrwise:managed=true, idempotent, journaled)."""
    from ecrwise.analysis.network_checks import audit_network
    from ecrwise.remediate import network_templates as tpl

    book = prices(price_file)
    snap, records, vpc_rec = _snapshot_vpc(store, snapshot, vpc)
    if apply:
        where = region or (vpc_rec.region if vpc_rec else None)
        if where is None:
            raise UserError(f"--vpc {vpc}: not in the snapshot; give --region")
        account = _account(profile, where, vpc_rec.account if vpc_rec else None)
        audit_ = _live_audit(account, where, vpc, records, book)
    else:
        if snap is None:
            raise UserError(f"{store_path(store)}: no store here yet; run `ecrwise scan` first (or use --apply, "
                            "which reads the VPC live)")
        audit_ = audit_network(records, book).vpc(vpc)
        if vpc_rec is None:
            raise UserError(f"--vpc {vpc}: not in snapshot {snap.id}")
    if audit_ is None:
        raise UserError(f"--vpc {vpc}: it has no private subnets that pull images (no ECS tasks, no default route "
                        "to a NAT gateway): nothing to fix")
    plan = tpl.plan_fixes(audit_)
    if not (apply and fmt is FixFormat.json):  # with --apply, JSON is one document: the plan and its results
        _print_plan(plan, fmt)
    if out is not None:
        _write_templates(plan, out, fmt)
    if apply:
        from ecrwise.aws.network_apply import Journal, apply_fix_plan, prior_state

        if plan.empty:
            if fmt is FixFormat.json:
                _print_results([], fmt, "network-fix", {"vpc_id": vpc, "plan": plan.as_dict(), "journal": None})
            return  # the plan printed above already says there is nothing to fix
        journal = Journal(_journal_dir(backup_dir, store), "network-fix",
                          {"vpc_id": vpc, "account": plan.account, "region": plan.region,
                           "plan": plan.as_dict(), "before": prior_state(account, plan)})
        stderr_console().print(f"journal: {journal.path}", highlight=False)
        results = apply_fix_plan(account, plan, journal)
        _print_results(results, fmt, "network-fix", {"vpc_id": vpc, "plan": plan.as_dict(),
                                                     "journal": str(journal.path)})
        if any(r.status == "failed" for r in results):
            raise PartialFailure(f"--apply stopped at a failed step; see {journal.path}")
    elif out is None and not plan.empty:
        stderr_console().print(f"dry run: nothing changed. Write templates with --out DIR, or create them with "
                               f"`ecrwise network fix --vpc {vpc} --apply`.", highlight=False)


def _print_plan(plan: Any, fmt: FixFormat) -> None:
    if fmt is FixFormat.json:
        if plan is not None:
            dump_json(envelope("network-fix-plan", None, [a.as_dict() for a in plan.actions],
                               {"vpc_id": plan.vpc_id, "account": plan.account, "region": plan.region,
                                "actions": len(plan.actions)}, []))
        return
    console = stderr_console() if fmt in (FixFormat.terraform, FixFormat.cloudformation) else stdout_console()
    if plan.empty:
        console.print(f"{plan.vpc_id}: nothing to fix; it has what image pulls need.", highlight=False)
        return
    console.print(rich_table(f"Plan for {plan.vpc_id}" + (f" ({plan.vpc_name})" if plan.vpc_name else "")
                             + f" · {plan.region}", [Column("n", "#", str, "right"), Column("action", "action"),
                                                     Column("description", "what")],
                             [{"n": i + 1, **a.as_dict()} for i, a in enumerate(plan.actions)]))


def _write_templates(plan: Any, out: Path, fmt: FixFormat) -> None:
    from ecrwise.remediate import network_templates as tpl

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create the directory: {e.strerror}") from None
    err = stderr_console()
    both = fmt in (FixFormat.table, FixFormat.json)
    if both or fmt is FixFormat.terraform:
        path = out / "main.tf"
        path.write_text(tpl.terraform(plan, __version__))
        err.print(f"wrote {path}", highlight=False)
    if both or fmt is FixFormat.cloudformation:
        template = tpl.cloudformation(plan, __version__)
        path = out / "template.json"
        if template is None:
            err.print("no CloudFormation template: the plan creates nothing, it only changes existing resources",
                      highlight=False)
        else:
            path.write_text(json.dumps(template, indent=2) + "\n")
            err.print(f"wrote {path}", highlight=False)
        steps = tpl.manual_steps(plan)
        if steps:
            err.print("CloudFormation cannot change resources a stack does not own; once the stack is up, run "
                      "(or use --apply, which does all of it):", highlight=False)
        for step in steps:
            err.print(f"  · {step}", highlight=False)


def _print_results(results: list[Any], fmt: FixFormat | Fmt, kind: str, totals: dict[str, Any]) -> None:
    rows = [dataclasses.asdict(r) for r in results]
    if fmt in (FixFormat.json, Fmt.json):
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        dump_json(envelope(kind, None, rows, {**totals, "by_status": counts}, []))
        return
    stdout_console().print(rich_table("Result", [Column("action", "action"), Column("status", "status"),
                                                 Column("resource_id", "resource"), Column("description", "what"),
                                                 Column("detail", "detail")], rows))


@app.command("undo")
def undo_cmd(
    vpc: str = typer.Option(..., "--vpc", help="The VPC whose ecrwise changes to reverse."),
    apply: bool = typer.Option(False, "--apply", help="Reverse them now (without: show what would be done)."),
    region: Optional[str] = typer.Option(None, "--region", help="Region of the VPC (default: from the snapshot)."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help="Where to write the journal."),
    profile: Optional[str] = ProfileOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Remove what `ecrwise network fix --apply` created in a VPC and reverse the changes it recorded; nothing
    else is touched."""
    from ecrwise.aws.network_apply import Journal, apply_undo, plan_undo

    _, _, vpc_rec = _snapshot_vpc(store, None, vpc)
    where = region or (vpc_rec.region if vpc_rec else None)
    if where is None:
        raise UserError(f"--vpc {vpc}: not in the snapshot; give --region")
    account = _account(profile, where, vpc_rec.account if vpc_rec else None)
    steps = plan_undo(account, where, vpc)
    if fmt is Fmt.json and not apply:
        dump_json(envelope("network-undo-plan", None, [s.as_dict() for s in steps],
                           {"vpc_id": vpc, "steps": len(steps)}, []))
        return
    console = stdout_console() if fmt is not Fmt.json else stderr_console()
    if not steps:
        console.print(f"{vpc}: nothing ecrwise created or changed here.", highlight=False)
        return
    console.print(rich_table(f"Undo plan for {vpc}", [Column("n", "#", str, "right"), Column("kind", "step"),
                                                      Column("description", "what")],
                             [{"n": i + 1, **s.as_dict()} for i, s in enumerate(steps)]))
    if not apply:
        stderr_console().print("dry run: nothing changed; add --apply to do it.")
        return
    journal = Journal(_journal_dir(backup_dir, None), "network-undo",
                      {"vpc_id": vpc, "account": account.account_id, "region": where,
                       "plan": [s.as_dict() for s in steps]})
    stderr_console().print(f"journal: {journal.path}", highlight=False)
    results = apply_undo(account, where, vpc, steps, journal)
    _print_results(results, fmt, "network-undo", {"vpc_id": vpc, "journal": str(journal.path)})
    if any(r.status == "failed" for r in results):
        raise PartialFailure(f"undo left some steps undone; see {journal.path} and run it again")


# -- ecrwise network alarms ------------------------------------------------------------------------------

@app.command("alarms")
def alarms_cmd(
    apply: bool = typer.Option(False, "--apply", help="Create or update the alarms now."),
    k: float = typer.Option(3.0, "--k", min=1.0, help="Threshold: k × the median day, per hour."),
    min_gb_hour: float = typer.Option(1.0, "--min-gb-hour", min=0.0, help="Never alarm below this many GB an hour."),
    sns_topic: list[str] = typer.Option([], "--alarm-action", help="ARN to notify (an SNS topic; repeatable)."),
    profile: Optional[str] = ProfileOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """CloudWatch alarms on each NAT gateway's bytes processed, thresholds from its 30-day history."""
    from ecrwise.analysis.nat_traffic import alarm_specs, nat_series
    from ecrwise.aws.network_apply import alarm_request, apply_alarms
    from ecrwise.records.network import NatGateway, NatMetric

    snap, records = load_records(store, snapshot)
    specs = alarm_specs(nat_series(records.of(NatMetric), records.of(NatGateway), k=k), k=k,
                        min_bytes_per_hour=int(min_gb_hour * GIB))
    if not specs:
        raise UserError(f"snapshot {snap.id} has no NAT gateways (scan with the network family first)")
    results: list[Any] = []
    for account_id in sorted({s.account for s in specs}):
        mine = [s for s in specs if s.account == account_id]
        try:
            account = _account(profile, mine[0].region, account_id)
        except AwsUnavailable:
            if apply:
                raise
            account = None  # without --apply and without AWS: show the alarms as they would be created
        if account is None:
            from ecrwise.aws.network_apply import StepResult
            results += [StepResult("alarm", s.name, "planned", s.name, s.formula) for s in mine]
        else:
            results += apply_alarms(account, mine, actions=sns_topic, apply=apply)
    by_name = {s.name: s for s in specs}
    rows = [{"alarm": r.description, "nat_gateway_id": by_name[r.description].nat_gateway_id,
             "vpc_id": by_name[r.description].vpc_id, "status": r.status,
             "threshold_bytes_per_hour": by_name[r.description].threshold,
             "median_daily_bytes": int(by_name[r.description].median_daily_bytes),
             "formula": by_name[r.description].formula,
             "request": alarm_request(by_name[r.description], sns_topic)} for r in results]
    if fmt is Fmt.json:
        dump_json(envelope("network-alarms", snap.as_dict(), rows,
                           {"alarms": len(rows), "applied": apply}, []))
        return
    stdout_console().print(rich_table("NAT gateway alarms" + ("" if apply else " (dry run: add --apply)"), [
        Column("alarm", "alarm"), Column("vpc_id", "VPC"), Column("status", "status"),
        Column("median_daily_bytes", "median/day", human_bytes, "right"),
        Column("threshold_bytes_per_hour", "threshold/hour", human_bytes, "right"),
        Column("formula", "how")], rows))
