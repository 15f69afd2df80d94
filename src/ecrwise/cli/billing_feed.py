"""The estimates `billing reconcile` sets against the bill, from the store's snapshots (no --estimates needed):

- storage per repository: each deciding snapshot's distinct-layer bytes (`inventory_of`), averaged over the
  billing period by `billing.estimates.average_storage`;
- NAT pull bytes per gateway: `analysis.pulls.analyse_pulls` on the snapshot that best stands for the period
  (its per-service NAT bytes a month, summed per gateway, scaled to the period's hours);
- VPC endpoints: the same snapshot's interface endpoints, one billed AZ per subnet (an interface endpoint takes
  one subnet per Availability Zone, https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html,
  and is billed per AZ-hour, https://aws.amazon.com/privatelink/pricing/); the audit knows no bytes.

And, for `billing trend`, the events an anomaly day of the bill links to: the NAT spike days of the store's
CloudWatch data (`nat_spike_events`) and the days crash-looping services were seen restarting (`crash_loop_events`).

Loading from the store is here, next to `cli/snapshot_data.py`; the arithmetic is in the pure modules.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable

from ecrwise.billing.estimates import (StorageSample, average_storage, deciding_times, nat_pulls_for_period,
                                       period_bounds)
from ecrwise.billing.reconcile import EndpointExpectation
from ecrwise.billing.trend import CRASH_LOOP_LINKS, NAT_SPIKE_LINKS, Event
from ecrwise.cli.snapshot_data import inventory_of, records_of
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.records.network import VpcEndpoint
from ecrwise.store import Snapshot, Store

CRASH_LOOP_MAX_DAYS = 31  # a window longer than a billing month adds nothing to a daily trend


@dataclass
class Feed:
    estimates: dict[str, list[Any]] = field(default_factory=dict)  # storage, nat, endpoints
    sources: dict[str, str] = field(default_factory=dict)          # where each kind came from
    warnings: list[str] = field(default_factory=list)


def _day(s: Snapshot) -> str:
    return f"{s.taken_at:%Y-%m-%d %H:%M} UTC"


def _stand_in(snaps: list[Snapshot], period: str) -> Snapshot | None:
    """The last snapshot taken before the period ends, else the first one after it."""
    _, end = period_bounds(period)
    before = [s for s in snaps if s.taken_at < end]
    return before[-1] if before else (snaps[0] if snaps else None)


def snapshot_estimates(st: Store, period: str, book: PriceBook, *, skip: Iterable[str] = ()) -> Feed:
    """Storage, NAT and endpoint estimates for `period` from `st`'s snapshots; kinds in `skip` are left out
    (the caller has them from --estimates)."""
    feed = Feed()
    skip = set(skip)
    snaps = sorted(st.snapshots(), key=lambda s: (s.taken_at, s.id))
    if "storage" not in skip:
        _storage(st, period, book, [s for s in snaps if "ecr" in s.services], feed)
    wanted = {"nat", "endpoints"} - skip
    if wanted:
        _network(st, period, book, [s for s in snaps if {"ecs", "network"} <= set(s.services)], wanted, feed)
    return feed


def _storage(st: Store, period: str, book: PriceBook, snaps: list[Snapshot], feed: Feed) -> None:
    if not snaps:
        feed.warnings.append("the store has no snapshot with ECR data: no storage estimates (run `ecrwise scan`, "
                             "or give --estimates)")
        return
    by_time = {s.taken_at: s for s in snaps}  # two snapshots at one instant: the later id wins
    steps = [by_time[t] for t in deciding_times(by_time, period)]
    samples = [StorageSample(s.taken_at, r.account, r.region, r.repository, r.stored_bytes)
               for s in steps for r in inventory_of(st, s.id, book).rows]
    feed.estimates["storage"] = average_storage(samples, period)
    feed.sources["storage"] = "snapshot" + ("s " if len(steps) > 1 else " ") + ", ".join(str(s.id) for s in steps)
    start, end = period_bounds(period)
    if steps[0].taken_at >= end:
        feed.warnings.append(f"no snapshot before or during {period}: snapshot {steps[0].id} ({_day(steps[0])}) "
                             "stands for the whole period")
    elif steps[0].taken_at > start:
        feed.warnings.append(f"the first snapshot of {period} is snapshot {steps[0].id} ({_day(steps[0])}): its "
                             "storage is assumed from the start of the period")


def _network(st: Store, period: str, book: PriceBook, snaps: list[Snapshot], wanted: set[str], feed: Feed) -> None:
    from ecrwise.analysis.pulls import analyse_pulls

    snap = _stand_in(snaps, period)
    if snap is None:
        feed.warnings.append("the store has no snapshot with ECS and network data, so NAT gateway bytes are not "
                             "attributed to image pulls (every billed NAT byte shows as unexplained) and endpoints "
                             "have no audit: run `ecrwise scan` (all services), or give --estimates")
        return
    records = records_of(st, snap.id)
    if "nat" in wanted:
        report = analyse_pulls(records, book, now=snap.taken_at)
        per_nat: dict[tuple[str, str, str], int] = defaultdict(int)
        for s in report.services:
            if s.nat_gateway_id and s.nat_bytes_per_month:
                per_nat[(s.account, s.region, s.nat_gateway_id)] += s.nat_bytes_per_month
        feed.estimates["nat"] = nat_pulls_for_period(dict(per_nat), period)
        feed.sources["nat"] = f"snapshot {snap.id} (ecrwise pulls)"
        feed.warnings += [f"pulls, snapshot {snap.id}: {w}" for w in report.warnings]
    if "endpoints" in wanted:
        feed.estimates["endpoints"] = [
            EndpointExpectation(e.account, e.region, e.endpoint_id, len(e.subnet_ids))
            for e in records.of(VpcEndpoint)
            if e.endpoint_type == "Interface" and e.subnet_ids and e.state.lower() == "available"]
        feed.sources["endpoints"] = f"snapshot {snap.id} (endpoint audit)"


def nat_spike_events(st: Store) -> tuple[list[Event], list[int]]:
    """(day, label) of every NAT-gateway spike day in the store's CloudWatch data (`ecrwise network`'s rule,
    `analysis.nat_traffic`), over all snapshots that scanned the network (a later snapshot's value of a day
    wins), and the ids of those snapshots. A Cost Explorer anomaly day of NAT usage links to these."""
    from ecrwise.analysis.nat_traffic import nat_series
    from ecrwise.records.network import NatGateway, NatMetric

    snaps = sorted((s for s in st.snapshots() if "network" in s.services), key=lambda s: s.id)
    metrics: dict[tuple[str, str, str, str, date], NatMetric] = {}
    gateways: dict[tuple[str, str, str], NatGateway] = {}
    for s in snaps:
        for m in st.load(s.id, NatMetric):
            metrics[(m.account, m.region, m.nat_gateway_id, m.metric, m.day)] = m
        for g in st.load(s.id, NatGateway):
            gateways[(g.account, g.region, g.nat_gateway_id)] = g
    events = []
    for series in nat_series(metrics.values(), gateways.values()):
        for sp in series.spikes:
            times = f", {sp.ratio:.1f}× the median" if sp.ratio else ""
            events.append(Event(sp.day, f"NAT spike {series.nat_gateway_id} ({series.region}): "
                                        f"{sp.processed / GIB:,.1f} GiB processed{times}", NAT_SPIKE_LINKS))
    return events, [s.id for s in snaps]


def crash_loop_events(st: Store, book: PriceBook) -> tuple[list[Event], list[int]]:
    """(day, label) for every day a crash-looping service (`ecrwise pulls`' rule) was seen restarting, over the
    snapshots that scanned ECS, and those snapshots' ids. A service's days are the window its starts were counted
    over (`starts_detail.window_start` to the snapshot's time: the service events or stopped tasks ECS still held),
    at most CRASH_LOOP_MAX_DAYS back; a later snapshot's label of a (service, day) wins. An anomaly day of NAT or
    data-transfer usage links to these: every restart re-pulls the image."""
    from ecrwise.analysis.pulls import analyse_pulls

    snaps = sorted((s for s in st.snapshots() if "ecs" in s.services), key=lambda s: s.id)
    by_key: dict[tuple[str, date], Event] = {}
    for snap in snaps:
        records = records_of(st, snap.id)
        report = analyse_pulls(records, book, now=snap.taken_at)
        for s in report.services:
            if not s.crash_loop:
                continue
            last = snap.taken_at.date()
            first = s.starts_detail.get("window_start")
            first = first.date() if first else last
            first = max(first, last - timedelta(days=CRASH_LOOP_MAX_DAYS - 1))
            per_day = s.nat_bytes_per_month / GIB / (book.hours_per_month / 24) if s.nat_bytes_per_month else 0
            nat = (f", {per_day:,.1f} GiB/day through {s.nat_gateway_id}"
                   if s.nat_bytes_per_month and s.nat_gateway_id else "")
            label = (f"crash loop {s.cluster}/{s.service} ({s.region}): "
                     f"{s.task_starts_per_day:,.0f} task starts/day{nat}")
            day = first
            while day <= last:
                by_key[(s.service_arn, day)] = Event(day, label, CRASH_LOOP_LINKS)
                day += timedelta(days=1)
    return sorted(by_key.values()), [s.id for s in snaps]


def store_reconciliation(st: Store, book: PriceBook, period: str | None = None, *,
                         given: dict[str, list[Any]] | None = None) -> tuple[Any, dict[str, str], list[str]]:
    """`billing reconcile` on `st`: (Reconciliation, where each kind's estimates came from, warnings). The
    kinds `given` lists (from --estimates) replace the snapshots' estimates; the rest come from the snapshots."""
    from ecrwise.billing.reconcile import reconcile, resolve_period

    given = given or {}
    p = resolve_period(st.con, period)
    feed = snapshot_estimates(st, p, book, skip={k for k, v in given.items() if v})
    kwargs = {k: given.get(k) or feed.estimates.get(k, []) for k in ("storage", "nat", "endpoints")}
    sources = {k: "--estimates" if given.get(k) else feed.sources.get(k, "none") for k in kwargs}
    return reconcile(st.con, book, period=p, **kwargs), sources, feed.warnings


def latest_reconciliation(st: Store, book: PriceBook) -> tuple[Any, list[str]] | None:
    """The latest imported month reconciled from the snapshots, for the HTML report; None without billing data."""
    from ecrwise.billing.importer import has_billing_tables
    from ecrwise.billing.reconcile import billing_periods

    if not has_billing_tables(st.con) or not billing_periods(st.con):
        return None
    rec, _, warnings = store_reconciliation(st, book)
    return rec, warnings


# Which billing category a recorded change's prediction belongs to, by the command that applied it and, for a
# network fix, by the resource: its NAT gateways' saved processing, its new endpoints' hours.
PREDICTED_CATEGORY = {"lifecycle apply": "ecr_storage"}
NETWORK_FIX_CATEGORY = {"nat-": "nat_bytes", "vpce-": "vpce_hours"}


def predicted_category(command: str, resource: str) -> str | None:
    if command == "network fix":
        return next((cat for prefix, cat in NETWORK_FIX_CATEGORY.items() if resource.startswith(prefix)), None)
    return PREDICTED_CATEGORY.get(command)


def predictions(changes: Iterable[Any]) -> dict[tuple[str, str, str, str], float]:
    """(billing category, account, region, resource) -> predicted monthly savings of recorded changes
    (store.applied rows). Region and account are part of the key: one repository name in two regions is two
    repositories, billed apart."""
    out: dict[tuple[str, str, str, str], float] = {}
    for c in changes:
        cat = predicted_category(c.command, c.resource)
        if c.predicted_monthly_savings_usd is not None and cat is not None:
            key = (cat, c.account, c.region, c.resource)
            out[key] = out.get(key, 0.0) + c.predicted_monthly_savings_usd
    return out


def savings_since_last_apply(st: Store) -> dict[str, Any] | None:
    """`billing savings` since the last recorded `lifecycle apply --apply`, with its predictions, for the HTML
    report: {since, rows (as_dict, only those with a prediction or a non-zero saving), totals}; None when no
    apply is recorded or the bill has no days on both sides of it yet."""
    from ecrwise.billing.importer import has_billing_tables
    from ecrwise.billing.savings import realised_savings, unmatched_predictions
    from ecrwise.errors import UserError
    from ecrwise.store.applied import last_apply

    changes = last_apply(st)
    if not changes or not has_billing_tables(st.con):
        return None
    day = changes[0].at.date()
    predicted = predictions(changes)
    try:
        rows = realised_savings(st.con, day, predicted=predicted)
    except UserError:  # the bill does not reach both sides of the change yet
        return None
    shown = [r.as_dict() for r in rows if r.predicted_monthly_usd is not None or abs(r.realised_monthly_usd) >= 0.005]
    return {"since": day.isoformat(), "rows": shown,
            "totals": {"realised_monthly_usd": round(sum(r.realised_monthly_usd for r in rows), 2),
                       "predicted_monthly_usd": round(sum(r.predicted_monthly_usd or 0.0 for r in rows), 2)},
            "warnings": unmatched_predictions(rows, predicted)}

