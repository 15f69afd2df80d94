"""Facts several check families share, each computed once per `CheckSession` (see `analysis.checks`). Pure.

Call a fact with the context you hold: `inventory(ctx)`, `pulls(ctx, threshold, now)`. Each declares the
tables it reads; a check using one declares it in `facts=` and gets those tables added to its `reads`.
Family-specific facts live in their family module (`storage_index`, `network_audit`); the one pass over a
snapshot's images, a repository at a time, with the lifecycle simulations, in `analysis.repository_images`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ecrwise.analysis.checks import fact
from ecrwise.analysis import in_use_sources
from ecrwise.analysis.in_use import InUse, find_in_use
from ecrwise.analysis.inventory import (INVENTORY_TABLES, Inventory, build_inventory, inventory_from_facts,
                                        repository_facts_from_rows)
from ecrwise.analysis.pulls import PullsReport, analyse_pulls
from ecrwise.lifecycle.from_records import LayerIndex, layer_rows
from ecrwise.lifecycle.from_records import layer_index as build_layer_index
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
