"""`ecrwise network`: the VPC endpoint audit, NAT-versus-endpoint cost, fixes (templates or --apply), undo and
NAT alarms. Thin: loads a snapshot, calls `analysis.network_checks` / `pricing.network_cost` /
`remediate.network_templates` / `remediate.network_fix` / `remediate.network_apply`, renders with `report.network`.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise import __version__
from ecrwise.cli.common import (Fmt, FormatOpt, PriceFileOpt, SnapshotInputs, SnapshotOpt, StoreOpt, prices,
                                record_applied, snapshot_inputs, store_path)
from ecrwise.cli.numbers import aws_region, finite
from ecrwise.cli.snapshot_data import load_records, snapshot_warnings
from ecrwise.errors import AwsUnavailable, PartialFailure, UserError
from ecrwise.pricing.book import GIB
from ecrwise.report import network as view
from ecrwise.report.output import print_warnings, stderr_console
from ecrwise.report.render import render

app = typer.Typer(help="VPC endpoint audit, NAT-versus-endpoint cost, fixes and NAT alarms.",
                  invoke_without_command=True, no_args_is_help=False)

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile for --apply.")
NO_NETWORK_DATA = "has no network data: run `ecrwise scan --only network` (or a full scan)"


# -- ecrwise network (the audit) -------------------------------------------------------------------------

@app.callback(invoke_without_command=True)
@snapshot_inputs
def audit(
    ctx: typer.Context,
    vpc: Optional[str] = typer.Option(None, "--vpc", help="Only this VPC."),
    spike_k: float = typer.Option(3.0, "--spike-k", min=1.0, help="A day spikes above k × the rolling median.",
                                 callback=finite(ge=1.0, le=1e6)),
    spike_window: int = typer.Option(7, "--spike-window", min=1, help="Days in the rolling median."),
    *,
    inputs: SnapshotInputs,
) -> None:
    """Audit the endpoints image pulls need, per VPC that runs ECS tasks or routes private subnets to a NAT;
    NAT traffic per gateway with its spike days."""
    if ctx.invoked_subcommand:
        return
    from ecrwise.analysis.network_checks import audit_network
    from ecrwise.records.network import Vpc

    book = inputs.prices()
    snap, records = load_records(inputs.store, inputs.snapshot)
    result = audit_network(records, book, spike_k=spike_k, spike_window=spike_window)
    vpcs = [a for a in result.vpcs if vpc is None or a.vpc_id == vpc]
    if vpc and not vpcs:
        raise UserError(f"--vpc {vpc}: not audited in snapshot {snap.id} (no such VPC, or no private subnets "
                        "that pull images)")
    spikes = [f for f in result.findings if f.check == "network.nat-traffic-spike"
              and (vpc is None or f.evidence.get("vpc_id") == vpc)]
    warnings = snapshot_warnings(snap, records, family="network", marker=Vpc, hint=NO_NETWORK_DATA) + result.warnings
    if not any(a.traffic for a in vpcs):
        warnings.append("pull traffic unknown (no `ecrwise pulls` data): findings carry no monthly cost except "
                        "endpoint hours and NAT spikes")
    render(view.audit_result(vpcs, spikes, book, snap.as_dict() | {"prices": book.describe()}, warnings,
                             f"VPC endpoints image pulls need · snapshot {snap.id} "
                             f"({snap.taken_at:%Y-%m-%d %H:%M} UTC)", spike_k=spike_k, spike_window=spike_window),
           inputs.fmt)


# -- ecrwise network cost --------------------------------------------------------------------------------

@app.command("cost")
@snapshot_inputs
def cost_cmd(
    pull_gb_month: Optional[float] = typer.Option(None, "--pull-gb-month", min=0.0, callback=finite(ge=0.0),
                                                  help="Pull volume in GB (GiB) a month."),
    azs: Optional[int] = typer.Option(None, "--azs", min=1, help="Availability zones the tasks run in."),
    region: Optional[str] = typer.Option(None, "--region", help="Region whose prices to use (default us-east-1)."),
    logs: bool = typer.Option(False, "--logs", help="Add the logs interface endpoint (awslogs)."),
    pulls_per_month: Optional[float] = typer.Option(None, "--pulls-per-month", min=0.0, callback=finite(ge=0.0),
                                                    help="Pulls a month (default: pull bytes / 256 MiB)."),
    nat_gateways: Optional[int] = typer.Option(None, "--nat-gateways", min=0,
                                               help="NAT gateways on the NAT path (default: one per AZ)."),
    *,
    inputs: SnapshotInputs,
) -> None:
    """NAT gateway versus VPC endpoints for image pulls, line by line, with break-even volumes. Without
    --pull-gb-month: each VPC's measured pull volume from the snapshot."""
    from ecrwise.pricing.network_cost import network_cost

    book = inputs.prices()
    if region and region not in book.regions:
        print_warnings([f"--region {region}: not in the price book; using {book.fallback_region} prices"])
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

        snap, records = load_records(inputs.store, inputs.snapshot)
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
    render(view.cost_result(reports, snap_dict), inputs.fmt)


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


@app.command("fix")
def fix_cmd(
    vpc: str = typer.Option(..., "--vpc", help="The VPC to fix."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write Terraform (main.tf) and/or CloudFormation "
                                       "(template.json) here."),
    apply: bool = typer.Option(False, "--apply", help="Create the missing pieces through the API now."),
    fmt: FixFormat = typer.Option(FixFormat.table, "--format", "-f",
                                  help="terraform | cloudformation (which template to write to --out; default "
                                       "both) or table | json (how to print the plan)."),
    region: Optional[str] = typer.Option(None, "--region", callback=aws_region,
                                         help="Region of the VPC (default: from the snapshot)."),
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
    from ecrwise.remediate import network_fix
    from ecrwise.remediate import network_templates as tpl

    book = prices(price_file, store, announce=fmt.value == "table")
    snap, records, vpc_rec = _snapshot_vpc(store, snapshot, vpc)
    if apply:
        where = region or (vpc_rec.region if vpc_rec else None)
        if where is None:
            raise UserError(f"--vpc {vpc}: not in the snapshot; give --region")
        account = _account(profile, where, vpc_rec.account if vpc_rec else None)
        audit_ = network_fix.live_audit(account, where, vpc, records, book)
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
        render(view.fix_plan_result(plan), fmt)
    if out is not None:
        both = fmt in (FixFormat.table, FixFormat.json)
        err = stderr_console()
        network_fix.write_templates(plan, out, __version__, terraform=both or fmt is FixFormat.terraform,
                                    cloudformation=both or fmt is FixFormat.cloudformation,
                                    say=lambda text: err.print(text, highlight=False, markup=False))
    if apply:
        if plan.empty:
            if fmt is FixFormat.json:  # the table printed above already says there is nothing to fix
                render(view.results_result([], "network-fix", {"vpc_id": vpc, "plan": plan.as_dict(),
                                                               "journal": None}), fmt)
            return
        journal, results = network_fix.apply_fix(account, vpc, plan, _journal_dir(backup_dir, store),
                                                 announce=_announce_journal)
        render(view.results_result(results, "network-fix", {"vpc_id": vpc, "plan": plan.as_dict(),
                                                            "journal": str(journal.path)}),
               "json" if fmt is FixFormat.json else "table")
        # What the fix should save (the snapshot's audit: the live one knows no pull traffic), for `billing savings`.
        planned = audit_network(records, book).vpc(vpc) if records is not None else None
        record_applied(store, "network fix", [(plan.account, plan.region, resource, usd) for resource, usd
                                              in network_fix.billing_predictions(planned, results, book)])
        if any(r.status == "failed" for r in results):
            raise PartialFailure(f"--apply stopped at a failed step; see {journal.path}")
    elif out is None and not plan.empty:
        stderr_console().print(f"dry run: nothing changed. Write templates with --out DIR, or create them with "
                               f"`ecrwise network fix --vpc {vpc} --apply`.", highlight=False, markup=False)


def _announce_journal(path: Path) -> None:
    stderr_console().print(f"journal: {path}", highlight=False, markup=False)


@app.command("undo")
def undo_cmd(
    vpc: str = typer.Option(..., "--vpc", help="The VPC whose ecrwise changes to reverse."),
    apply: bool = typer.Option(False, "--apply", help="Reverse them now (without: show what would be done)."),
    region: Optional[str] = typer.Option(None, "--region", callback=aws_region,
                                         help="Region of the VPC (default: from the snapshot)."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help="Where to write the journal."),
    profile: Optional[str] = ProfileOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Remove what `ecrwise network fix --apply` created in a VPC and reverse the changes it recorded; nothing
    else is touched."""
    from ecrwise.remediate.network_apply import plan_undo
    from ecrwise.remediate import network_fix

    _, _, vpc_rec = _snapshot_vpc(store, None, vpc)
    where = region or (vpc_rec.region if vpc_rec else None)
    if where is None:
        raise UserError(f"--vpc {vpc}: not in the snapshot; give --region")
    account = _account(profile, where, vpc_rec.account if vpc_rec else None)
    steps = plan_undo(account, where, vpc)
    # With --apply and JSON the one JSON document is the results; the plan goes to stderr as a table.
    render(view.undo_plan_result(vpc, steps), "_table-stderr" if apply and fmt is Fmt.json else fmt)
    if fmt is Fmt.json and not apply:
        return
    if not steps:
        return
    if not apply:
        stderr_console().print("dry run: nothing changed; add --apply to do it.")
        return
    journal, results = network_fix.apply_undo_steps(account, where, vpc, steps, _journal_dir(backup_dir, None),
                                                    announce=_announce_journal)
    render(view.results_result(results, "network-undo", {"vpc_id": vpc, "journal": str(journal.path)}), fmt)
    if any(r.status == "failed" for r in results):
        raise PartialFailure(f"undo left some steps undone; see {journal.path} and run it again")


# -- ecrwise network alarms ------------------------------------------------------------------------------

@app.command("alarms")
def alarms_cmd(
    apply: bool = typer.Option(False, "--apply", help="Create or update the alarms now."),
    k: float = typer.Option(3.0, "--k", min=1.0, help="Threshold: k × the median day, per hour.",
                           callback=finite(ge=1.0, le=1e6)),
    min_gb_hour: float = typer.Option(1.0, "--min-gb-hour", min=0.0, help="Never alarm below this many GB an hour.",
                                     callback=finite(ge=0.0)),
    sns_topic: list[str] = typer.Option([], "--alarm-action", help="ARN to notify (an SNS topic; repeatable)."),
    profile: Optional[str] = ProfileOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """CloudWatch alarms on each NAT gateway's bytes processed, thresholds from its 30-day history."""
    from ecrwise.analysis.nat_traffic import alarm_specs, nat_series
    from ecrwise.remediate.network_apply import alarm_request, apply_alarms
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
            from ecrwise.remediate.network_apply import StepResult
            results += [StepResult("alarm", s.name, "planned", s.name, s.formula) for s in mine]
        else:
            results += apply_alarms(account, mine, actions=sns_topic, apply=apply)
    rows = view.alarm_rows(results, specs, {s.name: alarm_request(s, sns_topic) for s in specs})
    render(view.alarms_result(rows, apply, snap.as_dict()), fmt)
