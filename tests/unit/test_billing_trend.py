"""Cost Explorer response parsing and anomaly days (the NAT spike rule, reused)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ecrwise.billing.trend import parse_cost_and_usage, trends
from ecrwise.demo.billing_export import cost_explorer_result
from ecrwise.errors import UserError

START = date(2026, 11, 1)


def page(days: dict, *, start: date = START, token: str | None = None) -> dict:
    return cost_explorer_result(days, start, next_token=token)


def test_seeded_anomaly_day_is_flagged() -> None:
    nat = [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 9.5, 2.1, 2.0]  # day 7 (2026-11-07) is the seeded spike
    storage = [0.33] * 9
    out = {t.usage_type: t for t in trends(parse_cost_and_usage([page({"NatGateway-Bytes": nat,
                                                                       "USE1-TimedStorage-ByteHrs": storage,
                                                                       "BoxUsage:m5.large": [5.0] * 9})]))}
    assert set(out) == {"NatGateway-Bytes", "USE1-TimedStorage-ByteHrs"}  # instance hours are not ours
    assert out["NatGateway-Bytes"].category == "nat_bytes"
    assert out["USE1-TimedStorage-ByteHrs"].category == "ecr_storage"
    (a,) = out["NatGateway-Bytes"].anomalies
    assert a.day == date(2026, 11, 7) and a.cost_usd == 9.5 and a.median_usd == 2.0
    assert a.as_dict()["excess_usd"] == 7.5 and a.ratio == pytest.approx(4.75)
    assert out["USE1-TimedStorage-ByteHrs"].anomalies == []
    assert out["NatGateway-Bytes"].days[-1].estimated


def test_pages_and_missing_days() -> None:
    p1 = page({"EUC1-VpcEndpoint-Hours": [0.5, 0.5, 0.5]}, token="t")
    p2 = page({"EUC1-VpcEndpoint-Hours": [0.5, None, 0.5]}, start=START + timedelta(days=3))
    (t,) = trends(parse_cost_and_usage([p1, p2]))
    assert [d.cost_usd for d in t.days] == [0.5, 0.5, 0.5, 0.5, 0.0, 0.5]  # the day with no group is 0
    assert t.total_usd == pytest.approx(2.5)


def test_zero_median_needs_the_floor() -> None:
    costs = [0.0, 0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 3.0]
    (t,) = trends(parse_cost_and_usage([page({"USE1-PublicIPv4:InUseAddress": costs})]))
    assert [a.day.day for a in t.anomalies] == [8]  # $0.60 over a zero median stays under the $1 floor
    (t,) = trends(parse_cost_and_usage([page({"USE1-PublicIPv4:InUseAddress": costs})]), min_spike_usd=0.5)
    assert [a.day.day for a in t.anomalies] == [5, 8]


def test_bad_amount_names_the_path() -> None:
    bad = page({"NatGateway-Hours": [1.0]})
    bad["ResultsByTime"][0]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"] = "lots"
    with pytest.raises(UserError, match=r"ResultsByTime\[0\]\.Groups\[0\]\.Metrics\.UnblendedCost\.Amount"):
        parse_cost_and_usage([bad])
