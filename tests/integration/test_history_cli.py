"""`ecrwise history` through the stand-in: scan, delete images with BatchDeleteImage and a repository with
DeleteRepository, scan again; the realised savings must be the bytes of exactly the layers that went."""
from __future__ import annotations

import boto3
import pytest

from ecrwise.cli.common import Fmt
from ecrwise.cli.scan_cmd import run_and_save
from ecrwise.demo.estate import build_estate
from ecrwise.demo.standin import stand_in_env
from ecrwise.pricing.book import GIB, load_price_book

pytestmark = pytest.mark.standin


def _scan_into(url, store, regions) -> int:
    """An ECR-only scan (what history reads), five times quicker than a full one."""
    with stand_in_env(url):
        return run_and_save(profile=None, regions=regions, all_regions=False, role_arns=[], org_role=None,
                            only=["ecr"], workers=8, store=store, fmt=Fmt.json, quiet=True).id


def test_realised_savings_equal_the_bytes_removed(aws, tmp_path, cli):
    estate = build_estate(aws, repositories=6, images_per_repo=6, networks=False)
    store = tmp_path / "h.duckdb"
    first = _scan_into(aws, store, list(estate.regions))
    # In one repository delete two images (one of them its newest, which holds the `latest` tag); delete
    # another repository outright.
    target = estate.repositories[0]
    doomed = [target.images[-1], target.images[1]]
    gone_repo = estate.repositories[1]
    ecr = boto3.client("ecr", region_name=target.region)
    resp = ecr.batch_delete_image(repositoryName=target.name, imageIds=[{"imageDigest": i.digest} for i in doomed])
    assert not resp.get("failures")
    boto3.client("ecr", region_name=gone_repo.region).delete_repository(repositoryName=gone_repo.name, force=True)
    second = _scan_into(aws, store, list(estate.regions))

    # Expected, from the estate plan alone: layers only the deleted images referenced.
    kept = {d for im in target.images if im not in doomed for d, _ in im.layers}
    freed = {d: s for im in doomed for d, s in im.layers if d not in kept}
    gone = {d: s for im in gone_repo.images for d, s in im.layers}
    res = cli("history", "--store", store, "--from", first, "--to", second, "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    by = {(i["region"], i["repository"]): i for i in doc["items"]}
    t = by[(target.region, target.name)]
    assert t["status"] == "changed" and t["removed_bytes"] == sum(freed.values()) and t["added_bytes"] == 0
    assert t["net_bytes"] == -sum(freed.values()) == t["to_bytes"] - t["from_bytes"]
    g = by[(gone_repo.region, gone_repo.name)]
    assert g["status"] == "removed" and g["removed_bytes"] == sum(gone.values()) and g["to_bytes"] == 0
    others = [i for k, i in by.items() if k not in ((target.region, target.name), (gone_repo.region, gone_repo.name))]
    assert others and all(i["status"] == "unchanged" for i in others)
    book = load_price_book()
    want = (sum(freed.values()) / GIB * book.price(target.region, "ecr_storage_gb_month").usd
            + sum(gone.values()) / GIB * book.price(gone_repo.region, "ecr_storage_gb_month").usd)
    totals = doc["totals"]
    assert totals["realised_savings_usd"] == pytest.approx(want, abs=0.006)
    assert totals["removed_bytes"] == sum(freed.values()) + sum(gone.values())
    assert totals["repositories_removed"] == [f"{gone_repo.region}/{gone_repo.name}"]
    assert [s["snapshot_id"] for s in totals["snapshots"]] == [first, second]
    assert totals["snapshots"][0]["stored_bytes"] - totals["snapshots"][1]["stored_bytes"] == totals["removed_bytes"]
    # The default range is first → last; the table names the repositories that changed.
    table = cli("history", "--store", store)
    assert table.code == 0 and target.name in table.out and gone_repo.name in table.out
    assert cli("history", "--store", store, "--from", "42").code == 2
