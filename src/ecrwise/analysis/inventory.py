"""The repository inventory: per repository, what ECR stores and bills, and what it costs a month.

Billed storage counts each distinct layer digest of a repository once (ECR stores a shared layer once);
`naive_bytes` is the per-image sum a shell loop over DescribeImages reports, shown beside it.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, Iterable

from ecrwise.pricing.book import PriceBook
from ecrwise.pricing.money import storage_month
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository

SORT_KEYS = ("cost", "size", "images", "name")


@dataclass
class RepoRow:
    account: str
    region: str
    repository: str
    images: int
    tagged_images: int
    untagged_images: int
    stored_bytes: int
    naive_bytes: int
    monthly_cost: float  # unrounded; rounded to cents only on output
    last_pushed_at: datetime | None
    last_pulled_at: datetime | None
    last_pulled_source: str | None
    pulls_30d: int
    lifecycle_policy: bool
    tags: dict[str, str]
    arithmetic: dict[str, Any] = field(default_factory=dict)
    above_median: bool = False
    # Signatures, SBOMs and attestations (images with a subject): stored and billed like any image, but
    # not "untagged images" (ECR removes them with their subject).
    referrers: int = 0
    # Distinct-layer bytes per storage class, each class counted on its own (an image's layers are in
    # the class its imageStatus says).
    standard_bytes: int = 0
    archive_bytes: int = 0
    # Images whose manifest ECR did not return: their bytes are unknown and not in stored_bytes.
    unknown_images: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.repository)


@dataclass
class Inventory:
    rows: list[RepoRow]
    median_monthly_cost: float
    warnings: list[str]

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "repositories": len(self.rows),
            "images": sum(r.images for r in self.rows),
            "stored_bytes": sum(r.stored_bytes for r in self.rows),
            "naive_bytes": sum(r.naive_bytes for r in self.rows),
            "monthly_cost": sum(r.monthly_cost for r in self.rows),
            "median_monthly_cost": self.median_monthly_cost,
            "above_median": [f"{r.region}/{r.repository}" for r in self.rows if r.above_median],
        }


def distinct_layer_bytes(layers: Iterable[tuple[str, int]]) -> int:
    """Bytes ECR stores for a set of (digest, size) references: each digest once."""
    seen: dict[str, int] = {}
    for digest, size in layers:  # a digest listed twice with two sizes counts its largest, as the SQL does
        seen[digest] = max(size, seen.get(digest, size))
    return sum(seen.values())


@dataclass(frozen=True)
class RepoFacts:
    """What one repository's row is computed from; `store/sql/repository_facts.sql` computes the same in SQL
    (tests/unit/test_sql_facts.py holds the two equal)."""
    account: str
    region: str
    repository: str
    images: int
    tagged_images: int
    stored_bytes: int
    naive_bytes: int
    last_pushed_at: datetime | None
    last_pulled_at: datetime | None  # the latest lastRecordedPullTime of its images
    last_pull_day: date | None  # the last day the pull metric saw a pull
    pulls_30d: int
    lifecycle_policy: bool
    tags: dict[str, str]
    untagged_images: int = 0  # untagged and no referrer (a referrer goes with its subject)
    referrers: int = 0
    standard_bytes: int = 0
    archive_bytes: int = 0
    unknown_images: int = 0


def repository_facts(repos: list[Repository], images: list[Image], layers: list[ImageLayer],
                     pulls: list[PullMetric]) -> list[RepoFacts]:
    """The facts of every repository, from records (the reference the SQL query is tested against)."""
    by_repo_images: dict[tuple[str, str, str], list[Image]] = defaultdict(list)
    for img in images:
        by_repo_images[(img.account, img.region, img.repository)].append(img)
    by_repo_layers: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for layer in layers:
        layers_of = by_repo_layers[(layer.account, layer.region, layer.repository)]
        layers_of[layer.layer_digest] = max(layer.size, layers_of.get(layer.layer_digest, layer.size))
    image_layers: dict[tuple[str, str, str], dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    for layer in layers:
        image_layers[(layer.account, layer.region, layer.repository)][layer.image_digest].append(
            (layer.layer_digest, layer.size))
    by_repo_pulls: dict[tuple[str, str, str], list[PullMetric]] = defaultdict(list)
    for p in pulls:
        by_repo_pulls[(p.account, p.region, p.repository)].append(p)
    out = []
    for repo in repos:
        key = (repo.account, repo.region, repo.name)
        imgs = by_repo_images.get(key, [])
        metric_days = by_repo_pulls.get(key, [])
        out.append(RepoFacts(
            repo.account, repo.region, repo.name, len(imgs), sum(1 for i in imgs if i.tags),
            sum(by_repo_layers.get(key, {}).values()), sum(i.size_bytes for i in imgs),
            max((i.pushed_at for i in imgs if i.pushed_at), default=None),
            max((i.last_pulled_at for i in imgs if i.last_pulled_at), default=None),
            max((p.day for p in metric_days if p.pulls > 0), default=None),
            sum(p.pulls for p in metric_days), repo.lifecycle_policy is not None, repo.tags,
            untagged_images=sum(1 for i in imgs if not i.tags and i.subject_digest is None),
            referrers=sum(1 for i in imgs if i.subject_digest is not None),
            standard_bytes=_class_bytes(imgs, image_layers.get(key, {}), "standard"),
            archive_bytes=_class_bytes(imgs, image_layers.get(key, {}), "archive"),
            unknown_images=sum(1 for i in imgs if i.manifest_missing)))
    return out


# The tables store/sql/repository_facts.sql reads.
INVENTORY_TABLES = (Repository, Image, ImageLayer, PullMetric)


def repository_facts_from_rows(rows: Iterable[tuple]) -> list[RepoFacts]:
    """The rows of the SQL fact `repository_facts` → RepoFacts, as `repository_facts` gives from the records
    (times stored as naive UTC; a test holds the two equal)."""
    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None

    return [RepoFacts(a, r, n, images, tagged, stored, naive, utc(pushed), utc(pulled), day, pulls, policy,
                      json.loads(tags) if isinstance(tags, str) else (tags or {}), *classes)
            for a, r, n, images, tagged, stored, naive, pushed, pulled, day, pulls, policy, tags, *classes in rows]


def build_inventory(repos: list[Repository], images: list[Image], layers: list[ImageLayer],
                    pulls: list[PullMetric], prices: PriceBook) -> Inventory:
    return inventory_from_facts(repository_facts(repos, images, layers, pulls), prices)


def inventory_from_facts(facts: Iterable[RepoFacts], prices: PriceBook) -> Inventory:
    """Price the facts and mark the repositories above the median cost."""
    warnings: list[str] = []
    fallback_regions: set[str] = set()
    rows = []
    for f in facts:
        price = prices.price(f.region, "ecr_storage_gb_month")
        if price.fallback:
            fallback_regions.add(f.region)
        cost, arithmetic = storage_month(f.stored_bytes, price)
        last_pull, source = _last_pulled(f.last_pulled_at, f.last_pull_day)
        rows.append(RepoRow(
            account=f.account, region=f.region, repository=f.repository,
            images=f.images, tagged_images=f.tagged_images, untagged_images=f.untagged_images,
            referrers=f.referrers, standard_bytes=f.standard_bytes, archive_bytes=f.archive_bytes,
            unknown_images=f.unknown_images,
            stored_bytes=f.stored_bytes, naive_bytes=f.naive_bytes, monthly_cost=cost,
            last_pushed_at=f.last_pushed_at, last_pulled_at=last_pull, last_pulled_source=source,
            pulls_30d=f.pulls_30d, lifecycle_policy=f.lifecycle_policy, tags=f.tags, arithmetic=arithmetic,
        ))
    for region in sorted(fallback_regions):
        warnings.append(f"no price for {region} in the price book: priced at {prices.fallback_region}'s "
                        f"(override with --price-file)")
    for r in rows:
        if r.unknown_images:
            warnings.append(f"{r.region}/{r.repository}: {r.unknown_images} image(s) without a manifest from ECR: "
                            "their bytes are not counted and an index's children are held, not guessed")
    median = statistics.median([r.monthly_cost for r in rows]) if rows else 0.0
    for r in rows:
        r.above_median = r.monthly_cost > median
    return Inventory(rows, median, warnings)


def _class_bytes(images: list[Image], layers_of: dict[str, list[tuple[str, int]]], storage_class: str) -> int:
    return distinct_layer_bytes(pair for im in images if im.storage_class == storage_class
                                for pair in layers_of.get(im.digest, ()))


def _last_pulled(recorded: datetime | None, last_day: date | None) -> tuple[datetime | None, str | None]:
    if recorded is not None:
        return recorded, "describe-images"
    # ECR records lastRecordedPullTime only since 2021; fall back to the last day the metric saw a pull.
    if last_day is not None:
        return datetime.combine(last_day, time(0), tzinfo=timezone.utc), "cloudwatch-day"
    return None, None


def sort_rows(rows: list[RepoRow], by: str) -> list[RepoRow]:
    keys = {
        "cost": lambda r: (-r.monthly_cost, -r.stored_bytes, r.repository, r.region),
        "size": lambda r: (-r.stored_bytes, r.repository, r.region),
        "images": lambda r: (-r.images, r.repository, r.region),
        "name": lambda r: (r.repository, r.region, r.account),
    }
    return sorted(rows, key=keys[by])


