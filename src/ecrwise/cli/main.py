"""The `ecrwise` command. Thin: parse options, call collectors/analyses/renderers, map errors to exit codes."""
from __future__ import annotations

import gc
import sys
from functools import lru_cache
from pathlib import Path
from typing import List, Optional

import typer

from ecrwise import __version__
from ecrwise.cli.common import FormatOpt, Fmt, SnapshotInputs, StoreOpt, open_store, snapshot_inputs, store_path
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
                                       help="Print the version and exit."),
          memory_limit: Optional[str] = typer.Option(
              None, "--memory-limit", metavar="SIZE", envvar="ECRWISE_MEMORY_LIMIT",
              help="DuckDB's memory limit for the store (4GB, 512MiB, 50%); beyond it queries spill to disk. "
                   "Default: half of physical memory, at most 512 MiB.")) -> None:
    if memory_limit is not None:
        import os

        from ecrwise.store.files import MEMORY_ENV, parse_memory_limit

        try:
            parse_memory_limit(memory_limit)
        except UserError as e:
            typer.echo(f"ecrwise: {e}", err=True)
            raise typer.Exit(2)
        os.environ[MEMORY_ENV] = memory_limit


@app.command()
def scan(
    profile: Optional[str] = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile."),
    region: List[str] = typer.Option([], "--region", "-r", help="Region to scan (repeatable)."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Scan every region enabled for the account."),
    role_arn: List[str] = typer.Option([], "--role-arn", help="Assume this role to scan its account (repeatable)."),
    org_role: Optional[str] = typer.Option(None, "--org-role",
                                           help="Assume this role name in every active account of the organization."),
    # The families are discovered from ecrwise.aws, which imports boto3: naming them here would cost every
    # command (even `lifecycle lint`) that import at start-up. An unknown name is refused with the list.
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated service families to collect, e.g. "
                                       "ecr,ecs (default: every family this version collects)."),
    workers: int = typer.Option(16, "--workers", min=1, max=128, help="Concurrent requests."),
    # -- Kubernetes (besides the EKS clusters of the scanned regions) --
    kube_context: List[str] = typer.Option([], "--kube-context", help="List this kubeconfig context's pods and "
                                           "workloads too (repeatable; `all` for every context)."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG",
                                              help="The kubeconfig for --kube-context (default ~/.kube/config)."),
    kube_pods: List[str] = typer.Option([], "--kube-pods", help="Record `kubectl get pods,deploy,rs,sts,ds,job,"
                                        "cronjob -A -o json` output as cluster NAME: [NAME=]FILE (repeatable)."),
    # -- end Kubernetes --
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
                 store=store_path(store), fmt=fmt,
                 kube_contexts=kube_context, kubeconfig=str(kubeconfig) if kubeconfig else None, kube_pods=kube_pods)


@app.command()
@snapshot_inputs
def repos(
    sort: str = typer.Option("cost", "--sort", help="cost | size | images | name"),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Only the first N rows."),
    playbook: bool = typer.Option(False, "--playbook",
                                  help="Print the FinOps playbook's `Repositories,Size,Expected Cost` CSV."),
    *,
    inputs: SnapshotInputs,
) -> None:
    """Per-repository inventory and monthly cost (billed = distinct layers)."""
    from ecrwise.analysis.inventory import SORT_KEYS, sort_rows
    from ecrwise.cli.snapshot_data import load_inventory
    from ecrwise.report import repos as view
    from ecrwise.report.render import render

    if sort not in SORT_KEYS:
        raise UserError(f"--sort {sort}: choose one of {', '.join(SORT_KEYS)}")
    book = inputs.prices()
    with open_store(inputs.store) as st:
        snap, inv = load_inventory(st, inputs.snapshot, book)
    rows = sort_rows(inv.rows, sort)[:top] if top else sort_rows(inv.rows, sort)
    warnings = [*snapshot_warnings(snap), *inv.warnings]
    render(view.result(inv, rows, snap.as_dict() | {"prices": book.describe()}, warnings,
                       f"ECR repositories · snapshot {snap.id} ({snap.taken_at:%Y-%m-%d %H:%M} UTC)"),
           "playbook" if playbook else inputs.fmt)


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
    billing: bool = typer.Option(False, "--billing", help="What `ecrwise billing` and `ecrwise prices` need."),
    export_prefix: List[str] = typer.Option([], "--export-prefix", help="With --billing: scope s3:ListBucket / "
                                            "s3:GetObject to this s3://bucket/prefix (repeatable)."),
) -> None:
    """Print the least-privilege IAM policy, derived from the actions the code declares it calls."""
    from ecrwise.aws.iam import apply_policy, billing_policy, read_only_policy
    from ecrwise.report.output import dump_json, stderr_console

    if read_only + apply + billing != 1:
        raise UserError("iam-policy: give exactly one of --read-only, --apply or --billing")
    if export_prefix and not billing:
        raise UserError("iam-policy: --export-prefix goes with --billing")
    if billing:
        dump_json(billing_policy(export_prefix))
        if not export_prefix:  # on stderr: stdout stays the policy document alone
            stderr_console().print("note: s3:GetObject and s3:ListBucket are on every bucket (\"*\"); give "
                                   "--export-prefix s3://bucket/prefix to scope them to the export", highlight=False,
                                   markup=False)
        return
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
    from ecrwise.cli.in_use import app as in_use_app
    app.add_typer(in_use_app, name="in-use", help="Every image a workload uses (ECS, EKS, Lambda, Batch, SageMaker, "
                  "…), with its sources and reasons.")
    from ecrwise.cli.export import app as export_app
    from ecrwise.cli.findings import app as findings_app
    from ecrwise.cli.history import app as history_app
    from ecrwise.cli.report import app as report_app
    app.add_typer(findings_app, name="findings",
                  help="Every finding of every analysis, ranked by monthly savings; CI gates; SARIF.")
    app.add_typer(report_app, name="report", help="Write the self-contained HTML report (--html FILE).")
    app.add_typer(history_app, name="history", help="Storage across snapshots; savings realised between two.")
    app.add_typer(export_app, name="export", help="Export the snapshot tables as partitioned Parquet (--parquet DIR).")
    from ecrwise.cli.registry import app as registry_app
    app.add_typer(registry_app, name="registry", help="Registry settings: a repository creation template with a "
                  "lifecycle policy (JSON, Terraform, CloudFormation).")
    from ecrwise.cli.billing import app as billing_app
    from ecrwise.cli.prices import app as prices_app
    app.add_typer(billing_app, name="billing", help="Import CUR 2.0 / FOCUS 1.2 exports, reconcile estimates with the "
                  "bill, Cost Explorer trends, realised savings.")
    app.add_typer(prices_app, name="prices", help="Current list prices from the AWS Price List API into a dated price "
                  "file.")


_mount_subcommands()


def main(argv: list[str] | None = None) -> None:
    """The console script. Exit status: 0 ok, 1 a --fail-on… threshold met, 2 bad input or usage, 3 AWS
    unreachable or denied, 4 an --apply changed some resources and failed on others, 70 an internal error
    (one line naming a crash file that holds the traceback), 130 interrupted. Nothing escapes as a traceback."""
    sys.exit(_run(argv))


# The cyclic garbage collector's thresholds for a run (Python's default is (700, 10, 10)). A command over a
# million images allocates tens of millions of objects, almost none in reference cycles, and the default
# collector walks the growing heap again and again (`lifecycle simulate` at 1,000,000 images: build-and-evaluate
# 41 s against 30 s, docs/performance.md). Reference counting still frees everything acyclic at once; cycles are still collected,
# after 100,000 allocations instead of 700. https://docs.python.org/3/library/gc.html#gc.set_threshold
GC_THRESHOLDS = (100_000, 50, 1000)


def _run(argv: list[str] | None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        # standalone_mode=False: Click raises instead of exiting, so every outcome is mapped here, including
        # EOFError and KeyboardInterrupt, which standalone Click turns into a bare "Aborted!" and status 1.
        rv = _command().main(args=argv, prog_name="ecrwise", standalone_mode=False)
        # An explicit typer.Exit(n) comes back as n; a command's own return value is not an exit status.
        return rv if type(rv) is int else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else _error(str(e.code), 2))
    except typer.Abort as e:
        if isinstance(e.__context__, EOFError):  # end of input where a command read some: not the user's doing
            return _crash(e.__context__, argv)
        typer.echo("ecrwise: interrupted", err=True)
        return 130
    except typer.TyperException as e:  # Click's usage errors (Typer vendors Click): its message, status 2
        e.show()  # type: ignore[attr-defined]
        code = getattr(e, "exit_code", 2)
        return code if isinstance(code, int) and code >= 2 else 2
    except (UserError, AwsUnavailable, PartialFailure) as e:
        return _error(str(e), e.exit_code)
    except KeyboardInterrupt:
        typer.echo("ecrwise: interrupted", err=True)
        return 130
    except MemoryError as e:
        # Not a bug to report: what the command holds per image did not fit (seen for `lifecycle simulate` on
        # 10,000,000 images), or DuckDB reached --memory-limit. The way out is more memory or a smaller scope.
        return _error(f"out of memory{f' ({e})' if str(e) else ''}: this snapshot is too large for this command "
                      "within this memory (what each command holds per image: docs/performance.md); run it with "
                      "more memory or a larger --memory-limit, or on fewer repositories where the command takes "
                      "--repository", 70)
    except Exception as e:  # noqa: BLE001 — the last resort: one line and a crash file, never a traceback
        aws = _aws_unavailable(e)
        if aws is not None:
            return _error(str(aws), aws.exit_code)
        return _crash(e, argv)


@lru_cache(maxsize=1)
def _command():  # type: ignore[no-untyped-def]
    # Typer builds the Click command tree on every call of `app()` (most of a short command's run time);
    # build it once per process. Each run still gets a fresh Click context.
    return typer.main.get_command(app)


def _error(message: str, code: int) -> int:
    from ecrwise.report.sanitize import text

    # Error texts can quote AWS (an error message, a resource name): they pass the output sanitiser too.
    typer.echo(f"ecrwise: error: {text(message)}", err=True)
    return code


def _aws_unavailable(e: BaseException) -> AwsUnavailable | None:
    # Only when the SDK is loaded at all (commands that read files never import it).
    if "botocore" not in sys.modules:
        return None
    try:
        from ecrwise.aws.session import as_unavailable

        return as_unavailable(e)
    except Exception:  # noqa: BLE001 — classifying must never hide the original error
        return None


INTERNAL_ERROR = 70  # EX_SOFTWARE in BSD sysexits.h: an internal software error


def crash_dir() -> Path:
    import os

    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "ecrwise" / "crash"


def _crash(exc: BaseException, argv: list[str] | None) -> int:
    """Write the traceback to a crash file (the state directory, else the temp directory); print one line."""
    import os
    import platform
    import tempfile
    import traceback
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    text = (f"ecrwise {__version__} internal error at {now.isoformat()}\n"
            f"python {platform.python_version()} on {platform.platform()}\n"
            f"argv: {list(sys.argv[1:] if argv is None else argv)!r}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    name = f"crash-{now:%Y%m%dT%H%M%S%fZ}-{os.getpid()}.txt"
    path: Path | None = None
    for d in (crash_dir(), Path(tempfile.gettempdir()) / "ecrwise-crash"):
        try:
            d.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(text, encoding="utf-8")
            path = d / name
            break
        except OSError:
            continue
    where = str(path) if path else f"(no crash file could be written; {type(exc).__name__}: {exc})"
    try:
        typer.echo(f"ecrwise: internal error, please report: {where}", err=True)
    except Exception:  # noqa: BLE001 — stderr itself may be gone
        pass
    return INTERNAL_ERROR
