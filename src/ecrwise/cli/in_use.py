"""`ecrwise in-use`: every image some workload uses, with its sources and reasons; and the in-use options and
loader `lifecycle plan`, `protect` and `simulate` share. Thin: loads a snapshot, calls
`analysis.in_use.find_in_use`, renders with `report.in_use`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, List, Optional

import typer

from ecrwise.cli.common import SnapshotInputs, snapshot_inputs
from ecrwise.errors import UserError

InUseFileOpt = typer.Option(None, "--in-use-file", metavar="FILE",
                            help='JSON {"images": [URI, …]} of images used by workloads the scan does not see.')
RollbackOpt = typer.Option(2, "--rollback-revisions", min=0,
                           help="Newest task-definition revisions per service family to protect.")
# Off by default: ECR refreshes lastRecordedPullTime only about once every 24 hours
# (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html), and anything pulling every
# image (a scanner, a mirror) would protect everything.
PulledWithinOpt = typer.Option(0, "--protect-pulled-within", min=0, metavar="DAYS",
                               help="Also protect images pulled within DAYS days (0: off; ECR records pulls "
                                    "about once a day).")

app = typer.Typer(help="Every image a workload uses, with its sources and reasons.",
                  invoke_without_command=True, no_args_is_help=False)


def in_use_of(st: Any, snap: Any, in_use_file: Optional[Path], rollback: int, pulled_within: int = 0,
              records: Any = None) -> Any:
    """The snapshot's in-use set (every in-use source), with the scan's failures and unscanned families that
    leave it incomplete as warnings: a source that could not be read is never a silent "not in use"."""
    from ecrwise.analysis.in_use import find_in_use, load_in_use_file
    from ecrwise.cli.snapshot_data import stored_records

    extra = load_in_use_file(in_use_file) if in_use_file else []
    found = find_in_use(records if records is not None else stored_records(st, snap.id), extra=extra,
                        rollback_revisions=rollback, pulled_within_days=pulled_within,
                        now=datetime.now(timezone.utc))
    found.warnings[:0] = in_use_scan_warnings(snap)
    return found


def in_use_scan_warnings(snap: Any) -> list[str]:
    """What the snapshot could not see of the families the in-use sources read: their scan failures, and the
    families the scan did not run (`scan --only`)."""
    from ecrwise.analysis import in_use_sources
    from ecrwise.aws import families

    tables = set(in_use_sources.reads()) - {"images"}
    feeding = {name: f for name, f in families.families().items()
               if tables & {c.__table__ for c in f.record_classes()}}
    services = {s for f in feeding.values() for s in (*f.warn, f.name)}
    out = [f"in use may be incomplete: scan could not collect {f.service} in {f.account}/{f.region}: "
           f"{f.error_code}: {f.message}" for f in snap.failures if f.service in services]
    missing = sorted(n for n in feeding if n not in snap.services)
    if missing:
        out.append(f"in use may be incomplete: snapshot {snap.id} did not scan {', '.join(missing)} "
                   f"(`ecrwise scan --only` left them out); their workloads' images are not known to be in use")
    return out


@app.callback(invoke_without_command=True)
@snapshot_inputs
def in_use_cmd(
    ctx: typer.Context,
    repository: List[str] = typer.Option([], "--repository", metavar="GLOB",
                                         help="Only repositories matching a glob (repeatable)."),
    source: List[str] = typer.Option([], "--source", metavar="NAME",
                                     help="Only images a source found: ecs, eks, lambda, batch, sagemaker, "
                                          "recent_pulls, user_file, … (repeatable)."),
    in_use_file: Optional[Path] = InUseFileOpt,
    rollback_revisions: int = RollbackOpt,
    protect_pulled_within: int = PulledWithinOpt,
    *,
    inputs: SnapshotInputs,
) -> None:
    """Every image in use in a snapshot: its repository, digest, tags, the sources that found it and why."""
    if ctx.invoked_subcommand is not None:
        return
    from ecrwise.analysis.in_use_sources import sources
    from ecrwise.cli.common import open_store
    from ecrwise.cli.snapshot_data import records_of
    from ecrwise.records.ecr import Image
    from ecrwise.report import in_use as view
    from ecrwise.report.render import check_format, render

    check_format("in-use", inputs.fmt)
    known = [s.name for s in sources()]
    unknown = [s for s in source if s not in known]
    if unknown:
        raise UserError(f"--source {unknown[0]}: not an in-use source; one of {', '.join(known)}")
    with open_store(inputs.store) as st:
        snap = st.snapshot(inputs.snapshot)
        records = records_of(st, snap.id)
        found = in_use_of(st, snap, in_use_file, rollback_revisions, protect_pulled_within, records=records)
    tags = {((im.account, im.region, im.repository), im.digest): list(im.tags) for im in records.of(Image)}
    items = []
    for repo, digests in sorted(found.by_repo.items()):
        if repository and not any(fnmatchcase(repo[2], g) for g in repository):
            continue
        for digest, reasons in sorted(digests.items()):
            names = found.sources.get((repo, digest), [])
            if source and not set(source) & set(names):
                continue
            items.append({"account": repo[0], "region": repo[1], "repository": repo[2], "digest": digest,
                          "tags": tags.get((repo, digest), []), "sources": names, "reasons": reasons})
    render(view.in_use_result(items, snap.as_dict(), found.warnings, known), inputs.fmt)
