"""Which ECR images are in use and must never be expired: pure reasoning over a snapshot's records.

In use is what the in-use sources say (`analysis.in_use_sources`, one module each: ECS running tasks, current
deployments and rollback targets; Lambda function versions; Batch job definitions; SageMaker models and
endpoints; images pulled recently, when asked; the images a user lists in a file for workloads the scan does
not see).
Each source names image references with a reason; tags are resolved to digests against the snapshot's images
here, because a tag can move and a digest cannot.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from ecrwise.analysis.in_use_sources import InUseQuery, sources
from ecrwise.errors import UserError
from ecrwise.records import Records
from ecrwise.records.ecr import Image
from ecrwise.records.image_ref import ImageRef, InvalidImageRef
from ecrwise.records.image_ref import parse_image_ref as _parse_any

RepoRef = tuple[str, str, str]  # (account, region, repository)


def parse_image_ref(ref: str) -> ImageRef | None:
    """An ECR image reference, or None for images from elsewhere (Docker Hub, public ECR, …) and for text
    that is no image reference at all."""
    try:
        parsed = _parse_any(ref)
    except InvalidImageRef:
        return None
    return parsed if parsed.is_ecr else None


@dataclass
class InUse:
    """digest → reasons, per repository."""
    by_repo: dict[RepoRef, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    warnings: list[str] = field(default_factory=list)
    # (repo, digest) → the names of the in-use sources that found it (`ecrwise in-use` lists them).
    sources: dict[tuple[RepoRef, str], list[str]] = field(default_factory=dict)

    def add(self, repo: RepoRef, digest: str, reason: str, source: str | None = None) -> None:
        reasons = self.by_repo[repo].setdefault(digest, [])
        if reason not in reasons:
            reasons.append(reason)
        if source:
            names = self.sources.setdefault((repo, digest), [])
            if source not in names:
                names.append(source)

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


def find_in_use(records: Records, *, extra: Iterable[tuple[str, str]] = (), rollback_revisions: int = 2,
                pulled_within_days: int = 0, now: datetime | None = None) -> InUse:
    """Every in-use source's references resolved to the snapshot's image digests, with their reasons.
    `extra` are (image reference, reason) pairs a user lists; `rollback_revisions` how many of a workload's
    newest definitions count as rollback targets; `pulled_within_days` protects images pulled that recently
    (before `now`). A reference names its registry's account and region, so a workload in one scanned account
    protects the image in another account's repository (`ImageRef.repo_key`)."""
    result = InUse()
    query = InUseQuery(records, tuple(extra), rollback_revisions, pulled_within_days, now)
    refs = [(ref, reason, digest, source.name) for source in sources()
            for ref, reason, digest in source.references(query)]
    if not refs:
        return result  # no source names an image: no need to index a million images' tags
    by_tag: dict[tuple[RepoRef, str], str] = {}
    known: set[tuple[RepoRef, str]] = set()
    for im in records.of(Image):
        key = (im.account, im.region, im.repository)
        known.add((key, im.digest))
        for tag in im.tags:
            by_tag[(key, tag)] = im.digest
    repos = {r for r, _ in known}

    def add_ref(ref_or_text: str | ImageRef, reason: str, digest: str | None, source: str) -> None:
        ref = parse_image_ref(ref_or_text) if isinstance(ref_or_text, str) else ref_or_text
        if ref is None or not ref.is_ecr:
            return
        repo = ref.repo_key
        wanted = digest or ref.digest
        if wanted:
            if (repo, wanted) in known:
                result.add(repo, wanted, reason, source)
            return
        resolved = by_tag.get((repo, ref.tag or "latest"))
        if resolved:
            result.add(repo, resolved, reason, source)
        elif repo in repos:
            text = ref_or_text if isinstance(ref_or_text, str) else ref_or_text.name + f":{ref.tag}"
            result.warnings.append(f"{text} ({reason}): tag not found in the snapshot")

    for ref, reason, digest, source in refs:
        add_ref(ref, reason, digest, source)
    return result
