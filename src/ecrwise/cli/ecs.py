"""`ecrwise ecs`: the ECS audit (services, task definitions, container instances, agent configuration), the
agent-config file audit, the circuit-breaker fix with its backup and restore, and the EC2 user-data snippet.
Thin: loads a snapshot, calls `analysis.ecs_checks`, renders; changes go through `aws.ecs_apply`.
"""
from __future__ import annotations

import json
import os
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, List, Optional

import typer

from ecrwise import __version__
from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, SnapshotOpt, StoreOpt, prices, store_path
from ecrwise.cli.pulls import load_records, snapshot_warnings
from ecrwise.errors import AwsUnavailable, PartialFailure, UserError
from ecrwise.report.output import (Column, dump_csv, dump_json, envelope, human_usd, iso, rich_table,
                                   stderr_console, stdout_console, usd)

app = typer.Typer(help="ECS service, task-definition, agent-config and container-instance audit; fixes.",
                  invoke_without_command=True, no_args_is_help=False)
fix_app = typer.Typer(help="Fix ECS settings (plan first; --apply to change; a backup is written first).",
                      no_args_is_help=True)
app.add_typer(fix_app, name="fix")

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
CSV_COLUMNS = ["check", "severity", "account", "region", "resource", "message", "monthly_cost_usd",
               "monthly_savings_usd", "recommendation", "fix", "evidence"]
ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile for --apply.")


def finding_item(f: Any) -> dict[str, Any]:
    from ecrwise.analysis.checks import REGISTRY

    c = REGISTRY.get(f.check)
    return {"id": f.id, "check": f.check, "title": c.title if c else f.check, "severity": f.severity,
            "account": f.account, "region": f.region, "resource": f.resource, "message": f.message,
            "monthly_cost_usd": None if f.monthly_cost_usd is None else usd(f.monthly_cost_usd),
            "monthly_savings_usd": None if f.monthly_savings_usd is None else usd(f.monthly_savings_usd),
            "evidence": f.evidence, "arithmetic": f.arithmetic, "recommendation": f.recommendation, "fix": f.fix,
            "docs": c.docs if c else None}


def render_findings(items: list[dict[str, Any]], fmt: Fmt, kind: str, snapshot: dict[str, Any] | None,
                    totals: dict[str, Any], warnings: list[str], title: str) -> None:
    if fmt is Fmt.json:
        dump_json(envelope(kind, snapshot, items, totals, warnings))
        return
    if fmt is Fmt.csv:
        dump_csv([dict(i, evidence=json.dumps(i["evidence"], sort_keys=True, default=str)) for i in items],
                 CSV_COLUMNS)
        return
    console = stdout_console()
    console.print(f"[bold]{title}[/]", highlight=False)
    colours = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
    for i in items:
        money = ""
        if i["monthly_cost_usd"] is not None and i["check"] != "ecs.fargate-vs-ec2":
            money = f" · costs {human_usd(i['monthly_cost_usd'])}/month"
            if i["monthly_savings_usd"]:
                money += f", best fix saves {human_usd(i['monthly_savings_usd'])}/month"
        console.print(f"[{colours.get(i['severity'], '')}]{i['severity'].upper():8}[/] {i['check']}  {i['message']}{money}",
                      highlight=False)
        console.print(f"         evidence: {_short_evidence(i['evidence'])}", highlight=False)
        if i["fix"]:
            console.print(f"         fix: {i['fix']}", highlight=False)
    by_sev = ", ".join(f"{n} {s}" for s, n in totals.get("by_severity", {}).items())
    console.print(f"{len(items)} finding(s): {by_sev or 'none'} · recommendations and arithmetic: --format json",
                  highlight=False)
    err = stderr_console()
    for w in warnings[:20]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


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


def _totals(items: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, int] = {}
    for i in items:
        by[i["severity"]] = by.get(i["severity"], 0) + 1
    return {"findings": len(items),
            "by_severity": {s: by[s] for s in sorted(by, key=lambda s: SEVERITY_ORDER.get(s, 9))},
            "monthly_savings_usd": usd(sum(i["monthly_savings_usd"] or 0.0 for i in items
                                           if i["check"] != "ecs.fargate-vs-ec2"))}


def run_checks(records: Any, book: Any, options: dict[str, Any]) -> list[Any]:
    from ecrwise.analysis import ecs_checks  # noqa: F401 — registers the checks
    from ecrwise.analysis.checks import REGISTRY

    findings = []
    for c in REGISTRY.values():
        if c.family == "ecs":
            findings.extend(c.run(records, book, options))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -(f.monthly_savings_usd or 0.0), f.check,
                                 f.resource))
    return findings


@app.callback(invoke_without_command=True)
def ecs(
    ctx: typer.Context,
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               help="Starts per desired task per day above which a service "
                                                    "crash-loops."),
    min_severity: str = typer.Option("info", "--min-severity", help="critical | high | medium | low | info"),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """ECS audit: circuit breakers, single replicas, task definitions, hosts left behind, agent config, crash loops."""
    if ctx.invoked_subcommand is not None:
        return
    if min_severity not in SEVERITY_ORDER:
        raise UserError(f"--min-severity {min_severity}: choose one of {', '.join(SEVERITY_ORDER)}")
    book = prices(price_file)
    snap, records = load_records(store, snapshot)
    findings = run_checks(records, book, {"crash_loop_threshold": crash_loop_threshold, "now": snap.taken_at})
    items = [finding_item(f) for f in findings if SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[min_severity]]
    render_findings(items, fmt, "ecs", snap.as_dict() | {"prices": book.describe()}, _totals(items),
                    snapshot_warnings(snap, records),
                    f"ECS audit · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC)")


@app.command("agent-config")
def agent_config(
    file: Path = typer.Argument(..., metavar="FILE", help="An ecs.config file, or EC2 user data that writes one."),
    fmt: Fmt = FormatOpt,
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 if a finding is this severe or worse."),
) -> None:
    """Audit an ECS agent configuration file (secrets are redacted in every output)."""
    from ecrwise.analysis.ecs_checks import audit_agent_config
    from ecrwise.records.ecs import EcsAgentConfig, parse_agent_config

    if fail_on is not None and fail_on not in SEVERITY_ORDER:
        raise UserError(f"--fail-on {fail_on}: choose one of {', '.join(SEVERITY_ORDER)}")
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise UserError(f"{file}: cannot read: {e.strerror or e}") from None
    from ecrwise.records.ecs import decode_user_data

    settings, redacted, writes = parse_agent_config(decode_user_data(raw))
    del raw
    if not settings and not writes:
        raise UserError(f"{file}: no ECS agent settings (ECS_*=…) found")
    cfg = EcsAgentConfig("", "", "file", str(file), settings, redacted, writes, [])
    items = [finding_item(f) for f in audit_agent_config(cfg)]
    totals = _totals(items) | {"settings": settings, "redacted": redacted}
    if fmt is Fmt.table:
        console = stdout_console()
        console.print(rich_table(f"{file}: agent settings", [Column("key", "key"), Column("value", "value")],
                                 [{"key": k, "value": v} for k, v in settings.items()]))
    render_findings(items, fmt, "ecs-agent-config", None, totals, [], f"{file}: findings")
    if fail_on and any(SEVERITY_ORDER[i["severity"]] <= SEVERITY_ORDER[fail_on] for i in items):
        raise typer.Exit(1)


# -- fix circuit-breaker / restore ----------------------------------------------------------------------

def _backup_dir(path: Optional[Path]) -> Path:
    return Path(path) if path else store_path(None).parent / "backups"


def write_backup(directory: Path, doc: dict[str, Any]) -> Path:
    """Write the backup durably (temp file, fsync, rename, fsync the directory) before anything changes."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"ecs-circuit-breaker-{stamp}.json"
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _resolve_services(services: list[str], all_crash_looping: bool, store: Optional[Path],
                      snapshot: Optional[int], threshold: float) -> tuple[list[tuple[str, str, str, str]], Any]:
    """(arn, region, cluster, name) for each service to change, and the snapshot used (if any)."""
    from ecrwise.aws.ecs_apply import parse_service_arn

    snap = records = None
    arns = list(services)
    if all_crash_looping:
        from ecrwise.analysis.pulls import analyse_pulls

        snap, records = load_records(store, snapshot)
        report = analyse_pulls(records, prices(None), crash_loop_threshold=threshold, now=snap.taken_at)
        arns += [s.service_arn for s in report.services if s.crash_loop]
    if not arns:
        raise UserError("--service ARN (repeatable) or --all-crash-looping: which services?")
    out = []
    for arn in dict.fromkeys(arns):
        region, _, cluster, name = parse_service_arn(arn)
        if cluster is None:
            if records is None:
                snap, records = load_records(store, snapshot)
            from ecrwise.records.ecs import EcsService

            match = [s for s in records.of(EcsService) if s.service_arn == arn]
            if not match:
                raise UserError(f"--service {arn}: a short-format ARN names no cluster, and snapshot "
                                f"{snap.id} does not know this service; give the long ARN (service/CLUSTER/NAME)")
            cluster = match[0].cluster_name
        out.append((arn, region, cluster, name))
    return out, snap


def _session(profile: Optional[str]) -> Any:
    from ecrwise.aws.session import base_session

    return base_session(profile)


def _cb(cfg: dict[str, Any] | None) -> str:
    cb = (cfg or {}).get("deploymentCircuitBreaker")
    if not cb:
        return "not set (off)"
    return f"enable={str(cb.get('enable')).lower()} rollback={str(cb.get('rollback')).lower()}"


@fix_app.command("circuit-breaker")
def fix_circuit_breaker(
    service: List[str] = typer.Option([], "--service", metavar="ARN", help="Service ARN (repeatable)."),
    all_crash_looping: bool = typer.Option(False, "--all-crash-looping",
                                           help="Every crash-looping service of the snapshot."),
    apply: bool = typer.Option(False, "--apply", help="Make the change (without it: plan only)."),
    rollback: bool = typer.Option(True, "--rollback/--no-rollback", help="Roll back failed deployments."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir",
                                              help="Where the backup goes (default: beside the store, backups/)."),
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001),
    profile: Optional[str] = ProfileOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Turn on the deployment circuit breaker (with rollback) on services: plan, backup, --apply."""
    from ecrwise.aws.ecs_apply import describe_service, update_deployment_configuration

    targets, snap = _resolve_services(service, all_crash_looping, store, snapshot, crash_loop_threshold)
    session = _session(profile)
    plan = []
    for arn, region, cluster, name in targets:
        live = describe_service(session, region, cluster, name)
        controller = (live.get("deploymentController") or {}).get("type", "ECS")
        previous = live.get("deploymentConfiguration") or {}
        new = dict(previous)
        new["deploymentCircuitBreaker"] = {"enable": True, "rollback": rollback}
        cb = previous.get("deploymentCircuitBreaker") or {}
        action = ("skip: deployment controller " + controller if controller != "ECS"
                  else "none: already set" if cb.get("enable") and bool(cb.get("rollback")) == rollback
                  else "update")
        plan.append({"service_arn": arn, "region": region, "cluster": cluster, "service": name, "action": action,
                     "previous": previous, "planned": new})
    changes = [p for p in plan if p["action"] == "update"]
    backup_path = None
    if apply and changes:
        backup_path = write_backup(_backup_dir(backup_dir), {
            "ecrwise": __version__, "kind": "ecs-circuit-breaker-backup",
            "created_at": iso(datetime.now(timezone.utc)),
            "services": [{k: p[k] for k in ("service_arn", "region", "cluster", "service", "previous", "planned")}
                         for p in changes]})
    applied, failed = [], []
    if apply:
        for p in changes:
            try:
                p["result"] = update_deployment_configuration(session, p["region"], p["cluster"], p["service"],
                                                              p["planned"])
                applied.append(p)
            except (UserError, AwsUnavailable) as e:
                p["error"] = str(e)
                failed.append(p)
    _render_plan("ecs-fix-circuit-breaker", plan, apply, backup_path, applied, failed, snap, fmt,
                 restore_hint=True)
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(changes)} change(s) failed; "
                             + (f"restore the others with `ecrwise ecs restore {backup_path} --apply`"
                                if backup_path else ""))


@app.command("restore")
def restore(
    backup: Path = typer.Argument(..., metavar="BACKUP", help="A backup written by `ecrwise ecs fix … --apply`."),
    apply: bool = typer.Option(False, "--apply", help="Make the change (without it: plan only)."),
    profile: Optional[str] = ProfileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Put back the deployment configuration a backup recorded."""
    from ecrwise.aws.ecs_apply import describe_service, update_deployment_configuration

    try:
        doc = json.loads(backup.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{backup}: cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{backup}: not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "ecs-circuit-breaker-backup":
        raise UserError(f"{backup}: kind: not an ecrwise ECS backup (expected \"ecs-circuit-breaker-backup\")")
    entries = doc.get("services")
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{backup}: services: no services to restore")
    session = _session(profile)
    plan = []
    for n, e in enumerate(entries):
        missing = [k for k in ("service_arn", "region", "cluster", "service", "previous") if k not in e]
        if missing:
            raise UserError(f"{backup}: services[{n}].{missing[0]}: missing")
        previous = dict(e["previous"] or {})
        # A service that reported no circuit breaker had it off (AWS's default): restore that explicitly.
        previous.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
        live = describe_service(session, e["region"], e["cluster"], e["service"])
        plan.append({"service_arn": e["service_arn"], "region": e["region"], "cluster": e["cluster"],
                     "service": e["service"], "action": "update", "previous": live.get("deploymentConfiguration") or {},
                     "planned": previous})
    applied, failed = [], []
    if apply:
        for p in plan:
            try:
                p["result"] = update_deployment_configuration(session, p["region"], p["cluster"], p["service"],
                                                              p["planned"])
                applied.append(p)
            except (UserError, AwsUnavailable) as e:
                p["error"] = str(e)
                failed.append(p)
    _render_plan("ecs-restore", plan, apply, None, applied, failed, None, fmt, restore_hint=False)
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(plan)} restore(s) failed")


def _render_plan(kind: str, plan: list[dict[str, Any]], apply: bool, backup_path: Optional[Path],
                 applied: list[Any], failed: list[Any], snap: Any, fmt: Fmt, *, restore_hint: bool) -> None:
    totals = {"services": len(plan), "changes": sum(1 for p in plan if p["action"] == "update"),
              "applied": len(applied), "failed": len(failed), "apply": apply,
              "backup": str(backup_path) if backup_path else None}
    if fmt is Fmt.json:
        dump_json(envelope(kind, snap.as_dict() if snap else None, plan, totals, []))
        return
    if fmt is Fmt.csv:
        dump_csv([dict(p, previous=_cb(p["previous"]), planned=_cb(p["planned"])) for p in plan],
                 ["service_arn", "region", "cluster", "service", "action", "previous", "planned"])
        return
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
        console.print(f"Backup: {backup_path}", highlight=False)
        if restore_hint:
            console.print(f"Undo: ecrwise ecs restore {shlex.quote(str(backup_path))} --apply", highlight=False)


# -- user-data --------------------------------------------------------------------------------------------

@app.command("user-data")
def user_data(
    image: List[str] = typer.Option([], "--image", metavar="URI", help="Image to pre-pull at boot (repeatable)."),
    pull_behavior: str = typer.Option("prefer-cached", "--pull-behavior",
                                      help="ECS_IMAGE_PULL_BEHAVIOR: default | always | once | prefer-cached"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="ECS_CLUSTER to join."),
) -> None:
    """Print EC2 user data that sets the agent's pull behaviour and pre-pulls images (local caching, seed 000)."""
    from ecrwise.analysis.pulls import PULL_BEHAVIORS

    if pull_behavior not in PULL_BEHAVIORS:
        raise UserError(f"--pull-behavior {pull_behavior}: choose one of {', '.join(PULL_BEHAVIORS)}")
    typer.echo(render_user_data(image, pull_behavior, cluster), nl=False)


def render_user_data(images: list[str], pull_behavior: str, cluster: str | None) -> str:
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
            lines.append(f"  # ECR needs a login; the instance role's ecr:GetAuthorizationToken allows it.")
            lines.append(f"  aws ecr get-login-password --region {region} | "
                         f"docker login --username AWS --password-stdin {host}")
        for uri in images:
            lines.append(f"  docker image inspect '{uri}' >/dev/null 2>&1 || docker pull '{uri}'")
        lines += ["}", "prepull >/var/log/ecrwise-prepull.log 2>&1 &"]
    return "\n".join(lines) + "\n"
