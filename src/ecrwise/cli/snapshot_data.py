"""Loading a snapshot's records from the store for a command, and handing them to the pure analyses."""
from __future__ import annotations

from ecrwise.analysis.inventory import Inventory, build_inventory
from ecrwise.pricing.book import PriceBook
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.store import Snapshot, Store


def load_inventory(st: Store, snapshot_id: int | None, book: PriceBook) -> tuple[Snapshot, Inventory]:
    snap = st.snapshot(snapshot_id)
    inv = build_inventory(st.load(snap.id, Repository), st.load(snap.id, Image), st.load(snap.id, ImageLayer),
                          st.load(snap.id, PullMetric), book)
    return snap, inv
