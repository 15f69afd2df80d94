"""NAT gateway traffic: daily series, spike days, the share image pulls explain, alarm thresholds. Pure.

Bytes processed (what the NAT bills per GB) = BytesInFromSource + BytesInFromDestination: every byte the
gateway receives, from the VPC side or from the far side. Image pulls show up as BytesInFromDestination.

A day spikes when it processed more than k × the median of the `window` days before it (and the median is
over at least `min_history` days). A zero median (an idle gateway) spikes only above `min_spike_bytes`, so
one stray request does not count.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import Iterable

from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.records.network import NatGateway, NatMetric

PROCESSED = ("BytesInFromSource", "BytesInFromDestination")
DEFAULT_K = 3.0
DEFAULT_WINDOW = 7
DEFAULT_MIN_HISTORY = 3
DEFAULT_MIN_SPIKE_BYTES = GIB
DAYS_PER_MONTH = 730 / 24  # the price book's 730-hour month
RECENT_DAYS = 7


@dataclass(frozen=True)
class DayPoint:
    day: date
    processed: int
    downloaded: int  # BytesInFromDestination: what came in from the far side (pulls, downloads)
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Spike:
    day: date
    processed: int
    median: float  # of the window before the day
    ratio: float | None  # processed / median; None when the median is zero

    @property
    def excess_bytes(self) -> int:
        return int(self.processed - self.median)


@dataclass
class NatSeries:
    account: str
    region: str
    nat_gateway_id: str
    vpc_id: str
    days: list[DayPoint]
    spikes: list[Spike]
    k: float
    window: int
    pull_bytes_per_month: int | None = None
    days_per_month: float = DAYS_PER_MONTH

    @property
    def processed_bytes(self) -> int:
        return sum(d.processed for d in self.days)

    @property
    def median_daily_bytes(self) -> float:
        return float(median(d.processed for d in self.days)) if self.days else 0.0

    @property
    def processed_bytes_per_month(self) -> int:
        """The observed days scaled to a month."""
        return int(self.processed_bytes * self.days_per_month / len(self.days)) if self.days else 0

    @property
    def recent_daily_bytes(self) -> float:
        """Mean bytes processed a day over the last RECENT_DAYS days: what today's pull rate compares with."""
        recent = self.days[-RECENT_DAYS:]
        return sum(d.processed for d in recent) / len(recent) if recent else 0.0

    @property
    def pull_share(self) -> float | None:
        """Share of the NAT's recent bytes that image pulls explain, capped at 1. `ecrwise pulls` estimates the
        current pull rate (from recent task starts), so it is set against the last RECENT_DAYS days."""
        if self.pull_bytes_per_month is None or not self.recent_daily_bytes:
            return None
        return min(1.0, self.pull_bytes_per_month / self.days_per_month / self.recent_daily_bytes)


def find_spikes(days: list[DayPoint], *, k: float = DEFAULT_K, window: int = DEFAULT_WINDOW,
                min_history: int = DEFAULT_MIN_HISTORY,
                min_spike_bytes: int = DEFAULT_MIN_SPIKE_BYTES) -> list[Spike]:
    if k <= 0 or window < 1 or min_history < 1:
        raise ValueError("k must be > 0, window and min_history ≥ 1")
    out = []
    for i, point in enumerate(days):
        before = [d.processed for d in days[max(0, i - window):i]]
        if len(before) < min_history:
            continue
        m = float(median(before))
        if m > 0:
            if point.processed > k * m:
                out.append(Spike(point.day, point.processed, m, point.processed / m))
        elif point.processed > min_spike_bytes:
            out.append(Spike(point.day, point.processed, m, None))
    return out


def daily_points(metrics: Iterable[NatMetric]) -> list[DayPoint]:
    """One point per calendar day from the first to the last day seen; days CloudWatch left out are 0."""
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    for m in metrics:
        by_day[m.day][m.metric] = by_day[m.day].get(m.metric, 0) + m.value
    if not by_day:
        return []
    first, last = min(by_day), max(by_day)
    out = []
    day = first
    while day <= last:
        values = by_day.get(day, {})
        out.append(DayPoint(day, sum(values.get(x, 0) for x in PROCESSED),
                            values.get("BytesInFromDestination", 0), dict(values)))
        day += timedelta(days=1)
    return out


def nat_series(metrics: Iterable[NatMetric], nats: Iterable[NatGateway], *, k: float = DEFAULT_K,
               window: int = DEFAULT_WINDOW, min_history: int = DEFAULT_MIN_HISTORY,
               min_spike_bytes: int = DEFAULT_MIN_SPIKE_BYTES,
               pull_bytes_by_nat: dict[tuple[str, str, str], int] | None = None,
               days_per_month: float = DAYS_PER_MONTH) -> list[NatSeries]:
    """A series per NAT gateway (every gateway listed, with or without metrics)."""
    grouped: dict[tuple[str, str, str], list[NatMetric]] = defaultdict(list)
    for m in metrics:
        grouped[(m.account, m.region, m.nat_gateway_id)].append(m)
    out = []
    for nat in sorted(nats, key=lambda n: (n.account, n.region, n.vpc_id, n.nat_gateway_id)):
        key = (nat.account, nat.region, nat.nat_gateway_id)
        days = daily_points(grouped.get(key, []))
        out.append(NatSeries(nat.account, nat.region, nat.nat_gateway_id, nat.vpc_id, days,
                             find_spikes(days, k=k, window=window, min_history=min_history,
                                         min_spike_bytes=min_spike_bytes),
                             k, window, (pull_bytes_by_nat or {}).get(key), days_per_month))
    return out


# -- alarms ----------------------------------------------------------------------------------------------

ALARM_PERIOD = 3600
ALARM_EVALUATION_PERIODS = 3
ALARM_DATAPOINTS = 2
DEFAULT_MIN_ALARM_BYTES_PER_HOUR = GIB


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch alarm on one NAT gateway's processed bytes per hour (metric math m1 + m2)."""
    account: str
    region: str
    nat_gateway_id: str
    vpc_id: str
    threshold: int  # bytes per hour
    median_daily_bytes: float
    k: float
    days_of_history: int
    floor: int = DEFAULT_MIN_ALARM_BYTES_PER_HOUR
    period: int = ALARM_PERIOD
    evaluation_periods: int = ALARM_EVALUATION_PERIODS
    datapoints_to_alarm: int = ALARM_DATAPOINTS

    @property
    def name(self) -> str:
        return f"ecrwise-nat-bytes-{self.nat_gateway_id}"

    @property
    def formula(self) -> str:
        return (f"max(ceil({self.k:g} × {self.median_daily_bytes:,.0f} B median/day ÷ 24 h), "
                f"{self.floor:,} B floor) = {self.threshold:,} B/hour; alarm when {self.datapoints_to_alarm} of "
                f"{self.evaluation_periods} hours exceed it")


def alarm_specs(series: Iterable[NatSeries], *, k: float = DEFAULT_K,
                min_bytes_per_hour: int = DEFAULT_MIN_ALARM_BYTES_PER_HOUR) -> list[AlarmSpec]:
    """Thresholds from history: k × the median day spread over 24 hours, never below the floor (so an idle
    gateway's alarm does not fire on a single package download). The median ignores the spike days the
    alarm is meant to catch."""
    out = []
    for s in series:
        m = s.median_daily_bytes
        threshold = max(math.ceil(k * m / 24), min_bytes_per_hour)
        out.append(AlarmSpec(s.account, s.region, s.nat_gateway_id, s.vpc_id, threshold, m, k, len(s.days),
                             min_bytes_per_hour))
    return out


def processing_cost(s: NatSeries, book: PriceBook) -> tuple[float, dict]:
    """What a month of this gateway's processed bytes costs, with its arithmetic (unrounded USD)."""
    price = book.price(s.region, "nat_gateway_gb")
    monthly = s.processed_bytes_per_month
    cost = monthly / GIB * price.usd
    return cost, {"bytes": monthly, "price": price.as_dict(),
                  "formula": f"{s.processed_bytes:,} B over {len(s.days)} days × 30/{len(s.days)} = "
                             f"{monthly:,} B / 2^30 × ${price.usd:g}/GB = ${cost:,.2f}"}
