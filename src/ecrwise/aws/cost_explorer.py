"""Cost Explorer: daily cost per usage type for ECR, VPC endpoints / public IPv4 and NAT gateways.

`GetCostAndUsage` (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html)
with DAILY granularity, grouped by the USAGE_TYPE dimension, filtered to the services these usage types bill
under. The Cost Explorer API is served from us-east-1 only. It has no botocore paginator, so NextPageToken is
followed here. Each request costs $0.01 (https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/).
Parsing is in `ecrwise.billing.trend` (pure).
"""
from __future__ import annotations

from datetime import date
from typing import Any


from ecrwise.aws.session import Account, reaching
from ecrwise.errors import UserError

IAM_ACTIONS = ["ce:GetCostAndUsage"]
IAM_GROUP = "billing"  # in `iam-policy --billing`, not in the scan's --read-only policy

CE_REGION = "us-east-1"
# Cost Explorer's SERVICE dimension values: NAT gateway usage is billed under "EC2 - Other".
SERVICES = ["Amazon EC2 Container Registry (ECR)", "Amazon Virtual Private Cloud", "EC2 - Other"]
METRICS = ["UnblendedCost", "UsageQuantity"]
MAX_PAGES = 100


def request(start: date, end: date, services: list[str] | None = None) -> dict[str, Any]:
    """The GetCostAndUsage request: [start, end) in whole days."""
    if end <= start:
        raise UserError(f"--since {start} / --until {end}: the end must be after the start")
    return {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()}, "Granularity": "DAILY",
            "Metrics": METRICS, "GroupBy": [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": services or SERVICES}}}


def daily_cost_pages(account: Account, start: date, end: date,
                     services: list[str] | None = None) -> list[dict[str, Any]]:
    """Every response page, as returned."""
    client = account.client("ce", CE_REGION)
    params = request(start, end, services)
    pages: list[dict[str, Any]] = []
    with reaching("Cost Explorer", "the billing commands need ce:GetCostAndUsage"):
        while len(pages) < MAX_PAGES:
            page = client.get_cost_and_usage(**params)
            pages.append(page)
            token = page.get("NextPageToken")
            if not token:
                break
            params["NextPageToken"] = token
    return pages
