"""AWS Batch collector: the container images of every ACTIVE job definition revision. Read-only.

One paginated DescribeJobDefinitions (status ACTIVE) per region. Images are read from containerProperties,
ecsProperties.taskProperties[].containers, eksProperties.podProperties (containers and initContainers) and
multi-node nodeRangeProperties (https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDefinition.html).
"""
from __future__ import annotations

from typing import Any, Iterator

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import batch as batch_records
from ecrwise.records.batch import BatchJobImage

IAM_ACTIONS = ["batch:DescribeJobDefinitions"]


def job_definition_images(jd: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, image) for every container of one job definition."""
    if (jd.get("containerProperties") or {}).get("image"):
        yield "container", jd["containerProperties"]["image"]
    for task in (jd.get("ecsProperties") or {}).get("taskProperties") or []:
        for c in task.get("containers") or []:
            if c.get("image"):
                yield f"ecs/{c.get('name') or '?'}", c["image"]
    pod = (jd.get("eksProperties") or {}).get("podProperties") or {}
    for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        if c.get("image"):
            yield f"eks/{c.get('name') or '?'}", c["image"]
    for rng in (jd.get("nodeProperties") or {}).get("nodeRangeProperties") or []:
        if (rng.get("container") or {}).get("image"):
            yield f"node/{rng.get('targetNodes', '?')}", rng["container"]["image"]


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        client = account.client("batch", region)
        result = TaskResult()
        for page in client.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
            for jd in page.get("jobDefinitions", []):
                if (jd.get("status") or "ACTIVE") != "ACTIVE":
                    continue
                for where, image in job_definition_images(jd):
                    result.records.append(BatchJobImage(
                        account=account.account_id, region=region, job_definition_name=jd["jobDefinitionName"],
                        revision=int(jd.get("revision") or 0), status=jd.get("status") or "ACTIVE",
                        container=where, image=image))
        return result

    return Task("batch", account.account_id, region, f"{account.account_id}/{region} batch", run, region_root=True)


FAMILY = CollectorFamily(name="batch", records=(batch_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("batch",))
