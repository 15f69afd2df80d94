"""Facts several check families share, each computed once per `CheckSession` (see `analysis.checks`). Pure.

Call a fact with the context you hold: `inventory(ctx)`, `pulls(ctx, threshold, now)`. Each declares the
tables it reads; a check using one declares it in `facts=` and gets those tables added to its `reads`.
Family-specific facts live in their family module (`storage_index`, `network_audit`).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from ecrwise.analysis.checks import fact
from ecrwise.analysis import in_use_sources
from ecrwise.analysis.in_use import InUse, find_in_use
from ecrwise.analysis.inventory import (INVENTORY_TABLES, Inventory, build_inventory, inventory_from_facts,
                                        repository_facts_from_rows)
from ecrwise.analysis.pulls import PullsReport, analyse_pulls
from ecrwise.errors import UserError
from ecrwise.lifecycle.from_records import LayerIndex, layer_rows, lifecycle_images_indexed, repo_key
from ecrwise.lifecycle.from_records import layer_index as build_layer_index
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, parse_policy
from ecrwise.lifecycle.simulate import RepositoryResult, simulate
from ecrwise.lifecycle.templates import get_template
from ecrwise.pricing.book import PriceBook
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository

STANDARD_ITEM = "ecr_storage_gb_month"
ARCHIVE_ITEM = "ecr_archive_storage_gb_month"
RESTORE_ITEM = "ecr_archive_restore_gb"

Key = tuple[str, str, str]  # (account, region, repository)


@fact(reads=("image_layers",))
def layer_index(ctx: Any) -> LayerIndex:
    """Each image's layers, (digest, size) in manifest order, by repository and image digest: the one copy of the
    layer table that the storage checks, the pull analysis, replication and the engine's images share. From a
    store, read as plain rows (store/sql/image_layer_rows.sql) rather than as one record per layer."""
    r = ctx.records
    if r.stored:
        return build_layer_index(row for rows in r.fact_batches("image_layer_rows", [ImageLayer]) for row in rows)
    return build_layer_index(layer_rows(r.of(ImageLayer)))


@fact(reads=("repositories", "images", "image_layers", "pull_metrics"))
def inventory(ctx: Any) -> Inventory:
    """Stored bytes, monthly cost and last push/pull per repository (`analysis.inventory`). From a store, by SQL
    (store/sql/repository_facts.sql), which a test holds equal to the records' reading."""
    r = ctx.records
    if r.stored:
        return inventory_from_facts(repository_facts_from_rows(r.fact_rows("repository_facts",
                                                                           list(INVENTORY_TABLES))), ctx.book)
    return build_inventory(r.of(Repository), r.of(Image), r.of(ImageLayer), r.of(PullMetric), ctx.book)


# Its tables are the in-use sources' own (`analysis.in_use_sources`), so a new source needs no edit here.
@fact(reads=in_use_sources.reads())
def in_use(ctx: Any) -> InUse:
    """The images some workload runs or may roll back to, by repository and digest (every in-use source)."""
    return find_in_use(ctx.records)


@fact(reads=("images", "pull_metrics", "ecs_services", "ecs_deployments",
             "ecs_service_events", "ecs_tasks", "ecs_task_containers", "ecs_task_definitions",
             "ecs_container_definitions", "ecs_container_instances", "ec2_instances", "ecs_agent_configs", "vpcs",
             "subnets", "route_tables", "routes", "vpc_endpoints", "nat_gateways", "security_group_rules"),
      uses=(layer_index,))
def pulls(ctx: Any, crash_loop_threshold: float, now: datetime | None) -> PullsReport:
    """`ecrwise pulls`' analysis: per-service pull traffic and cost, crash loops (`analysis.pulls`)."""
    return analyse_pulls(ctx.records, ctx.book, crash_loop_threshold=crash_loop_threshold, now=now,
                         layers=lambda: layer_index(ctx))


@fact(reads=("images",), uses=(layer_index,))
def engine_images(ctx: Any) -> dict[str, list[LifecycleImage]]:
    """The lifecycle engine's images, by ACCOUNT/REGION/NAME."""
    out: dict[str, list[LifecycleImage]] = defaultdict(list)
    for im in lifecycle_images_indexed(ctx.records.of(Image), layer_index(ctx)):
        out[im.repository].append(im)
    return out


def _simulate(ctx: Any, policies: dict[Key, Policy | None]) -> dict[Key, RepositoryResult]:
    """Run the engine per region (each region has its own storage price) at the snapshot's time."""
    book: PriceBook = ctx.book
    by_region: dict[str, dict[str, Policy | None]] = defaultdict(dict)
    for (account, region, name), pol in policies.items():
        by_region[region][repo_key(account, region, name)] = pol
    images = engine_images(ctx)
    out: dict[Key, RepositoryResult] = {}
    for region, pols in by_region.items():
        std, arc = book.price(region, STANDARD_ITEM), book.price(region, ARCHIVE_ITEM)
        restore = book.price(region, RESTORE_ITEM)
        imgs = [im for k in pols for im in images.get(k, ())]
        # Restores priced too, so a finding can show a transition net of the 90-day minimum (archive_economics).
        for r in simulate(pols, imgs, ctx.now, std.usd, arc.usd, restore_price_gb=restore.usd).items:
            a, rg, n = r.repository.split("/", 2)
            out[(a, rg, n)] = r
    return out


@fact(reads=("repositories",), uses=(engine_images,))
def template_simulation(ctx: Any, template: str) -> dict[Key, RepositoryResult]:
    """What the shipped `template` would do to each repository that has no lifecycle policy."""
    policy = parse_policy(get_template(template), source=f"template {template}")
    return _simulate(ctx, {(r.account, r.region, r.name): policy for r in ctx.records.of(Repository)
                           if r.lifecycle_policy is None})


@fact(reads=("repositories",), uses=(engine_images,))
def policy_simulation(ctx: Any) -> dict[Key, tuple[Policy, RepositoryResult]]:
    """What each repository's own lifecycle policy does today. An invalid stored policy is left out: it is
    `ecrwise lifecycle lint`'s business."""
    current: dict[Key, Policy | None] = {}
    for repo in ctx.records.of(Repository):
        if repo.lifecycle_policy is None:
            continue
        try:
            current[(repo.account, repo.region, repo.name)] = parse_policy(repo.lifecycle_policy, source=repo.name)
        except UserError:
            continue
    results = _simulate(ctx, current)
    return {k: (p, results[k]) for k, p in current.items() if p is not None}
