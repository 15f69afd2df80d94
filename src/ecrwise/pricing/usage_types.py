"""AWS usage types without their region prefix: what the bill (CUR 2.0, FOCUS, Cost Explorer) and the Price
List both name a charge by. Pure.

Usage types carry a region prefix (`USE1-`, `EUC1-`, `APN1-`, and `EU-` for eu-west-1), except some services'
us-east-1 types, which have none (`NatGateway-Hours`); both forms are matched by stripping the prefix first
(Cost Explorer's USAGE_TYPE dimension:
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetDimensionValues.html).
"""
from __future__ import annotations

import re

REGION_PREFIX = r"^(?:[A-Z]{2,4}[0-9]+|EU)-"
_PREFIX_RE = re.compile(REGION_PREFIX)


def usage_family(usage_type: str | None) -> str:
    """`EUC1-TimedStorage-ByteHrs` → `TimedStorage-ByteHrs`; an unprefixed type is returned as it is."""
    return _PREFIX_RE.sub("", usage_type or "", count=1)
