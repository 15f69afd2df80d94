"""Amazon Inspector collector: its coverage of ECR images, whose `inUseCount` and `lastInUseAt` say how many
ECS tasks or EKS pods run an image (https://docs.aws.amazon.com/inspector/v2/APIReference/API_EcrContainerImageMetadata.html).
Read-only.

Per region: BatchGetAccountStatus for the account's ECR scanning state
(https://docs.aws.amazon.com/inspector/v2/APIReference/API_BatchGetAccountStatus.html); when it is ENABLED,
ListCoverage filtered to resourceType AWS_ECR_CONTAINER_IMAGE
(https://docs.aws.amazon.com/inspector/v2/APIReference/API_ListCoverage.html). An image's resourceId ends in
its digest; its repository is `resourceMetadata.ecrRepository.name`. Coverage is listed for the calling
account (and, called from a delegated administrator, its members: their images keep their own accountId).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import inspector as inspector_records
from ecrwise.records.inspector import InspectorImageCoverage, InspectorStatus

IAM_ACTIONS = ["inspector2:BatchGetAccountStatus", "inspector2:ListCoverage"]
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64})$")


def ecr_status(answer: dict[str, Any], account_id: str) -> str:
    """The account's ECR scanning state from a BatchGetAccountStatus answer (UNKNOWN when it is not listed)."""
    for a in answer.get("accounts", []):
        if a.get("accountId") == account_id:
            return ((a.get("resourceState") or {}).get("ecr") or {}).get("status") or "UNKNOWN"
    return "UNKNOWN"


def coverage_record(region: str, r: dict[str, Any]) -> InspectorImageCoverage | None:
    meta = r.get("resourceMetadata") or {}
    image = meta.get("ecrImage") or {}
    name = (meta.get("ecrRepository") or {}).get("name")
    m = _DIGEST.search(r.get("resourceId", ""))
    if not name or not m:
        return None
    return InspectorImageCoverage(r.get("accountId", ""), region, name, m.group(1), image.get("inUseCount"),
                                  _utc(image.get("lastInUseAt")), _utc(image.get("imagePulledAt")))


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(timezone.utc)


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        client = account.client("inspector2", region)
        result = TaskResult()
        status = ecr_status(client.batch_get_account_status(accountIds=[account.account_id]), account.account_id)
        result.records.append(InspectorStatus(account.account_id, region, status))
        if status != "ENABLED":
            return result
        criteria = {"resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}]}
        for page in client.get_paginator("list_coverage").paginate(filterCriteria=criteria):
            for r in page.get("coveredResources", []):
                rec = coverage_record(region, r)
                if rec is not None:
                    result.records.append(rec)
        return result

    return Task("inspector", account.account_id, region, f"{account.account_id}/{region} inspector", run,
                region_root=True)


FAMILY = CollectorFamily(name="inspector", records=(inspector_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("inspector",))
