"""Referrers, BuildKit attestations, an archived image and an index whose manifest ECR does not return,
through the stand-in: exact bytes per class, exact savings of a policy that expires the signed image."""
from __future__ import annotations

import json

import pytest

from conftest import _scan_into
from ecrwise.demo.estate_registry import (ATTESTED_REPO, CACHE_PREFIX, CACHE_REPO, REPLICA_REGION, SIGNED_REPO,
                                         build_registry_estate)

GIB = 2**30


def distinct(images):
    seen = {}
    for im in images:
        seen.update(dict(im.layers))
    return sum(seen.values())


@pytest.fixture
def registry(aws, tmp_path):
    estate = build_registry_estate(aws)
    store = tmp_path / "reg.duckdb"
    _scan_into(aws, store, [estate.region, REPLICA_REGION])
    return estate, store


def test_referrers_and_attestations_are_stored_bytes_not_untagged_images(registry, cli):
    estate, store = registry
    res = cli("repos", "--store", store, "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    all_rows = {(i["region"], i["repository"]): i for i in doc["items"]}
    rows = {name: row for (region, name), row in all_rows.items() if region == estate.region}
    signed = estate.of(SIGNED_REPO)
    standard = [i for i in signed if i.archived_at is None]
    archived = [i for i in signed if i.archived_at is not None]
    s = rows[SIGNED_REPO]
    assert s["images"] == 7 and s["referrers"] == 4 and s["untagged_images"] == 0 and s["tagged_images"] == 3
    assert s["standard_bytes"] == distinct(standard) == 30_000_000 + 4_000_000 + 12_000_000 + 13_000_000 + 7_000 \
        + 300_000 + 7_100 + 7_200
    assert s["archive_bytes"] == distinct(archived) == 30_000_000 + 4_000_000 + 11_000_000
    assert s["stored_bytes"] == distinct(signed)
    # The attested index: the attestation manifest is a child (untagged) and its layer counts once; the
    # index ECR returned no body for adds no bytes and is counted as unknown, with a warning.
    a = rows[ATTESTED_REPO]
    known = [i for i in estate.of(ATTESTED_REPO) if not i.body_lost]
    assert a["stored_bytes"] == distinct(known) and a["unknown_images"] == 1 and a["referrers"] == 0
    assert a["untagged_images"] == 3 and a["tagged_images"] == 2
    assert any(ATTESTED_REPO in w and "without a manifest" in w for w in doc["warnings"])
    # The replica in eu-west-1 holds the active images and their referrers, all in standard.
    copy = all_rows[(REPLICA_REGION, SIGNED_REPO)]
    assert copy["stored_bytes"] == copy["standard_bytes"] == distinct(estate.replicated()) == s["standard_bytes"]
    assert copy["archive_bytes"] == 0 and copy["referrers"] == 4
    # Per class and region, over the whole estate.
    per = {}
    for (region, _), row in all_rows.items():
        per[(region, "standard")] = per.get((region, "standard"), 0) + row["standard_bytes"]
        per[(region, "archive")] = per.get((region, "archive"), 0) + row["archive_bytes"]
    cache = estate.of(CACHE_REPO)
    assert per == {(estate.region, "standard"): distinct(standard) + distinct(known) + distinct(cache),
                   (estate.region, "archive"): distinct(archived),
                   (REPLICA_REGION, "standard"): distinct(estate.replicated()), (REPLICA_REGION, "archive"): 0}


def test_expiring_the_signed_image_frees_its_referrers(registry, cli, tmp_path):
    estate, store = registry
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"rules": [{
        "rulePriority": 1, "description": "expire releases after 30 days",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "sinceImagePushed",
                      "countUnit": "days", "countNumber": 30}, "action": {"type": "expire"}}]}))
    res = cli("lifecycle", "simulate", "--store", store, "--policy", policy, "--repository", SIGNED_REPO,
              "--at", estate.now.isoformat(), "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    items = {i["repository"].split("/")[1]: i for i in doc["items"]}
    assert set(items) == {estate.region, REPLICA_REGION}
    item = items[estate.region]
    # v1's own layer + its signature + its SBOM + the SBOM's signature; the base stays with v2 (and v0 is
    # archived: a standard-class rule does not see it).
    freed = 12_000_000 + 7_000 + 300_000 + 7_100
    assert item["freed_bytes"] == freed, item
    assert item["expire_count"] == 4 and item["with_subject"] == 3
    v1 = estate.by_tag("v1")
    assert [r["digest"] for r in item["expire"] if not r.get("subject")] == [v1.digest]
    # The same policy on the eu-west-1 copy (a policy acts only in its own region) frees the same there.
    assert items[REPLICA_REGION]["freed_bytes"] == freed and items[REPLICA_REGION]["with_subject"] == 3
    assert item["monthly_savings_usd"] == round(freed / 2**30 * 0.10, 2)


def test_untagged_rule_keeps_held_children_and_every_child_of_the_unknown_index(registry, cli, tmp_path):
    estate, store = registry
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"rules": [{
        "rulePriority": 1, "description": "expire untagged after 1 day",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                      "countNumber": 1}, "action": {"type": "expire"}}]}))
    res = cli("lifecycle", "simulate", "--store", store, "--policy", policy, "--at", estate.now.isoformat(),
              "--format", "json")
    assert res.code == 0, res.err
    items = {i["repository"].rsplit("/", 1)[-1]: i for i in res.json()["items"]}
    assert items[ATTESTED_REPO]["freed_bytes"] == 0 and items[ATTESTED_REPO]["expire_count"] == 0
    assert items[ATTESTED_REPO]["held_by_index"] == 3  # amd64 + attestation (by 1.0), arm64 (by the unknown 2.0)
    assert items[SIGNED_REPO]["freed_bytes"] == 0  # referrers are not untagged images to a rule


def test_replica_without_lifecycle_policy_priced_in_its_destination(registry, cli):
    estate, store = registry
    res = cli("findings", "--store", store, "--format", "json", "--check", "ecr.replica-without-lifecycle-policy")
    assert res.code == 0, res.err
    (f,) = res.json()["items"]
    copy_bytes = distinct(estate.replicated())
    assert f["region"] == REPLICA_REGION and f["evidence"]["repository"] == SIGNED_REPO
    assert f["evidence"]["replicated_bytes"] == copy_bytes and f["evidence"]["source_region"] == estate.region
    assert f["monthly_cost_usd"] == round(copy_bytes / GIB * 0.10, 2)
    # Pushed in the last 30 days and new to the source: v2's own layer and its signature (the base is older).
    transfer = 13_000_000 + 7_200
    t = f["arithmetic"]["replication_transfer_30d"]
    assert t["bytes"] == transfer and t["price"]["usd"] == 0.02
    assert f["evidence"]["replication_transfer_usd_30d"] == round(transfer / GIB * 0.02, 2)
    # One replicated repository: the destination's replicated storage is that copy.
    assert f["evidence"]["destination_replicated_bytes"] == copy_bytes
    assert f["evidence"]["destination_replicated_monthly_usd"] == round(copy_bytes / GIB * 0.10, 2)


def test_cache_and_replica_repositories_without_a_policy_or_template(registry, cli):
    estate, store = registry
    res = cli("findings", "--store", store, "--format", "json", "--check",
              "ecr.created-repository-without-lifecycle-policy")
    assert res.code == 0, res.err
    got = {(f["region"], f["evidence"]["repository"]): f for f in res.json()["items"]}
    assert set(got) == {(estate.region, CACHE_REPO), (REPLICA_REGION, SIGNED_REPO)}
    cache = got[(estate.region, CACHE_REPO)]
    assert cache["evidence"]["purpose"] == "PULL_THROUGH_CACHE" and cache["evidence"]["via"] == CACHE_PREFIX
    assert cache["evidence"]["template"] is None
    assert cache["evidence"]["stored_bytes"] == distinct(estate.of(CACHE_REPO))
    replica = got[(REPLICA_REGION, SIGNED_REPO)]
    # The ROOT template for REPLICATION is in us-east-1, not eu-west-1 where the copy is created.
    assert replica["evidence"]["purpose"] == "REPLICATION" and replica["evidence"]["template"] is None
    assert json.loads(cache["evidence"]["suggested_template"]["lifecyclePolicy"])["rules"]


def test_a_body_missing_from_the_first_batch_is_fetched_again(aws, tmp_path, cli):
    """ECR leaving one manifest out of a BatchGetImage answer: the collector asks again and books its layers."""
    from moto.backends import get_backend

    estate = build_registry_estate(aws)
    v2 = estate.by_tag("v2")
    backend = get_backend("ecr")[estate.account][estate.region]
    (image,) = [i for i in backend.repositories[SIGNED_REPO].images if i.image_digest == v2.digest]

    class FirstAnswerEmpty(type(image)):
        # Set on the stand-in's state, as the estate does: the first BatchGetImage serialises no body.
        __module__ = "moto.ecr.models"  # moto's model metaclass names the service from the module

        @property
        def image_manifest(self):
            served = self.__dict__.get("_served", 0)
            self.__dict__["_served"] = served + 1
            return "" if served == 0 else self.__dict__["_text"]

        @image_manifest.setter
        def image_manifest(self, value):
            self.__dict__["_text"] = value

        def get_image_size_in_bytes(self):
            return len(self.__dict__["_text"])

    text = image.__dict__["image_manifest"]
    image.__class__ = FirstAnswerEmpty
    image.image_manifest = text
    store = tmp_path / "s.duckdb"
    _scan_into(aws, store, [estate.region])
    doc = cli("repos", "--store", store, "--format", "json").json()
    (row,) = [i for i in doc["items"] if i["repository"] == SIGNED_REPO]
    assert row["unknown_images"] == 0 and row["stored_bytes"] == distinct(estate.of(SIGNED_REPO))
    assert image.__dict__["_served"] >= 2
