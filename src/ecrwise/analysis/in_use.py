"""Which ECR images are in use and must never be expired: pure reasoning over a snapshot's ECS records.

In use means: the image a running task runs (by the digest the task reports, and by tag), the images of
the task definitions of every current service deployment, the newest N revisions of each service's family
(rollback targets, N=2 by default), and images a user lists in a file (EKS, Lambda, other accounts).
Tags are resolved to digests against the snapshot's images, because a tag can move and a digest cannot.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ecrwise.errors import UserError
from ecrwise.records.ecr import Image
from ecrwise.records.ecs import (EcsContainerDefinition, EcsDeployment, EcsService, EcsTask, EcsTaskContainer,
                                 EcsTaskDefinition)

# ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPO[:TAG][@DIGEST]
_ECR_REF = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")

RepoRef = tuple[str, str, str]  # (account, region, repository)


@dataclass(frozen=True)
class ImageRef:
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image_ref(ref: str) -> ImageRef | None:
    """An ECR image reference, or None for images from elsewhere (Docker Hub, public ECR, …)."""
    m = _ECR_REF.match(ref.strip())
    if not m:
        return None
    tag = m["tag"] if m["tag"] or m["digest"] else "latest"  # no tag and no digest means :latest
    return ImageRef(m["account"], m["region"], m["repo"], tag, m["digest"])


@dataclass
class InUse:
    """digest → reasons, per repository."""
    by_repo: dict[RepoRef, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    warnings: list[str] = field(default_factory=list)

    def add(self, repo: RepoRef, digest: str, reason: str) -> None:
        reasons = self.by_repo[repo].setdefault(digest, [])
        if reason not in reasons:
            reasons.append(reason)

    def digests(self, repo: RepoRef) -> dict[str, list[str]]:
        return self.by_repo.get(repo, {})


def load_in_use_file(path: Path) -> list[tuple[str, str]]:
    """`{"images": ["URI", {"image": "URI", "reason": "…"}, …]}` → [(uri, reason)]."""
    from ecrwise.inputs import load_document

    doc = load_document(path, what="in-use file")
    items = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise UserError(f"{path}: images: expected a list of image URIs")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append((item, f"listed in {Path(path).name}"))
        elif isinstance(item, dict) and isinstance(item.get("image"), str):
            reason = item.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise UserError(f"{path}: images[{i}].reason: expected a string")
            out.append((item["image"], reason or f"listed in {Path(path).name}"))
        else:
            raise UserError(f"{path}: images[{i}]: expected an image URI or {{\"image\": URI, \"reason\": …}}")
        if parse_image_ref(out[-1][0]) is None:
            raise UserError(f"{path}: images[{i}]: {out[-1][0]!r} is not an ECR image URI "
                            "(ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY[:TAG|@sha256:DIGEST])")
    return out


def find_in_use(images: Iterable[Image], services: Iterable[EcsService], deployments: Iterable[EcsDeployment],
                task_definitions: Iterable[EcsTaskDefinition], containers: Iterable[EcsContainerDefinition],
                tasks: Iterable[EcsTask], task_containers: Iterable[EcsTaskContainer], *,
                rollback_revisions: int = 2, extra: Iterable[tuple[str, str]] = ()) -> InUse:
    result = InUse()
    by_tag: dict[tuple[RepoRef, str], str] = {}
    known: set[tuple[RepoRef, str]] = set()
    for im in images:
        key = (im.account, im.region, im.repository)
        known.add((key, im.digest))
        for tag in im.tags:
            by_tag[(key, tag)] = im.digest

    def add_ref(ref_text: str, reason: str, digest: str | None = None) -> None:
        ref = parse_image_ref(ref_text)
        if ref is None:
            return
        repo = (ref.account, ref.region, ref.repository)
        wanted = digest or ref.digest
        if wanted:
            if (repo, wanted) in known:
                result.add(repo, wanted, reason)
            return
        resolved = by_tag.get((repo, ref.tag or "latest"))
        if resolved:
            result.add(repo, resolved, reason)
        elif any(r == repo for r, _ in known):
            result.warnings.append(f"{ref_text} ({reason}): tag not found in the snapshot")

    images_of: dict[str, list[str]] = defaultdict(list)
    for c in containers:
        images_of[c.task_definition_arn].append(c.image)

    # Running tasks: the digest they report is what they run, whatever the tag now points to.
    running = {t.task_arn: t for t in tasks if t.last_status in ("RUNNING", "PENDING", "PROVISIONING", "ACTIVATING")
               or t.desired_status == "RUNNING"}
    for c in task_containers:
        task = running.get(c.task_arn)
        if task is None or not c.image:
            continue
        add_ref(c.image, f"running task {task.task_arn.rsplit('/', 1)[-1]}", c.image_digest)

    # Current deployments of every service.
    service_names = {s.service_arn: s.name for s in services}
    for d in deployments:
        if d.status in ("PRIMARY", "ACTIVE") and d.task_definition_arn:
            for ref in images_of.get(d.task_definition_arn, []):
                add_ref(ref, f"service {service_names.get(d.service_arn, d.service_arn)} deployment "
                             f"{d.task_definition_arn.rsplit('/', 1)[-1]}")

    # Rollback targets: the newest revisions of each service's family.
    families = {s.task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]: s.name
                for s in services if s.task_definition_arn}
    revisions: dict[tuple[str, str, str], list[EcsTaskDefinition]] = defaultdict(list)
    for td in task_definitions:
        if td.family in families and td.status == "ACTIVE":
            revisions[(td.account, td.region, td.family)].append(td)
    for (_, _, family), tds in revisions.items():
        for td in sorted(tds, key=lambda t: t.revision, reverse=True)[:rollback_revisions]:
            for ref in images_of.get(td.task_definition_arn, []):
                add_ref(ref, f"rollback target {family}:{td.revision} of service {families[family]}")

    for ref, reason in extra:
        add_ref(ref, reason)
    return result
