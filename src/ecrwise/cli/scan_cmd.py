"""`ecrwise scan`: run the collectors with a progress bar on stderr, save the snapshot, summarise it."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ecrwise import __version__
from ecrwise.aws.families import family_names
from ecrwise.aws.scan import ScanOptions, run_scan
from ecrwise.cli.common import Fmt
from ecrwise.records.ecr import Image, Repository
from ecrwise.records.kubernetes import KubeCluster, KubeWorkloadImage, load_kube_file
from ecrwise.report.output import stderr_console
from ecrwise.report.render import Result, check_format, render
from ecrwise.store import Snapshot, check_store, save_scan


def run_and_save(*, profile: str | None, regions: list[str], all_regions: bool, role_arns: list[str],
                 org_role: str | None, only: list[str] | None, workers: int, store: Path, fmt: Fmt,
                 quiet: bool = False, kube_contexts: list[str] | None = None, kubeconfig: str | None = None,
                 kube_pods: list[str] | None = None) -> Snapshot:
    check_format("scan", fmt)
    check_store(store)  # a --store that is not an ecrwise store, or is broken, fails before the collecting
    # Kubernetes: `--kube-pods` files are read (and refused, exit 2) before anything is scanned.
    kube_files = [load_kube_file(spec) for spec in kube_pods or []]
    opts = ScanOptions(profile=profile, regions=regions, all_regions=all_regions, role_arns=role_arns,
                       org_role=org_role, only=only or family_names(), workers=workers,
                       kube_contexts=list(kube_contexts or []), kubeconfig=kubeconfig)
    show = sys.stderr.isatty() and not quiet
    if show:
        with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks (account × region × repository)"),
                      TimeElapsedColumn(), console=stderr_console(), transient=True) as bar:
            task = bar.add_task("scan", total=None)
            result = run_scan(opts, lambda done, known: bar.update(task, completed=done, total=known))
    else:
        result = run_scan(opts)
    for cluster, images in kube_files:  # recorded exactly as a live cluster's lists
        result.records.setdefault(KubeCluster, []).append(cluster)
        result.records.setdefault(KubeWorkloadImage, []).extend(images)
    snap = save_scan(store, result.started_at, result.accounts, result.regions, result.services, result.records,
                     result.failures, __version__)
    counts = Counter({cls.__table__: len(recs) for cls, recs in result.records.items()})
    summary = {
        "snapshot": snap.id, "store": str(store), "accounts": snap.accounts, "regions": snap.regions,
        "repositories": counts.get(Repository.__table__, 0), "images": counts.get(Image.__table__, 0),
        "failures": len(snap.failures),
        # Every record table's row count, so a user sees at a glance what each family collected.
        "records": dict(sorted(counts.items())),
    }
    warnings = [f"{f.account}/{f.region} {f.service}: {f.error_code}: {f.message}" for f in snap.failures]
    if quiet:
        return snap
    render(Result("scan", [], summary, warnings, snap.as_dict(), data=snap, shape="scan"), fmt)
    return snap
