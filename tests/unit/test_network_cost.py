"""The NAT-versus-endpoint arithmetic against figures computed by hand from the price book's us-east-1 prices
(NAT $0.045/hour and $0.045/GB, interface endpoint $0.01/AZ-hour and $0.01/GB, S3 gateway $0, public IPv4
$0.005/hour, 730 hours a month)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrwise.pricing.book import load_price_book
from ecrwise.pricing.network_cost import DEFAULT_IMAGE_BYTES, MANIFEST_BYTES_PER_PULL, network_cost

BOOK = load_price_book()


def lines(report, block):
    return {x.label: x for x in report.blocks[block].lines}


def test_common_estimate_worked_example_40_tb_three_azs():
    r = network_cost(BOOK, "us-east-1", 40960, 3)
    nat = lines(r, "nat")
    # 3 gateways × 730 h × $0.045 = $98.55; 40,960 GB × $0.045 = $1,843.20; 2,190 h × $0.005 = $10.95.
    assert nat["NAT gateway hours"].usd == pytest.approx(98.55)
    assert nat["NAT data processed (pull bytes)"].usd == pytest.approx(1843.20)
    assert nat["Public IPv4 address of each NAT gateway"].usd == pytest.approx(10.95)
    assert r.total("nat") == pytest.approx(1952.70)
    # The common estimate's "NAT ≈ $1,800" is the data processing alone; hours and the address are what it leaves out.
    assert r.blocks["nat"].common_estimate_usd == pytest.approx(1843.20)
    assert r.blocks["nat"].left_out_usd == pytest.approx(109.50)
    # The common estimate's "PrivateLink ≈ $400": 40,960 GB × $0.01 = $409.60, plus the $7.30/AZ it notes × 3 = $21.90.
    common = lines(r, "common-estimate")
    assert common["Interface endpoint data processed (all pull bytes)"].usd == pytest.approx(409.60)
    assert common["One interface endpoint in each AZ"].usd == pytest.approx(21.90)
    assert r.total("common-estimate") == pytest.approx(431.50)


def test_correct_set_up_and_manifest_model():
    r = network_cost(BOOK, "us-east-1", 40960, 3)
    # 40,960 GiB / 256 MiB = 163,840 pulls; × 32 KiB = 5 GiB of ECR API and manifest bytes; the rest are layers.
    assert r.pulls_estimated and r.pulls_per_month == 163_840
    assert r.manifest_gb == pytest.approx(5.0)
    assert r.layer_gb == pytest.approx(40955.0)
    ep = lines(r, "endpoints")
    assert ep["ecr.api interface endpoint"].usd == pytest.approx(21.90)
    assert ep["ecr.dkr interface endpoint"].usd == pytest.approx(21.90)
    assert ep["ECR API and manifest bytes through the interface endpoints"].usd == pytest.approx(0.05)
    assert ep["Layers through the S3 gateway endpoint"].usd == 0.0
    assert r.total("endpoints") == pytest.approx(43.85)
    # S3 gateway only: the 5 GB of manifests through the NAT, 5 × $0.045.
    assert r.total("s3-only") == pytest.approx(0.225)
    s = r.savings
    assert s["endpoints_vs_nat_data"] == pytest.approx(1843.20 - 43.85)
    assert s["endpoints_vs_nat_removed"] == pytest.approx(1952.70 - 43.85)
    assert s["s3_only_vs_nat_data"] == pytest.approx(1843.20 - 0.225)


def test_logs_endpoint_and_given_pull_count():
    r = network_cost(BOOK, "us-east-1", 100, 2, logs=True, pulls_per_month=10_000)
    ep = lines(r, "endpoints")
    # 2 AZ × 730 h × $0.01 = $14.60 per endpoint; 10,000 pulls × 32 KiB = 312,500 KiB = 0.298023… GiB.
    assert ep["logs interface endpoint (awslogs)"].usd == pytest.approx(14.60)
    assert not r.pulls_estimated
    assert r.manifest_gb == pytest.approx(10_000 * 32 / 1024 / 1024)
    assert r.total("endpoints") == pytest.approx(3 * 14.60 + r.manifest_gb * 0.01)


def test_break_even_volumes():
    r = network_cost(BOOK, "us-east-1", 40960, 3)
    be = {b.key: b.gb_per_month for b in r.break_even}
    # One endpoint in 3 AZs: $21.90 / ($0.045 − $0.01) = 625.714… GB.
    assert be["common-estimate"] == pytest.approx(21.90 / 0.035)
    # ecr.api + ecr.dkr: $43.80 / ($0.045 − (1/8192) × $0.01), the manifest share being 32 KiB / 256 MiB.
    assert be["endpoints"] == pytest.approx(43.80 / (0.045 - 0.01 / 8192))
    # With the S3 gateway in place the ECR endpoints only move manifests off the NAT: 43.80 × 8192 / 0.035.
    assert be["ecr-interface-endpoints"] == pytest.approx(43.80 * 8192 / 0.035)


def test_nat_gateway_count_and_other_region():
    r = network_cost(BOOK, "eu-west-1", 1000, 3, nat_gateways=1)
    nat = lines(r, "nat")
    # eu-west-1: NAT $0.048/hour and $0.048/GB, endpoint $0.011/AZ-hour.
    assert nat["NAT gateway hours"].usd == pytest.approx(730 * 0.048)
    assert nat["NAT data processed (pull bytes)"].usd == pytest.approx(48.0)
    assert lines(r, "endpoints")["ecr.api interface endpoint"].usd == pytest.approx(3 * 730 * 0.011)


def test_zero_volume_and_bad_input():
    r = network_cost(BOOK, "us-east-1", 0, 1)
    assert r.manifest_gb == 0 and r.layer_gb == 0
    assert r.total("s3-only") == 0
    assert {b.key: b.gb_per_month for b in r.break_even}["ecr-interface-endpoints"] is None
    with pytest.raises(ValueError):
        network_cost(BOOK, "us-east-1", -1, 3)
    with pytest.raises(ValueError):
        network_cost(BOOK, "us-east-1", 10, 0)


def test_formula_strings_carry_the_arithmetic():
    r = network_cost(BOOK, "us-east-1", 40960, 3)
    line = lines(r, "nat")["NAT data processed (pull bytes)"]
    assert line.formula == "40,960 GB × $0.045/GB = $1,843.20"
    d = line.as_dict()
    assert d["usd"] == 1843.2 and d["price"]["source"].startswith("https://aws.amazon.com/vpc/pricing")
    assert d["counted_by_common_estimate"] is True


@settings(max_examples=60, deadline=None)
@given(gb=st.floats(min_value=0, max_value=1e7, allow_nan=False), azs=st.integers(1, 6),
       pulls=st.one_of(st.none(), st.floats(min_value=0, max_value=1e8, allow_nan=False)))
def test_invariants(gb, azs, pulls):
    r = network_cost(BOOK, "us-east-1", gb, azs, pulls_per_month=pulls)
    # Manifests and layers partition the pull bytes; nothing is negative.
    assert r.manifest_gb + r.layer_gb == pytest.approx(gb)
    assert 0 <= r.manifest_gb <= gb + 1e-9
    for b in r.blocks.values():
        assert all(x.usd >= 0 for x in b.lines)
    # The S3 gateway endpoint alone never costs more than the NAT's processing of the same bytes.
    nat_data = lines(r, "nat")["NAT data processed (pull bytes)"].usd
    assert r.total("s3-only") <= nat_data + 1e-9
    # Above the correct set-up's break-even volume it is cheaper than NAT data processing, below it dearer.
    be = {b.key: b.gb_per_month for b in r.break_even}["endpoints"]
    if be is not None and abs(gb - be) > 1:
        assert (r.total("endpoints") < nat_data) == (gb > be)


def test_model_constants():
    from ecrwise.analysis.pulls import MANIFEST_BYTES_PER_IMAGE

    assert MANIFEST_BYTES_PER_PULL == 32 * 1024
    assert MANIFEST_BYTES_PER_IMAGE == MANIFEST_BYTES_PER_PULL  # `pulls` counts a start's pull the same way
    assert DEFAULT_IMAGE_BYTES == 256 * 1024 * 1024
