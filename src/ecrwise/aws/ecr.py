"""ECR collector: repositories, images, manifests (for layers), lifecycle policies, repository tags.

Per repository it makes about four requests: DescribeImages (1,000 images a page), BatchGetImage (100
images a call), GetLifecyclePolicy and ListTagsForResource. It never computes money.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import botocore.exceptions

from ecrwise.aws.manifests import ACCEPTED_MEDIA_TYPES, INDEX_TYPES, parse_manifest
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.aws import metrics
from ecrwise.aws.families import CollectorFamily
from ecrwise.records import ecr as ecr_records
from ecrwise.records.ecr import Image, ImageLayer, Repository

IAM_ACTIONS = [
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:ListTagsForResource",
]

BATCH_GET_MAX = 100  # BatchGetImage takes at most 100 image ids.


def region_task(account: Account, region: str, *, with_metrics: bool = True) -> Task:
    def run() -> TaskResult:
        client = account.client("ecr", region)
        repos = []
        for page in client.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1000}):
            repos.extend(page["repositories"])
        tasks = [repository_task(account, region, r) for r in repos]
        if with_metrics and repos:
            tasks.extend(metrics.pull_count_tasks(account, region, [r["repositoryName"] for r in repos]))
        return TaskResult(tasks=tasks)

    return Task("ecr", account.account_id, region, f"{account.account_id}/{region}", run, region_root=True)


def repository_task(account: Account, region: str, repo: dict[str, Any]) -> Task:
    name = repo["repositoryName"]
    return Task("ecr", account.account_id, region, f"{region}/{name}",
                lambda: collect_repository(account, region, repo))


def collect_repository(account: Account, region: str, repo: dict[str, Any]) -> TaskResult:
    client = account.client("ecr", region)
    name = repo["repositoryName"]
    registry = repo.get("registryId", account.account_id)
    result = TaskResult()

    details: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_images").paginate(
            repositoryName=name, registryId=registry, PaginationConfig={"PageSize": 1000}):
        details.extend(page["imageDetails"])

    manifests: dict[str, tuple[str, str | None]] = {}
    digests = [d["imageDigest"] for d in details]
    failures: dict[str, dict[str, Any]] = {}
    for i in range(0, len(digests), BATCH_GET_MAX):
        _batch_get(client, name, registry, digests[i:i + BATCH_GET_MAX], manifests, failures)
    # An image whose body came back empty (or not at all) is asked for once more, on its own call: a body
    # missing from a large batch is read again rather than its size guessed from imageSizeInBytes.
    active = {d["imageDigest"] for d in details if (d.get("imageStatus") or "ACTIVE").upper() == "ACTIVE"}
    missing = [d for d in digests if d in active and not manifests.get(d, ("", None))[0]]
    if missing:
        for i in range(0, len(missing), BATCH_GET_MAX):
            _batch_get(client, name, registry, missing[i:i + BATCH_GET_MAX], manifests, failures)
    for digest, f in failures.items():
        if manifests.get(digest, ("", None))[0]:
            continue  # the second call found it
        # Archived images, for one, may not return a manifest; their size is estimated below.
        result.problems.append((f.get("failureCode", "ImageFailure"),
                                f"{name}@{digest}: {f.get('failureReason')}"))

    try:
        policy = client.get_lifecycle_policy(repositoryName=name, registryId=registry)["lifecyclePolicyText"]
    except client.exceptions.LifecyclePolicyNotFoundException:
        policy = None  # absent is normal

    try:
        tags = {t["Key"]: t["Value"] for t in
                client.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags", [])}
    except botocore.exceptions.ClientError as e:
        tags = {}
        result.problems.append((e.response["Error"].get("Code", "ClientError"), f"{name}: tags: {e}"))

    enc = repo.get("encryptionConfiguration", {}) or {}
    result.records.append(Repository(
        account=account.account_id, region=region, name=name, arn=repo["repositoryArn"],
        uri=repo.get("repositoryUri", ""), created_at=repo.get("createdAt"),
        tag_mutability=repo.get("imageTagMutability", "MUTABLE"),
        scan_on_push=bool((repo.get("imageScanningConfiguration") or {}).get("scanOnPush", False)),
        encryption=enc.get("encryptionType", "AES256"), tags=tags, lifecycle_policy=policy,
    ))
    for d in details:
        digest = d["imageDigest"]
        text, media_type = manifests.get(digest, ("", d.get("imageManifestMediaType")))
        media_type = media_type or d.get("imageManifestMediaType")
        parsed = parse_manifest(text, media_type)
        layers = parsed.layers
        status = (d.get("imageStatus") or "ACTIVE").upper()
        missing_body = not parsed.present and digest in active
        if missing_body:
            # No body even on the second call. Booking imageSizeInBytes as an opaque layer would count an
            # index's children twice and lose their link to it: the image is recorded as unknown instead.
            layers = []
            if digest not in failures:
                result.problems.append(("ManifestMissing", f"{name}@{digest}: BatchGetImage returned no manifest "
                                        f"({media_type or 'unknown media type'}); its size and children are unknown"))
        elif not parsed.sized and not parsed.is_index:
            # No layer sizes to be had (schema 1, archived, unreadable): count the reported size as one
            # opaque layer so the image still costs something; it cannot be deduplicated.
            layers = [(f"unresolved:{digest}", int(d.get("imageSizeInBytes") or 0))]
        result.records.append(Image(
            account=account.account_id, region=region, repository=name, digest=digest,
            tags=sorted(d.get("imageTags", [])), pushed_at=_utc(d.get("imagePushedAt")),
            last_pulled_at=_utc(d.get("lastRecordedPullTime")),
            reported_size_bytes=d.get("imageSizeInBytes"),
            media_type=parsed.media_type, artifact_media_type=d.get("artifactMediaType") or parsed.artifact_type,
            size_bytes=sum(s for _, s in layers),
            storage_class="archive" if status in ("ARCHIVED", "ACTIVATING") else "standard",
            archived_at=_utc(d.get("lastArchivedAt")),
            children=parsed.children, is_index=parsed.is_index or (missing_body and media_type in INDEX_TYPES),
            subject_digest=d.get("subjectManifestDigest") or parsed.subject, manifest_missing=missing_body,
        ))
        for layer_digest, size in layers:
            result.records.append(ImageLayer(account.account_id, region, name, digest, layer_digest, size))
    return result


def _batch_get(client: Any, name: str, registry: str, digests: list[str],
               manifests: dict[str, tuple[str, str | None]], failures: dict[str, dict[str, Any]]) -> None:
    resp = client.batch_get_image(repositoryName=name, registryId=registry,
                                  imageIds=[{"imageDigest": d} for d in digests],
                                  acceptedMediaTypes=ACCEPTED_MEDIA_TYPES)
    for img in resp.get("images", []):
        digest = img["imageId"]["imageDigest"]
        if img.get("imageManifest") or digest not in manifests:
            manifests[digest] = (img.get("imageManifest", ""), img.get("imageManifestMediaType"))
        if img.get("imageManifest"):
            failures.pop(digest, None)
    for f in resp.get("failures", []):
        digest = f.get("imageId", {}).get("imageDigest")
        failures[digest or f"?{len(failures)}"] = f


def _utc(t: datetime | None) -> datetime | None:
    from datetime import timezone
    return t.astimezone(timezone.utc) if t is not None else None


# The CloudWatch RepositoryPullCount metrics are part of this family (`with_metrics`); their tasks report
# failures as "cloudwatch", which the pull and network commands warn about.
FAMILY = CollectorFamily(name="ecr", records=(ecr_records,), iam_actions=(*IAM_ACTIONS, *metrics.IAM_ACTIONS),
                         region_task=region_task, warn=("cloudwatch",))
