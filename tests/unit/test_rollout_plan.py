"""Rollout planning and protection, on data: the protection rule, in-use resolution, release rules."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from ecrwise.analysis.in_use import InUse, find_in_use, load_in_use_file, parse_image_ref
from ecrwise.errors import UserError
from ecrwise.lifecycle.engine import evaluate
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import lint, parse_policy
from ecrwise.pricing.book import load_price_book
from ecrwise.records import Records
from ecrwise.records.ecr import Image, Repository
from ecrwise.records.ecs import EcsContainerDefinition, EcsDeployment, EcsService, EcsTask, EcsTaskContainer, \
    EcsTaskDefinition
from ecrwise.remediate.lifecycle_rollout import (PROTECT_PREFIX, build_plan, policy_text, protect_tag,
                                                 protection_changes, with_protection)

A, R = "111111111111", "us-east-1"
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
URI = f"{A}.dkr.ecr.{R}.amazonaws.com"


def d(n: int) -> str:
    return "sha256:" + f"{n:064x}"


KEEP_ONE = parse_policy({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType":
                                    "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})


def test_protection_rule_is_first_never_fires_and_lints_clean():
    p = with_protection(KEEP_ONE)
    assert [r.priority for r in p.rules] == [1, 2] and p.rules[0].tag_prefixes == (PROTECT_PREFIX,)
    assert [i for i in lint(policy_text(p)) if i.severity == "error"] == []
    assert with_protection(p) == p  # applying twice adds nothing


def test_user_rules_keep_their_order_and_shift_only_when_needed():
    p = parse_policy({"rules": [
        {"rulePriority": 5, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                          "countNumber": 1}, "action": {"type": "expire"}},
        {"rulePriority": 9, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                          "countNumber": 3}, "action": {"type": "expire"}}]})
    assert [r.priority for r in with_protection(p).rules] == [1, 5, 9]
    assert [r.priority for r in with_protection(KEEP_ONE).rules] == [1, 2]


def images(n: int, repo: str = f"{A}/{R}/app") -> list[LifecycleImage]:
    return [LifecycleImage(digest=d(i), tags=(f"v{i}",) if i % 2 else (), pushed_at=NOW - timedelta(days=n - i),
                           repository=repo, layers=((f"sha256:l{i}", 1000 * (i + 1)),)) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 15), st.sets(st.integers(0, 14), max_size=6), st.integers(1, 4))
def test_protected_images_are_never_expired_by_any_lower_rule(n, used, keep):
    imgs = images(n)
    used = {d(i) for i in used if i < n}
    policy = parse_policy({"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                          "countNumber": 1}, "action": {"type": "expire"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                          "countNumber": keep}, "action": {"type": "expire"}}]})
    tagged = [LifecycleImage(**{**{f: getattr(im, f) for f in im.__dataclass_fields__},
                                "tags": im.tags + ((protect_tag(im.digest),) if im.digest in used else ())})
              for im in imgs]
    ev = evaluate(with_protection(policy), tagged, NOW)
    assert not ({im.digest for im, _ in ev.expire} & used)
    # Protection costs nothing beyond the protected images: everything else goes as before.
    plain = evaluate(policy, imgs, NOW)
    assert {im.digest for im, _ in ev.expire} <= {im.digest for im, _ in plain.expire}


def repo(name="app", policy=None, tags=None):
    return Repository(A, R, name, f"arn:aws:ecr:{R}:{A}:repository/{name}", f"{URI}/{name}", NOW, "MUTABLE",
                      False, "AES256", tags or {}, policy)


def test_plan_marks_in_use_hits_and_retain_exception():
    inuse = InUse()
    inuse.add((A, R, "app"), d(0), "running task t1")
    plan = build_plan("keep-one.json", KEEP_ONE, [repo(), repo("legal", tags={"ecrwise:retain": "true"})],
                      images(5), inuse, load_price_book(), include=[], exclude=[], at=NOW, snapshot=None)
    (item,) = plan["items"]
    assert [h["digest"] for h in item["in_use_acted_on_without_protection"]] == [d(0)]
    assert item["protect_tags"] == [{"digest": d(0), "tag": protect_tag(d(0))}]
    assert d(0) not in {e["digest"] for e in item["effect"]["expire"]}
    assert item["effect"]["expire_count"] == 3  # 5 images: the newest and the protected one stay
    assert plan["excluded"][0]["repository"] == "legal" and "retain" in plan["excluded"][0]["reason"]
    assert item["current_policy"] is None and json.loads(item["new_policy"])["rules"][0]["rulePriority"] == 1
    assert "+" in item["diff"]


def test_exclude_glob_and_unchanged_when_already_applied():
    inuse = InUse()
    text = policy_text(with_protection(KEEP_ONE))
    plan = build_plan("p", KEEP_ONE, [repo("app", text), repo("tmp-x")], images(3), inuse, load_price_book(),
                      include=[], exclude=["tmp-*"], at=NOW, snapshot=None)
    assert [i["action"] for i in plan["items"]] == ["unchanged"]
    assert plan["excluded"][0]["reason"] == "excluded by --exclude tmp-*"


def td(arn_rev: int, family="web", image=f"{URI}/app:v1"):
    arn = f"arn:aws:ecs:{R}:{A}:task-definition/{family}:{arn_rev}"
    return (EcsTaskDefinition(A, R, arn, family, arn_rev, "ACTIVE", "awsvpc", ["FARGATE"], ["FARGATE"], "256", "512"),
            EcsContainerDefinition(A, R, arn, "web", image, None, None, None, True))


def test_in_use_by_running_digest_deployment_tag_and_rollback_revisions():
    imgs = [Image(A, R, "app", d(i), [f"v{i}"], NOW, None, 1, "m", None, 1) for i in range(1, 6)]
    tds = [td(3, image=f"{URI}/app:v3"), td(2, image=f"{URI}/app:v2"), td(1, image=f"{URI}/app:v1")]
    svc = EcsService(A, R, "c", "cluster", f"arn:aws:ecs:{R}:{A}:service/cluster/web", "web", "ACTIVE", "FARGATE", [],
                     "REPLICA", 1, 1, 0, tds[0][0].task_definition_arn, "ECS", True, True, 100, 200)
    dep = EcsDeployment(A, R, svc.service_arn, "d1", "PRIMARY", tds[0][0].task_definition_arn, 1, 1, 0, 0,
                        "COMPLETED", None, None, None)
    task = EcsTask(A, R, "c", "arn:task/1", tds[0][0].task_definition_arn, "service:web", None, "FARGATE", None,
                   "RUNNING", "RUNNING", None, None, None, None, None, None, None, None, None, None, None)
    # The task runs v5's digest although its definition says :v3 (the tag moved after it started).
    tc = EcsTaskContainer(A, R, "arn:task/1", "web", f"{URI}/app:v3", d(5), "RUNNING", None, None)
    records = Records({Image: imgs, EcsService: [svc], EcsDeployment: [dep], EcsTaskDefinition: [t for t, _ in tds],
                       EcsContainerDefinition: [c for _, c in tds], EcsTask: [task], EcsTaskContainer: [tc]})
    res = find_in_use(records, rollback_revisions=2, extra=[(f"{URI}/app@{d(4)}", "lambda")])
    used = res.digests((A, R, "app"))
    assert set(used) == {d(5), d(3), d(2), d(4)}  # not v1: only the newest two revisions are rollback targets
    assert any("running task" in r for r in used[d(5)]) and any("deployment" in r for r in used[d(3)])
    assert any("rollback" in r for r in used[d(2)]) and used[d(4)] == ["lambda"]


def test_image_refs():
    assert parse_image_ref(f"{URI}/team/app").tag == "latest"
    assert parse_image_ref(f"{URI}/app@{d(1)}").digest == d(1)
    assert parse_image_ref("public.ecr.aws/nginx/nginx:1") is None
    assert parse_image_ref("nginx") is None


def test_in_use_file_errors_name_the_path(tmp_path):
    f = tmp_path / "in-use.json"
    f.write_text(json.dumps({"images": [f"{URI}/app:v1", {"image": "nginx:latest"}]}))
    with pytest.raises(UserError, match=r"images\[1\]: 'nginx:latest' is not an ECR image URI"):
        load_in_use_file(f)
    f.write_text("[]")
    with pytest.raises(UserError, match="images: expected a list"):
        load_in_use_file(f)


def test_protect_releases_unused_tags_but_never_an_images_last_tag():
    inuse = InUse()
    inuse.add((A, R, "app"), d(1), "running")
    tags = {(A, R, "app"): {d(1): ["v1"], d(2): ["v2", protect_tag(d(2))], d(3): [protect_tag(d(3))]}}
    (c,) = protection_changes([repo("app", policy_text(with_protection(KEEP_ONE)))], tags, inuse)
    assert c["add"] == [{"digest": d(1), "tag": protect_tag(d(1))}]
    assert c["release"] == [{"digest": d(2), "tag": protect_tag(d(2))}]
    assert c["kept_last_tag"] == [{"digest": d(3), "tag": protect_tag(d(3))}]
    # Repositories without the protection rule are not ecrwise's to touch.
    assert protection_changes([repo("app", None)], tags, inuse) == []
