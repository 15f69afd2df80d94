"""Estimates over a billing period from snapshots; anomaly links; the demo's gap builder."""
from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb

from ecrwise.billing.estimates import StorageSample, average_storage, nat_pulls_for_period
from ecrwise.billing.importer import import_export
from ecrwise.billing.reconcile import StorageEstimate, reconcile
from ecrwise.billing.trend import CRASH_LOOP_LINKS, NAT_SPIKE_LINKS, Anomaly, Event, link_events
from ecrwise.demo.billing_export import NatUsage, RepoUsage, usage_with_gaps, write_export
from ecrwise.pricing.book import GIB, load_price_book


def t(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def test_time_weighted_average() -> None:
    a = ("1", "us-east-1")
    samples = [StorageSample(t(20, month=10), *a, "r", 10 * GIB),   # before the period: holds until the next
               StorageSample(t(16), *a, "r", 40 * GIB),             # from the 16th: 40 GiB
               StorageSample(t(16), *a, "new", 30 * GIB)]           # created by the 16th
    got = {e.repository: e.estimated_bytes for e in average_storage(samples, "2026-11")}
    assert got["r"] == round((15 * 10 + 15 * 40) * GIB / 30)
    assert got["new"] == 15 * GIB  # absent in the earlier snapshot: 0 until it appears
    # A repository gone from a later snapshot was deleted: 0 from then on.
    gone = average_storage([StorageSample(t(1), *a, "x", 6 * GIB), StorageSample(t(11), *a, "y", 1)], "2026-11")
    assert {e.repository: e.estimated_bytes for e in gone}["x"] == 2 * GIB
    assert average_storage([], "2026-11") == []


def test_nat_pulls_scaled_to_the_period() -> None:
    (n,) = nat_pulls_for_period({("1", "us-east-1", "nat-1"): 730 * GIB}, "2026-11")
    assert n.pull_bytes == 720 * GIB  # a 720-hour month


def test_link_events() -> None:
    a = Anomaly(date(2026, 11, 7), "NatGateway-Bytes", 9.5, 2.0, 4.75)
    storage = Anomaly(date(2026, 11, 7), "USE1-TimedStorage-ByteHrs", 4.0, 0.4, 10.0)
    hours = Anomaly(date(2026, 11, 7), "NatGateway-Hours", 4.0, 1.0, 4.0)
    events = [Event(date(2026, 11, 7), "crash loop web", CRASH_LOOP_LINKS),
              Event(date(2026, 11, 6), "NAT spike nat-1", NAT_SPIKE_LINKS),
              Event(date(2026, 11, 1), "other", CRASH_LOOP_LINKS)]
    assert link_events([a], events) == {(a.day, a.usage_type): ["crash loop web"]}
    assert link_events([a], events, days=1)[(a.day, a.usage_type)] == ["NAT spike nat-1", "crash loop web"]
    # A crash loop re-pulls images: it explains bytes, not NAT hours or storage.
    linked = link_events([storage, hours], events, days=1)
    assert linked == {(storage.day, storage.usage_type): [], (hours.day, hours.usage_type): ["NAT spike nat-1"]}


def test_usage_with_gaps_is_found_by_reconcile(tmp_path) -> None:
    repos = [RepoUsage("1", "us-east-1", "small", GIB), RepoUsage("1", "us-east-1", "big", 9 * GIB)]
    nats = [NatUsage("1", "us-east-1", "nat-a", 5 * GIB), NatUsage("1", "us-east-1", "nat-b", 50 * GIB)]
    u = usage_with_gaps("2026-11", "1", repos, nats)
    write_export(u, tmp_path / "e")
    con = duckdb.connect()
    import_export(con, tmp_path / "e")
    from ecrwise.billing.reconcile import NatAttribution

    rec = reconcile(con, load_price_book(), storage=[StorageEstimate("1", "us-east-1", r.repository, r.stored_bytes)
                                                     for r in repos],
                    nat=[NatAttribution("1", "us-east-1", n.nat_gateway_id, n.pull_bytes) for n in nats])
    gaps = {r.resource: r.gap_bytes for r in rec.rows if abs(r.gap_bytes) > 1024}
    assert gaps.keys() == {"big", "nat-b"}
    assert abs(gaps["big"] - 2 * GIB) < 1024 and abs(gaps["nat-b"] - 40 * GIB) < 1024
