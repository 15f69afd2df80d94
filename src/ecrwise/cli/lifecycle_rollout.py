"""`ecrwise lifecycle plan | apply | restore | backup | protect`: rolling a policy out safely.

Registered on the `ecrwise lifecycle` sub-app. Thin: load the snapshot, call `remediate.lifecycle_rollout`,
render with `report.lifecycle_rollout`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, SnapshotInputs, SnapshotOpt, StoreOpt, open_store, snapshot_inputs
from ecrwise.cli.in_use import InUseFileOpt, PulledWithinOpt, RollbackOpt
from ecrwise.cli.lifecycle import app
from ecrwise.errors import PartialFailure, outcome_error
from ecrwise.store import STORE_ENV

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile.")
RoleOpt = typer.Option([], "--role-arn", help="Role to assume for another account's repositories (repeatable).")
BackupDirOpt = typer.Option(None, "--backup-dir", help="Where backups are written "
                            "(default: $XDG_DATA_HOME/ecrwise/backups).")


def _in_use(st, snap, in_use_file: Optional[Path], rollback: int,  # type: ignore[no-untyped-def]
            pulled_within: int = 0):
    from ecrwise.cli.in_use import in_use_of

    return in_use_of(st, snap, in_use_file, rollback, pulled_within)


@app.command("plan")
@snapshot_inputs
def plan_cmd(
    policy: Path = typer.Option(..., "--policy", help="The lifecycle policy JSON to roll out."),
    repository: List[str] = typer.Option([], "--repository", help="Repository name glob (repeatable; default all)."),
    exclude: List[str] = typer.Option([], "--exclude", help="Repository name glob to leave alone (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the plan (JSON) here, for `lifecycle apply`."),
    in_use_file: Optional[Path] = InUseFileOpt,
    rollback_revisions: int = RollbackOpt,
    protect_pulled_within: int = PulledWithinOpt,
    *,
    inputs: SnapshotInputs,
) -> None:
    """Plan a rollout: per repository the current and new policy, the effect, and every image in use."""
    from ecrwise.cli.snapshot_data import engine_images_of
    from ecrwise.lifecycle.policy import load_policy
    from ecrwise.records.ecr import Repository
    from ecrwise.remediate.backup import write_durably
    from ecrwise.remediate.lifecycle_rollout import build_plan
    from ecrwise.report import lifecycle_rollout as view

    parsed = load_policy(policy)
    book = inputs.prices()
    with open_store(inputs.store) as st:
        snap = st.snapshot(inputs.snapshot)
        in_use = _in_use(st, snap, in_use_file, rollback_revisions, protect_pulled_within)
        images = engine_images_of(st, snap.id)
        doc = build_plan(str(policy), parsed, st.load(snap.id, Repository), images, in_use, book,
                         include=repository, exclude=exclude, at=datetime.now(timezone.utc), snapshot=snap.as_dict(),
                         rollback_revisions=rollback_revisions)
    if out:
        write_durably(out, doc)
    view.print_plan(doc, inputs.fmt, out)


def _clients(profile: Optional[str], role_arn: list[str]):  # type: ignore[no-untyped-def]
    from ecrwise.aws.accounts import client_factory

    return client_factory(profile, role_arn, "ecr")


@app.command("apply")
def apply_cmd(
    plan: Path = typer.Argument(..., help="A plan written by `lifecycle plan --out`."),
    apply: bool = typer.Option(False, "--apply", help="Make the changes (without it: only show them)."),
    profile: Optional[str] = ProfileOpt,
    role_arn: List[str] = RoleOpt,
    backup_dir: Optional[Path] = BackupDirOpt,
    store: Optional[Path] = typer.Option(None, "--store", envvar=STORE_ENV, show_default=False,
                                         help="Store that records what --apply changed, with the plan's predicted "
                                              "savings, for `billing savings` (default: the default store)."),
    fmt: Fmt = FormatOpt,
) -> None:
    """Apply a plan: verify it, back up, tag images in use, put the policies. Idempotent."""
    from ecrwise.aws.accounts import account_factory
    from ecrwise.aws.lifecycle_apply import LiveState
    from ecrwise.remediate.lifecycle_rollout import apply_plan, load_plan
    from ecrwise.report import lifecycle_rollout as view

    doc = load_plan(plan)  # refuses an edited, stale or inconsistent plan (exit 2) before any AWS call
    account_for = account_factory(profile, role_arn)
    outcomes, backup = apply_plan(doc, lambda a, r: account_for(a).client("ecr", r), backup_dir, str(plan),
                                  dry_run=not apply, live=LiveState(account_for))
    view.print_outcomes("lifecycle-apply", outcomes, backup, fmt, applied=apply)
    if apply:
        _record_applied(store, doc, outcomes)
    # A dry run changes nothing, so it never exits 4 (an earlier version did when a repository had drifted).
    err = outcome_error("repositories", applied=apply, total=len(outcomes),
                        changed=sum(o.status == "changed" for o in outcomes),
                        failed=sum(o.status == "failed" for o in outcomes),
                        stale=sum(o.status in ("drifted", "refused") for o in outcomes))
    if err:
        raise err


def _record_applied(store: Optional[Path], doc, outcomes) -> None:  # type: ignore[no-untyped-def]
    """One applied_changes row per repository whose policy changed, with the plan's predicted monthly savings."""
    from ecrwise.cli.common import record_applied

    predicted = {(i.account, i.region, i.repository): i.effect.get("monthly_savings_usd") for i in doc.items}
    record_applied(store, "lifecycle apply", [(o.account, o.region, o.repository,
                                               predicted.get((o.account, o.region, o.repository)))
                                              for o in outcomes if o.status == "changed"])


@app.command("restore")
def restore_cmd(
    backup: Path = typer.Argument(..., help="A backup written by `lifecycle apply`, `backup` or `protect`."),
    apply: bool = typer.Option(False, "--apply", help="Make the changes (without it: only show them)."),
    profile: Optional[str] = ProfileOpt,
    role_arn: List[str] = RoleOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Put every repository in a backup back exactly as it was."""
    from ecrwise.remediate.lifecycle_rollout import load_backup, restore_backup
    from ecrwise.report import lifecycle_rollout as view

    doc = load_backup(backup)
    outcomes = restore_backup(doc, _clients(profile, role_arn), dry_run=not apply)
    view.print_outcomes("lifecycle-restore", outcomes, None, fmt, applied=apply)
    err = outcome_error("repositories", applied=apply, total=len(outcomes),
                        changed=sum(o.status == "changed" for o in outcomes),
                        failed=sum(o.status == "failed" for o in outcomes))
    if err:
        raise err


@app.command("backup")
def backup_cmd(
    repository: List[str] = typer.Option([], "--repository", help="Repository name glob (repeatable; default all)."),
    exclude: List[str] = typer.Option([], "--exclude", help="Repository name glob to skip (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Backup file (default: in --backup-dir)."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    profile: Optional[str] = ProfileOpt,
    role_arn: List[str] = RoleOpt,
    backup_dir: Optional[Path] = BackupDirOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Back up the current policies (read live from ECR) of the repositories in scope; change nothing."""
    from ecrwise.records.ecr import Repository
    from ecrwise.remediate.lifecycle_rollout import backup_current, selected
    from ecrwise.report import lifecycle_rollout as view

    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        repos = [(r.account, r.region, r.name) for r in st.load(snap.id, Repository)
                 if selected(r.name, repository, exclude)[0]]
    path, outcomes = backup_current(sorted(repos), _clients(profile, role_arn), backup_dir, out)
    view.print_outcomes("lifecycle-backup", outcomes, path, fmt, applied=True)


@app.command("protect")
def protect_cmd(
    apply: bool = typer.Option(False, "--apply", help="Make the changes (without it: only show them)."),
    in_use_file: Optional[Path] = InUseFileOpt,
    rollback_revisions: int = RollbackOpt,
    protect_pulled_within: int = PulledWithinOpt,
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    profile: Optional[str] = ProfileOpt,
    role_arn: List[str] = RoleOpt,
    backup_dir: Optional[Path] = BackupDirOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Refresh protection tags from the latest scan: tag images now in use, release those no longer used."""
    from ecrwise.records.ecr import Image, Repository
    from ecrwise.remediate.lifecycle_rollout import apply_protection, protection_changes
    from ecrwise.report import lifecycle_rollout as view

    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        in_use = _in_use(st, snap, in_use_file, rollback_revisions, protect_pulled_within)
        tags: dict = {}
        for im in st.load(snap.id, Image):
            tags.setdefault((im.account, im.region, im.repository), {})[im.digest] = list(im.tags)
        changes = protection_changes(st.load(snap.id, Repository), tags, in_use)
    if not apply:
        view.print_protection(changes, fmt)
        return
    outcomes, backup = apply_protection(changes, _clients(profile, role_arn), backup_dir)
    view.print_outcomes("lifecycle-protect", outcomes, backup, fmt, applied=True)
    if any(o.status == "failed" for o in outcomes):
        raise PartialFailure(f"{sum(o.status == 'failed' for o in outcomes)} of {len(outcomes)} "
                             f"repositories failed; re-run to finish")
