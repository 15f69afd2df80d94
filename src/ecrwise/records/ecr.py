"""ECR records: repositories, images, the layers each image references, pull metrics."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Repository:
    __table__ = "repositories"
    account: str
    region: str
    name: str
    arn: str
    uri: str
    created_at: datetime | None
    tag_mutability: str
    scan_on_push: bool
    encryption: str
    tags: dict[str, str] = field(default_factory=dict)
    # The policy text exactly as ECR returned it; None when the repository has none (which is normal).
    lifecycle_policy: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    __table__ = "images"
    account: str
    region: str
    repository: str
    digest: str
    tags: list[str]
    pushed_at: datetime | None
    last_pulled_at: datetime | None
    # What DescribeImages reports (imageSizeInBytes). Kept for comparison; sizes ecrwise bills come from layers.
    reported_size_bytes: int | None
    media_type: str | None
    artifact_media_type: str | None
    # Sum of the compressed sizes of the layers in this image's manifest (0 for an image index).
    size_bytes: int
    # "standard" or "archive" (ECR's archive storage class).
    storage_class: str = "standard"
    archived_at: datetime | None = None
    # For an image index (multi-arch): the digests of the child manifests it references.
    children: list[str] = field(default_factory=list)
    is_index: bool = False
    # A referrer (signature, SBOM, attestation): the digest of its subject image (DescribeImages'
    # subjectManifestDigest, or the manifest's `subject`). ECR removes it with its subject.
    subject_digest: str | None = None
    # True when ECR returned no manifest body even on a second BatchGetImage: layers, size and (for an
    # index) children are unknown; the image is recorded with no bytes rather than a guess.
    manifest_missing: bool = False


@dataclass(frozen=True, slots=True)
class ImageLayer:
    """One (image, layer) reference. A repository's billed bytes = sum over its *distinct* layer digests."""
    __table__ = "image_layers"
    account: str
    region: str
    repository: str
    image_digest: str
    layer_digest: str
    size: int


@dataclass(frozen=True, slots=True)
class PullMetric:
    """A daily sum of AWS/ECR RepositoryPullCount."""
    __table__ = "pull_metrics"
    account: str
    region: str
    repository: str
    day: date
    pulls: int
