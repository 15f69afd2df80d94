"""NAT traffic: daily series, spike days against a rolling median, pulls' share, alarm thresholds."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrwise.analysis.nat_traffic import (GIB, DayPoint, alarm_specs, daily_points, find_spikes, nat_series)
from ecrwise.records.network import NatGateway, NatMetric

D0 = date(2026, 3, 1)
NAT = NatGateway("111111111111", "us-east-1", "nat-1", "vpc-1", "subnet-p", "available", "public", ["1.2.3.4"])


def metrics(values: list[int], nat: str = "nat-1", skip: set[int] = frozenset()) -> list[NatMetric]:
    out = []
    for i, v in enumerate(values):
        if i in skip:
            continue
        day = D0 + timedelta(days=i)
        out += [NatMetric("111111111111", "us-east-1", nat, "BytesInFromDestination", day, v),
                NatMetric("111111111111", "us-east-1", nat, "BytesOutToSource", day, v),
                NatMetric("111111111111", "us-east-1", nat, "BytesInFromSource", day, v // 10),
                NatMetric("111111111111", "us-east-1", nat, "BytesOutToDestination", day, v // 10)]
    return out


def points(values: list[int]) -> list[DayPoint]:
    return [DayPoint(D0 + timedelta(days=i), v, v) for i, v in enumerate(values)]


def test_processed_is_bytes_in_from_both_sides_and_gaps_are_zero_days():
    days = daily_points(metrics([100, 200, 300], skip={1}))
    assert [d.day for d in days] == [D0, D0 + timedelta(days=1), D0 + timedelta(days=2)]
    # BytesInFromSource (10) + BytesInFromDestination (100); the missing day counts as zero.
    assert [d.processed for d in days] == [110, 0, 330]
    assert days[2].downloaded == 300


def test_spikes_above_k_times_rolling_median():
    values = [10, 12, 11, 10, 50, 11, 9, 12, 31, 30]
    spikes = find_spikes(points(values), k=3, window=7, min_history=3)
    # Day 4: 50 > 3 × median(10, 12, 11, 10) = 31.5. Day 8: 31 ≤ 3 × median(12, 11, 10, 50, 11, 9, 12) = 33.
    assert [(s.day, s.median) for s in spikes] == [(D0 + timedelta(days=4), 10.5)]
    assert spikes[0].ratio == pytest.approx(50 / 10.5)
    assert spikes[0].excess_bytes == 39
    # A smaller k catches more; the first min_history days are never judged.
    assert len(find_spikes(points(values), k=2, window=7, min_history=3)) == 3
    assert find_spikes(points([1000, 1, 1, 1]), k=3, window=7, min_history=3) == []


def test_zero_median_needs_the_floor():
    quiet = [0, 0, 0, 0, 5 * GIB, 100]
    spikes = find_spikes(points(quiet), k=3, window=7, min_history=3, min_spike_bytes=GIB)
    assert [s.day for s in spikes] == [D0 + timedelta(days=4)] and spikes[0].ratio is None


def test_bad_parameters():
    with pytest.raises(ValueError):
        find_spikes(points([1, 2, 3]), k=0)


def test_series_per_gateway_with_pull_share():
    other = NatGateway("111111111111", "us-east-1", "nat-2", "vpc-1", "subnet-q", "available", "public", [])
    values = [30 * GIB] * 10
    series = nat_series(metrics(values), [NAT, other],
                        pull_bytes_by_nat={("111111111111", "us-east-1", "nat-1"): 450 * GIB})
    assert [s.nat_gateway_id for s in series] == ["nat-1", "nat-2"]
    s = series[0]
    assert s.processed_bytes == 10 * 33 * GIB
    # 330 GiB over 10 days → 33 GiB a day × 730/24 days; pulls' 450 GiB a month is 14.79 GiB a day, set against
    # the mean of the last 7 days (33 GiB).
    assert s.processed_bytes_per_month == int(330 * GIB * (730 / 24) / 10)
    assert s.recent_daily_bytes == 33 * GIB
    assert s.pull_share == pytest.approx(450 / (730 / 24) / 33)
    assert series[1].days == [] and series[1].pull_share is None


def test_alarm_thresholds_from_history():
    values = [24 * GIB] * 20 + [240 * GIB]
    (spec,) = alarm_specs(nat_series(metrics(values), [NAT]), k=3)
    # Median day 26.4 GiB processed (24 + 2.4); 3 × 26.4 / 24 = 3.3 GiB an hour: the spike day does not move it.
    assert spec.threshold == pytest.approx(3 * 26.4 * GIB / 24, rel=1e-9, abs=1)
    assert spec.name == "ecrwise-nat-bytes-nat-1"
    assert (spec.period, spec.evaluation_periods, spec.datapoints_to_alarm) == (3600, 3, 2)
    idle = alarm_specs(nat_series(metrics([1000] * 5), [NAT]), k=3, min_bytes_per_hour=GIB)
    assert idle[0].threshold == GIB


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=0, max_size=40),
       st.floats(min_value=1.0, max_value=10.0))
def test_spike_invariants(values, k):
    spikes = find_spikes(points(values), k=k, window=7, min_history=3, min_spike_bytes=GIB)
    for s in spikes:
        i = (s.day - D0).days
        assert i >= 3
        assert s.processed == values[i]
        if s.median > 0:
            assert s.processed > k * s.median
        else:
            assert s.processed > GIB
    # Raising k never adds spike days.
    more = {s.day for s in find_spikes(points(values), k=k + 1, window=7, min_history=3, min_spike_bytes=GIB)}
    assert more <= {s.day for s in spikes}
