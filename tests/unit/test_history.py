"""History across snapshots: the per-snapshot series and the realised savings between two, by hand."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from ecrwise.analysis.history import build_history, realised
from ecrwise.analysis.inventory import build_inventory
from ecrwise.pricing.book import load_price_book
from ecrwise.records.ecr import Image, ImageLayer, Repository

A = "111111111111"
T = datetime(2026, 1, 1, tzinfo=timezone.utc)
GIB = 2**30
BOOK = load_price_book()  # us-east-1 $0.10/GB-month, eu-west-1 has its own price


def repo(name, region="us-east-1"):
    return Repository(A, region, name, f"arn:{region}:{name}", f"uri/{name}", T, "MUTABLE", False, "AES256")


def layers(repo_name, image_digest, *pairs, region="us-east-1"):
    return [ImageLayer(A, region, repo_name, image_digest, d, s) for d, s in pairs]


def snapshot(sid, repos, lays):
    images = [Image(A, l.region, l.repository, l.image_digest, ["t"], T, None, 0, "m", None, 0)
              for l in {(l.region, l.repository, l.image_digest): l for l in lays}.values()]
    return (sid, T + timedelta(days=sid), build_inventory(repos, images, lays, [], BOOK)), lays


def test_realised_savings_by_hand():
    base, a, b, c = ("sha256:base", 3 * GIB), ("sha256:a", GIB), ("sha256:b", 2 * GIB), ("sha256:c", GIB // 2)
    # Snapshot 1: app has base + a + b (6 GiB); gone (another repo) has c; old-eu has a in eu-west-1.
    s1 = snapshot(1, [repo("app"), repo("gone"), repo("old-eu", "eu-west-1")],
                  layers("app", "i1", base, a) + layers("app", "i2", base, b) + layers("gone", "g1", c)
                  + layers("old-eu", "e1", a, region="eu-west-1"))
    # Snapshot 2: i2 deleted (b goes; base stays, i1 still has it); gone deleted; new repo appears with c.
    s2 = snapshot(2, [repo("app"), repo("new"), repo("old-eu", "eu-west-1")],
                  layers("app", "i1", base, a) + layers("new", "n1", c) + layers("old-eu", "e1", a, region="eu-west-1"))
    h = build_history([s1[0], s2[0]], s1[1], s2[1], 1, 2, BOOK)
    by = {c.repository: c for c in h.changes}
    assert (by["app"].status, by["app"].from_bytes, by["app"].to_bytes) == ("changed", 6 * GIB, 4 * GIB)
    assert by["app"].removed_bytes == 2 * GIB and by["app"].added_bytes == 0
    assert by["app"].realised_savings == pytest.approx(0.20)  # 2 GiB × $0.10
    assert (by["gone"].status, by["gone"].removed_bytes) == ("removed", GIB // 2)
    assert (by["new"].status, by["new"].added_bytes, by["new"].realised_savings) == ("added", GIB // 2, 0.0)
    assert by["new"].added_cost == pytest.approx(0.05)
    assert by["old-eu"].status == "unchanged"
    t = h.totals()
    assert t["removed_bytes"] == 2 * GIB + GIB // 2 and t["added_bytes"] == GIB // 2
    assert t["net_bytes"] == t["to_bytes"] - t["from_bytes"] == -2 * GIB
    assert t["realised_savings"] == pytest.approx(0.25)
    assert t["repositories_removed"] == ["us-east-1/gone"] and t["repositories_added"] == ["us-east-1/new"]
    assert [s.stored_bytes for s in h.snapshots] == [6 * GIB + GIB // 2 + GIB, 4 * GIB + GIB // 2 + GIB]
    assert h.repositories[0].repository == "app" and h.repositories[0].points[2][0] == 4 * GIB
    assert h.warnings == []


def test_layer_moving_between_repositories_is_billed_in_each():
    x = ("sha256:x", GIB)
    ch = realised(layers("a", "1", x), layers("b", "2", x), {(A, "us-east-1", "a")}, {(A, "us-east-1", "b")}, BOOK)
    by = {c.repository: c for c in ch}
    assert by["a"].removed_bytes == GIB and by["b"].added_bytes == GIB  # ECR stores it per repository


def test_region_prices_apply():
    x = ("sha256:x", GIB)
    (c,) = realised(layers("a", "1", x, region="eu-west-1"), [], {(A, "eu-west-1", "a")}, set(), BOOK)
    assert c.realised_savings == pytest.approx(BOOK.price("eu-west-1", "ecr_storage_gb_month").usd)
    assert c.arithmetic["price"]["region"] == "eu-west-1"


def test_one_snapshot_warns():
    s1 = snapshot(1, [repo("app")], layers("app", "i", ("sha256:l", 10)))
    h = build_history([s1[0]], s1[1], s1[1], 1, 1, BOOK)
    assert h.warnings and all(c.status == "unchanged" for c in h.changes)


digests = st.sampled_from([f"sha256:{i}" for i in range(8)])
refs = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["i1", "i2"]), digests), max_size=20)


@settings(max_examples=60, deadline=None)
@given(refs, refs)
def test_net_change_is_added_minus_removed(before, after):
    size = {f"sha256:{i}": (i + 1) * 1000 for i in range(8)}  # one size per digest, as content addressing gives
    lb = [ImageLayer(A, "us-east-1", r, i, d, size[d]) for r, i, d in before]
    la = [ImageLayer(A, "us-east-1", r, i, d, size[d]) for r, i, d in after]
    for c in realised(lb, la, {(A, "us-east-1", r) for r, _, _ in before},
                      {(A, "us-east-1", r) for r, _, _ in after}, BOOK):
        assert c.net_bytes == c.added_bytes - c.removed_bytes
        assert c.removed_bytes <= c.from_bytes and c.added_bytes <= c.to_bytes
        assert (c.status == "unchanged") == (c.removed_bytes == 0 and c.added_bytes == 0 and c.status != "removed"
                                             and c.status != "added")
