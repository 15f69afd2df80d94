"""The only code that changes lifecycle policies and protection tags in ECR.

Every function here is idempotent: re-running it against a repository already in the wanted state changes
nothing. Callers (`ecrwise.remediate.lifecycle_rollout`) plan first and write a backup before calling them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import botocore.exceptions

from ecrwise.aws.manifests import ACCEPTED_MEDIA_TYPES
from ecrwise.aws.session import Account, error_code
from ecrwise.aws.tasks import Task
from ecrwise.records.ecr import Image, ImageLayer, Repository

# Read by `ecrwise iam-policy --apply` (the read actions come from the collectors).
APPLY_IAM_ACTIONS = [
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:GetLifecyclePolicy",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:PutImage",
    "ecr:BatchDeleteImage",
]


@dataclass(frozen=True)
class TagChange:
    repository: str
    digest: str
    tag: str
    outcome: str  # added | already-present | removed | already-absent | kept-last-tag | image-gone


def get_policy(ecr: Any, repository: str, registry_id: str | None = None) -> str | None:
    kw = {"registryId": registry_id} if registry_id else {}
    try:
        return ecr.get_lifecycle_policy(repositoryName=repository, **kw)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


def set_policy(ecr: Any, repository: str, text: str | None, registry_id: str | None = None) -> bool:
    """Make the repository's policy exactly `text` (None: no policy). Returns whether anything changed."""
    kw = {"registryId": registry_id} if registry_id else {}
    current = get_policy(ecr, repository, registry_id)
    if current == text:
        return False
    if text is None:
        try:
            ecr.delete_lifecycle_policy(repositoryName=repository, **kw)
        except ecr.exceptions.LifecyclePolicyNotFoundException:
            return False
    else:
        ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=text, **kw)
    return True


def image_tags(ecr: Any, repository: str, digest: str) -> list[str] | None:
    try:
        details = [d for page in ecr.get_paginator("describe_images").paginate(
            repositoryName=repository, imageIds=[{"imageDigest": digest}]) for d in page.get("imageDetails", [])]
    except botocore.exceptions.ClientError as e:
        if error_code(e) == "ImageNotFoundException":
            return None
        raise
    return list(details[0].get("imageTags", [])) if details else None


def add_tag(ecr: Any, repository: str, digest: str, tag: str) -> TagChange:
    """Tag an image by re-putting its own manifest: the digest (and so the image) stays the same."""
    tags = image_tags(ecr, repository, digest)
    if tags is None:
        return TagChange(repository, digest, tag, "image-gone")
    if tag in tags:
        return TagChange(repository, digest, tag, "already-present")
    resp = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}],
                               acceptedMediaTypes=ACCEPTED_MEDIA_TYPES)
    if not resp.get("images"):
        return TagChange(repository, digest, tag, "image-gone")
    img = resp["images"][0]
    try:
        ecr.put_image(repositoryName=repository, imageManifest=img["imageManifest"],
                      imageManifestMediaType=img.get("imageManifestMediaType"), imageTag=tag, imageDigest=digest)
    except ecr.exceptions.ImageAlreadyExistsException:
        return TagChange(repository, digest, tag, "already-present")
    return TagChange(repository, digest, tag, "added")


def remove_tag(ecr: Any, repository: str, digest: str, tag: str) -> TagChange:
    """Remove one tag from an image, but never its only tag: in ECR that deletes the image."""
    tags = image_tags(ecr, repository, digest)
    if tags is None:
        return TagChange(repository, digest, tag, "image-gone")
    if tag not in tags:
        return TagChange(repository, digest, tag, "already-absent")
    if tags == [tag]:
        return TagChange(repository, digest, tag, "kept-last-tag")
    # By tag alone: with a digest as well, the stand-in (moto) deletes the whole image. The tag was on this
    # digest a moment ago, and a tag names one image in a repository.
    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
    return TagChange(repository, digest, tag, "removed")


class LiveState:
    """Live ECR and ECS state for `lifecycle apply`'s re-verification, read by the collectors' own code (so
    apply sees the estate exactly as a scan would) and never from the plan. ECS is read once per account and
    region."""

    def __init__(self, account_for: Callable[[str], Account]) -> None:
        self.account_for = account_for
        self._ecs: dict[tuple[str, str], list[Any]] = {}

    def repository(self, account: str, region: str, name: str
                   ) -> tuple[Repository | None, list[Image], list[ImageLayer]]:
        """The repository (with its policy and tags), its images and their layers; (None, [], []) if gone."""
        from ecrwise.aws import ecr as collector

        acct = self.account_for(account)
        client = acct.client("ecr", region)
        try:
            found = [r for page in client.get_paginator("describe_repositories").paginate(repositoryNames=[name])
                     for r in page.get("repositories", [])]
        except client.exceptions.RepositoryNotFoundException:
            return None, [], []
        if not found:
            return None, [], []
        result = collector.collect_repository(acct, region, found[0])
        repos = [r for r in result.records if isinstance(r, Repository)]
        return (repos[0] if repos else None, [r for r in result.records if isinstance(r, Image)],
                [r for r in result.records if isinstance(r, ImageLayer)])

    def ecs_records(self, account: str, region: str) -> list[Any]:
        """Every ECS record of one account and region (services, deployments, task definitions, tasks)."""
        from ecrwise.aws import ecs as collector

        key = (account, region)
        if key not in self._ecs:
            records: list[Any] = []
            pending: list[Task] = [collector.region_task(self.account_for(account), region)]
            while pending:
                res = pending.pop().fn()
                records.extend(res.records)
                pending.extend(res.tasks)
            self._ecs[key] = records
        return self._ecs[key]
