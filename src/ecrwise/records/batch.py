"""AWS Batch records: the container images of active job definitions."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchJobImage:
    """One container image of an ACTIVE job definition revision (`containerProperties`, `ecsProperties` task
    containers, `eksProperties` pod containers or a multi-node range's container)."""
    __table__ = "batch_job_images"
    account: str
    region: str
    job_definition_name: str
    revision: int
    status: str
    container: str  # where in the definition: "container", "ecs/NAME", "eks/NAME", "node/RANGE"
    image: str
