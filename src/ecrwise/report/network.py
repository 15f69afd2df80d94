"""Rendering `ecrwise network`: the audit (JSON items per VPC, CSV of findings, the endpoint, findings and NAT
tables), the NAT-versus-endpoint cost, fix and undo plans, step results and NAT alarms. The analysis comes
from `analysis.network_checks` / `analysis.nat_traffic`, the cost from `pricing.network_cost`, the plans from
`remediate.network_templates` and `aws.network_apply`.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ecrwise.pricing.book import PriceBook
from ecrwise.report.output import (SEVERITY_RANK, Column, human_bytes, human_usd, print_warnings,
                                   rich_table, stderr_console, stdout_console, usd)
from ecrwise.report.render import Result, View, view
from ecrwise.report.sanitize import styled, text

FINDINGS_CSV_COLUMNS = ["vpc_id", "severity", "check", "account", "region", "resource", "monthly_cost_usd",
                        "monthly_savings_usd", "message", "fix"]
COST_CSV_COLUMNS = ["scope", "block", "label", "quantity", "unit", "unit_price_usd", "usd", "counted_by_common_estimate",
                    "formula"]


# -- the audit ---------------------------------------------------------------------------------------------

def finding_dict(f: Any) -> dict[str, Any]:
    from ecrwise.report.findings import finding_json

    return finding_json(f)


def nat_dict(s: Any, book: PriceBook) -> dict[str, Any]:
    from ecrwise.analysis.nat_traffic import processing_cost

    cost, arithmetic = processing_cost(s, book)
    monthly = s.processed_bytes_per_month
    return {
        "nat_gateway_id": s.nat_gateway_id, "vpc_id": s.vpc_id, "days": len(s.days),
        "processed_bytes": s.processed_bytes, "median_daily_bytes": int(s.median_daily_bytes),
        "processed_bytes_per_month": monthly,
        "processing_monthly_usd": usd(cost),
        "arithmetic": arithmetic,
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


def audit_items(vpcs: list[Any], spikes: list[Any], book: PriceBook) -> list[dict[str, Any]]:
    """One item per VPC; NAT spike findings go with their NAT's VPC."""
    items = [vpc_dict(a, book) for a in vpcs]
    for f in spikes:
        for it in items:
            if it["vpc_id"] == f.evidence.get("vpc_id"):
                it["findings"].append(finding_dict(f))
    return items


def audit_totals(vpcs: list[Any], findings: list[Any]) -> dict[str, Any]:
    by_sev: dict[str, int] = {}
    for f in findings:
        by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
    return {"vpcs_audited": len(vpcs), "findings": len(findings), "by_severity": by_sev,
            "monthly_cost_usd": usd(sum(f.monthly_cost_usd or 0.0 for f in findings)),
            "nat_gateways": len([s for a in vpcs for s in a.nats]),
            "nat_spike_days": sum(len(s.spikes) for a in vpcs for s in a.nats)}


def audit_result(vpcs: list[Any], spikes: list[Any], book: PriceBook, snapshot: dict[str, Any], warnings: list[str],
                 title: str, *, spike_k: float, spike_window: int) -> Result:
    """`network`: one item per audited VPC; the table and CSV list the findings worst first."""
    findings = [f for a in vpcs for f in a.findings] + spikes
    findings.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 5), -(f.monthly_cost_usd or 0.0), f.check, f.resource))
    return Result("network", audit_items(vpcs, spikes, book), audit_totals(vpcs, findings), warnings, snapshot, title,
                  data=(vpcs, findings, book), options={"spike_k": spike_k, "spike_window": spike_window})


def _audit_csv_rows(findings: list[Any]) -> list[dict[str, Any]]:
    return [finding_dict(f) | {"vpc_id": f.evidence.get("vpc_id")} for f in findings]


def _audit_table(res: Result) -> None:
    vpcs, findings, book = res.data
    print_audit_table(vpcs, findings, res.totals, book, res.title or "", spike_k=res.options["spike_k"],
                      spike_window=res.options["spike_window"], warnings=res.warnings)


def _mark(status: Any) -> str:
    if status.ok:
        return status.short or "ok"
    return f"✗ {status.short or status.detail}"


def print_audit_table(vpcs: list[Any], findings: list[Any], totals: dict[str, Any], book: PriceBook, title: str,
                      *, spike_k: float, spike_window: int, warnings: list[str]) -> None:
    console = stdout_console()
    rows = [{"vpc": f"{a.name}\n{a.vpc_id}" if a.name else a.vpc_id, "subnets": f"{len(a.subnets)} ({a.workload.source})",
             "azs": len(a.azs), "egress": ", ".join(a.nat_gateway_ids) or ", ".join(sorted(set(a.egress.values()))),
             "dns": "on" if a.vpc.enable_dns_support and a.vpc.enable_dns_hostnames else "✗ off",
             **{s: _mark(a.services[s]) for s in ("ecr.api", "ecr.dkr", "s3", "logs")},
             "findings": len(a.findings)} for a in vpcs]
    console.print(rich_table(title, [
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
    print_warnings(warnings)


# -- NAT versus endpoints ------------------------------------------------------------------------------------

def cost_totals(r: Any) -> dict[str, Any]:
    return {
        "inputs": {"region": r.region, "pull_gb_month": r.pull_gb_month, "azs": r.azs,
                   "nat_gateways": r.nat_gateways, "logs": r.logs, "pulls_per_month": round(r.pulls_per_month, 2),
                   "pulls_estimated": r.pulls_estimated, "manifest_bytes_per_pull": r.manifest_bytes_per_pull,
                   "manifest_gb": round(r.manifest_gb, 6), "layer_gb": round(r.layer_gb, 6),
                   "hours_per_month": r.hours_per_month},
        "blocks": {k: {"title": b.title, "total_usd": usd(b.total_usd), "counted_by_common_estimate_usd": usd(b.common_estimate_usd),
                       "left_out_by_common_estimate_usd": usd(b.left_out_usd), "notes": list(b.notes)}
                   for k, b in r.blocks.items()},
        "savings_usd": {k: usd(v) for k, v in r.savings.items()},
        "break_even": [b.as_dict() for b in r.break_even],
    }


def cost_result(reports: list[tuple[str, Any]], snapshot: dict[str, Any] | None) -> Result:
    """`network cost`: one item per cost line of each scope (the given figures, or each VPC)."""
    items, totals = [], {}
    for label, r in reports:
        for b in r.blocks.values():
            for line in b.lines:
                items.append({"scope": label, "block": b.key, "block_title": b.title, **line.as_dict()})
        totals[label] = cost_totals(r)
    return Result("network-cost", items, totals, [], snapshot, data=reports)


def print_cost(label: str, r: Any) -> None:
    console = stdout_console()
    gb = f"{r.pull_gb_month:,.2f}".rstrip("0").rstrip(".")
    console.print(styled((f"Image pulls: {gb} GB/month, {r.azs} AZ, {r.region}", "bold"),
                         "" if label == "given" else f" · {label}"), highlight=False)
    console.print(f"  {r.pulls_per_month:,.0f} pulls/month"
                  + (" (estimated: pull bytes / 256 MiB)" if r.pulls_estimated else "")
                  + f"; ECR API + manifests {r.manifest_bytes_per_pull // 1024} KiB/pull = {r.manifest_gb:,.3f} GB; "
                  f"layers from S3 {r.layer_gb:,.3f} GB", highlight=False)
    for b in r.blocks.values():
        rows = [{"label": x.label, "formula": x.formula, "usd": x.usd, "common": "yes" if x.in_common_estimate else "no",
                 "note": x.note} for x in b.lines]
        console.print(rich_table(b.title, [
            Column("label", "line"), Column("formula", "quantity × unit price"),
            Column("usd", "$/month", human_usd, "right"), Column("common", "in common estimate"),
            Column("note", "note")], rows, {"usd": b.total_usd}))
        for n in b.notes:
            console.print(text(f"  note: {n}"), highlight=False, markup=False)
    nat, common, ep = r.blocks["nat"], r.blocks["common-estimate"], r.blocks["endpoints"]
    s = r.savings
    console.print(f"[bold]Savings of (c) against (a)[/]: {_saving(s['endpoints_vs_nat_data'])} if the NAT stays for "
                  f"other traffic, {_saving(s['endpoints_vs_nat_removed'])} if it can go; the S3 gateway endpoint "
                  f"alone (d): {_saving(s['s3_only_vs_nat_data'])}.", highlight=False)
    if label == "given":
        _print_common_estimate(nat, common, ep)
    console.print("[bold]Break-even[/]", highlight=False)
    for be in r.break_even:
        gb_text = "never" if be.gb_per_month is None else f"{be.gb_per_month:,.2f} GB/month"
        console.print(text(f"  {be.meaning}: {gb_text}  ({be.formula})"), highlight=False, markup=False)
    console.print()


def _saving(x: float) -> str:
    return f"{human_usd(x)}/month" if x >= 0 else f"none (it costs {human_usd(-x)}/month more)"


def _print_common_estimate(nat: Any, common: Any, ep: Any) -> None:
    console = stdout_console()
    console.print("[bold]Against the common estimate[/] (\"NAT ≈ $1,800, PrivateLink ≈ $400\"):", highlight=False)
    console.print(f"  NAT: the estimate counts data processing, {human_usd(nat.common_estimate_usd)}; it leaves out "
                  f"gateway hours "
                  f"and the public IPv4 address, {human_usd(nat.left_out_usd)}: {human_usd(nat.total_usd)}.",
                  highlight=False)
    data, fixed = common.lines[0], common.lines[1]
    console.print(f"  PrivateLink: the estimate puts every byte through one interface endpoint, {human_usd(data.usd)} "
                  f"+ {human_usd(fixed.usd)} fixed = {human_usd(common.total_usd)}. Pulls need two ECR endpoints and "
                  f"the layers come from S3 through the free gateway endpoint: the correct set-up costs "
                  f"{human_usd(ep.total_usd)}.", highlight=False)


# -- fix / undo ------------------------------------------------------------------------------------------------

def fix_plan_result(plan: Any) -> Result:
    return Result("network-fix-plan", [a.as_dict() for a in plan.actions],
                  {"vpc_id": plan.vpc_id, "account": plan.account, "region": plan.region,
                   "actions": len(plan.actions)}, data=plan)


def print_fix_plan(plan: Any, *, to_stderr: bool) -> None:
    console = stderr_console() if to_stderr else stdout_console()
    if plan.empty:
        console.print(text(f"{plan.vpc_id}: nothing to fix; it has what image pulls need."), highlight=False, markup=False)
        return
    console.print(rich_table(f"Plan for {plan.vpc_id}" + (f" ({plan.vpc_name})" if plan.vpc_name else "")
                             + f" · {plan.region}", [Column("n", "#", str, "right"), Column("action", "action"),
                                                     Column("description", "what")],
                             [{"n": i + 1, **a.as_dict()} for i, a in enumerate(plan.actions)]))


def results_result(results: list[Any], kind: str, totals: dict[str, Any]) -> Result:
    """What `network fix --apply` / `undo --apply` did, step by step."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return Result(kind, [dataclasses.asdict(r) for r in results], {**totals, "by_status": counts},
                  shape="network-steps")


def _results_table(res: Result) -> None:
    stdout_console().print(rich_table("Result", [Column("action", "action"), Column("status", "status"),
                                                 Column("resource_id", "resource"), Column("description", "what"),
                                                 Column("detail", "detail")], res.items))


def undo_plan_result(vpc: str, steps: list[Any]) -> Result:
    return Result("network-undo-plan", [s.as_dict() for s in steps], {"vpc_id": vpc, "steps": len(steps)},
                  data=(vpc, steps))


def print_undo_plan(vpc: str, steps: list[Any], *, to_stderr: bool) -> None:
    console = stderr_console() if to_stderr else stdout_console()
    if not steps:
        console.print(text(f"{vpc}: nothing ecrwise created or changed here."), highlight=False, markup=False)
        return
    console.print(rich_table(f"Undo plan for {vpc}", [Column("n", "#", str, "right"), Column("kind", "step"),
                                                      Column("description", "what")],
                             [{"n": i + 1, **s.as_dict()} for i, s in enumerate(steps)]))


# -- alarms ------------------------------------------------------------------------------------------------------

def alarm_rows(results: list[Any], specs: list[Any], requests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per alarm result; `requests` maps an alarm name to its PutMetricAlarm arguments."""
    by_name = {s.name: s for s in specs}
    return [{"alarm": r.description, "nat_gateway_id": by_name[r.description].nat_gateway_id,
             "vpc_id": by_name[r.description].vpc_id, "status": r.status,
             "threshold_bytes_per_hour": by_name[r.description].threshold,
             "median_daily_bytes": int(by_name[r.description].median_daily_bytes),
             "formula": by_name[r.description].formula,
             "request": requests[r.description]} for r in results]


def print_alarms(rows: list[dict[str, Any]], apply: bool) -> None:
    stdout_console().print(rich_table("NAT gateway alarms" + ("" if apply else " (dry run: add --apply)"), [
        Column("alarm", "alarm"), Column("vpc_id", "VPC"), Column("status", "status"),
        Column("median_daily_bytes", "median/day", human_bytes, "right"),
        Column("threshold_bytes_per_hour", "threshold/hour", human_bytes, "right"),
        Column("formula", "how")], rows))


def alarms_result(rows: list[dict[str, Any]], apply: bool, snapshot: dict[str, Any] | None) -> Result:
    return Result("network-alarms", rows, {"alarms": len(rows), "applied": apply}, [], snapshot,
                  options={"apply": apply})


def _cost_lines(res: Result) -> None:
    for label, r in res.data:
        print_cost(label, r)


view(View("network", table=_audit_table, csv_columns=tuple(FINDINGS_CSV_COLUMNS),
          csv_rows=lambda res: _audit_csv_rows(res.data[1])))
view(View("network-cost", table=_cost_lines, csv_columns=tuple(COST_CSV_COLUMNS),
          csv_rows=lambda res: [{"scope": label, "block": b.key, **line.as_dict()} for label, r in res.data
                                for b in r.blocks.values() for line in b.lines]))
# The plan printed before templates are written: Terraform / CloudFormation put it on stderr (stdout stays free).
view(View("network-fix-plan", table=lambda res: print_fix_plan(res.data, to_stderr=False),
          extra={"terraform": lambda res: print_fix_plan(res.data, to_stderr=True),
                 "cloudformation": lambda res: print_fix_plan(res.data, to_stderr=True)}))
# Steps and alarms print after --apply acted: every format --format offers works, so none fails afterwards.
view(View("network-steps", table=_results_table,
          csv_columns=("action", "status", "resource_id", "description", "detail")))
view(View("network-alarms", table=lambda res: print_alarms(res.items, res.options["apply"]),
          csv_columns=("alarm", "nat_gateway_id", "vpc_id", "status", "median_daily_bytes", "threshold_bytes_per_hour",
                       "formula")))
view(View("network-undo-plan", table=lambda res: print_undo_plan(*res.data, to_stderr=False),
          csv_columns=("kind", "description"),
          extra={"_table-stderr": lambda res: print_undo_plan(*res.data, to_stderr=True)}))
