"""Rendering `ecrwise ecs`: finding items and totals, the findings list (table and CSV), the circuit-breaker
plan and its results, and the EC2 user-data snippet. No analysis here: findings come from
`analysis.ecs_checks`, plans from `remediate.ecs_circuit_breaker`.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Optional

from ecrwise.errors import UserError
from ecrwise.report.output import (SEVERITY_RANK, SEVERITY_STYLE, Column, dump_csv, human_usd, print_warnings,
                                   rich_table, stdout_console, usd)
from ecrwise.report.render import Result, View, view
from ecrwise.report.sanitize import styled, text

SEVERITY_ORDER = SEVERITY_RANK  # critical 0 … info 4
CSV_COLUMNS = ["check", "severity", "account", "region", "resource", "message", "monthly_cost_usd",
               "monthly_savings_usd", "recommendation", "fix", "evidence"]
PLAN_CSV_COLUMNS = ["service_arn", "region", "cluster", "service", "action", "previous", "planned"]


def finding_item(f: Any) -> dict[str, Any]:
    from ecrwise.analysis.checks import REGISTRY
    from ecrwise.report.findings import finding_json

    return finding_json(f, checks=REGISTRY)


def totals(items: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, int] = {}
    for i in items:
        by[i["severity"]] = by.get(i["severity"], 0) + 1
    return {"findings": len(items),
            "by_severity": {s: by[s] for s in sorted(by, key=lambda s: SEVERITY_ORDER.get(s, 9))},
            "monthly_savings_usd": usd(sum(i["monthly_savings_usd"] or 0.0 for i in items
                                           if i["check"] != "ecs.fargate-vs-ec2"))}


def _csv_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(i, evidence=json.dumps(i["evidence"], sort_keys=True, default=str)) for i in items]


def print_csv(items: list[dict[str, Any]]) -> None:
    dump_csv(_csv_rows(items), CSV_COLUMNS)


def print_findings(items: list[dict[str, Any]], totals: dict[str, Any], warnings: list[str], title: str) -> None:
    console = stdout_console()
    console.print(styled((title, "bold")), highlight=False)
    for i in items:
        money = ""
        if i["monthly_cost_usd"] is not None and i["check"] != "ecs.fargate-vs-ec2":
            money = f" · costs {human_usd(i['monthly_cost_usd'])}/month"
            if i["monthly_savings_usd"]:
                money += f", best fix saves {human_usd(i['monthly_savings_usd'])}/month"
        console.print(styled((f"{i['severity'].upper():8}", SEVERITY_STYLE.get(i["severity"], "")),
                             f" {i['check']}  {i['message']}{money}"), highlight=False)
        console.print(text(f"         evidence: {_short_evidence(i['evidence'])}"), highlight=False, markup=False)
        if i["fix"]:
            console.print(text(f"         fix: {i['fix']}"), highlight=False, markup=False)
    by_sev = ", ".join(f"{n} {s}" for s, n in totals.get("by_severity", {}).items())
    console.print(f"{len(items)} finding(s): {by_sev or 'none'} · recommendations and arithmetic: --format json",
                  highlight=False)
    print_warnings(warnings)


def print_agent_settings(source: str, settings: dict[str, str]) -> None:
    from ecrwise.records.ecs import unresolved

    # A shell variable is not the value: the script sets it at boot.
    rows = [{"key": k, "value": f"{v} (unresolved: set at boot)" if unresolved(v) else v} for k, v in settings.items()]
    stdout_console().print(rich_table(f"{source}: agent settings", [Column("key", "key"), Column("value", "value")],
                                      rows))


def _short_evidence(ev: dict[str, Any]) -> str:
    parts = []
    for k, v in ev.items():
        if isinstance(v, (dict, list)) and k not in ("keys", "reasons"):
            continue
        if k == "reasons":
            v = "; ".join(f"{r['reason']} ×{r['count']}" for r in v[:2])
        elif isinstance(v, list):
            v = ",".join(str(x) for x in v)
        parts.append(f"{k}={v}")
    text = " ".join(parts)
    return text if len(text) <= 160 else text[:157] + "…"


# -- the circuit-breaker plan -------------------------------------------------------------------------------

def _cb(cfg: dict[str, Any] | None) -> str:
    cb = (cfg or {}).get("deploymentCircuitBreaker")
    if not cb:
        return "not set (off)"
    return f"enable={str(cb.get('enable')).lower()} rollback={str(cb.get('rollback')).lower()}"


def plan_totals(plan: list[dict[str, Any]], apply: bool, backup_path: Optional[Path], applied: list[Any],
                failed: list[Any]) -> dict[str, Any]:
    return {"services": len(plan), "changes": sum(1 for p in plan if p["action"] == "update"),
            "applied": len(applied), "failed": len(failed), "apply": apply,
            "backup": str(backup_path) if backup_path else None}


def _plan_csv_rows(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(p, previous=_cb(p["previous"]), planned=_cb(p["planned"])) for p in plan]


def print_plan(plan: list[dict[str, Any]], apply: bool, backup_path: Optional[Path], *, restore_hint: bool) -> None:
    console = stdout_console()
    rows = [dict(p, name=f"{p['cluster']}/{p['service']}", was=_cb(p["previous"]), will=_cb(p["planned"]),
                 status=("failed: " + p["error"]) if "error" in p else ("done" if "result" in p else
                                                                         ("planned" if p["action"] == "update" else "-")))
            for p in plan]
    console.print(rich_table("Plan" if not apply else "Applied",
                             [Column("name", "service"), Column("region", "region"), Column("action", "action"),
                              Column("was", "circuit breaker now"), Column("will", "after"),
                              Column("status", "status")], rows))
    if not apply:
        console.print("Nothing changed. Run again with --apply to make these changes (a backup is written first).",
                      highlight=False)
    elif backup_path:
        console.print(text(f"Backup: {backup_path}"), highlight=False, markup=False)
        if restore_hint:
            console.print(text(f"Undo: ecrwise ecs restore {shlex.quote(str(backup_path))} --apply"),
                          highlight=False, markup=False)


# -- the renderer layer's views -------------------------------------------------------------------------------

def findings_result(kind: str, items: list[dict[str, Any]], snapshot: dict[str, Any] | None, totals_: dict[str, Any],
                    warnings: list[str], title: str, *, settings: tuple[str, dict[str, str]] | None = None) -> Result:
    """`ecs` and `ecs agent-config`: findings; the agent-config table shows the file's settings first."""
    return Result(kind, items, totals_, warnings, snapshot, title, data=settings, shape="ecs-findings")


def _findings_table(res: Result) -> None:
    if res.data is not None:
        print_agent_settings(*res.data)
    print_findings(res.items, res.totals, res.warnings, res.title or "")


def plan_result(kind: str, done: Any, apply: bool, snapshot: dict[str, Any] | None, *, restore_hint: bool) -> Result:
    return Result(kind, done.plan, plan_totals(done.plan, apply, done.backup, done.applied, done.failed), [], snapshot,
                  data=done, options={"apply": apply, "restore_hint": restore_hint}, shape="ecs-plan")


view(View("ecs-findings", table=_findings_table, csv_columns=tuple(CSV_COLUMNS),
          csv_rows=lambda res: _csv_rows(res.items)))
view(View("ecs-plan", csv_columns=tuple(PLAN_CSV_COLUMNS), csv_rows=lambda res: _plan_csv_rows(res.items),
          table=lambda res: print_plan(res.items, res.options["apply"], res.data.backup,
                                       restore_hint=res.options["restore_hint"])))


# -- ecs lint ----------------------------------------------------------------------------------------------

def lint_item(file: str, f: Any) -> dict[str, Any]:
    """A finding of `ecs lint`: an error when ECS would reject the definition, else a warning."""
    from ecrwise.analysis.ecs_checks import REJECTED_BY_ECS

    return {"file": file, "level": "error" if f.check in REJECTED_BY_ECS else "warning", **finding_item(f)}


def lint_input_error(file: str, e: Any) -> dict[str, Any]:
    """A file that is no task definition (unreadable, not JSON, a field of the wrong type): an error."""
    return {"file": file, "level": "error", "check": f"input.{e.code}", "severity": "high", "resource": file,
            "message": f"{e.path}: {e.detail}" if e.path else e.detail, "path": e.path, "evidence": {},
            "recommendation": None, "fix": None, "monthly_cost_usd": None, "monthly_savings_usd": None}


def lint_result(rows: list[dict[str, Any]], files: list[str]) -> Result:
    errors = sum(1 for r in rows if r["level"] == "error")
    return Result("ecs-lint", rows, {"files": len(files), "errors": errors, "warnings": len(rows) - errors},
                  [], None, data=files, shape="ecs-lint")


def _lint_table(res: Result) -> None:
    console = stdout_console()
    for f in res.data:
        mine = [r for r in res.items if r["file"] == f]
        if not any(r["level"] == "error" for r in mine):
            console.print(text(f"{f}: valid" + (f" ({len(mine)} warning(s))" if mine else "")), highlight=False,
                          markup=False)
        for r in mine:
            first, *more = r["message"].splitlines() or [""]
            console.print(styled((f"{f}: {r['level']}: ", "red" if r["level"] == "error" else "yellow"),
                                 f"{r['check']}: {first}"), highlight=False)
            for extra in more:  # a file with several problems: one line each
                console.print(text(f"    {extra}"), highlight=False, markup=False)
    t = res.totals
    console.print(f"{t['errors']} error(s), {t['warnings']} warning(s) in {t['files']} file(s)", highlight=False)


LINT_CSV_COLUMNS = ["file", "level", "check", "severity", "resource", "message", "recommendation"]
view(View("ecs-lint", table=_lint_table, csv_columns=tuple(LINT_CSV_COLUMNS), csv_rows=lambda res: res.items))


# -- user data -----------------------------------------------------------------------------------------------

def render_user_data(images: list[str], pull_behavior: str, cluster: str | None) -> str:
    """EC2 user data that writes the agent's settings and pre-pulls `images` in the background."""
    from ecrwise.analysis.pulls import parse_image

    for uri in images:
        if not uri or any(ch.isspace() for ch in uri) or any(ch in uri for ch in "'\"`$;|&<>\\"):
            raise UserError(f"--image {uri!r}: not an image reference")
    registries: dict[str, str] = {}
    for uri in images:
        ref = parse_image(uri)
        if ref["account"]:
            host = uri.split("/", 1)[0]
            registries[host] = str(ref["region"])
    if cluster is not None and (not cluster or any(not (ch.isalnum() or ch in "-_") for ch in cluster)):
        raise UserError(f"--cluster {cluster!r}: a cluster name is letters, digits, - and _")
    lines = ["#!/bin/bash",
             "# ecrwise: ECS agent settings and image pre-pull (generated by `ecrwise ecs user-data`).",
             "set -euo pipefail", "",
             "# Agent settings: written before the agent starts, appended so other settings stay.",
             "cat <<'EOF' >> /etc/ecs/ecs.config"]
    if cluster:
        lines.append(f"ECS_CLUSTER={cluster}")
    lines.append(f"ECS_IMAGE_PULL_BEHAVIOR={pull_behavior}")
    lines.append("EOF")
    if images:
        lines += ["", "# Pre-pull in the background so boot (and the agent's registration) does not wait for it.",
                  "prepull() {",
                  "  # Docker starts with the instance; wait for it rather than racing it.",
                  "  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 2; done"]
        for host, region in sorted(registries.items()):
            lines.append("  # ECR needs a login; the instance role's ecr:GetAuthorizationToken allows it.")
            lines.append(f"  aws ecr get-login-password --region {region} | "
                         f"docker login --username AWS --password-stdin {host}")
        for uri in images:
            lines.append(f"  docker image inspect '{uri}' >/dev/null 2>&1 || docker pull '{uri}'")
        lines += ["}", "prepull >/var/log/ecrwise-prepull.log 2>&1 &"]
    return "\n".join(lines) + "\n"
