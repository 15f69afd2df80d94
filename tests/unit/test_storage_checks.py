"""Storage and lifecycle checks on small hand-built snapshots, each both ways, with figures computed by hand.

Prices: the built-in book's us-east-1 storage price, $0.10 per GB-month (GB = 2^30 bytes).
"""
import json
from dataclasses import replace
from datetime import date

import pytest
from storage_helpers import A, BASE, GIB, L, R, app_images, dg, image, old_repo_images, records, repo, run

from ecrwise.analysis import storage_checks as sc
from ecrwise.analysis.checks import REGISTRY
from ecrwise.records.ecr import PullMetric
from ecrwise.records.ecs import EcsTask, EcsTaskContainer

# -- ecr.no-lifecycle-policy ---------------------------------------------------------------------------------

def test_no_lifecycle_policy_prices_what_the_playbook_policy_frees():
    (f,) = run("ecr.no-lifecycle-policy", records([repo("app")], app_images()))
    # playbook-base rule 1 (untagged, keep 1): u1 and u2 expire; u3 stays. Their own layers a1 + a2 = 3 GiB
    # are freed; the base layer stays (u3 and v1 still use it). 3 GiB × $0.10 = $0.30.
    assert f.evidence["expire_count"] == 2 and f.evidence["freed_bytes"] == 3 * GIB
    assert f.monthly_savings_usd == pytest.approx(0.30)
    assert f.monthly_cost_usd == pytest.approx(0.80)  # 3 + 1 + 2 + 1 + 1 GiB stored
    assert f.arithmetic["bytes"] == 3 * GIB and "formula" in f.arithmetic
    assert f.severity == "medium" and "lifecycle plan --policy playbook-base.json --repository app" in f.fix


def test_no_lifecycle_policy_not_raised_with_a_policy_or_the_retain_tag():
    policy = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType":
                                   "imageCountMoreThan", "countNumber": 100}, "action": {"type": "expire"}}]})
    recs = records([repo("app", policy=policy), repo("keep", tags={sc.RETAIN_TAG: "true"})],
                   app_images("app") + app_images("keep"))
    assert run("ecr.no-lifecycle-policy", recs) == []


def test_no_lifecycle_policy_that_frees_nothing_is_low():
    (f,) = run("ecr.no-lifecycle-policy", records([repo("tidy")], [image("tidy", "v1", ["v1"], [BASE])]))
    assert f.severity == "low" and f.monthly_savings_usd == 0.0


def test_no_lifecycle_policy_uses_the_chosen_template():
    (f,) = run("ecr.no-lifecycle-policy", records([repo("app")], app_images()),
               **{"storage.lifecycle_template": "untagged-only"})
    # untagged-only expires untagged images older than 14 days: u1, u2, u3 → a1 + a2 + a3 = 4 GiB.
    assert f.evidence["policy"] == "untagged-only" and f.evidence["freed_bytes"] == 4 * GIB


def test_retain_tag_is_the_one_lifecycle_rollout_honours():
    from ecrwise.remediate.lifecycle_rollout import RETAIN_TAG

    assert sc.RETAIN_TAG == RETAIN_TAG


# -- ecr.redundant-repository --------------------------------------------------------------------------------

def test_redundant_repository_saves_its_whole_storage():
    (f,) = run("ecr.redundant-repository", records([repo("old")], old_repo_images()))
    assert f.monthly_savings_usd == pytest.approx(0.40)  # base 3 GiB + a1 1 GiB
    assert f.evidence["last_pulled_at"] is None and f.evidence["threshold_days"] == 90
    assert "delete-repository --repository-name old" in f.fix


@pytest.mark.parametrize("why", ["pulled", "pushed", "metric", "in-use", "retained", "threshold"])
def test_redundant_repository_not_raised(why):
    imgs = old_repo_images()
    pulls, extra, tags, opts = [], None, {}, {}
    if why == "pulled":
        imgs = [image("old", "v1", ["v1"], [BASE], days_ago=200, pulled_days_ago=10)]
    elif why == "pushed":
        imgs += [image("old", "v2", ["v2"], [BASE], days_ago=3)]
    elif why == "metric":  # the image's recorded pull time is old, but CloudWatch saw pulls this month
        imgs = [image("old", "v1", ["v1"], [BASE], days_ago=200, pulled_days_ago=150)]
        pulls = [PullMetric(A, R, "old", date(2026, 5, 25), 4)]
    elif why == "in-use":
        digest = imgs[0][0].digest
        task = EcsTask(A, R, "arn:cluster", "arn:aws:ecs:us-east-1:1:task/c/t1", "arn:td:1", "service:svc", None,
                       "FARGATE", None, "RUNNING", "RUNNING", *([None] * 11))
        ctr = EcsTaskContainer(A, R, task.task_arn, "app", f"{A}.dkr.ecr.{R}.amazonaws.com/old@{digest}", digest,
                               "RUNNING", None, None)
        extra = {EcsTask: [task], EcsTaskContainer: [ctr]}
    elif why == "retained":
        tags = {sc.RETAIN_TAG: "true"}
    else:
        opts = {"storage.redundant_days": 365}
    recs = records([repo("old", tags=tags)], imgs, pulls, extra)
    assert run("ecr.redundant-repository", recs, **opts) == []


def test_empty_old_repository_is_redundant_by_its_creation_time():
    (f,) = run("ecr.redundant-repository", records([repo("empty")], []))
    assert f.monthly_savings_usd == 0.0 and f.evidence["images"] == 0


# -- ecr.untagged-bytes --------------------------------------------------------------------------------------

def test_untagged_bytes_counts_layers_no_tagged_image_references():
    (f,) = run("ecr.untagged-bytes", records([repo("app")], app_images()))
    # a1 + a2 + a3 = 4 GiB; the base layer is also v1's, so it stays whatever happens to the leftovers.
    assert f.evidence["untagged_only_bytes"] == 4 * GIB and f.evidence["untagged_images"] == 3
    assert f.monthly_savings_usd == pytest.approx(0.40)


def test_untagged_children_of_a_tagged_index_are_not_leftovers():
    amd = image("multi", "amd", [], [BASE, L["a1"]])
    arm = image("multi", "arm", [], [L["a2"]])
    idx = image("multi", "idx", ["1.0"], [], children=[amd[0].digest, arm[0].digest])
    assert run("ecr.untagged-bytes", records([repo("multi")], [amd, arm, idx])) == []
    # The same children under an untagged index are leftovers, with the index.
    idx2 = image("multi", "idx", [], [], children=[amd[0].digest, arm[0].digest])
    (f,) = run("ecr.untagged-bytes", records([repo("multi")], [amd, arm, idx2]))
    assert f.evidence["untagged_only_bytes"] == 3 * GIB + GIB + 2 * GIB


def test_untagged_image_ecs_runs_is_kept():
    imgs = app_images()
    digest = imgs[2][0].digest  # u3, run by digest
    task = EcsTask(A, R, "arn:cluster", "arn:aws:ecs:us-east-1:1:task/c/t1", "arn:td:1", "service:svc", None,
                   "FARGATE", None, "RUNNING", "RUNNING", *([None] * 11))
    ctr = EcsTaskContainer(A, R, task.task_arn, "app", f"{A}.dkr.ecr.{R}.amazonaws.com/app@{digest}", digest,
                           "RUNNING", None, None)
    (f,) = run("ecr.untagged-bytes", records([repo("app")], imgs, extra={EcsTask: [task], EcsTaskContainer: [ctr]}))
    assert f.evidence["untagged_only_bytes"] == 3 * GIB  # a1 + a2; a3 is in use


def test_no_untagged_bytes_when_leftovers_share_every_layer():
    imgs = [image("app", "v1", ["v1"], [BASE, L["a1"]]), image("app", "old", [], [BASE, L["a1"]], days_ago=40)]
    assert run("ecr.untagged-bytes", records([repo("app")], imgs)) == []


# -- ecr.large-image -----------------------------------------------------------------------------------------

def test_large_image_names_the_layers_that_make_it_large():
    cuda = (dg("layer:cuda"), 2 * GIB)
    imgs = [image("ml", "v1", ["v1"], [BASE, cuda, L["a1"]]), image("ml", "v2", ["v2"], [BASE, cuda, L["a3"]]),
            image("small", "v1", ["v1"], [(dg("layer:tiny"), 1000)])]
    (f,) = run("ecr.large-image", records([repo("ml"), repo("small")], imgs))
    assert f.resource.endswith("repository/ml") and f.evidence["large_images"] == 2
    top = f.evidence["largest_image_layers"]
    assert [l["size_bytes"] for l in top] == [3 * GIB, 2 * GIB, GIB]
    assert top[0]["share_of_image"] == pytest.approx(0.5) and top[1]["in_large_images"] == 2
    assert f.monthly_savings_usd is None


def test_large_image_threshold_is_configurable():
    imgs = [image("ml", "v1", ["v1"], [BASE])]
    assert run("ecr.large-image", records([repo("ml")], imgs), **{"storage.large_image_gib": 4}) == []
    assert len(run("ecr.large-image", records([repo("ml")], imgs))) == 1


# -- ecr.no-cost-allocation-tags -----------------------------------------------------------------------------

@pytest.mark.parametrize("tags,flagged", [
    ({}, True), ({"env": "prod"}, True), ({"team": ""}, True),
    ({"team": "payments"}, False), ({"Cost-Center": "cc-1"}, False), ({"cost_center": "cc-1"}, False),
    ({"CostCenter": "cc-1"}, False), ({"Owner": "ana"}, False),
])
def test_cost_allocation_tags(tags, flagged):
    found = run("ecr.no-cost-allocation-tags", records([repo("app", tags=tags)], app_images()))
    assert bool(found) is flagged
    if found:
        assert found[0].monthly_cost_usd == pytest.approx(0.80) and found[0].monthly_savings_usd is None


def test_cost_allocation_keys_are_configurable():
    recs = records([repo("app", tags={"team": "x"})], app_images())
    (f,) = run("ecr.no-cost-allocation-tags", recs, **{"storage.cost_tags": ("billing-code",)})
    assert f.evidence["wanted_any_of"] == ["billing-code"]


# -- lifecycle.policy-keeps-untagged -------------------------------------------------------------------------

TAGGED_ONLY = json.dumps({"rules": [{"rulePriority": 1, "selection": {
    "tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 5},
    "action": {"type": "expire"}}]})
UNTAGGED_7D = json.dumps({"rules": [{"rulePriority": 1, "selection": {
    "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
    "action": {"type": "expire"}}]})


def test_policy_that_expires_nothing_while_untagged_bytes_stay():
    (f,) = run("lifecycle.policy-keeps-untagged", records([repo("app", policy=TAGGED_ONLY)], app_images()))
    assert f.evidence["untagged_only_bytes"] == 4 * GIB and f.monthly_savings_usd == pytest.approx(0.40)


def test_policy_that_expires_the_leftovers_is_fine():
    assert run("lifecycle.policy-keeps-untagged", records([repo("app", policy=UNTAGGED_7D)], app_images())) == []


def test_invalid_stored_policy_is_left_to_lint():
    assert run("lifecycle.policy-keeps-untagged", records([repo("app", policy="{not json")], app_images())) == []


def test_storage_checks_are_registered_with_docs_anchors():
    ids = {c.id for c in REGISTRY.values() if c.family in ("storage", "lifecycle")}
    assert {"ecr.no-lifecycle-policy", "ecr.redundant-repository", "ecr.untagged-bytes", "ecr.large-image",
            "ecr.no-cost-allocation-tags", "lifecycle.policy-keeps-untagged"} <= ids
    for c in REGISTRY.values():
        if c.family in ("storage", "lifecycle"):
            assert c.docs.startswith("docs/reports.md#")


def test_mutable_tags_flags_only_plain_mutable_repositories():
    mutable, immutable, excluded = repo("app"), replace(repo("pinned"), tag_mutability="IMMUTABLE"), \
        replace(repo("mixed"), tag_mutability="MUTABLE_WITH_EXCLUSION")
    imgs = app_images("app") + [image("pinned", "v1", ["v1"], [BASE]), image("mixed", "v1", ["v1"], [BASE])]
    (f,) = run("ecr.mutable-tags", records([mutable, immutable, excluded], imgs))
    assert (f.check, f.severity, f.resource) == ("ecr.mutable-tags", "low", mutable.arn)
    assert f.evidence == {"repository": "app", "tag_mutability": "MUTABLE", "tagged_images": 1,
                          "lifecycle_policy": False}
    assert "1 tagged image(s)" in f.message and f.monthly_savings_usd is None
    assert f.fix == "aws ecr put-image-tag-mutability --repository-name app --image-tag-mutability IMMUTABLE " \
                    "--region us-east-1"
    assert f.recommendation == REGISTRY["ecr.mutable-tags"].recommendation


def test_untagged_bytes_keep_referrers_of_kept_images_and_count_those_of_leftovers():
    import dataclasses

    from storage_helpers import BASE, L, dg, image, records, repo, run

    rel, rel_layers = image("app", "v1", ["v1"], [BASE, L["a1"]])
    left, left_layers = image("app", "u1", [], [BASE, L["a2"]], days_ago=40)
    sig_rel, sig_rel_layers = image("app", "sig-v1", [], [(dg("sig1"), 7000)])
    sig_left, sig_left_layers = image("app", "sig-u1", [], [(dg("sig2"), 8000)])
    sig_rel = dataclasses.replace(sig_rel, subject_digest=rel.digest)
    sig_left = dataclasses.replace(sig_left, subject_digest=left.digest)
    recs = records([repo("app")], [(rel, rel_layers), (left, left_layers), (sig_rel, sig_rel_layers),
                                   (sig_left, sig_left_layers)])
    (f,) = run("ecr.untagged-bytes", recs)
    # The leftover's own layer and its signature go; the release's signature stays with it.
    assert f.evidence["untagged_only_bytes"] == L["a2"][1] + 8000
    assert f.evidence["untagged_images"] == 1
