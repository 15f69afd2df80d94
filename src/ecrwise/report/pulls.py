"""Rendering `ecrwise pulls`: JSON items and totals, CSV rows, and the per-service and per-repository tables.
No analysis here: everything comes from `analysis.pulls.analyse_pulls`.
"""
from __future__ import annotations

from typing import Any

from ecrwise.report.output import (Column, dump_csv, human_bytes, human_usd, iso, print_warnings, rich_table,
                                   stdout_console, usd, wide_console)
from ecrwise.report.render import Result, View, view
from ecrwise.report.sanitize import styled, text

CSV_COLUMNS = ["account", "region", "cluster", "service", "launch_type", "desired_count", "images",
               "task_starts_per_day", "starts_evidence", "crash_loop", "reasons", "bytes_per_start",
               "pulled_bytes_per_month", "nat_bytes_per_month", "nat_cost_usd_per_month", "path", "vpc_id",
               "nat_gateway_id", "fixes"]
REPO_CSV_COLUMNS = ["account", "region", "repository", "pulls_per_day", "explained_per_day", "unexplained_per_day",
                    "days", "services"]
REPO_COLUMNS = [Column("repository", "repository"), Column("region", "region"),
                Column("pulls_per_day", "pulls/day", lambda x: f"{x:,.1f}", "right"),
                Column("explained_per_day", "by services", lambda x: f"{x:,.1f}", "right"),
                Column("unexplained_per_day", "unexplained", lambda x: f"{x:,.1f}", "right"),
                Column("services", "services", lambda s: ", ".join(s) or "-")]


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


def print_csv(items: list[dict[str, Any]]) -> None:
    dump_csv([_flat(i) for i in items], CSV_COLUMNS)


def print_repository_table(items: list[dict[str, Any]], title: str, warnings: list[str]) -> None:
    stdout_console().print(rich_table(title, REPO_COLUMNS, items))
    print_warnings(warnings)


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


def print_table(report: Any, items: list[dict[str, Any]], title: str, warnings: list[str]) -> None:
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
            console.print(styled((f"{i['cluster']}/{i['service']}", "bold"),
                                 f" crash-loops: {i['task_starts_per_day']:,.0f} starts/day for "
                                 f"{i['desired_count']} desired ({i['starts_evidence']}); {reasons}"), highlight=False)
            for f in i["fixes"]:
                saving = "-" if f["monthly_savings_usd"] is None else human_usd(f["monthly_savings_usd"])
                console.print(text(f"  · {f['fix']} ({saving}/month): {f['detail']}"
                                     + (f" → {f['command']}" if f["command"] else "")), highlight=False, markup=False)
    repos = [r for r in t["repositories"]][:10]
    if repos:
        console.print(rich_table("Pulls no ECS service explains (RepositoryPullCount, last 7 days; top 10)",
                                 REPO_COLUMNS, repos))
    console.print(f"{t['services']} services · {t['crash_looping']} crash-looping (> {report.threshold:g} starts per "
                  f"desired task per day) · NAT ${t['nat_cost_usd_per_month']:,.2f}/month for pulls · fixes save up to "
                  f"${t['monthly_savings_usd']:,.2f}/month · `--format json` has every figure's arithmetic",
                  highlight=False)
    print_warnings(warnings)


# -- the renderer layer's views -------------------------------------------------------------------------------

def services_result(report: Any, items: list[dict[str, Any]], snapshot: dict[str, Any], warnings: list[str],
                    title: str) -> Result:
    return Result("pulls", items, report_totals(report), warnings, snapshot, title, data=report)


def repositories_result(report: Any, snapshot: dict[str, Any], warnings: list[str], title: str) -> Result:
    return Result("pulls-repositories", [repository_item(r) for r in report.repositories], report_totals(report),
                  warnings, snapshot, title)


view(View("pulls", table=lambda res: print_table(res.data, res.items, res.title or "", res.warnings),
          csv_columns=tuple(CSV_COLUMNS), csv_rows=lambda res: [_flat(i) for i in res.items]))
view(View("pulls-repositories", table=lambda res: print_repository_table(res.items, res.title or "", res.warnings),
          csv_columns=tuple(REPO_CSV_COLUMNS),
          csv_rows=lambda res: [dict(i, services=" ".join(i["services"])) for i in res.items]))
