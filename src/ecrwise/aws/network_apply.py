"""The EC2 and CloudWatch calls behind `ecrwise network fix / undo / alarms --apply`, for
`ecrwise.remediate.network_apply`, which decides what to change and journals it. Nothing here knows about
plans, journals or findings; it reads and changes what it is told to.
"""
from __future__ import annotations

import time
from typing import Any

import botocore.exceptions

from ecrwise.aws import network as collector
from ecrwise.aws.session import Account, error_code

# What fix/undo/alarms --apply call beyond the scan's read-only actions (`ecrwise iam-policy --apply`).
APPLY_IAM_ACTIONS = [
    "ec2:DescribeTags",
    "cloudwatch:DescribeAlarms",
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateVpcEndpoint",
    "ec2:ModifyVpcEndpoint",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "cloudwatch:PutMetricAlarm",
]


def live_records(account: Account, region: str, vpc_id: str) -> list[Any]:
    """The VPC's network records read now (not from a snapshot): what plans for --apply are made from."""
    return collector.collect_vpc_records(account, region, vpc_id)


def live_endpoints(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    """The VPC's endpoints now, without deleted ones (AWS lists those for a while; they route nothing)."""
    return [e for e in collector._pages(ec2, "describe_vpc_endpoints", "VpcEndpoints",
                                        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
            if (e.get("State") or "").lower() not in collector.GONE_STATES]


def security_groups(ec2: Any, vpc_id: str, tags: dict[str, str], name: str | None = None) -> list[dict[str, Any]]:
    """The VPC's security groups carrying these tags (and this name), every page of them."""
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, *({"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items())]
    if name:
        filters.append({"Name": "group-name", "Values": [name]})
    return collector._pages(ec2, "describe_security_groups", "SecurityGroups", Filters=filters)


def tags_of(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def api_error(exc: BaseException) -> str | None:
    """`Code: message` when `exc` is an error AWS answered with, else None (not an AWS refusal)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', exc)}"
    return None


def merge_tag(ec2: Any, resource: str, key: str, values: list[str]) -> None:
    current: list[str] = []
    for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource]},
                                        {"Name": "key", "Values": [key]}]).get("Tags", []):
        current = t["Value"].split()
    merged = current + [v for v in values if v not in current]
    ec2.create_tags(Resources=[resource], Tags=[{"Key": key, "Value": " ".join(merged)}])


def wait_gone(ec2: Any, endpoint_ids: list[str], wait_seconds: float, poll: float) -> None:
    """Endpoint deletion is asynchronous; their network interfaces hold the security group until it ends."""
    deadline = time.monotonic() + wait_seconds
    pending = list(endpoint_ids)
    while pending and time.monotonic() < deadline:
        try:
            eps = ec2.describe_vpc_endpoints(VpcEndpointIds=pending).get("VpcEndpoints", [])
        except botocore.exceptions.ClientError as e:
            if error_code(e).startswith("InvalidVpcEndpointId"):
                return  # already gone entirely
            raise
        pending = [e["VpcEndpointId"] for e in eps if (e.get("State") or "").lower() not in ("deleted",)]
        if pending:
            time.sleep(poll)


def delete_group(ec2: Any, group_id: str, wait_seconds: float, poll: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            ec2.delete_security_group(GroupId=group_id)
            return
        except botocore.exceptions.ClientError as e:
            if error_code(e) != "DependencyViolation" or time.monotonic() >= deadline:
                raise
            time.sleep(poll)


def existing_alarms(account: Account, region: str, names: list[str]) -> dict[str, dict[str, Any]]:
    cw = account.client("cloudwatch", region)
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNames=names[i:i + 100],
                                                                  AlarmTypes=["MetricAlarm"]):
            for alarm in page.get("MetricAlarms", []):
                out[alarm["AlarmName"]] = alarm
    return out
