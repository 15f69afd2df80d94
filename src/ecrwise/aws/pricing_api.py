"""AWS Price List API: the products behind the price book's items, for `ecrwise prices update`.

`pricing:GetProducts` through botocore's paginator (NextToken), one query per service and region with
TERM_MATCH filters on `regionCode` (and the product family where the service's catalogue is large).
The Price List Query API is served from us-east-1 (also eu-central-1, ap-south-1); any region's prices are
queried from there (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html).
Parsing is in `ecrwise.pricing.price_list` (pure).
"""
from __future__ import annotations

from typing import Any


from ecrwise.aws.session import Account, reaching

IAM_ACTIONS = ["pricing:GetProducts"]
IAM_GROUP = "billing"  # in `iam-policy --billing`, not in the scan's --read-only policy

PRICING_REGION = "us-east-1"
# (service code, extra TERM_MATCH filters): the price-book items each query covers.
QUERIES: list[tuple[str, dict[str, str]]] = [
    ("AmazonECR", {}),                                  # TimedStorage-ByteHrs
    ("AmazonEC2", {"productFamily": "NAT Gateway"}),    # NatGateway-Hours / -Bytes
    ("AmazonVPC", {}),                                  # VpcEndpoint-Hours / -Bytes, PublicIPv4:InUseAddress
    ("AmazonECS", {"productFamily": "Compute"}),        # Fargate vCPU and GB hours
]


def filters(region: str, extra: dict[str, str]) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in {"regionCode": region, **extra}.items()]


def get_products(account: Account, service_code: str, region: str, extra: dict[str, str] | None = None) -> list[str]:
    """Every PriceList string GetProducts returns for one service in one region."""
    client = account.client("pricing", PRICING_REGION)
    out: list[str] = []
    with reaching("the Price List API", "`prices update` needs pricing:GetProducts"):
        for page in client.get_paginator("get_products").paginate(
                ServiceCode=service_code, Filters=filters(region, extra or {}), FormatVersion="aws_v1"):
            out.extend(page.get("PriceList") or [])
    return out


def fetch_price_lists(account: Account, regions: list[str]) -> dict[str, Any]:
    """{"<service>/<region>": [PriceList strings]} for every query and region."""
    return {f"{svc}/{region}": get_products(account, svc, region, extra)
            for region in regions for svc, extra in QUERIES}
