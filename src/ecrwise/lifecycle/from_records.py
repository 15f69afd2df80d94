"""Snapshot records → the engine's images. Pure: the store hands records in, the engine gets images out.

Repositories are keyed `ACCOUNT/REGION/NAME` so that same-named repositories in different regions or
accounts stay apart (the engine itself only ever sees one repository at a time).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable

from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.records.ecr import Image, ImageLayer, Repository


def repo_key(account: str, region: str, name: str) -> str:
    return f"{account}/{region}/{name}"


def split_key(key: str) -> tuple[str, str, str]:
    account, region, name = key.split("/", 2)
    return account, region, name


def lifecycle_images(images: Iterable[Image], layers: Iterable[ImageLayer]) -> list[LifecycleImage]:
    by_image: dict[tuple[str, str, str, str], list[tuple[str, int]]] = defaultdict(list)
    for layer in layers:
        by_image[(layer.account, layer.region, layer.repository, layer.image_digest)].append(
            (layer.layer_digest, layer.size))
    out = []
    for im in images:
        if im.pushed_at is None:
            continue  # ECR always reports a push time; a record without one cannot be evaluated
        out.append(LifecycleImage(
            digest=im.digest, tags=tuple(im.tags), pushed_at=im.pushed_at,
            repository=repo_key(im.account, im.region, im.repository),
            last_pulled_at=im.last_pulled_at, storage_class=im.storage_class, archived_at=im.archived_at,
            layers=tuple(by_image.get((im.account, im.region, im.repository, im.digest), ())),
            manifests=tuple(im.children),
            subject=im.subject_digest, children_unknown=im.manifest_missing and im.is_index,
        ))
    return out


def lifecycle_images_from_rows(rows: Iterable[tuple]) -> list[LifecycleImage]:
    """The rows of the SQL fact `engine_images` (store/sql/engine_images.sql) → the engine's images, the same
    as `lifecycle_images` gives from the records (times stored as naive UTC)."""
    def utc(t: datetime | None) -> datetime | None:
        return None if t is None else t.replace(tzinfo=timezone.utc)

    out = []
    for (account, region, repository, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at,
         children, subject, children_unknown, layer_digests, layer_sizes) in rows:
        out.append(LifecycleImage(
            digest=digest, tags=tuple(tags or ()), pushed_at=pushed_at.replace(tzinfo=timezone.utc),
            repository=repo_key(account, region, repository),
            last_pulled_at=utc(last_pulled_at), storage_class=storage_class, archived_at=utc(archived_at),
            layers=tuple(zip(layer_digests, layer_sizes)) if layer_digests else (),
            manifests=tuple(children or ()), subject=subject, children_unknown=bool(children_unknown),
        ))
    return out


def current_policies(repos: Iterable[Repository]) -> dict[str, str | None]:
    """Each repository's lifecycle policy text as scanned (None: it has none)."""
    return {repo_key(r.account, r.region, r.name): r.lifecycle_policy for r in repos}
