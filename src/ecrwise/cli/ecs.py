"""`ecrwise ecs`: the ECS audit (services, task definitions, container instances, agent configuration), the
agent-config file audit, the circuit-breaker fix with its backup and restore, and the EC2 user-data snippet.
Thin: loads a snapshot, calls `analysis.ecs_checks`, renders with `report.ecs`; the fix and restore are
`remediate.ecs_circuit_breaker`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, SnapshotInputs, SnapshotOpt, StoreOpt, prices, snapshot_inputs
from ecrwise.cli.numbers import finite
from ecrwise.cli.snapshot_data import load_records, snapshot_warnings
from ecrwise.errors import PartialFailure, UserError
from ecrwise.report import ecs as view
from ecrwise.report.ecs import SEVERITY_ORDER
from ecrwise.report.render import render

app = typer.Typer(help="ECS service, task-definition, agent-config and container-instance audit; fixes.",
                  invoke_without_command=True, no_args_is_help=False)
fix_app = typer.Typer(help="Fix ECS settings (plan first; --apply to change; a backup is written first).",
                      no_args_is_help=True)
app.add_typer(fix_app, name="fix")

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile for --apply.")


def run_checks(records: Any, book: Any, options: dict[str, Any]) -> list[Any]:
    from ecrwise.analysis import ecs_checks  # noqa: F401 — registers the checks
    from ecrwise.analysis.checks import REGISTRY, CheckSession

    findings = []
    session = CheckSession(records, book, options)  # one session: the ECS checks share one pull analysis
    for c in REGISTRY.values():
        if c.family == "ecs":
            findings.extend(session.run(c))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -(f.monthly_savings_usd or 0.0), f.check,
                                 f.resource))
    return findings


@app.callback(invoke_without_command=True)
@snapshot_inputs
def ecs(
    ctx: typer.Context,
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               callback=finite(ge=0.001, le=1e6), help="Starts per desired task per day above which a service "
                                                    "crash-loops."),
    min_severity: str = typer.Option("info", "--min-severity", help="critical | high | medium | low | info"),
    *,
    inputs: SnapshotInputs,
) -> None:
    """ECS audit: circuit breakers, single replicas, task definitions, hosts left behind, agent config, crash loops."""
    if ctx.invoked_subcommand is not None:
        return
    if min_severity not in SEVERITY_ORDER:
        raise UserError(f"--min-severity {min_severity}: choose one of {', '.join(SEVERITY_ORDER)}")
    book = inputs.prices()
    snap, records = load_records(inputs.store, inputs.snapshot)
    findings = run_checks(records, book, {"ecs.crash_loop_threshold": crash_loop_threshold, "now": snap.taken_at})
    items = [view.finding_item(f) for f in findings if SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[min_severity]]
    render(view.findings_result("ecs", items, snap.as_dict() | {"prices": book.describe()}, view.totals(items),
                                snapshot_warnings(snap, records),
                                f"ECS audit · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC)"), inputs.fmt)


@app.command("agent-config")
def agent_config(
    file: Path = typer.Argument(..., metavar="FILE", help="An ecs.config file, or EC2 user data that writes one."),
    fmt: Fmt = FormatOpt,
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 if a finding is this severe or worse."),
) -> None:
    """Audit an ECS agent configuration file (secrets are redacted in every output)."""
    from ecrwise.analysis.ecs_checks import audit_agent_config
    from ecrwise.inputs import read_bytes
    from ecrwise.records.ecs import (EcsAgentConfig, decode_user_data, is_plain_config, parse_agent_config,
                                     unresolved)

    if fail_on is not None and fail_on not in SEVERITY_ORDER:
        raise UserError(f"--fail-on {fail_on}: choose one of {', '.join(SEVERITY_ORDER)}")
    # The one input loader reads the file (size, UTF-8); base64 and gzip (both legal in user data) undone.
    text = decode_user_data(read_bytes(file, what="agent config"), source=str(file))
    settings, redacted, writes = parse_agent_config(text)
    if not settings and not writes:
        raise UserError(f"{file}: no ECS agent settings (ECS_*=…) found")
    # A file of KEY=VALUE lines is an ecs.config itself; anything else is a script (user data) that writes one.
    cfg = EcsAgentConfig("", "", "ecs.config" if is_plain_config(text) else "user-data", str(file), settings,
                         redacted, writes, [])
    del text  # may hold secrets; only the redacted settings go further
    items = [view.finding_item(f) for f in audit_agent_config(cfg)]
    totals = view.totals(items) | {"source": cfg.source, "settings": settings, "redacted": redacted,
                                   "unresolved": sorted(k for k, v in settings.items() if unresolved(v))}
    render(view.findings_result("ecs-agent-config", items, None, totals, [], f"{file}: findings",
                                settings=(str(file), settings)), fmt)
    if fail_on and any(SEVERITY_ORDER[i["severity"]] <= SEVERITY_ORDER[fail_on] for i in items):
        raise typer.Exit(1)


@app.command("lint")
def lint(
    files: List[Path] = typer.Argument(..., metavar="FILE...", help="Task definitions: register-task-definition "
                                       "--cli-input-json input, or describe-task-definition output."),
    fmt: Fmt = FormatOpt,
) -> None:
    """Check task definitions offline with every task-definition check; exit 2 if ECS would reject one."""
    from ecrwise.analysis.ecs_checks import lint_task_definitions
    from ecrwise.inputs import InputError
    from ecrwise.records import Records
    from ecrwise.records.ecs import load_task_definition

    rows: list[dict[str, Any]] = []
    for f in files:
        try:
            records = load_task_definition(f)
        except InputError as e:
            rows.append(view.lint_input_error(str(f), e))
            continue
        by_type: dict[type, list[Any]] = {}
        for r in records:
            by_type.setdefault(type(r), []).append(r)
        rows.extend(view.lint_item(str(f), finding) for finding in lint_task_definitions(Records(by_type)))
    result = view.lint_result(rows, [str(f) for f in files])
    render(result, fmt)
    if result.totals["errors"]:
        raise typer.Exit(2)


# -- fix circuit-breaker / restore ----------------------------------------------------------------------

def _resolve_services(services: list[str], all_crash_looping: bool, store: Optional[Path],
                      snapshot: Optional[int], threshold: float) -> tuple[list[tuple[str, str, str, str]], Any]:
    """(arn, region, cluster, name) for each service to change, and the snapshot used (if any)."""
    import re

    from ecrwise.aws.ecs_apply import parse_service_arn
    from ecrwise.inputs import REGION_PATTERN

    snap = records = None
    arns = list(services)
    if all_crash_looping:
        from ecrwise.analysis.pulls import analyse_pulls

        snap, records = load_records(store, snapshot)
        report = analyse_pulls(records, prices(None, store), crash_loop_threshold=threshold, now=snap.taken_at)
        arns += [s.service_arn for s in report.services if s.crash_loop]
    if not arns:
        raise UserError("--service ARN (repeatable) or --all-crash-looping: which services?")
    out = []
    for arn in dict.fromkeys(arns):
        region, _, cluster, name = parse_service_arn(arn)
        if not re.fullmatch(REGION_PATTERN, region):
            raise UserError(f"--service {arn}: {region!r} is not an AWS region name (such as us-east-1)")
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


@fix_app.command("circuit-breaker")
def fix_circuit_breaker(
    service: List[str] = typer.Option([], "--service", metavar="ARN", help="Service ARN (repeatable)."),
    all_crash_looping: bool = typer.Option(False, "--all-crash-looping",
                                           help="Every crash-looping service of the snapshot."),
    apply: bool = typer.Option(False, "--apply", help="Make the change (without it: plan only)."),
    rollback: bool = typer.Option(True, "--rollback/--no-rollback", help="Roll back failed deployments."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir",
                                              help="Where the backup goes (default: beside the store, backups/)."),
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               callback=finite(ge=0.001, le=1e6)),
    profile: Optional[str] = ProfileOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Turn on the deployment circuit breaker (with rollback) on services: plan, backup, --apply."""
    from ecrwise.remediate import ecs_circuit_breaker as cb

    targets, snap = _resolve_services(service, all_crash_looping, store, snapshot, crash_loop_threshold)
    done = cb.fix_circuit_breaker(_session(profile), targets, rollback=rollback, apply=apply, backup_dir=backup_dir)
    _render_plan("ecs-fix-circuit-breaker", done, apply, snap, fmt, restore_hint=True)
    if done.failed:
        raise PartialFailure(f"{len(done.failed)} of {len(done.changes)} change(s) failed; "
                             + (f"restore the others with `ecrwise ecs restore {done.backup} --apply`"
                                if done.backup else ""))


@app.command("restore")
def restore(
    backup: Path = typer.Argument(..., metavar="BACKUP", help="A backup written by `ecrwise ecs fix … --apply`."),
    apply: bool = typer.Option(False, "--apply", help="Make the change (without it: plan only)."),
    profile: Optional[str] = ProfileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Put back the deployment configuration a backup recorded."""
    from ecrwise.remediate import ecs_circuit_breaker as cb

    entries = cb.load_backup(backup)
    done = cb.restore(_session(profile), backup, entries, apply=apply)
    _render_plan("ecs-restore", done, apply, None, fmt, restore_hint=False)
    if done.failed:
        raise PartialFailure(f"{len(done.failed)} of {len(done.plan)} restore(s) failed")


def _render_plan(kind: str, done: Any, apply: bool, snap: Any, fmt: Fmt, *, restore_hint: bool) -> None:
    render(view.plan_result(kind, done, apply, snap.as_dict() if snap else None, restore_hint=restore_hint), fmt)


# -- user-data --------------------------------------------------------------------------------------------

@app.command("user-data")
def user_data(
    image: List[str] = typer.Option([], "--image", metavar="URI", help="Image to pre-pull at boot (repeatable)."),
    pull_behavior: str = typer.Option("prefer-cached", "--pull-behavior",
                                      help="ECS_IMAGE_PULL_BEHAVIOR: default | always | once | prefer-cached"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="ECS_CLUSTER to join."),
) -> None:
    """Print EC2 user data that sets the agent's pull behaviour and pre-pulls images (local image caching on EC2)."""
    from ecrwise.analysis.pulls import PULL_BEHAVIORS

    if pull_behavior not in PULL_BEHAVIORS:
        raise UserError(f"--pull-behavior {pull_behavior}: choose one of {', '.join(PULL_BEHAVIORS)}")
    typer.echo(view.render_user_data(image, pull_behavior, cluster), nl=False)
