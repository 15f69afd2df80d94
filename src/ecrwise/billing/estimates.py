"""Estimates over a billing period, from what the snapshots hold. Pure.

- Storage: each snapshot's per-repository distinct-layer bytes held from its time until the next snapshot (a
  step function), averaged over the billing period's hours, which is how AWS turns byte-hours into GB-months
  (https://aws.amazon.com/ecr/pricing/). Before the first snapshot inside the period the nearest snapshot's
  value is assumed (the store cannot know better); a repository missing from a later snapshot holds 0 from
  then on (it was deleted).
- NAT pull bytes: `ecrwise pulls` estimates a rate per 730-hour month; over a billing period it is scaled to
  the period's hours.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from ecrwise.billing.reconcile import NatAttribution, StorageEstimate, period_hours

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class StorageSample:
    taken_at: datetime
    account: str
    region: str
    repository: str
    stored_bytes: int


def period_bounds(period: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(period + "-01", "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return start, start + timedelta(hours=period_hours(period))


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def deciding_times(times: Iterable[datetime], period: str) -> list[datetime]:
    """The snapshot times that decide the period, oldest first: the last one before it (if any), then those
    inside it; with only snapshots after the period, the nearest one stands for it."""
    start, end = period_bounds(period)
    ordered = sorted(_utc(t) for t in times)
    before = [t for t in ordered if t < start]
    steps = ([before[-1]] if before else []) + [t for t in ordered if start <= t < end]
    return steps or ordered[:1]


def average_storage(samples: Iterable[StorageSample], period: str) -> list[StorageEstimate]:
    """Time-weighted mean bytes per repository over the period."""
    start, end = period_bounds(period)
    by_time: dict[datetime, dict[tuple[str, str, str], int]] = defaultdict(dict)
    for s in samples:
        by_time[_utc(s.taken_at)][(s.account, s.region, s.repository)] = s.stored_bytes
    if not by_time:
        return []
    steps = deciding_times(by_time, period)
    repos = {k for t in steps for k in by_time[t]}
    total = (end - start).total_seconds()
    out = []
    for key in sorted(repos):
        acc = 0.0
        for i, t in enumerate(steps):
            lo = start if i == 0 else max(t, start)
            hi = steps[i + 1] if i + 1 < len(steps) else end
            acc += by_time[t].get(key, 0) * max(0.0, (min(hi, end) - lo).total_seconds())
        out.append(StorageEstimate(*key, round(acc / total)))
    return out


def nat_pulls_for_period(pull_bytes_per_month: dict[tuple[str, str, str], int], period: str) -> list[NatAttribution]:
    """(account, region, nat id) → monthly pull bytes, scaled to the billing period's hours."""
    scale = period_hours(period) / HOURS_PER_MONTH
    return [NatAttribution(a, r, n, round(b * scale)) for (a, r, n), b in sorted(pull_bytes_per_month.items())]
