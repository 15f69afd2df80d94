"""App Runner collector: the image each image-based service deploys. Read-only.

Per region where App Runner is offered: ListServices, then DescribeService per service for
`SourceConfiguration.ImageRepository` (`ImageIdentifier`, `ImageRepositoryType` ECR or ECR_PUBLIC) and
`AutoDeploymentsEnabled` (https://docs.aws.amazon.com/apprunner/latest/api/API_ImageRepository.html,
https://docs.aws.amazon.com/apprunner/latest/api/API_SourceConfiguration.html). App Runner is a regional
service offered in fewer regions than ECR (https://docs.aws.amazon.com/general/latest/gr/apprunner.html);
regions without its endpoint are skipped, not reported as failures.
"""
from __future__ import annotations

from functools import cache

import boto3
from botocore.exceptions import UnknownRegionError

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import apprunner as apprunner_records
from ecrwise.records.apprunner import AppRunnerService

IAM_ACTIONS = ["apprunner:ListServices", "apprunner:DescribeService"]


@cache
def offered_regions(partition: str = "aws") -> frozenset[str]:
    """The regions botocore's endpoint data lists for App Runner in one partition (aws, aws-cn, aws-us-gov…)."""
    return frozenset(boto3.session.Session().get_available_regions("apprunner", partition_name=partition))


@cache
def offered(region: str) -> bool:
    """Whether botocore's endpoint data lists App Runner in `region`, looked up in the region's own partition. A
    region botocore does not know yet (newer than its data) is tried: a failure there is reported like any
    other, rather than the region being skipped unseen."""
    try:
        partition = boto3.session.Session().get_partition_for_region(region)
    except UnknownRegionError:
        return True
    return region in offered_regions(partition)


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        result = TaskResult()
        if not offered(region):
            return result
        client = account.client("apprunner", region)
        token = None
        while True:  # ListServices has no botocore paginator
            page = client.list_services(**({"NextToken": token} if token else {}))
            for s in page.get("ServiceSummaryList", []):
                if s.get("Status") == "DELETED":
                    continue
                svc = client.describe_service(ServiceArn=s["ServiceArn"])["Service"]
                source = svc.get("SourceConfiguration") or {}
                repo = source.get("ImageRepository")
                if repo and repo.get("ImageIdentifier"):
                    result.records.append(AppRunnerService(
                        account.account_id, region, svc["ServiceName"], svc["ServiceArn"], svc.get("Status", "?"),
                        repo["ImageIdentifier"], repo.get("ImageRepositoryType", "ECR"),
                        bool(source.get("AutoDeploymentsEnabled"))))
            token = page.get("NextToken")
            if not token:
                return result

    return Task("apprunner", account.account_id, region, f"{account.account_id}/{region} apprunner", run,
                region_root=True)


FAMILY = CollectorFamily(name="apprunner", records=(apprunner_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("apprunner",))
