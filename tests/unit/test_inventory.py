"""The inventory's arithmetic on small hand-built estates, checked against figures computed by hand."""
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, strategies as st

from ecrwise.analysis.inventory import build_inventory, distinct_layer_bytes, sort_rows
from ecrwise.pricing.book import load_price_book
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.report.repos import playbook_cost

A = "111111111111"
T = datetime(2026, 1, 1, tzinfo=timezone.utc)
GIB = 2**30


def repo(name, region="us-east-1", policy=None):
    return Repository(A, region, name, f"arn:{name}", f"uri/{name}", T, "MUTABLE", False, "AES256", {}, policy)


def image(repo_name, digest, tags, layers, region="us-east-1", pushed=T, pulled=None, children=()):
    return (Image(A, region, repo_name, digest, tags, pushed, pulled, 1, "m", None, sum(s for _, s in layers),
                  children=list(children), is_index=bool(children)),
            [ImageLayer(A, region, repo_name, digest, d, s) for d, s in layers])


def build(images, repos, pulls=()):
    imgs = [i for i, _ in images]
    layers = [l for _, ls in images for l in ls]
    return build_inventory(repos, imgs, layers, list(pulls), load_price_book())


def test_shared_layers_are_billed_once_and_naive_counts_them_per_image():
    base = ("sha256:base", 3 * GIB)
    inv = build([
        image("app", "sha256:1", ["v1"], [base, ("sha256:a1", GIB)]),
        image("app", "sha256:2", ["v2"], [base, ("sha256:a2", GIB)]),
        image("app", "sha256:3", [], [base, ("sha256:a1", GIB)]),  # rebuilt: same layers as v1
    ], [repo("app")])
    (row,) = inv.rows
    assert row.stored_bytes == 5 * GIB  # base + a1 + a2
    assert row.naive_bytes == 12 * GIB  # 3 images × 4 GiB
    assert row.monthly_cost == pytest.approx(0.50)  # 5 GiB × $0.10
    assert (row.images, row.tagged_images, row.untagged_images) == (3, 2, 1)
    assert row.arithmetic["bytes"] == 5 * GIB and row.arithmetic["price_usd_per_gb_month"] == 0.10


def test_same_layer_in_two_repositories_is_billed_in_each():
    base = ("sha256:base", GIB)
    inv = build([image("a", "sha256:1", ["x"], [base]), image("b", "sha256:2", ["x"], [base])],
                [repo("a"), repo("b")])
    assert [r.stored_bytes for r in inv.rows] == [GIB, GIB]
    assert inv.totals["stored_bytes"] == 2 * GIB


def test_index_adds_no_layers_and_counts_as_an_image():
    inv = build([
        image("multi", "sha256:amd", [], [("sha256:l1", 100)]),
        image("multi", "sha256:arm", [], [("sha256:l2", 50)]),
        image("multi", "sha256:idx", ["1.0"], [], children=["sha256:amd", "sha256:arm"]),
    ], [repo("multi")])
    (row,) = inv.rows
    assert row.stored_bytes == 150 and row.naive_bytes == 150 and row.images == 3 and row.untagged_images == 2


def test_region_price_applies_and_unknown_region_warns():
    inv = build([image("a", "sha256:1", ["x"], [("sha256:l", GIB)], region="sa-east-1")],
                [repo("a", region="sa-east-1")])
    assert inv.rows[0].monthly_cost == pytest.approx(0.10)
    assert any("sa-east-1" in w and "us-east-1" in w for w in inv.warnings)


def test_median_and_above_median():
    imgs = [image(f"r{i}", f"sha256:{i}", ["x"], [(f"sha256:l{i}", (i + 1) * GIB)]) for i in range(5)]
    inv = build(imgs, [repo(f"r{i}") for i in range(5)])
    assert inv.median_monthly_cost == pytest.approx(0.30)
    assert sorted(r.repository for r in inv.rows if r.above_median) == ["r3", "r4"]


def test_last_pulled_prefers_recorded_pull_time_then_metric_day():
    pulled = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
    inv = build([image("a", "sha256:1", ["x"], [("sha256:l", 1)], pulled=pulled),
                 image("b", "sha256:2", ["x"], [("sha256:m", 1)])], [repo("a"), repo("b")],
                [PullMetric(A, "us-east-1", "b", date(2026, 3, 5), 7), PullMetric(A, "us-east-1", "b",
                                                                                  date(2026, 3, 6), 0)])
    rows = {r.repository: r for r in inv.rows}
    assert (rows["a"].last_pulled_at, rows["a"].last_pulled_source) == (pulled, "describe-images")
    assert rows["b"].last_pulled_at == datetime(2026, 3, 5, tzinfo=timezone.utc)
    assert rows["b"].last_pulled_source == "cloudwatch-day" and rows["b"].pulls_30d == 7


def test_sorting():
    imgs = [image("small", "sha256:1", ["x"], [("sha256:a", 1)]),
            image("big", "sha256:2", ["x"], [("sha256:b", 9)]),
            image("many", "sha256:3", ["x"], [("sha256:c", 5)]),
            image("many", "sha256:4", ["y"], [("sha256:c", 5)])]
    inv = build(imgs, [repo("small"), repo("big"), repo("many")])
    assert [r.repository for r in sort_rows(inv.rows, "size")] == ["big", "many", "small"]
    assert [r.repository for r in sort_rows(inv.rows, "images")][0] == "many"
    assert [r.repository for r in sort_rows(inv.rows, "name")] == ["big", "many", "small"]


@pytest.mark.parametrize("usd, text", [(0, "0"), (0.004, "0"), (0.03, ".03"), (0.0349, ".03"), (1.997, "2.00"),
                                       (12.5, "12.50")])
def test_playbook_cost_format(usd, text):
    assert playbook_cost(usd) == text


layer_refs = st.lists(st.tuples(st.sampled_from([f"sha256:{c}" for c in "abcdefgh"]),
                                st.integers(0, 10**9)), max_size=40)


@given(layer_refs)
def test_distinct_bytes_never_exceed_naive_and_ignore_order(refs):
    # A digest names one blob, so one digest has one size: make the data consistent first.
    sizes = {}
    refs = [(d, sizes.setdefault(d, s)) for d, s in refs]
    assert distinct_layer_bytes(refs) <= sum(s for _, s in refs)
    assert distinct_layer_bytes(refs) == distinct_layer_bytes(list(reversed(refs)))
    assert distinct_layer_bytes(refs + refs) == distinct_layer_bytes(refs)
