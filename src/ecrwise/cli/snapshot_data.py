"""Loading a snapshot's records from the store for a command, and handing them to the pure analyses."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from ecrwise.records import Records
from ecrwise.analysis.inventory import (INVENTORY_TABLES, Inventory, RepoFacts, inventory_from_facts,
                                        repository_facts_from_rows)
from ecrwise.cli.common import open_store
from ecrwise.lifecycle.from_records import repo_key
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.pricing.book import PriceBook
from ecrwise.records.ecr import ImageLayer
from ecrwise.records.ecs import EcsCluster
from ecrwise.store import Snapshot, Store, StoredSnapshot

NO_ECS_DATA = "has no ECS data: run `ecrwise scan --only ecr,ecs,network` (or a full scan)"


def load_inventory(st: Store, snapshot_id: int | None, book: PriceBook) -> tuple[Snapshot, Inventory]:
    snap = st.snapshot(snapshot_id)
    return snap, inventory_of(st, snap.id, book)


def inventory_of(st: Store, snapshot_id: int, book: PriceBook) -> Inventory:
    """The repository inventory of one stored snapshot (its ECR records only): one row per repository from
    SQL over the store (store/sql/repository_facts.sql), priced in Python."""
    return inventory_from_facts(repository_facts_of(st, snapshot_id), book)


def repository_facts_of(st: Store, snapshot_id: int) -> list[RepoFacts]:
    return repository_facts_from_rows(st.facts("repository_facts", {"sid": snapshot_id}, list(INVENTORY_TABLES)))


def layer_deltas_of(st: Store, a: int, b: int) -> dict[tuple[str, str, str], tuple[int, int, int, int, int, int]]:
    """Per repository, the distinct-layer bytes at snapshots a and b and the bytes that went and came
    (store/sql/layer_deltas.sql)."""
    rows = st.facts("layer_deltas", {"a": a, "b": b}, [ImageLayer])
    return {(acc, reg, repo): tuple(int(v) for v in rest) for acc, reg, repo, *rest in rows}


def engine_images_of(st: Store, snapshot_id: int) -> list[LifecycleImage]:
    """The lifecycle engine's images of one stored snapshot, from SQL over the store (`engine_image_groups`): no
    record object per image or layer is built on the way."""
    return [im for _, images in engine_image_groups(st, snapshot_id) for im in images]


def engine_image_groups(st: Store, snapshot_id: int) -> Iterator[tuple[str, list[LifecycleImage]]]:
    """The engine's images one repository at a time (`ACCOUNT/REGION/NAME`, its images), from two flat queries
    read side by side (store/sql/engine_image_rows.sql, engine_layer_rows.sql, merged by
    `lifecycle.from_records.repository_groups`): DuckDB can spill both sorts."""
    from ecrwise.lifecycle.from_records import ENGINE_TABLES, lifecycle_images_from_rows, repository_groups

    params, tables = {"sid": snapshot_id}, list(ENGINE_TABLES)
    for key, rows, layers in repository_groups(st.fact_batches("engine_image_rows", params, tables),
                                               st.fact_batches("engine_layer_rows", params, tables)):
        name = repo_key(*key)
        yield name, lifecycle_images_from_rows(rows, layers, name)


def record_classes() -> list[type]:
    """Every record class every collector family declares (a frozen dataclass with `__table__`)."""
    from ecrwise.aws import families  # here, not at import: discovering families imports boto3

    return families.record_classes()


def load_records(store: Optional[Path], snapshot: Optional[int]) -> tuple[Snapshot, Records]:
    """(snapshot, Records) with every record of the snapshot, of every collector family."""
    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        return snap, records_of(st, snap.id)


@contextmanager
def open_snapshot(store: Optional[Path], snapshot: Optional[int]) -> Iterator[tuple[Snapshot, Records]]:
    """(snapshot, Records) read on demand from the store, which stays open for the block: a table is loaded
    when a check first asks for it, and the facts that have a query (store/sql/) are computed by it."""
    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        yield snap, stored_records(st, snap.id)


def stored_records(st: Store, snapshot_id: int) -> Records:
    """One snapshot's records read on demand from a store already open (valid while it stays open)."""
    return Records({}, snapshot_id, StoredSnapshot(st, snapshot_id))


def records_of(st: Store, snapshot_id: int) -> Records:
    """Every record of one stored snapshot, from a store already open."""
    return Records({cls: st.load(snapshot_id, cls) for cls in record_classes()}, snapshot_id)


def snapshot_warnings(snap: Snapshot, records: Records, *, family: str = "ecs", marker: type = EcsCluster,
                      hint: str = NO_ECS_DATA) -> list[str]:
    """The scan's failures the families flag for warning (ECS, network, CloudWatch today), and `snapshot N <hint>` when the snapshot holds no
    `family` data (neither scanned nor any `marker` record)."""
    from ecrwise.aws import families

    warned = families.warned_services()
    out = [f"scan could not collect {f.service} in {f.account}/{f.region}: {f.error_code}: {f.message}"
           for f in snap.failures if f.service in warned]
    if family not in snap.services and not records.of(marker):
        out.append(f"snapshot {snap.id} {hint}")
    return out
