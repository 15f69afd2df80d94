"""Findings that price an archive transition do so net of the 90-day minimum and the expected restores."""
import json
from datetime import timedelta

import pytest

from ecrwise.analysis.checks import discover
from ecrwise.lifecycle.engine import evaluate
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.lifecycle.simulate import simulate
from ecrwise.pricing.book import load_price_book
from storage_helpers import BASE, GIB, L, NOW, OPTS, image, records, repo


def cheap_archive_book(tmp_path):
    p = tmp_path / "prices.json"
    p.write_text(json.dumps({"regions": {"us-east-1": {"ecr_archive_storage_gb_month": 0.04}}}))
    return load_price_book(p)


def test_no_lifecycle_policy_prices_archive_old_net_of_the_minimum(tmp_path):
    book = cheap_archive_book(tmp_path)
    recs = records([repo("rel")], [image("rel", "v1", ["v1.0.0"], [BASE, L["a1"]], days_ago=300, pulled_days_ago=200),
                                   image("rel", "v2", ["v2.0.0"], [BASE, L["a2"]], days_ago=5, pulled_days_ago=1)])
    (f,) = discover()["ecr.no-lifecycle-policy"].run(recs, book, {**OPTS, "storage.lifecycle_template": "archive-old"})
    econ = f.arithmetic["archive_economics"]
    # v1 goes to archive: 1 GiB of its own layer (the base stays with v2) at $0.10 - $0.04.
    assert econ["archived_bytes"] == GIB and econ["likely_restored_images"] == 0
    assert f.monthly_savings_usd == pytest.approx(0.06)
    assert "net of archiving over 90 days" in f.arithmetic["net_monthly_savings"]


def test_a_transition_that_costs_more_than_it_saves_is_negative():
    # Archived by push age though pulled yesterday: likely restored, billed the minimum, restore charged.
    pol = parse_policy(json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 30},
        "action": {"type": "transition", "targetStorageClass": "archive"}}]}))
    ims = [LifecycleImage(repository="r", digest="sha256:a", tags=("v1",), pushed_at=NOW - timedelta(days=60),
                          last_pulled_at=NOW - timedelta(days=1), layers=((BASE[0], GIB),))]
    (res,) = simulate({"r": pol}, ims, NOW, 0.10, 0.04, restore_price_gb=0.03).items
    econ = res.archive
    w = 90 / (730 / 24)
    # gross 0.06 x w, forgone 0.06 x w, minimum 0.04 x w, restore 0.03 => net = -(0.04 w + 0.03)
    assert econ.net_window_usd == pytest.approx(-(0.04 * w + 0.03))
    assert res.net_monthly_savings_usd == pytest.approx(econ.net_window_usd / w)
    assert res.net_monthly_savings_usd < 0
    assert res.monthly_savings_usd == pytest.approx(0.06)  # the gross figure the engine reports is unchanged
    assert evaluate(pol, ims, NOW).transition
