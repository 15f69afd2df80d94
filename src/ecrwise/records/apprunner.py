"""App Runner records: the source image of each image-based service."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AppRunnerService:
    """A service whose source is an image repository (`SourceConfiguration.ImageRepository`)."""
    __table__ = "apprunner_services"
    account: str
    region: str
    name: str
    arn: str
    status: str  # RUNNING | PAUSED | OPERATION_IN_PROGRESS | CREATE_FAILED | DELETE_FAILED
    image: str  # ImageIdentifier: REPOSITORY_URI:TAG or @sha256:… (the image it deploys)
    repository_type: str  # ECR | ECR_PUBLIC
    auto_deploy: bool = False  # AutoDeploymentsEnabled: a push to the tag redeploys the service
