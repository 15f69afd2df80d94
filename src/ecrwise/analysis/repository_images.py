"""One pass over a snapshot's images, a repository at a time: what the storage, lifecycle and registry checks
need of each repository's images, so no check holds the whole snapshot's images (issue 11).

From a store, the images and their layers come from two flat queries read side by side
(store/sql/engine_image_rows.sql, engine_layer_rows.sql, merged by `lifecycle.from_records.repository_groups`);
from records in memory (tests, `ecrwise ecs`), from the Image records and the layer index. Either way each
repository's images become `ImageRow`s and go through the same `summarise` and the same lifecycle engine, and
only the summary and the engine's slim results (`Evaluation.slim`) outlive the repository. Pure.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Collection, Iterator, Mapping, Sequence

from ecrwise.analysis.checks import fact
from ecrwise.analysis.facts import ARCHIVE_ITEM, RESTORE_ITEM, STANDARD_ITEM, Key, in_use
from ecrwise.errors import UserError
from ecrwise.lifecycle.from_records import (ENGINE_TABLES, ImageRow, LayerPairs, image_row, image_row_of,
                                            layer_rows, lifecycle_image, repository_groups, repo_key)
from ecrwise.lifecycle.from_records import layer_index as build_layer_index
from ecrwise.lifecycle.policy import Policy, parse_policy
from ecrwise.lifecycle.simulate import SPOOL_AFTER_ROWS, RepositoryResult, Simulator
from ecrwise.lifecycle.templates import get_template
from ecrwise.records.ecr import Image, ImageLayer, Repository
from ecrwise.records.registry import ReplicationDestination

# How many digests of untagged images a finding lists, and how many large images and layers.
UNTAGGED_LISTED = 20
LARGE_LISTED = 5
# Replication copies what was pushed in the last 30 days (`analysis.replication`).
NEW_LAYER_DAYS = 30


@dataclass(frozen=True)
class LargeImages:
    """A repository's images above the large-image threshold: how many, the largest few, and the largest
    one's biggest layers with how many of the large images hold each."""
    count: int
    images: tuple[ImageRow, ...]  # the largest first (size, then digest), at most LARGE_LISTED
    layers: tuple[tuple[str, int, int], ...]  # (layer digest, size, large images holding it), largest first


@dataclass(frozen=True)
class RepositoryImages:
    """What the checks need of one repository's images."""
    tagged: int
    untagged: int  # leftovers (`untagged_only`), referrers that go with them not counted
    untagged_only_bytes: int
    oldest_untagged_pushed_at: datetime | None
    untagged_digests: tuple[str, ...]  # the first UNTAGGED_LISTED, sorted
    large: LargeImages | None
    new_layer_bytes_30d: int = 0  # distinct layers only images pushed in the last 30 days reference


EMPTY = RepositoryImages(0, 0, 0, None, (), None)


def untagged_only(images: Sequence[Any], layers: Mapping[str, LayerPairs],
                  in_use: Collection[str] | None = None) -> tuple[list[Any], int]:
    """(untagged images, bytes only they hold) for one repository (Image records or
    `ImageRow`s).

    Kept: tagged images, the children of a kept image index (ECR lists them as untagged images, but they
    cannot go while their index stays), and images ECS runs or may roll back to by digest. Bytes only
    untagged images hold = distinct layers they reference that no kept image references.
    """
    by_digest = {i.digest: i for i in images}
    # Referrers (signatures, SBOMs) go with their subject: kept with a kept one, gone with a leftover. One
    # whose subject is not in the repository is kept, as the lifecycle engine keeps it.
    referrers: dict[str, list[str]] = {}
    for i in images:
        if i.subject_digest is not None:
            referrers.setdefault(i.subject_digest, []).append(i.digest)
    kept = ({i.digest for i in images if i.tags} | set(in_use or ())
            | {i.digest for i in images if i.subject_digest is not None and i.subject_digest not in by_digest})
    frontier = list(kept)
    while frontier:  # an index's children, and theirs (nested indexes are rare but legal); referrers
        d = frontier.pop()
        for child in [*(by_digest[d].children if d in by_digest else ()), *referrers.get(d, ())]:
            if child not in kept:
                kept.add(child)
                frontier.append(child)
    gone = [i for i in images if i.digest not in kept]
    # Counted as untagged images: the leftovers themselves, not the referrers that go with them.
    untagged = [i for i in gone if i.subject_digest is None]
    kept_layers = {ld for d in kept for ld, _ in layers.get(d, ())}
    only: dict[str, int] = {}
    for im in gone:
        for ld, size in layers.get(im.digest, ()):
            if ld not in kept_layers:
                only[ld] = size
    return untagged, sum(only.values())


def large_images(images: Sequence[ImageRow], layers: Mapping[str, LayerPairs], threshold: int) -> LargeImages | None:
    """The images (not indexes) above `threshold` bytes, None when there is none."""
    big = sorted((i for i in images if not i.is_index and i.size_bytes > threshold),
                 key=lambda i: (-i.size_bytes, i.digest))
    if not big:
        return None
    refs: dict[str, int] = defaultdict(int)
    for im in big:
        for ld in dict(layers.get(im.digest, ())):  # a manifest may list a layer twice: count it once
            refs[ld] += 1
    top = sorted(dict(layers.get(big[0].digest, ())).items(), key=lambda kv: (-kv[1], kv[0]))[:LARGE_LISTED]
    return LargeImages(len(big), tuple(big[:LARGE_LISTED]), tuple((ld, size, refs[ld]) for ld, size in top))


def new_layer_bytes(images: Sequence[ImageRow], layers: Mapping[str, LayerPairs], since: datetime) -> int:
    """Bytes of distinct layers referenced by images pushed since `since` and by no older one (an image without
    a push time, or layers listed for a digest with no image, count as older)."""
    recent: dict[str, int] = {}
    older: set[str] = set()
    pushed = {im.digest: im.pushed_at for im in images}
    for digest, pairs in layers.items():
        t = pushed.get(digest)
        if t is not None and t >= since:
            recent.update(pairs)
        else:
            older.update(ld for ld, _ in pairs)
    return sum(s for d, s in recent.items() if d not in older)


def summarise(images: Sequence[ImageRow], layers: Mapping[str, LayerPairs], in_use: Collection[str],
              large_threshold: int, new_since: datetime | None) -> RepositoryImages:
    """One repository's `RepositoryImages`; `new_since` None: no replication rule asks for new-layer bytes."""
    untagged, nbytes = untagged_only(images, layers, in_use)
    return RepositoryImages(
        tagged=sum(1 for i in images if i.tags), untagged=len(untagged),
        untagged_only_bytes=nbytes,
        oldest_untagged_pushed_at=min((i.pushed_at for i in untagged if i.pushed_at), default=None),
        untagged_digests=tuple(sorted(i.digest for i in untagged)[:UNTAGGED_LISTED]),
        large=large_images(images, layers, large_threshold),
        new_layer_bytes_30d=new_layer_bytes(images, layers, new_since) if new_since is not None else 0)


@dataclass
class RepositoryPass:
    """Every repository's `RepositoryImages`, what `template` would do to each repository without a lifecycle
    policy, and what each repository's own (valid) policy does today."""
    images: dict[Key, RepositoryImages]
    template: dict[Key, RepositoryResult]
    policies: dict[Key, tuple[Policy, RepositoryResult]]

    def of(self, key: Key) -> RepositoryImages:
        return self.images.get(key, EMPTY)


def _groups(ctx: Any) -> Iterator[tuple[Key, list[ImageRow], Mapping[str, LayerPairs]]]:
    """(repository, its images, their layers by digest), one repository at a time."""
    r = ctx.records
    if r.stored:
        tables = list(ENGINE_TABLES)
        for key, rows, layers in repository_groups(r.fact_batches("engine_image_rows", tables),
                                                   r.fact_batches("engine_layer_rows", tables)):
            yield key, [image_row(row) for row in rows], layers
        return
    # Records in memory: the layer table read here, as the store's path reads it, so both declare the same reads.
    index = build_layer_index(layer_rows(r.of(ImageLayer)))
    by_repo: dict[Key, list[ImageRow]] = defaultdict(list)
    for im in r.of(Image):
        by_repo[(im.account, im.region, im.repository)].append(image_row_of(im))
    for key, rows in by_repo.items():
        yield key, rows, index.get(key, {})


@fact(reads=("repositories", "images", "image_layers", "ecr_replication_destinations"), uses=(in_use,))
def repository_pass(ctx: Any, template: str, large_threshold: int) -> RepositoryPass:
    """The one pass over the snapshot's images (`RepositoryPass`): `template` is the shipped policy the
    repositories without one are simulated with, `large_threshold` the bytes above which an image is large."""
    book, now = ctx.book, ctx.now
    used = in_use(ctx)
    new_since = now - timedelta(days=NEW_LAYER_DAYS) if ctx.records.of(ReplicationDestination) else None
    given = parse_policy(get_template(template), source=f"template {template}")
    # Which policy each repository is simulated with, and under which outcome: the template where it has none,
    # its own where that parses (an invalid stored policy is `ecrwise lifecycle lint`'s business).
    chosen: dict[str, tuple[Key, Policy, bool]] = {}
    for repo in ctx.records.of(Repository):
        key = (repo.account, repo.region, repo.name)
        if repo.lifecycle_policy is None:
            chosen[repo_key(*key)] = (key, given, True)
            continue
        try:
            chosen[repo_key(*key)] = (key, parse_policy(repo.lifecycle_policy, source=repo.name), False)
        except UserError:
            continue
    # One simulator per region (each region has its own prices), at the snapshot's time; restores priced too, so
    # a finding can show a transition net of the 90-day minimum (archive_economics).
    sims: dict[str, Simulator] = {}

    def simulator(region: str) -> Simulator:
        if region not in sims:
            sims[region] = Simulator(now, book.price(region, STANDARD_ITEM).usd, book.price(region, ARCHIVE_ITEM).usd,
                                     restore_price_gb=book.price(region, RESTORE_ITEM).usd, slim=True,
                                     spool_after=SPOOL_AFTER_ROWS)
        return sims[region]

    summaries: dict[Key, RepositoryImages] = {}
    pending = dict(chosen)
    for key, rows, layers in _groups(ctx):
        summaries[key] = summarise(rows, layers, used.digests(key), large_threshold, new_since)
        name = repo_key(*key)
        if name in pending:
            _, policy, _ = pending.pop(name)
            simulator(key[1]).add(name, policy, [lifecycle_image(i, name, layers.get(i.digest, ()))
                                                 for i in rows if i.pushed_at is not None])
    for name, (key, policy, _) in pending.items():  # repositories without an image
        simulator(key[1]).add(name, policy, ())
    results = {r.repository: r for sim in sims.values() for r in sim.items}
    template_results: dict[Key, RepositoryResult] = {}
    policy_results: dict[Key, tuple[Policy, RepositoryResult]] = {}
    for name, (key, policy, is_template) in chosen.items():
        if is_template:
            template_results[key] = results[name]
        else:
            policy_results[key] = (policy, results[name])
    return RepositoryPass(summaries, template_results, policy_results)
