"""Run lifecycle policies over many repositories and price what they free.

Money follows DESIGN.md: savings come from layers that no surviving image references, never from the sum of
image sizes; every dollar figure carries its inputs (`arithmetic`); rounding to cents happens only in
`to_dict`. Prices are passed in by the caller (the CLI reads them from the price book).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from ecrwise.lifecycle.engine import Evaluation, evaluate
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy

from ecrwise.pricing.book import GIB  # AWS bills "GB" as 2^30 bytes
from ecrwise.pricing.money import usd as _cents
from ecrwise.timefmt import iso




@dataclass(frozen=True, slots=True)
class RepositoryResult:
    repository: str
    has_policy: bool
    evaluation: Evaluation
    standard_price_gb_month: float
    archive_price_gb_month: float

    # Unrounded monthly figures; to_dict rounds them.
    @property
    def expired_savings_usd(self) -> float:
        return self.evaluation.expired_bytes / GIB * self.standard_price_gb_month

    @property
    def transition_savings_usd(self) -> float:
        return self.evaluation.archived_bytes / GIB * (self.standard_price_gb_month - self.archive_price_gb_month)

    @property
    def archive_savings_usd(self) -> float:
        return self.evaluation.archive_freed_bytes / GIB * self.archive_price_gb_month

    @property
    def monthly_savings_usd(self) -> float:
        return self.expired_savings_usd + self.transition_savings_usd + self.archive_savings_usd

    def arithmetic(self) -> dict[str, Any]:
        ev = self.evaluation
        std, arc = self.standard_price_gb_month, self.archive_price_gb_month
        formula = (f"({ev.expired_bytes} B expired x ${std}"
                   f" + {ev.archived_bytes} B archived x (${std} - ${arc})"
                   f" + {ev.archive_freed_bytes} B deleted from archive x ${arc})"
                   f" / 2^30 B per GB = ${self.monthly_savings_usd:.4f}/month")
        return {
            "bytes": ev.freed_bytes,
            "gib": round(ev.freed_bytes / GIB, 6),
            "price_usd_per_gb_month": std,
            "expired_bytes": ev.expired_bytes,
            "archived_bytes": ev.archived_bytes,
            "archive_freed_bytes": ev.archive_freed_bytes,
            "archive_price_usd_per_gb_month": arc,
            "formula": formula,
        }

    def to_dict(self, *, images: bool = True) -> dict[str, Any]:
        ev = self.evaluation
        out: dict[str, Any] = {
            "repository": self.repository,
            "has_policy": self.has_policy,
            "images": len(ev.expire) + len(ev.transition) + len(ev.kept),
            "expire_count": len(ev.expire),
            "transition_count": len(ev.transition),
            "kept": len(ev.kept),
            "held_by_index": len(ev.held),
            "stored_bytes": ev.stored_bytes,
            "freed_bytes": ev.freed_bytes,
            "archived_bytes": ev.archived_bytes,
            "archive_stored_bytes": ev.archive_stored_bytes,
            "archive_freed_bytes": ev.archive_freed_bytes,
            "monthly_savings_usd": _cents(self.monthly_savings_usd),
            "arithmetic": self.arithmetic(),
        }
        if images:
            out["expire"] = [_image_row(im, p) for im, p in ev.expire]
            out["transition"] = [_image_row(im, p) for im, p in ev.transition]
            out["held"] = [_image_row(im, p) for im, p in ev.held]
        return out


def _image_row(im: LifecycleImage, priority: int) -> dict[str, Any]:
    return {"digest": im.digest, "tags": list(im.tags), "pushed_at": iso(im.pushed_at),
            "rule_priority": priority}


@dataclass(frozen=True, slots=True)
class SimulationResult:
    at: datetime
    # Sorted by monthly savings (largest first), then repository name.
    items: tuple[RepositoryResult, ...]
    standard_price_gb_month: float
    archive_price_gb_month: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def monthly_savings_usd(self) -> float:
        return sum(r.monthly_savings_usd for r in self.items)

    def totals(self) -> dict[str, Any]:
        evs = [r.evaluation for r in self.items]
        return {
            "at": iso(self.at),
            "repositories": len(self.items),
            "repositories_with_policy": sum(1 for r in self.items if r.has_policy),
            "images": sum(len(e.expire) + len(e.transition) + len(e.kept) for e in evs),
            "expire_count": sum(len(e.expire) for e in evs),
            "transition_count": sum(len(e.transition) for e in evs),
            "kept": sum(len(e.kept) for e in evs),
            "held_by_index": sum(len(e.held) for e in evs),
            "stored_bytes": sum(e.stored_bytes for e in evs),
            "freed_bytes": sum(e.freed_bytes for e in evs),
            "archived_bytes": sum(e.archived_bytes for e in evs),
            "archive_freed_bytes": sum(e.archive_freed_bytes for e in evs),
            "monthly_savings_usd": _cents(self.monthly_savings_usd),
            "price_usd_per_gb_month": self.standard_price_gb_month,
            "archive_price_usd_per_gb_month": self.archive_price_gb_month,
        }

    def to_dict(self, *, images: bool = True) -> dict[str, Any]:
        return {"items": [r.to_dict(images=images) for r in self.items], "totals": self.totals(),
                "warnings": list(self.warnings)}


def group_by_repository(images: Iterable[LifecycleImage]) -> dict[str, list[LifecycleImage]]:
    groups: dict[str, list[LifecycleImage]] = defaultdict(list)
    for im in images:
        groups[im.repository].append(im)
    return groups


def simulate(policies_by_repo: Mapping[str, Policy | None], images: Iterable[LifecycleImage], at: datetime,
             standard_price_gb_month: float, archive_price_gb_month: float) -> SimulationResult:
    """Evaluate each repository's policy (None: no policy, nothing happens) over its images.

    Only repositories named in `policies_by_repo` are reported; images of other repositories are ignored.
    """
    groups = group_by_repository(images)
    empty = Policy(())
    items: list[RepositoryResult] = []
    warnings: list[str] = []
    for repo, policy in policies_by_repo.items():
        ev = evaluate(policy if policy is not None else empty, groups.get(repo, ()), at, repository=repo)
        if ev.held:
            warnings.append(f"{repo or '(no repository)'}: {len(ev.held)} image(s) a rule selected stay because "
                            "an image index that is not expired references them")
        items.append(RepositoryResult(repo, policy is not None, ev, standard_price_gb_month,
                                      archive_price_gb_month))
    items.sort(key=lambda r: (-r.monthly_savings_usd, r.repository))
    warnings.sort()
    return SimulationResult(at, tuple(items), standard_price_gb_month, archive_price_gb_month, tuple(warnings))
