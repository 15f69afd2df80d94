"""Rolling a lifecycle policy out through the stand-in: plan → apply → restore, protection of images in
use proven with the engine, a SIGKILL part-way, and faults part-way."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest

from conftest import _scan_into, stand_in_environ
from ecrwise.demo.fault_proxy import FaultProxy
from ecrwise.lifecycle.engine import evaluate
from ecrwise.lifecycle.from_records import lifecycle_images, repo_key
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.records.ecr import Image, ImageLayer
from ecrwise.store import Store

# Keep only the newest image of every repository: it would expire anything older that is still in use.
AGGRESSIVE = {"rules": [{"rulePriority": 1, "description": "keep one",
                         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                         "action": {"type": "expire"}}]}
ECRWISE = str(Path(sys.executable).with_name("ecrwise"))


def live_policies(url: str, estate) -> dict:
    out = {}
    for region in estate.regions:
        ecr = boto3.client("ecr", endpoint_url=url, region_name=region)
        for repo in estate.repositories:
            if repo.region == region:
                try:
                    out[(region, repo.name)] = ecr.get_lifecycle_policy(
                        repositoryName=repo.name)["lifecyclePolicyText"]
                except ecr.exceptions.LifecyclePolicyNotFoundException:
                    out[(region, repo.name)] = None
    return out


def live_state(url: str, estate) -> dict:
    """Every repository's policy text (or None) and every image's tags, read from the stand-in."""
    state = {}
    for region in estate.regions:
        ecr = boto3.client("ecr", endpoint_url=url, region_name=region)
        for repo in ecr.describe_repositories()["repositories"]:
            name = repo["repositoryName"]
            try:
                text = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
            except ecr.exceptions.LifecyclePolicyNotFoundException:
                text = None
            tags = {d["imageDigest"]: sorted(d.get("imageTags", []))
                    for d in ecr.describe_images(repositoryName=name)["imageDetails"]}
            state[(region, name)] = (text, tags)
    return state


@pytest.fixture
def policy_file(tmp_path):
    p = tmp_path / "keep-one.json"
    p.write_text(json.dumps(AGGRESSIVE))
    return p


def make_plan(cli, estate_store, policy_file, tmp_path, *repos):
    args = ["lifecycle", "plan", "--policy", policy_file, "--store", estate_store, "--out", tmp_path / "plan.json",
            "--format", "json"]
    for r in repos:
        args += ["--repository", r]
    res = cli(*args)
    assert res.code == 0, res.err
    return res.json()


def test_plan_apply_protects_in_use_and_restore_is_exact(fresh_estate, cli, policy_file, tmp_path):
    url, estate = fresh_estate.url, fresh_estate.estate
    before = live_state(url, estate)
    plan = make_plan(cli, fresh_estate.store, policy_file, tmp_path)
    t = plan["totals"]
    # The policy alone would expire images that ECS services run or roll back to; the plan protects them.
    assert t["in_use_saved_by_protection"] >= 1 and t["protect_tags"] >= t["in_use_saved_by_protection"]
    assert {e["repository"] for e in plan["excluded"]} == {"reporting-batch"}  # tagged ecrwise:retain=true
    in_use = {(i["region"], i["repository"]): {u["digest"] for u in i["in_use"]} for i in plan["items"]}

    res = cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
              "--store", fresh_estate.store, "--format", "json")
    assert res.code == 0, res.err
    backup = Path(res.json()["totals"]["backup"])
    # Each repository changed is recorded in the store with the plan's predicted savings (for `billing savings`).
    from ecrwise.store.applied import applied_changes

    changed = {(o["region"], o["repository"]) for o in res.json()["items"] if o["status"] == "changed"}
    with Store(fresh_estate.store, read_only=True) as st:
        recorded = applied_changes(st)
    assert changed and {(c.region, c.resource) for c in recorded} == changed
    assert {c.command for c in recorded} == {"lifecycle apply"} and len({c.at for c in recorded}) == 1
    predicted = {(i["region"], i["repository"]): i["effect"]["monthly_savings_usd"] for i in plan["items"]}
    assert {(c.region, c.resource): c.predicted_monthly_savings_usd for c in recorded} == \
        {k: predicted[k] for k in changed}
    after = live_state(url, estate)
    for item in plan["items"]:
        text, tags = after[(item["region"], item["repository"])]
        assert text == item["new_policy"]
        for p in item["protect_tags"]:
            assert p["tag"] in tags[p["digest"]]
    assert after[("us-east-1", "reporting-batch")] == before[("us-east-1", "reporting-batch")]

    # ECR will evaluate the applied policies later: ecrwise's engine, on a fresh scan of what is there now,
    # must expire no image in use.
    store = tmp_path / "after.duckdb"
    sid = _scan_into(url, store, list(estate.regions))
    with Store(store, read_only=True) as st:
        images = lifecycle_images(st.load(sid, Image), st.load(sid, ImageLayer))
    checked = 0
    for (region, name), used in in_use.items():
        text, _ = after[(region, name)]
        key = repo_key(estate.account, region, name)
        ev = evaluate(parse_policy(text), [im for im in images if im.repository == key],
                      datetime.now(timezone.utc), repository=key)
        expired = {im.digest for im, _ in ev.expire}
        assert not (expired & used), (region, name)
        checked += len(used)
        # And the policy does work on what is not in use.
        if name == "checkout-web" and region == "us-east-1":
            assert len(ev.expire) > 10
    assert checked >= 5

    # Idempotent: applying again changes nothing and writes no backup.
    again = cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
                "--store", fresh_estate.store, "--format", "json").json()
    assert again["totals"]["backup"] is None and {i["status"] for i in again["items"]} == {"unchanged"}
    with Store(fresh_estate.store, read_only=True) as st:
        assert len(applied_changes(st)) == len(recorded)  # nothing changed, nothing recorded

    res = cli("lifecycle", "restore", backup, "--apply", "--format", "json")
    assert res.code == 0, res.err
    assert live_state(url, estate) == before  # byte for byte: policy texts and every image's tags


def test_backup_command_then_restore_round_trip(fresh_estate, cli, policy_file, tmp_path):
    url, estate = fresh_estate.url, fresh_estate.estate
    before = live_state(url, estate)
    res = cli("lifecycle", "backup", "--store", fresh_estate.store, "--out", tmp_path / "all.json", "--format", "json")
    assert res.code == 0, res.err
    doc = json.loads((tmp_path / "all.json").read_text())
    with_policy = {(i["region"], i["repository"]) for i in doc["items"] if i["previous_policy"]}
    assert with_policy == {k for k, (text, _) in before.items() if text}
    make_plan(cli, fresh_estate.store, policy_file, tmp_path, "checkout-*", "auth-*")
    assert cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
               "--store", fresh_estate.store).code == 0
    assert live_state(url, estate) != before
    # The standalone backup knows nothing of the protection tags, so it restores policies only.
    assert cli("lifecycle", "restore", tmp_path / "all.json", "--apply").code == 0
    assert {k: v[0] for k, v in live_state(url, estate).items()} == {k: v[0] for k, v in before.items()}


def test_apply_killed_part_way_restores_from_the_backup(fresh_estate, cli, policy_file, tmp_path):
    url, estate = fresh_estate.url, fresh_estate.estate
    before = live_state(url, estate)
    make_plan(cli, fresh_estate.store, policy_file, tmp_path)
    backups = tmp_path / "bk"
    # Slow every request down so the kill lands part-way through.
    with FaultProxy(url, latency_seconds=0.15) as proxy:
        proc = subprocess.Popen([ECRWISE, "lifecycle", "apply", str(tmp_path / "plan.json"), "--apply",
                                 "--backup-dir", str(backups)], env=stand_in_environ(proxy.url),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        changed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if list(backups.glob("*.json")):
                now = live_policies(url, estate)
                changed = sum(1 for k in now if now[k] != before[k][0])
                if changed >= 3:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert changed >= 3, "apply finished or never started before the kill"
    partial = live_state(url, estate)
    assert sum(1 for k in partial if partial[k][0] != before[k][0]) < len(before) - 2  # really part-way
    (backup,) = list(backups.glob("lifecycle-backup-*.json"))
    res = cli("lifecycle", "restore", backup, "--apply")
    assert res.code == 0, res.out + res.err
    assert live_state(url, estate) == before


def test_apply_with_failing_requests_reports_them_and_a_rerun_finishes(fresh_estate, cli, policy_file, tmp_path,
                                                                       monkeypatch):
    url, estate = fresh_estate.url, fresh_estate.estate
    plan = make_plan(cli, fresh_estate.store, policy_file, tmp_path)
    # A third of ECR's answers are 5xx, and only one retry is allowed (the standard AWS_MAX_ATTEMPTS
    # variable): some calls fail part-way through a repository, after its tags went on, before its policy.
    with FaultProxy(url, seed=5, error_rate=0.33, only_services={"ecr"}) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("AWS_RETRY_MODE", "standard")
        first = cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
                    "--format", "json")
    statuses = [i["status"] for i in first.json()["items"]]
    assert "failed" in statuses and first.code != 0  # failures are reported, never silent
    assert all(i["detail"] for i in first.json()["items"] if i["status"] == "failed")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    second = cli("lifecycle", "apply", tmp_path / "plan.json", "--apply", "--backup-dir", tmp_path / "bk",
                 "--format", "json")
    assert second.code == 0, second.out
    after = live_state(url, estate)
    for item in plan["items"]:
        text, tags = after[(item["region"], item["repository"])]
        assert text == item["new_policy"]
        assert all(p["tag"] in tags[p["digest"]] for p in item["protect_tags"])
