"""The `ecrwise` command. Thin: parse options, call collectors/analyses/renderers, map errors to exit codes."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ecrwise import __version__
from ecrwise.cli.common import (FormatOpt, Fmt, PriceFileOpt, SnapshotOpt, StoreOpt, open_store, prices,
                                store_path)
from ecrwise.errors import AwsUnavailable, PartialFailure, UserError

app = typer.Typer(
    name="ecrwise",
    help="Find and fix wasted spend in ECR storage, image-pull traffic and the ECS settings behind both.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecrwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


@app.command()
def scan(
    profile: Optional[str] = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile."),
    region: List[str] = typer.Option([], "--region", "-r", help="Region to scan (repeatable)."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Scan every region enabled for the account."),
    role_arn: List[str] = typer.Option([], "--role-arn", help="Assume this role to scan its account (repeatable)."),
    org_role: Optional[str] = typer.Option(None, "--org-role",
                                           help="Assume this role name in every active account of the organization."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated service families to collect "
                                       "(default: all, i.e. ecr,ecs,network as far as this version collects them)."),
    workers: int = typer.Option(16, "--workers", min=1, max=128, help="Concurrent requests."),
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Collect (read-only) into a new snapshot in the store."""
    from ecrwise.cli.scan_cmd import run_and_save

    if region and all_regions:
        raise UserError("--region and --all-regions: give one or the other")
    run_and_save(profile=profile, regions=region, all_regions=all_regions, role_arns=role_arn,
                 org_role=org_role, only=[s.strip() for s in only.split(",") if s.strip()] if only else None,
                 workers=workers,
                 store=store_path(store), fmt=fmt)


@app.command()
def repos(
    sort: str = typer.Option("cost", "--sort", help="cost | size | images | name"),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Only the first N rows."),
    playbook: bool = typer.Option(False, "--playbook",
                                  help="Print the FinOps playbook's `Repositories,Size,Expected Cost` CSV."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Per-repository inventory and monthly cost (billed = distinct layers)."""
    from ecrwise.analysis.inventory import SORT_KEYS, sort_rows
    from ecrwise.cli.snapshot_data import load_inventory
    from ecrwise.report import repos as view
    from ecrwise.report.render import render

    if sort not in SORT_KEYS:
        raise UserError(f"--sort {sort}: choose one of {', '.join(SORT_KEYS)}")
    book = prices(price_file)
    with open_store(store) as st:
        snap, inv = load_inventory(st, snapshot, book)
    rows = sort_rows(inv.rows, sort)[:top] if top else sort_rows(inv.rows, sort)
    warnings = [*snapshot_warnings(snap), *inv.warnings]
    render(view.result(inv, rows, snap.as_dict() | {"prices": book.describe()}, warnings,
                       f"ECR repositories · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC)"),
           "playbook" if playbook else fmt)


@app.command()
def demo(
    keep_running: bool = typer.Option(False, "--keep-running",
                                      help="Leave the stand-in up and print the AWS_ENDPOINT_URL to use."),
    store: Optional[Path] = typer.Option(None, "--store", help="Store for the demo's snapshot "
                                         "(default: $XDG_DATA_HOME/ecrwise/demo.duckdb)."),
) -> None:
    """The whole job end to end against the embedded AWS stand-in; no account needed."""
    from ecrwise.cli.demo_cmd import run_demo

    run_demo(keep_running=keep_running, store=store)


@app.command("iam-policy")
def iam_policy(
    read_only: bool = typer.Option(False, "--read-only", help="The policy a scan needs."),
    apply: bool = typer.Option(False, "--apply", help="The extra actions `--apply` commands need."),
) -> None:
    """Print the least-privilege IAM policy, derived from the actions the code declares it calls."""
    from ecrwise.aws.iam import apply_policy, read_only_policy
    from ecrwise.report.output import dump_json

    if read_only == apply:
        raise UserError("iam-policy: give exactly one of --read-only or --apply")
    dump_json(read_only_policy() if read_only else apply_policy())


def snapshot_warnings(snap) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"scan could not collect {f.service} in {f.account}/{f.region}: {f.error_code}: {f.message}"
            for f in snap.failures]


def print_warnings(warnings: list[str]) -> None:
    from ecrwise.report.output import print_warnings as show

    show(warnings, say_more=True)


def _mount_subcommands() -> None:
    from ecrwise.cli.lifecycle import app as lifecycle_app
    import ecrwise.cli.lifecycle_rollout  # noqa: F401  (adds plan/apply/restore/backup/protect)

    app.add_typer(lifecycle_app, name="lifecycle", help="Lint, simulate and roll out ECR lifecycle policies.")
    from ecrwise.cli.network import app as network_app
    app.add_typer(network_app, name="network",
                  help="VPC endpoint audit, NAT-versus-endpoint cost, fixes as Terraform / CloudFormation, alarms.")
    from ecrwise.cli.ecs import app as ecs_app
    from ecrwise.cli.pulls import app as pulls_app
    app.add_typer(pulls_app, name="pulls",
                  help="Image-pull traffic and its cost per ECS service; crash-looping services; fixes.")
    app.add_typer(ecs_app, name="ecs",
                  help="ECS service, task-definition, agent-config and container-instance audit; fixes.")
    from ecrwise.cli.export import app as export_app
    from ecrwise.cli.findings import app as findings_app
    from ecrwise.cli.history import app as history_app
    from ecrwise.cli.report import app as report_app
    app.add_typer(findings_app, name="findings",
                  help="Every finding of every analysis, ranked by monthly savings; CI gates; SARIF.")
    app.add_typer(report_app, name="report", help="Write the self-contained HTML report (--html FILE).")
    app.add_typer(history_app, name="history", help="Storage across snapshots; savings realised between two.")
    app.add_typer(export_app, name="export", help="Export the snapshot tables as partitioned Parquet (--parquet DIR).")


_mount_subcommands()


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="ecrwise", standalone_mode=True)
    except UserError as e:
        typer.echo(f"ecrwise: error: {e}", err=True)
        sys.exit(2)
    except AwsUnavailable as e:
        typer.echo(f"ecrwise: error: {e}", err=True)
        sys.exit(3)
    except PartialFailure as e:
        typer.echo(f"ecrwise: error: {e}", err=True)
        sys.exit(4)
    except KeyboardInterrupt:
        typer.echo("ecrwise: interrupted", err=True)
        sys.exit(130)
