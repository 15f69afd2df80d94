"""Amazon Inspector records: whether it scans ECR in an account and region, and what its coverage says of
each ECR image (how many ECS tasks or EKS pods run it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class InspectorStatus:
    """Inspector's ECR scanning state in one account and region (BatchGetAccountStatus `resourceState.ecr`)."""
    __table__ = "inspector_status"
    account: str
    region: str
    ecr_status: str  # ENABLED | DISABLED | … (AWS's State.status); UNKNOWN when the account was not reported


@dataclass(frozen=True, slots=True)
class InspectorImageCoverage:
    """One ECR image Inspector covers (ListCoverage, resourceType AWS_ECR_CONTAINER_IMAGE)."""
    __table__ = "inspector_image_coverage"
    account: str
    region: str
    repository: str
    digest: str
    in_use_count: int | None = None  # ECS tasks or EKS pods running the image now
    last_in_use_at: datetime | None = None
    image_pulled_at: datetime | None = None
