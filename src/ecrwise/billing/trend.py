"""Daily cost per usage type from Cost Explorer, with anomaly days. Pure.

`parse_cost_and_usage` reads `GetCostAndUsage` responses (DAILY granularity, grouped by the USAGE_TYPE
dimension; shape: https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html:
`ResultsByTime[].TimePeriod.Start`, `.Groups[].Keys`, `.Groups[].Metrics.<metric>.Amount/Unit`, `.Estimated`;
amounts are decimal strings).

The spike rule is the CloudWatch NAT spike rule, reused, not copied (`analysis.nat_traffic.find_spikes`): a day
is an anomaly when its cost exceeds k × the median of the `window` days before it, with at least `min_history`
days of history; a zero median (a usage type that cost nothing) flags a day only above `min_spike_usd`. Costs
are handed to it as whole micro-dollars, the unit its integer series expects.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable

from ecrwise.analysis.nat_traffic import DayPoint, find_spikes
from ecrwise.billing.schema import category, usage_family
from ecrwise.errors import UserError

MICRO = 1_000_000
DEFAULT_K = 3.0
DEFAULT_WINDOW = 7
DEFAULT_MIN_HISTORY = 3
DEFAULT_MIN_SPIKE_USD = 1.0
COST_METRIC = "UnblendedCost"
USAGE_METRIC = "UsageQuantity"


@dataclass(frozen=True)
class DailyCost:
    day: date
    usage_type: str
    cost_usd: float
    usage_quantity: float | None = None
    usage_unit: str | None = None
    estimated: bool = False


@dataclass(frozen=True)
class Anomaly:
    day: date
    usage_type: str
    cost_usd: float
    median_usd: float
    ratio: float | None

    @property
    def excess_usd(self) -> float:
        return self.cost_usd - self.median_usd

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day, "usage_type": self.usage_type, "cost_usd": round(self.cost_usd, 2),
                "median_usd": round(self.median_usd, 2), "excess_usd": round(self.excess_usd, 2),
                "ratio": None if self.ratio is None else round(self.ratio, 2)}


@dataclass
class UsageTypeTrend:
    usage_type: str
    category: str | None
    days: list[DailyCost]
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return sum(d.cost_usd for d in self.days)

    def as_dict(self) -> dict[str, Any]:
        return {"usage_type": self.usage_type, "category": self.category, "days": len(self.days),
                "total_usd": round(self.total_usd, 2), "anomalies": [a.as_dict() for a in self.anomalies],
                "daily": [{"day": d.day, "cost_usd": round(d.cost_usd, 6), "usage_quantity": d.usage_quantity,
                           "estimated": d.estimated} for d in self.days]}


def _amount(metrics: dict[str, Any], name: str, where: str) -> tuple[float | None, str | None]:
    m = metrics.get(name)
    if m is None:
        return None, None
    try:
        return float(m["Amount"]), m.get("Unit")
    except (KeyError, TypeError, ValueError):
        raise UserError(f"GetCostAndUsage: {where}.Metrics.{name}.Amount: not a number") from None


def parse_cost_and_usage(pages: Iterable[dict[str, Any]]) -> list[DailyCost]:
    out = []
    for p, page in enumerate(pages):
        for i, result in enumerate(page.get("ResultsByTime") or []):
            where = f"ResultsByTime[{i}]"
            try:
                day = date.fromisoformat(result["TimePeriod"]["Start"][:10])
            except (KeyError, TypeError, ValueError):
                raise UserError(f"GetCostAndUsage page {p}: {where}.TimePeriod.Start: not a date") from None
            for g, group in enumerate(result.get("Groups") or []):
                keys = group.get("Keys") or []
                if not keys:
                    continue
                gwhere = f"{where}.Groups[{g}]"
                cost, _ = _amount(group.get("Metrics") or {}, COST_METRIC, gwhere)
                qty, unit = _amount(group.get("Metrics") or {}, USAGE_METRIC, gwhere)
                out.append(DailyCost(day, keys[-1], cost or 0.0, qty, unit, bool(result.get("Estimated"))))
    return out


def ce_category(usage_type: str) -> str | None:
    """Cost Explorer groups carry no service code; the query is filtered to ECR, VPC and EC2-Other, where
    `TimedStorage-*` and `*-Bytes` of no other family are ECR's."""
    if usage_family(usage_type).startswith("TimedStorage"):
        return "ecr_storage"
    return category("AmazonEC2", usage_type)


def trends(daily: Iterable[DailyCost], *, k: float = DEFAULT_K, window: int = DEFAULT_WINDOW,
           min_history: int = DEFAULT_MIN_HISTORY, min_spike_usd: float = DEFAULT_MIN_SPIKE_USD,
           only_relevant: bool = True) -> list[UsageTypeTrend]:
    """One trend per usage type, days without a group filled with 0, anomaly days flagged."""
    grouped: dict[str, dict[date, DailyCost]] = defaultdict(dict)
    for d in daily:
        prev = grouped[d.usage_type].get(d.day)
        if prev:  # several pages or accounts report the same day: add them up
            d = DailyCost(d.day, d.usage_type, prev.cost_usd + d.cost_usd,
                          (prev.usage_quantity or 0) + (d.usage_quantity or 0), d.usage_unit,
                          prev.estimated or d.estimated)
        grouped[d.usage_type][d.day] = d
    all_days = sorted({day for by_day in grouped.values() for day in by_day})
    out = []
    for ut in sorted(grouped):
        cat = ce_category(ut)
        if only_relevant and cat is None:
            continue
        by_day = grouped[ut]
        series = []
        day = all_days[0]
        while day <= all_days[-1]:
            series.append(by_day.get(day) or DailyCost(day, ut, 0.0))
            day += timedelta(days=1)
        points = [DayPoint(d.day, round(d.cost_usd * MICRO), 0) for d in series]
        spikes = find_spikes(points, k=k, window=window, min_history=min_history,
                             min_spike_bytes=round(min_spike_usd * MICRO))
        anomalies = [Anomaly(s.day, ut, s.processed / MICRO, s.median / MICRO, s.ratio) for s in spikes]
        out.append(UsageTypeTrend(ut, cat, series, anomalies))
    return out


# Which usage an event can explain: a NAT spike, NAT usage; a crash loop's restarts re-pull the image, so NAT
# bytes, ECR and other data transfer and interface-endpoint bytes (docs/billing.md).
NAT_SPIKE_LINKS = ("nat_hours", "nat_bytes")
CRASH_LOOP_LINKS = ("nat_bytes", "ecr_data_transfer", "data_transfer", "vpce_bytes")


@dataclass(frozen=True, order=True)
class Event:
    """Something in the store that can explain an anomaly day: its day, what it was, the categories it explains."""
    day: date
    label: str
    categories: tuple[str, ...] = NAT_SPIKE_LINKS


def link_events(anomalies: Iterable[Anomaly], events: Iterable[Event], *,
                days: int = 0) -> dict[tuple[date, str], list[str]]:
    """For each anomaly (day, usage type) of a category some event explains: the labels of those events
    (a crash-loop or NAT-spike finding) within `days` days of it, so a bill spike points at its likely cause;
    none for categories no event explains (storage, public IPv4)."""
    evs = sorted(events)
    out: dict[tuple[date, str], list[str]] = {}
    for a in anomalies:
        cat = ce_category(a.usage_type)
        out[(a.day, a.usage_type)] = [e.label for e in evs
                                      if cat in e.categories and abs((e.day - a.day).days) <= days]
    return out
