"""Replication copies, transfer bytes and creation templates on hand-built records."""

from ecrwise.analysis.checks import Records, discover
from ecrwise.analysis.replication import filter_matches, template_for
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.records.registry import CreationTemplate, PullThroughCacheRule, ReplicationDestination
from storage_helpers import A, BOOK, GIB, OPTS, dg, image, repo


def recs(repos, images, extra):
    by = {Repository: repos, Image: [i for i, _ in images], ImageLayer: [l for _, ls in images for l in ls],
          PullMetric: [], ReplicationDestination: [], PullThroughCacheRule: [], CreationTemplate: []}
    by.update(extra)
    return Records(by)


def run(check_id, r):
    return list(discover()[check_id].run(r, BOOK, OPTS))


def test_filters_and_template_choice():
    assert filter_matches([], "anything") and filter_matches(["prod-"], "prod-api") and not filter_matches(["prod-"], "dev")
    ts = [CreationTemplate(A, "us-east-1", "ROOT", ["REPLICATION"], "{}"),
          CreationTemplate(A, "us-east-1", "team", ["REPLICATION"], None),
          CreationTemplate(A, "us-east-1", "team/ml", ["REPLICATION"], "{}"),
          CreationTemplate(A, "us-east-1", "team/ml", ["PULL_THROUGH_CACHE"], "{}")]
    assert template_for(ts, A, "us-east-1", "team/ml/x", "REPLICATION").prefix == "team/ml"
    assert template_for(ts, A, "us-east-1", "team/web", "REPLICATION").prefix == "team"
    assert template_for(ts, A, "us-east-1", "other", "REPLICATION").prefix == "ROOT"
    assert template_for(ts, A, "eu-west-1", "other", "REPLICATION") is None
    assert template_for(ts, A, "us-east-1", "teamster", "PULL_THROUGH_CACHE") is None


def test_unscanned_destination_is_a_low_finding_priced_at_the_source_bytes():
    base, new = (dg("b"), GIB), (dg("n"), GIB // 2)
    images = [image("prod-api", "old", ["v1"], [base], days_ago=90), image("prod-api", "new", ["v2"], [base, new], days_ago=3),
              image("dev-api", "x", ["v1"], [(dg("d"), GIB)], days_ago=3)]
    r = recs([repo("prod-api"), repo("dev-api")], images,
             {ReplicationDestination: [ReplicationDestination(A, "us-east-1", 0, "ap-northeast-1", A, ["prod-"])]})
    (f,) = run("ecr.replica-without-lifecycle-policy", r)
    assert f.severity == "low" and f.region == "ap-northeast-1" and "not in this snapshot" in f.message
    assert f.evidence["replicated_bytes"] == GIB + GIB // 2 and f.evidence["destination_scanned"] is False
    assert f.arithmetic["replication_transfer_30d"]["bytes"] == GIB // 2  # only the new layer moved this month
    assert abs(f.monthly_cost_usd - 0.15) < 1e-9  # 1.5 GiB x $0.10 (the fallback-free ap-northeast-1 price)


def test_copy_with_a_policy_and_cache_repo_with_a_template_are_fine():
    images = [image("prod-api", "a", ["v1"], [(dg("a"), GIB)]),
              image("prod-api", "a", ["v1"], [(dg("a"), GIB)], region="eu-west-1"),
              image("ecr-public/nginx", "n", ["1"], [(dg("n"), GIB)])]
    r = recs([repo("prod-api"), repo("prod-api", region="eu-west-1", policy="{}"), repo("ecr-public/nginx")], images,
             {ReplicationDestination: [ReplicationDestination(A, "us-east-1", 0, "eu-west-1", A, ["prod-"])],
              PullThroughCacheRule: [PullThroughCacheRule(A, "us-east-1", "ecr-public", "public.ecr.aws")],
              CreationTemplate: [CreationTemplate(A, "us-east-1", "ecr-public", ["PULL_THROUGH_CACHE"], '{"rules":[]}')]})
    assert run("ecr.replica-without-lifecycle-policy", r) == []
    assert run("ecr.created-repository-without-lifecycle-policy", r) == []
