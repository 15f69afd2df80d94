"""SageMaker records: the inference images of models and the images endpoints have deployed."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SageMakerImage:
    """A model container's image (`kind` "model": PrimaryContainer or one of Containers) or an endpoint
    variant's deployed image (`kind` "endpoint": ProductionVariants[].DeployedImages[], whose ResolvedImage
    is the digest it runs)."""
    __table__ = "sagemaker_images"
    account: str
    region: str
    kind: str  # model | endpoint
    name: str  # the model or endpoint name
    container: str  # "primary", "container N", or the endpoint's variant name
    image: str  # the image as specified
    resolved_image: str | None = None  # REPO@sha256:… (endpoints only)
