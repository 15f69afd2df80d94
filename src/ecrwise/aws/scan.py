"""Runs a scan: accounts × regions × repositories in one bounded thread pool, failures recorded not fatal."""
from __future__ import annotations

import concurrent.futures as cf
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import botocore.exceptions

from ecrwise.aws import accounts as accounts_mod
from ecrwise.aws import eks
from ecrwise.aws.families import families
from ecrwise.aws.session import Account, base_session, check_regions, error_code, is_denied
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.errors import AwsUnavailable, UserError
from ecrwise.records.scan import ScanFailure

# --all-regions lists the regions (the collectors declare the rest; `aws.iam` gathers them all).
IAM_ACTIONS = ["ec2:DescribeRegions"]



@dataclass
class ScanOptions:
    profile: str | None = None
    regions: list[str] = field(default_factory=list)
    all_regions: bool = False
    role_arns: list[str] = field(default_factory=list)
    org_role: str | None = None
    only: list[str] = field(default_factory=lambda: list(families()))  # every collector family
    workers: int = 16
    # Kubernetes clusters named by kubeconfig context (`--kube-context`, "all" for every one), besides EKS.
    kube_contexts: list[str] = field(default_factory=list)
    kubeconfig: str | None = None


@dataclass
class ScanResult:
    started_at: datetime
    accounts: list[str]
    regions: list[str]
    services: list[str]
    records: dict[type, list[Any]]
    failures: list[ScanFailure]


ProgressHook = Callable[[int, int], None]  # (done, known)


def resolve_regions(session: Any, opts: ScanOptions, account: Account | None = None) -> list[str]:
    if opts.all_regions:
        try:
            ec2 = (account.session if account else session).client("ec2", region_name=session.region_name or "us-east-1")
            return sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])
        except botocore.exceptions.ClientError as e:
            raise AwsUnavailable(f"--all-regions: cannot list regions ({error_code(e)})") from None
    regions = list(dict.fromkeys(opts.regions)) or [session.region_name or "us-east-1"]
    check_regions(session, regions)
    return regions


def run_scan(opts: ScanOptions, progress: ProgressHook | None = None) -> ScanResult:
    known = families()
    unknown = [s for s in opts.only if s not in known]
    if unknown:
        raise UserError(f"--only {unknown[0]}: unknown service family (known: {', '.join(known)})")
    kube_roots = eks.context_tasks(opts.kubeconfig, opts.kube_contexts)  # a bad context fails before any call
    started = datetime.now(timezone.utc)
    session = base_session(opts.profile)
    home = session.region_name or (opts.regions[0] if opts.regions else "us-east-1")
    accounts, assume_failures = accounts_mod.resolve_accounts(session, home, opts.role_arns, opts.org_role)
    failures = [ScanFailure(arn.split(":")[4], "*", "sts", code, msg) for arn, code, msg in assume_failures]
    if not accounts:
        raise AwsUnavailable("no account could be reached: " + "; ".join(f"{f.message}" for f in failures))
    regions = resolve_regions(session, opts)

    roots = [known[svc].region_task(acct, region) for acct in accounts for region in regions for svc in opts.only]
    roots += kube_roots
    records: dict[type, list[Any]] = defaultdict(list)
    root_outcomes: list[bool] = []  # True = ran, False = denied

    with cf.ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="ecrwise-scan") as pool:
        pending: dict[cf.Future[TaskResult], Task] = {pool.submit(t.fn): t for t in roots}
        done_count = 0
        while pending:
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                task = pending.pop(fut)
                done_count += 1
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 — every failure is recorded, none stops the scan
                    failures.append(_failure(task, exc))
                    if task.region_root:
                        root_outcomes.append(not is_denied(exc))
                    continue
                if task.region_root:
                    root_outcomes.append(True)
                for rec in res.records:
                    records[type(rec)].append(rec)
                for code, msg in res.problems:
                    failures.append(ScanFailure(task.account, task.region, task.service, code, msg))
                for t in res.tasks:
                    pending[pool.submit(t.fn)] = t
            if progress:
                progress(done_count, done_count + len(pending))

    if root_outcomes and not any(root_outcomes):
        codes = sorted({f.error_code for f in failures})
        raise AwsUnavailable(f"access denied in every account and region scanned ({', '.join(codes)}); "
                             f"see `ecrwise iam-policy --read-only` for the permissions a scan needs")
    return ScanResult(started, sorted({a.account_id for a in accounts}), regions, list(opts.only),
                      dict(records), failures)


def _failure(task: Task, exc: BaseException) -> ScanFailure:
    code = error_code(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        msg = exc.response.get("Error", {}).get("Message", str(exc))
    else:
        msg = str(exc)
    return ScanFailure(task.account, task.region, task.service, code, f"{task.label}: {msg}")
