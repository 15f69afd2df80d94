"""Archive economics: transitions priced net of the 90-day minimum storage charge and expected restores.

The facts (ECR User Guide "Archiving an image"; ECR pricing page via the price book) are in
src/ecrwise/lifecycle/simulate.py's docstring; the choices where the documents are silent are in
docs/lifecycle.md ("Archive economics"). The engine is untouched: these tests also pin that simulating with
restore prices changes no action and no existing figure.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ecrwise.cli.lifecycle import app
from ecrwise.lifecycle.engine import evaluate
from ecrwise.lifecycle.policy import ARCHIVE_MIN_DAYS, parse_policy
from ecrwise.lifecycle.simulate import ARCHIVE_TIER_BYTES, archive_economics, simulate
from ecrwise.pricing.book import load_price_book
from lc_helpers import AT, img, policy, rule
from test_lifecycle_properties import policies, repositories

GIB = 2**30
TRANSITION = {"type": "transition", "targetStorageClass": "archive"}
KEEP_ONE_RELEASE = policy(rule(1, {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "imageCountMoreThan",
                                   "countNumber": 1}, TRANSITION))
WINDOW = 90 / (730 / 24)  # months in the 90-day minimum, with the price book's 730 hours a month


def _images(pulled_a: float | None = 10):
    return [
        # a: pulled 10 days ago, so likely restored; shares `base` with b.
        img("a", ["v1"], days=100, pulled_days=pulled_a, layers=(("sha256:base", GIB), ("sha256:a1", 2 * GIB))),
        img("b", ["v2"], days=95, layers=(("sha256:base", GIB), ("sha256:b1", GIB))),
        img("c", ["v3"], days=1, pulled_days=0, layers=(("sha256:c1", GIB),)),  # newest: kept
    ]


def test_by_hand_archiving_a_recently_pulled_image_costs_more_than_it_saves():
    ev = evaluate(parse_policy(KEEP_ONE_RELEASE), _images(), AT)
    assert [im.digest for im, _ in ev.transition] == ["sha256:a", "sha256:b"]
    e = archive_economics(ev, AT, 0.10, 0.04, 0.03, 730)
    assert (e.transitioned_images, e.archived_bytes, e.likely_restored_images) == (2, 4 * GIB, 1)
    assert (e.likely_restored_layer_bytes, e.likely_restored_image_bytes) == (3 * GIB, 3 * GIB)
    assert e.window_months == pytest.approx(WINDOW)
    assert e.gross_monthly_usd == pytest.approx(4 * 0.06)
    assert e.gross_window_usd == pytest.approx(4 * 0.06 * WINDOW)
    assert e.forgone_usd == pytest.approx(3 * 0.06 * WINDOW)
    assert e.minimum_charge_usd == pytest.approx(3 * 0.04 * WINDOW)
    assert e.restore_charge_usd == pytest.approx(3 * 0.03)
    net = 4 * 0.06 * WINDOW - 3 * 0.06 * WINDOW - 3 * 0.04 * WINDOW - 3 * 0.03
    assert e.net_window_usd == pytest.approx(net) and net < 0
    d = e.to_dict()
    assert (d["transition_savings_usd"], d["minimum_duration_charge_usd"], d["restore_charge_usd"],
            d["net_window_usd"]) == (0.24, round(3 * 0.04 * WINDOW, 2), 0.09, round(net, 2))
    a = d["arithmetic"]
    assert a["restore_charge_usd"] == f"{3 * GIB} B / 2^30 x $0.03 = $0.0900"
    assert a["minimum_duration_charge_usd"].startswith(f"{3 * GIB} B / 2^30 x $0.04 x (90 days / 30.4167")
    assert a["net_window_usd"].endswith(f"= -${-net:.4f}")


def test_images_not_pulled_within_the_minimum_are_not_expected_back():
    ev = evaluate(parse_policy(KEEP_ONE_RELEASE), _images(pulled_a=None), AT)
    e = archive_economics(ev, AT, 0.10, 0.04, 0.03)
    assert e.likely_restored_images == 0 and e.net_window_usd == e.gross_window_usd > 0


@pytest.mark.parametrize("pulled,likely", [(ARCHIVE_MIN_DAYS - 1, 1), (ARCHIVE_MIN_DAYS, 1),
                                           (ARCHIVE_MIN_DAYS + 1e-5, 0), (ARCHIVE_MIN_DAYS + 1, 0)])
def test_the_recent_pull_window_is_the_minimum_duration_inclusive(pulled, likely):
    ev = evaluate(parse_policy(KEEP_ONE_RELEASE), _images(pulled_a=pulled), AT)
    assert archive_economics(ev, AT, 0.1, 0.1, 0.03).likely_restored_images == likely


def test_list_prices_give_no_gross_saving_and_a_warning():
    book = load_price_book()
    std = book.price("us-east-1", "ecr_storage_gb_month").usd
    arc = book.price("us-east-1", "ecr_archive_storage_gb_month").usd
    rst = book.price("us-east-1", "ecr_archive_restore_gb")
    assert (std, arc, rst.usd) == (0.10, 0.10, 0.03) and rst.source.startswith("https://aws.amazon.com/ecr/pricing")
    assert book.price("us-east-1", "ecr_archive_storage_gb_month_over_150tb").usd == 0.07
    res = simulate({"repo": parse_policy(KEEP_ONE_RELEASE)}, _images(), AT, std, arc, restore_price_gb=rst.usd)
    (item,) = res.items
    assert item.archive.gross_monthly_usd == 0 and item.archive.net_window_usd < 0
    assert any("below 150 TB of archive a transition saves no storage cost" in w for w in res.warnings)
    assert any(w.startswith("repo: archiving 2 image(s) costs $") and "1 pulled in the last 90 days" in w
               for w in res.warnings)


def test_simulate_reports_per_repository_and_totals_only_when_restores_are_priced():
    pol = parse_policy(KEEP_ONE_RELEASE)
    other = [img("z", ["v9"], days=200, layers=(("sha256:z1", GIB),), repository="other"),
             img("y", ["v8"], days=1, layers=(("sha256:y1", GIB),), repository="other")]
    plain = simulate({"repo": pol, "other": pol}, _images() + other, AT, 0.10, 0.04)
    priced = simulate({"repo": pol, "other": pol}, _images() + other, AT, 0.10, 0.04, restore_price_gb=0.03)
    assert all(r.archive is None for r in plain.items) and "archive_economics" not in plain.totals()
    assert "archive_economics" not in plain.to_dict()["items"][0]
    items = {i["repository"]: i for i in priced.to_dict()["items"]}
    assert items["repo"]["archive_economics"]["likely_restored_images"] == 1
    assert items["other"]["archive_economics"]["net_window_usd"] == round(0.06 * WINDOW, 2)
    t = priced.totals()["archive_economics"]
    assert (t["transitioned_images"], t["archived_bytes"], t["likely_restored_images"]) == (3, 5 * GIB, 1)
    expect_net = (4 * 0.06 - 3 * 0.06 - 3 * 0.04) * WINDOW - 0.09 + 0.06 * WINDOW
    assert t["net_window_usd"] == round(expect_net, 2)
    assert t["arithmetic"]["net_window_usd"].startswith("sum over 2 repositories = ")
    assert t["archive_bytes_after"] == 5 * GIB and t["archive_tier_threshold_bytes"] == 150 * 2**40
    # The existing figures are the same with or without restore pricing.
    assert priced.totals()["transition_savings_usd"] == plain.totals()["transition_savings_usd"] == round(5 * 0.06, 2)
    for a, b in zip(plain.to_dict()["items"], priced.to_dict()["items"]):
        b = dict(b)
        b.pop("archive_economics")
        assert a == b


def test_archive_above_the_first_tier_is_flagged():
    huge = [img("a", ["v1"], days=10, layers=(("sha256:big", ARCHIVE_TIER_BYTES + 1),)), img("b", ["v2"], days=1)]
    res = simulate({"repo": parse_policy(KEEP_ONE_RELEASE)}, huge, AT, 0.10, 0.10, restore_price_gb=0.03)
    assert any("above the 150 TB price tier" in w for w in res.warnings)
    small = simulate({"repo": parse_policy(KEEP_ONE_RELEASE)}, _images(), AT, 0.10, 0.10, restore_price_gb=0.03)
    assert not any("150 TB price tier" in w for w in small.warnings)


_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(policies(), repositories(), st.floats(0.01, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 0.1))
def test_property_net_never_beats_gross_and_matches_the_engine(pol, images, std, ratio, restore):
    arc = std * ratio
    ev = evaluate(pol, images, AT, repository="repo")
    e = archive_economics(ev, AT, std, arc, restore)
    assert e.archived_bytes == ev.archived_bytes  # the same layers the engine moved
    assert e.transitioned_images == len(ev.transition)
    assert 0 <= e.likely_restored_layer_bytes <= e.archived_bytes
    assert e.likely_restored_layer_bytes <= e.likely_restored_image_bytes
    assert min(e.forgone_usd, e.minimum_charge_usd, e.restore_charge_usd) >= 0
    assert e.net_window_usd <= e.gross_window_usd + 1e-12
    if e.likely_restored_images == 0:
        assert e.net_window_usd == e.gross_window_usd
    # Every likely-restored image was transitioned and pulled within the minimum.
    recent = [im for im, _ in ev.transition
              if im.last_pulled_at is not None and AT - im.last_pulled_at <= timedelta(days=ARCHIVE_MIN_DAYS)]
    assert e.likely_restored_images == len(recent)
    # Restore pricing changes no action of the engine.
    res = simulate({"repo": pol}, images, AT, std, arc, restore_price_gb=restore)
    assert res.items[0].evaluation == ev
    assert res.items[0].monthly_savings_usd == simulate({"repo": pol}, images, AT, std, arc).items[0].monthly_savings_usd


# --- the CLI ------------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def offline(tmp_path):
    doc = {"images": [
        {"repository": "web", "digest": "sha256:a", "tags": ["v1"], "pushed_at": "2025-02-20T12:00:00Z",
         "last_pulled_at": "2025-05-22T12:00:00Z",
         "layers": [{"digest": "sha256:base", "size": GIB}, {"digest": "sha256:a1", "size": 2 * GIB}]},
        {"repository": "web", "digest": "sha256:b", "tags": ["v2"], "pushed_at": "2025-02-25T12:00:00Z",
         "layers": [{"digest": "sha256:base", "size": GIB}, {"digest": "sha256:b1", "size": GIB}]},
        {"repository": "web", "digest": "sha256:c", "tags": ["v3"], "pushed_at": "2025-05-31T12:00:00Z",
         "layers": [{"digest": "sha256:c1", "size": GIB}]},
    ]}
    (tmp_path / "images.json").write_text(json.dumps(doc))
    (tmp_path / "policy.json").write_text(json.dumps(KEEP_ONE_RELEASE))
    (tmp_path / "prices.json").write_text(json.dumps({"source": "test", "regions": {
        "us-east-1": {"ecr_archive_storage_gb_month": 0.04}}}))
    return tmp_path


def test_simulate_cli_json_carries_archive_economics_and_the_restore_price(offline):
    args = ["simulate", "--images", str(offline / "images.json"), "--policy", str(offline / "policy.json"),
            "--at", "2025-06-01T12:00:00Z", "--format", "json"]
    res = runner.invoke(app, args + ["--price-file", str(offline / "prices.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["totals"]["prices"]["restore"]["item"] == "ecr_archive_restore_gb"
    ae = doc["items"][0]["archive_economics"]
    assert (ae["transitioned_images"], ae["likely_restored_images"], ae["archived_bytes"]) == (2, 1, 4 * GIB)
    net = (4 * 0.06 - 3 * 0.06 - 3 * 0.04) * WINDOW - 3 * 0.03
    assert ae["net_window_usd"] == round(net, 2) == doc["totals"]["archive_economics"]["net_window_usd"]
    assert doc["items"][0]["transition_savings_usd"] == 0.24
    text = runner.invoke(app, args[:-2] + ["--price-file", str(offline / "prices.json")])
    assert text.exit_code == 0
    assert "Archive: 2 image(s) transitioned, 1 pulled in the last 90 days" in " ".join(text.output.split())
    assert f"net -${-net:.2f}" in " ".join(text.output.split())
