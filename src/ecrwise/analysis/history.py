"""Storage across snapshots, and the savings realised between two of them. Pure.

Per snapshot the figures are `analysis.inventory`'s (billed = distinct layers, priced by the price book);
this module lines them up. Realised savings compare two snapshots layer by layer, per repository: the bytes
that disappeared are the sizes of the layer digests the earlier snapshot stored and the later one does not,
which is exactly what ECR stopped billing; layers that appeared are growth. So, per repository,
`to_bytes - from_bytes = added_bytes - removed_bytes`. Money is priced with today's price book (snapshots do
not keep the prices they were taken under); the arithmetic says so.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from ecrwise.analysis.inventory import Inventory
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.records.ecr import ImageLayer

Key = tuple[str, str, str]  # (account, region, repository)
PRICE_ITEM = "ecr_storage_gb_month"


@dataclass(frozen=True)
class SnapshotTotal:
    snapshot_id: int
    taken_at: datetime
    repositories: int
    images: int
    stored_bytes: int
    naive_bytes: int
    monthly_cost: float  # unrounded


@dataclass
class RepoSeries:
    account: str
    region: str
    repository: str
    # snapshot id → (stored bytes, monthly cost); absent where the snapshot has no such repository.
    points: dict[int, tuple[int, float]] = field(default_factory=dict)


@dataclass
class RepoChange:
    account: str
    region: str
    repository: str
    status: str  # removed | added | changed | unchanged
    from_bytes: int
    to_bytes: int
    removed_bytes: int  # layers stored at --from and gone at --to
    added_bytes: int  # layers stored at --to and not at --from
    realised_savings: float  # removed_bytes priced per month (unrounded)
    added_cost: float
    arithmetic: dict[str, Any]

    @property
    def net_bytes(self) -> int:
        return self.to_bytes - self.from_bytes

    @property
    def key(self) -> Key:
        return (self.account, self.region, self.repository)


@dataclass
class History:
    snapshots: list[SnapshotTotal]
    repositories: list[RepoSeries]
    from_id: int
    to_id: int
    changes: list[RepoChange]
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        by_id = {s.snapshot_id: s for s in self.snapshots}
        a, b = by_id.get(self.from_id), by_id.get(self.to_id)
        return {
            "snapshots": len(self.snapshots),
            "from": self.from_id, "to": self.to_id,
            "from_taken_at": a.taken_at if a else None, "to_taken_at": b.taken_at if b else None,
            "from_bytes": sum(c.from_bytes for c in self.changes),
            "to_bytes": sum(c.to_bytes for c in self.changes),
            "removed_bytes": sum(c.removed_bytes for c in self.changes),
            "added_bytes": sum(c.added_bytes for c in self.changes),
            "net_bytes": sum(c.net_bytes for c in self.changes),
            "realised_savings": sum(c.realised_savings for c in self.changes),
            "added_cost": sum(c.added_cost for c in self.changes),
            "from_monthly_cost": a.monthly_cost if a else 0.0,
            "to_monthly_cost": b.monthly_cost if b else 0.0,
            "repositories_removed": [f"{c.region}/{c.repository}" for c in self.changes if c.status == "removed"],
            "repositories_added": [f"{c.region}/{c.repository}" for c in self.changes if c.status == "added"],
        }


def _layer_sets(layers: Iterable[ImageLayer]) -> dict[Key, dict[str, int]]:
    out: dict[Key, dict[str, int]] = defaultdict(dict)
    for layer in layers:
        out[(layer.account, layer.region, layer.repository)][layer.layer_digest] = layer.size
    return out


# Per repository: (from_bytes, to_bytes, removed_bytes, added_bytes, from_layers, to_layers), from its distinct
# layers at each end (the layer counts say whether it held any, zero-byte layers included).
Deltas = dict[Key, tuple[int, int, int, int, int, int]]


def layer_deltas(from_layers: Iterable[ImageLayer], to_layers: Iterable[ImageLayer]) -> Deltas:
    """The reference `store/sql/layer_deltas.sql` is tested against."""
    before, after = _layer_sets(from_layers), _layer_sets(to_layers)
    out: Deltas = {}
    for key in set(before) | set(after):
        a, b = before.get(key, {}), after.get(key, {})
        out[key] = (sum(a.values()), sum(b.values()), sum(size for d, size in a.items() if d not in b),
                    sum(size for d, size in b.items() if d not in a), len(a), len(b))
    return out


def realised(from_layers: Iterable[ImageLayer], to_layers: Iterable[ImageLayer], from_repos: set[Key],
             to_repos: set[Key], book: PriceBook) -> list[RepoChange]:
    """Per repository of either snapshot: the bytes that disappeared and appeared between them."""
    return realised_from(layer_deltas(from_layers, to_layers), from_repos, to_repos, book)


def realised_from(deltas: Deltas, from_repos: set[Key], to_repos: set[Key], book: PriceBook) -> list[RepoChange]:
    changes = []
    for key in sorted(from_repos | to_repos | set(deltas)):
        account, region, name = key
        from_bytes, to_bytes, removed, added, n_from, n_to = deltas.get(key, (0, 0, 0, 0, 0, 0))
        price = book.price(region, PRICE_ITEM)
        saved, grown = removed / GIB * price.usd, added / GIB * price.usd
        in_from, in_to = key in from_repos or n_from > 0, key in to_repos or n_to > 0
        status = ("removed" if not in_to else "added" if not in_from
                  else "unchanged" if not removed and not added else "changed")
        changes.append(RepoChange(
            account, region, name, status, from_bytes, to_bytes, removed, added, saved, grown,
            {"removed_bytes": removed, "added_bytes": added, "price": price.as_dict(),
             "formula": f"{removed} B / 2^30 × ${price.usd}/GB-month = ${saved:.4f}/month no longer billed",
             "note": "priced with the current price book"}))
    changes.sort(key=lambda c: (-c.removed_bytes, -c.added_bytes, c.repository, c.region, c.account))
    return changes


def build_history(points: list[tuple[int, datetime, Inventory]], from_layers: Iterable[ImageLayer],
                  to_layers: Iterable[ImageLayer], from_id: int, to_id: int, book: PriceBook) -> History:
    """`points`: (snapshot id, time, inventory) for every snapshot, oldest first; the layers of --from and --to."""
    return history_from(points, layer_deltas(from_layers, to_layers), from_id, to_id, book)


def history_from(points: list[tuple[int, datetime, Inventory]], deltas: Deltas, from_id: int, to_id: int,
                 book: PriceBook) -> History:
    """As build_history, with the layer deltas between --from and --to already computed (by SQL)."""
    totals = []
    series: dict[Key, RepoSeries] = {}
    repos_of: dict[int, set[Key]] = {}
    for sid, taken_at, inv in points:
        t = inv.totals
        totals.append(SnapshotTotal(sid, taken_at, t["repositories"], t["images"], t["stored_bytes"],
                                    t["naive_bytes"], t["monthly_cost"]))
        repos_of[sid] = set()
        for r in inv.rows:
            s = series.setdefault(r.key, RepoSeries(*r.key))
            s.points[sid] = (r.stored_bytes, r.monthly_cost)
            repos_of[sid].add(r.key)
    warnings = []
    if len(points) < 2:
        warnings.append("the store holds one snapshot: scan again later to see growth and realised savings")
    changes = realised_from(deltas, repos_of.get(from_id, set()), repos_of.get(to_id, set()), book)
    last = points[-1][0] if points else to_id
    ordered = sorted(series.values(), key=lambda s: (-s.points.get(last, (0, 0.0))[0], s.repository, s.region))
    return History(totals, ordered, from_id, to_id, changes, warnings)
