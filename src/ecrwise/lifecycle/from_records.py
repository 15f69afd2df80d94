"""Snapshot records → the engine's images. Pure: the store hands records in, the engine gets images out.

Repositories are keyed `ACCOUNT/REGION/NAME` so that same-named repositories in different regions or
accounts stay apart (the engine itself only ever sees one repository at a time).
"""
from __future__ import annotations

from datetime import timezone
from typing import Iterable, Iterator, Mapping

from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.records.ecr import Image, ImageLayer, Repository


def repo_key(account: str, region: str, name: str) -> str:
    return f"{account}/{region}/{name}"


def split_key(key: str) -> tuple[str, str, str]:
    account, region, name = key.split("/", 2)
    return account, region, name


Key = tuple[str, str, str]  # (account, region, repository)
LayerPairs = tuple[tuple[str, int], ...]  # an image's layers: (layer digest, size) in manifest order
LayerIndex = dict[Key, dict[str, LayerPairs]]  # repository → image digest → its layers


def layer_index(rows: Iterable[tuple[str, str, str, str, str, int]]) -> LayerIndex:
    """(account, region, repository, image digest, layer digest, size) rows in stored order → each image's layers
    in that order. A layer many images share is one (digest, size) pair in memory, not one per image."""
    grouped: dict[Key, dict[str, list[tuple[str, int]]]] = {}
    pairs: dict[tuple[str, int], tuple[str, int]] = {}
    for account, region, repository, image, layer, size in rows:
        by_image = grouped.get((account, region, repository))
        if by_image is None:
            by_image = grouped[(account, region, repository)] = {}
        mine = by_image.get(image)
        if mine is None:
            mine = by_image[image] = []
        pair = (layer, size)
        mine.append(pairs.setdefault(pair, pair))
    return {k: {d: tuple(p) for d, p in v.items()} for k, v in grouped.items()}


def layer_rows(layers: Iterable[ImageLayer]) -> Iterator[tuple[str, str, str, str, str, int]]:
    """ImageLayer records as the rows `layer_index` takes."""
    return ((x.account, x.region, x.repository, x.image_digest, x.layer_digest, x.size) for x in layers)


def lifecycle_images(images: Iterable[Image], layers: Iterable[ImageLayer]) -> list[LifecycleImage]:
    return lifecycle_images_indexed(images, layer_index(layer_rows(layers)))


def lifecycle_images_indexed(images: Iterable[Image], index: LayerIndex) -> list[LifecycleImage]:
    """The engine's images of `images`, their layers from `index` (the pairs are shared, not copied)."""
    keys: dict[Key, str] = {}
    out = []
    for im in images:
        if im.pushed_at is None:
            continue  # ECR always reports a push time; a record without one cannot be evaluated
        key = (im.account, im.region, im.repository)
        name = keys.get(key)
        if name is None:
            name = keys[key] = repo_key(*key)
        out.append(LifecycleImage(
            digest=im.digest, tags=tuple(im.tags), pushed_at=im.pushed_at, repository=name,
            last_pulled_at=im.last_pulled_at, storage_class=im.storage_class, archived_at=im.archived_at,
            layers=index.get(key, {}).get(im.digest, ()),
            manifests=tuple(im.children),
            subject=im.subject_digest, children_unknown=im.manifest_missing and im.is_index,
        ))
    return out


# The tables store/sql/engine_image_rows.sql and engine_layer_rows.sql read.
ENGINE_TABLES = (Image, ImageLayer)


def lifecycle_images_from_rows(rows: Iterable[tuple], layers: Mapping[str, LayerPairs],
                               name: str) -> list[LifecycleImage]:
    """One repository's rows of the SQL fact `engine_image_rows` (store/sql/engine_image_rows.sql), its images'
    layers by digest, and its `ACCOUNT/REGION/NAME` → the engine's images, the same as `lifecycle_images` gives
    from the records (times stored as naive UTC)."""
    out = []
    for (_, _, _, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, children, subject,
         children_unknown) in rows:
        out.append(LifecycleImage(
            digest=digest, tags=tuple(tags) if tags else (), pushed_at=pushed_at.replace(tzinfo=timezone.utc),
            repository=name,
            last_pulled_at=None if last_pulled_at is None else last_pulled_at.replace(tzinfo=timezone.utc),
            storage_class=storage_class,
            archived_at=None if archived_at is None else archived_at.replace(tzinfo=timezone.utc),
            layers=layers.get(digest, ()), manifests=tuple(children) if children else (), subject=subject,
            children_unknown=bool(children_unknown),
        ))
    return out


def current_policies(repos: Iterable[Repository]) -> dict[str, str | None]:
    """Each repository's lifecycle policy text as scanned (None: it has none)."""
    return {repo_key(r.account, r.region, r.name): r.lifecycle_policy for r in repos}
