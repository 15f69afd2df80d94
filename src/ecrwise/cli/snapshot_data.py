"""Loading a snapshot's records from the store for a command, and handing them to the pure analyses."""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Optional

from ecrwise.records import Records
from ecrwise.analysis.inventory import Inventory, build_inventory
from ecrwise.cli.common import open_store
from ecrwise.pricing.book import PriceBook
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.records.ecs import EcsCluster
from ecrwise.store import Snapshot, Store

RECORD_MODULES = ("ecrwise.records.ecr", "ecrwise.records.ecs", "ecrwise.records.network")
# The families whose scan failures matter to the commands that read ECS and network records.
WARNED_SERVICES = ("ecs", "network", "cloudwatch")
NO_ECS_DATA = "has no ECS data: run `ecrwise scan --only ecr,ecs,network` (or a full scan)"


def load_inventory(st: Store, snapshot_id: int | None, book: PriceBook) -> tuple[Snapshot, Inventory]:
    snap = st.snapshot(snapshot_id)
    return snap, inventory_of(st, snap.id, book)


def inventory_of(st: Store, snapshot_id: int, book: PriceBook) -> Inventory:
    """The repository inventory of one stored snapshot (its ECR records only)."""
    return build_inventory(st.load(snapshot_id, Repository), st.load(snapshot_id, Image),
                           st.load(snapshot_id, ImageLayer), st.load(snapshot_id, PullMetric), book)


def record_classes() -> list[type]:
    """Every ECR, ECS and network record class (a frozen dataclass with `__table__`)."""
    classes = []
    for mod in RECORD_MODULES:
        m = importlib.import_module(mod)
        classes += [c for c in vars(m).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                    and hasattr(c, "__table__") and c.__module__ == mod]
    return classes


def load_records(store: Optional[Path], snapshot: Optional[int]) -> tuple[Snapshot, Records]:
    """(snapshot, Records) with every ECR, ECS and network record of the snapshot."""
    with open_store(store) as st:
        snap = st.snapshot(snapshot)
        by_type = {cls: st.load(snap.id, cls) for cls in record_classes()}
    return snap, Records(by_type, snap.id)


def snapshot_warnings(snap: Snapshot, records: Records, *, family: str = "ecs", marker: type = EcsCluster,
                      hint: str = NO_ECS_DATA) -> list[str]:
    """The scan's ECS / network / CloudWatch failures, and `snapshot N <hint>` when the snapshot holds no
    `family` data (neither scanned nor any `marker` record)."""
    out = [f"scan could not collect {f.service} in {f.account}/{f.region}: {f.error_code}: {f.message}"
           for f in snap.failures if f.service in WARNED_SERVICES]
    if family not in snap.services and not records.of(marker):
        out.append(f"snapshot {snap.id} {hint}")
    return out
