"""Plans that mean what they said, through the stand-in: an edited plan is refused (exit 2, nothing changed on
AWS), whether or not its digest was recomputed; a plan whose digest is valid but whose policy would expire an
image in use *now* is refused for that repository, which stays untouched, while the others are applied."""
from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from test_lifecycle_rollout import AGGRESSIVE, live_state, make_plan, policy_file  # noqa: F401 — fixture

pytestmark = pytest.mark.standin

SELECTION = ("checkout-*", "billing-*")


def reseal(doc: dict) -> dict:
    """What someone who knows the documented digest rule would do after editing a plan."""
    doc = {k: v for k, v in doc.items() if k != "integrity"}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    doc["integrity"] = {"algorithm": "sha256", "covers": "…", "digest": hashlib.sha256(text).hexdigest()}
    return doc


def outside(state: dict) -> str:
    """A repository of the estate that the plan's selection does not cover."""
    from fnmatch import fnmatchcase

    return sorted(n for _, n in state if not any(fnmatchcase(n, g) for g in SELECTION))[0]


def tamperings(plan: dict, other: str) -> dict[str, dict]:
    no_protection = json.dumps(AGGRESSIVE, separators=(",", ":"))
    out = {}
    t = copy.deepcopy(plan)
    t["items"][0]["repository"] = other
    out["repository outside the selection"] = t
    t = copy.deepcopy(plan)
    t["items"][-1]["new_policy"] = no_protection
    out["protection rule dropped from new_policy"] = t
    t = copy.deepcopy(plan)
    t["items"].append({**copy.deepcopy(plan["items"][0]), "repository": other})
    out["extra item"] = t
    t = copy.deepcopy(plan)
    t["policy"] = no_protection
    out["top-level policy edited"] = t
    t = copy.deepcopy(plan)
    t["policy"] = no_protection
    for item in t["items"]:
        item["new_policy"] = no_protection
    out["policy edited everywhere"] = t
    t = copy.deepcopy(plan)
    t["items"].append(copy.deepcopy(plan["items"][0]))
    out["duplicated item"] = t
    t = copy.deepcopy(plan)
    item = next(i for i in t["items"] if i["protect_tags"])
    item["protect_tags"][0]["tag"] = "latest"  # PutImage would move `latest` onto an old image
    out["protection tag replaced by another tag"] = t
    return out


def test_tampered_plans_are_refused_and_nothing_changes(fresh_estate, cli, policy_file, tmp_path):  # noqa: F811
    url, estate = fresh_estate.url, fresh_estate.estate
    before = live_state(url, estate)
    plan = make_plan(cli, fresh_estate.store, policy_file, tmp_path, *SELECTION)
    written = json.loads((tmp_path / "plan.json").read_text())
    assert written["integrity"]["algorithm"] == "sha256"
    assert reseal(written)["integrity"]["digest"] == written["integrity"]["digest"]  # the documented rule
    assert written["selection"] == {"include": list(SELECTION), "exclude": []}
    assert plan["items"] and any(i["protect_tags"] for i in plan["items"])

    cases = tamperings(written, outside(before))
    no_digest = copy.deepcopy(written)
    del no_digest["integrity"]
    wrong_digest = copy.deepcopy(written)
    wrong_digest["integrity"]["digest"] = "0" * 64
    stale = copy.deepcopy(written)
    stale["created_at"] = (datetime.now(timezone.utc) - timedelta(hours=25)).isoformat().replace("+00:00", "Z")

    runs = [(f"{name} (digest left as it was)", doc, "edited after `ecrwise lifecycle plan` wrote it")
            for name, doc in cases.items()]
    expected = {"repository outside the selection": "outside the plan's selection",
                "protection rule dropped from new_policy": "differs from the plan's policy",
                "extra item": "outside the plan's selection",
                "top-level policy edited": "not ecrwise's protection rule",
                "policy edited everywhere": "not ecrwise's protection rule",
                "duplicated item": "appears twice",
                "protection tag replaced by another tag": "is not the protection tag"}
    runs += [(f"{name} (digest recomputed)", reseal(doc), expected[name]) for name, doc in cases.items()]
    runs += [("digest removed", no_digest, "carries no digest"),
             ("digest changed", wrong_digest, "edited after"),
             ("stale (25 h old, digest recomputed)", reseal(stale), "stale")]
    refused = 0
    for name, doc, message in runs:
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(doc))
        res = cli("lifecycle", "apply", path, "--apply", "--backup-dir", tmp_path / "bk")
        assert res.code == 2, (name, res.code, res.out, res.err)
        assert message in res.err and "re-run `ecrwise lifecycle plan`" in res.err, (name, res.err)
        assert "Traceback" not in res.err
        refused += 1
    assert refused == len(runs) == 17
    assert live_state(url, estate) == before  # not one policy or tag changed
    assert not (tmp_path / "bk").exists()  # and no backup was even written

    # The plan as written still applies.
    res = cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
              "--format", "json")
    assert res.code == 0, res.out + res.err
    assert {i["status"] for i in res.json()["items"]} == {"changed"}


def _expired_digest(item: dict, used: set[str]) -> str:
    return next(e["digest"] for e in item["effect"]["expire"] if e["digest"] not in used)


def test_valid_digest_but_unsafe_now_is_refused_for_that_repository(fresh_estate, cli, policy_file,  # noqa: F811
                                                                    tmp_path):
    url, estate = fresh_estate.url, fresh_estate.estate
    before = live_state(url, estate)
    plan = make_plan(cli, fresh_estate.store, policy_file, tmp_path, *SELECTION)
    written = json.loads((tmp_path / "plan.json").read_text())

    # A new revision of a service's task-definition family is registered after planning, on an image the
    # plan expires: it is now a rollback target (in use), which the plan knew nothing about.
    target = next(i for i in plan["items"] if any("rollback target" in r for u in i["in_use"] for r in u["reasons"]))
    family = next(r for u in target["in_use"] for r in u["reasons"] if "rollback target" in r).split()[2]
    family = family.rsplit(":", 1)[0]
    victim = _expired_digest(target, {u["digest"] for u in target["in_use"]})
    ecr = boto3.client("ecr", endpoint_url=url, region_name=target["region"])
    uri = ecr.describe_repositories(repositoryNames=[target["repository"]])["repositories"][0]["repositoryUri"]
    ecs_region = next(r for r in estate.regions
                      if boto3.client("ecs", endpoint_url=url, region_name=r).list_task_definitions(
                          familyPrefix=family)["taskDefinitionArns"])
    ecs = boto3.client("ecs", endpoint_url=url, region_name=ecs_region)
    latest = ecs.list_task_definitions(familyPrefix=family, sort="DESC")["taskDefinitionArns"][0]
    td = ecs.describe_task_definition(taskDefinition=latest)["taskDefinition"]
    containers = [{**c, "image": f"{uri}@{victim}"} for c in td["containerDefinitions"]]
    ecs.register_task_definition(family=family, containerDefinitions=containers,
                                 **{k: td[k] for k in ("cpu", "memory", "networkMode", "requiresCompatibilities")
                                    if k in td})

    # A crafted plan with a recomputed digest, as an older buggy ecrwise might have written: the protection
    # tags of another repository are gone, so its in-use images would not be protected.
    crafted = copy.deepcopy(written)
    stripped = next(i for i in crafted["items"] if i["protect_tags"] and
                    (i["region"], i["repository"]) != (target["region"], target["repository"]))
    stripped["protect_tags"] = []
    (tmp_path / "crafted.json").write_text(json.dumps(reseal(crafted)))

    for path in (tmp_path / "plan.json", tmp_path / "crafted.json"):
        dry = cli("lifecycle", "apply", path, "--format", "json")
        assert "refused" in {i["status"] for i in dry.json()["items"]}, dry.out
    res = cli("lifecycle", "apply", tmp_path / "crafted.json", "--apply", "--backup-dir", tmp_path / "bk",
              "--format", "json")
    assert res.code == 4, res.out + res.err
    status = {(i["region"], i["repository"]): i for i in res.json()["items"]}
    refused = {k for k, i in status.items() if i["status"] == "refused"}
    assert refused == {(target["region"], target["repository"]), (stripped["region"], stripped["repository"])}
    assert "would expire or archive 1 image(s) in use" in status[(target["region"], target["repository"])]["detail"]
    assert "rollback target" in status[(target["region"], target["repository"])]["detail"]
    assert "in use" in status[(stripped["region"], stripped["repository"])]["detail"]
    after = live_state(url, estate)
    for key in refused:
        assert after[key] == before[key]  # a refused repository is untouched: policy and every tag
    changed = {k for k, i in status.items() if i["status"] == "changed"}
    assert changed and changed == {(i["region"], i["repository"]) for i in plan["items"]} - refused
    for key in changed:
        assert after[key][0] == written["policy"]
    # The backup holds only what was changed, so a restore puts the estate back exactly.
    backup = res.json()["totals"]["backup"]
    assert {(i["region"], i["repository"]) for i in json.loads(open(backup).read())["items"]} == changed
    assert cli("lifecycle", "restore", backup, "--apply").code == 0
    assert live_state(url, estate) == before


def test_tampered_backups_are_refused_before_any_call(aws, cli, tmp_path):
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    td = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 256}])["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.create_service(cluster="shop", serviceName="web", taskDefinition=td, desiredCount=2)["service"]["serviceArn"]
    ecs.update_service(cluster="shop", service="web", deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": False, "rollback": False}, "maximumPercent": 150,
        "minimumHealthyPercent": 50})
    done = cli("ecs", "fix", "circuit-breaker", "--service", arn, "--backup-dir", tmp_path, "--apply",
               "--format", "json")
    assert done.code == 0, done.err
    saved = json.loads(open(done.json()["totals"]["backup"]).read())

    def live() -> dict:
        return ecs.describe_services(cluster="shop", services=["web"])["services"][0]["deploymentConfiguration"]

    fixed = live()
    worse = copy.deepcopy(saved)
    worse["services"][0]["previous"]["minimumHealthyPercent"] = 0  # a restore that takes the service down
    elsewhere = copy.deepcopy(saved)
    elsewhere["services"][0]["cluster"] = "other"
    cases = [(worse, "edited after"), (reseal(worse), "more than the circuit breaker"),
             (reseal(elsewhere), "does not name"), ({k: v for k, v in saved.items() if k != "integrity"},
                                                      "carries no digest")]
    for doc, message in cases:
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(doc))
        res = cli("ecs", "restore", path, "--apply")
        assert res.code == 2 and message in res.err, (message, res.err)
    assert live() == fixed
    assert cli("ecs", "restore", done.json()["totals"]["backup"], "--apply").code == 0  # the real one restores

    # A lifecycle backup that would remove a tag other than a protection tag is refused too.
    ecr = boto3.client("ecr", region_name="us-east-1")
    ecr.create_repository(repositoryName="app")
    lb = {"ecrwise": "x", "kind": "lifecycle-backup", "created_at": "2026-01-01T00:00:00Z", "source": "t",
          "items": [{"account": "123456789012", "region": "us-east-1", "repository": "app", "previous_policy": None,
                     "added_tags": [{"digest": "sha256:" + "a" * 64, "tag": "latest"}]}]}
    (tmp_path / "lb.json").write_text(json.dumps(reseal(lb)))
    res = cli("lifecycle", "restore", tmp_path / "lb.json", "--apply")
    assert res.code == 2 and "added_tags[0].tag: 'latest' is not the protection tag" in res.err, res.err
