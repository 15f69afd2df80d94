"""Snapshot records → the engine's images. Pure: the store hands records in, the engine gets images out.

Repositories are keyed `ACCOUNT/REGION/NAME` so that same-named repositories in different regions or
accounts stay apart (the engine itself only ever sees one repository at a time).
"""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import groupby
from operator import itemgetter
from typing import Iterable, Iterator, Mapping, NamedTuple

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


class ImageRow(NamedTuple):
    """One image as the analyses read it from SQL (`image_row`) or from its record: the fields of `records.ecr.Image`
    the checks use, under the same names (so code written for the records reads either), times aware in UTC."""
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None
    last_pulled_at: datetime | None
    storage_class: str
    archived_at: datetime | None
    children: tuple[str, ...]
    subject_digest: str | None
    children_unknown: bool
    size_bytes: int
    is_index: bool


def image_row(row: tuple) -> ImageRow:
    """One row of `engine_image_rows` (store/sql/engine_image_rows.sql) → its `ImageRow` (stored as naive UTC)."""
    (_, _, _, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, children, subject,
     children_unknown, size_bytes, is_index) = row
    return ImageRow(digest, tuple(tags) if tags else (), _utc(pushed_at), _utc(last_pulled_at), storage_class,
                    _utc(archived_at), tuple(children) if children else (), subject, bool(children_unknown),
                    size_bytes or 0, bool(is_index))


def image_row_of(im: Image) -> ImageRow:
    """An Image record's `ImageRow`, the same as `image_row` gives for it from the store."""
    return ImageRow(im.digest, tuple(im.tags), im.pushed_at, im.last_pulled_at, im.storage_class, im.archived_at,
                    tuple(im.children), im.subject_digest, im.manifest_missing and im.is_index, im.size_bytes,
                    im.is_index)


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=timezone.utc)


def lifecycle_image(row: ImageRow, name: str, layers: LayerPairs) -> LifecycleImage:
    """The engine's image of one `image_row` (which has a push time) of repository `name`."""
    (digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, children, subject, children_unknown,
     _, _) = row
    return LifecycleImage(digest=digest, tags=tags, pushed_at=pushed_at, repository=name,
                          last_pulled_at=last_pulled_at, storage_class=storage_class, archived_at=archived_at,
                          layers=layers, manifests=children, subject=subject, children_unknown=children_unknown)


def lifecycle_images_from_rows(rows: Iterable[tuple], layers: Mapping[str, LayerPairs],
                               name: str) -> list[LifecycleImage]:
    """One repository's rows of the SQL fact `engine_image_rows` (store/sql/engine_image_rows.sql), its images'
    layers by digest, and its `ACCOUNT/REGION/NAME` → the engine's images, the same as `lifecycle_images` gives
    from the records (an image without a push time cannot be evaluated, as there)."""
    out = []
    # Built directly, not through `image_row`: `lifecycle simulate` makes one per image of a million.
    for (_, _, _, digest, tags, pushed_at, last_pulled_at, storage_class, archived_at, children, subject,
         children_unknown, _, _) in rows:
        if pushed_at is None:
            continue
        out.append(LifecycleImage(
            digest=digest, tags=tuple(tags) if tags else (), pushed_at=pushed_at.replace(tzinfo=timezone.utc),
            repository=name, last_pulled_at=_utc(last_pulled_at), storage_class=storage_class,
            archived_at=_utc(archived_at), layers=layers.get(digest, ()),
            manifests=tuple(children) if children else (), subject=subject, children_unknown=bool(children_unknown),
        ))
    return out


def repository_groups(images: Iterator[list[tuple]], layers: Iterator[list[tuple]]
                      ) -> Iterator[tuple[Key, list[tuple], dict[str, LayerPairs]]]:
    """Batches of `engine_image_rows` and of `engine_layer_rows`, both ordered by repository → (repository, its
    image rows, its images' layers by digest), one repository at a time: only one repository's rows and a batch
    of each query are held at once."""
    image_groups, layer_groups = _by_repository(images), _by_repository(layers)
    waiting: tuple[Key, list[tuple]] | None = next(layer_groups, None)
    for key, rows in image_groups:
        # Both come in the same order (DuckDB's byte order, which is Python's str order); a repository with
        # layer references and no image (none in a scan) is passed over.
        while waiting is not None and waiting[0] < key:
            waiting = next(layer_groups, None)
        mine: dict[str, list[tuple[str, int]]] = {}
        # A layer the repository's images share is one pair in memory; per repository, so nothing outlives it.
        pairs: dict[tuple[str, int], tuple[str, int]] = {}
        if waiting is not None and waiting[0] == key:
            for _, _, _, image, layer, size in waiting[1]:
                pair = (layer, size)
                mine.setdefault(image, []).append(pairs.setdefault(pair, pair))
            waiting = next(layer_groups, None)
        yield key, rows, {d: tuple(p) for d, p in mine.items()}


def _by_repository(batches: Iterator[list[tuple]]) -> Iterator[tuple[Key, list[tuple]]]:
    """Rows whose first three columns are (account, region, repository), in repository order → one list per
    repository, across batch boundaries."""
    key: Key | None = None
    group: list[tuple] = []
    for rows in batches:
        for k, part in groupby(rows, key=itemgetter(0, 1, 2)):
            if k != key:
                if key is not None:
                    yield key, group
                key, group = k, []
            group.extend(part)
    if key is not None:
        yield key, group


def current_policies(repos: Iterable[Repository]) -> dict[str, str | None]:
    """Each repository's lifecycle policy text as scanned (None: it has none)."""
    return {repo_key(r.account, r.region, r.name): r.lifecycle_policy for r in repos}
