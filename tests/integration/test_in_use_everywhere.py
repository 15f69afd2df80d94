"""Issue 13's done-when, end to end through the stand-in: one image in use only by each source (an EKS pod by
the digest it runs, a Deployment's previous ReplicaSet, a Lambda version behind an alias, a Batch job
definition, a SageMaker model, a workload in a second account, a pull two days ago). A keep-1 policy is planned
and applied to their repositories with `lifecycle plan` / `apply --apply`; then the applied policies are
evaluated by the engine on the repositories' live images (re-scanned), and none of those images may go, while
the one unused image of each repository does. moto serves ECR, ECS, Lambda, Batch, SageMaker, EKS and STS; the
Kubernetes API stub (ecrwise.demo.kube_stub) the cluster's pods and workloads."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from ecrwise.demo.kube_stub import KubeApiStub

A = "123456789012"  # moto's default account: the registry
B = "222222222222"  # the second account: its workload runs an image of A's registry
REGION = "us-east-1"
REGISTRY = f"{A}.dkr.ecr.{REGION}.amazonaws.com"
KEEP_1 = {"rules": [{"rulePriority": 1, "description": "keep the newest image",
                     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                     "action": {"type": "expire"}}]}
# repository → the reason (or its start) `simulate` and `plan` must name for the image only that source uses
SOURCES = {"payments": "eks:prod/payments/pod/api-7d9f-x1", "web": "eks:prod/shop/rs/web-5c8d (rollback)",
           "orders-fn": "lambda:orders-fn:1 (alias live)", "nightly": "batch:nightly:1",
           "ranker": "sagemaker:model/ranker primary", "shared": f"batch:{B}-report:1",
           "pulled": "pulled "}


def _manifest(seed: str) -> str:
    # Distinct layer digests: moto derives an image's digest from its layers.
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1000,
                                  "digest": "sha256:" + seed.encode().hex().ljust(64, "0")[:64]},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                   "size": 10_000_000, "digest": "sha256:" + seed.encode().hex().ljust(64, "1")[:64]}]})


def _push(ecr, repo: str, seed: str, tag: str) -> str:
    return ecr.put_image(repositoryName=repo, imageManifest=_manifest(seed), imageTag=tag)["image"]["imageId"][
        "imageDigest"]


def _session(url: str, account: str) -> boto3.Session:
    creds = boto3.client("sts", endpoint_url=url, region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/Setup", RoleSessionName="setup")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=REGION)


def _set_times(now: datetime, pushed: dict[str, int], pulled: dict[str, int]) -> None:
    """moto stamps every push with "now" (ties) and never records pulls: set both in the in-process stand-in,
    as the demo estate does (ecrwise.demo.estate_ecr)."""
    from moto.backends import get_backend

    for repo in get_backend("ecr")[A][REGION].repositories.values():
        for image in repo.images:
            if image.image_digest in pushed:
                image.image_pushed_at = int((now - timedelta(days=pushed[image.image_digest])).timestamp())
            if image.image_digest in pulled:
                image.last_recorded_pull_time = now - timedelta(days=pulled[image.image_digest])


@pytest.fixture
def estate(aws, monkeypatch):
    monkeypatch.setenv("MOTO_LAMBDA_STUB_ECR", "false")  # moto then resolves the image's real digest
    now = datetime.now(timezone.utc)
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=aws)
    target, unused, newest = {}, {}, {}
    for repo in SOURCES:
        ecr.create_repository(repositoryName=repo)
        unused[repo] = _push(ecr, repo, f"{repo}-0", "v0")
    # EKS pod: it runs payments-1 by digest; its tag `live` has moved on to payments-2. (moto deletes an image
    # whose only tag moves, where ECR would keep it untagged: payments-1 keeps its build tag too.)
    target["payments"] = _push(ecr, "payments", "payments-1", "build-1")
    _push(ecr, "payments", "payments-1", "live")
    newest["payments"] = _push(ecr, "payments", "payments-2", "live")
    # Deployment web runs v3; its previous ReplicaSet (scaled to 0, kept for rollback) runs `old`.
    target["web"] = _push(ecr, "web", "web-2", "old")
    newest["web"] = _push(ecr, "web", "web-3", "v3")
    for repo in ("orders-fn", "nightly", "ranker", "shared", "pulled"):
        target[repo] = _push(ecr, repo, f"{repo}-1", "v1")
        newest[repo] = _push(ecr, repo, f"{repo}-2", "v2")
    _set_times(now, {**{d: 30 for d in unused.values()}, **{d: 20 for d in target.values()},
                     **{d: 1 for d in newest.values()}},
               {target["pulled"]: 2, unused["pulled"]: 30})

    iam = boto3.client("iam", endpoint_url=aws)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION, endpoint_url=aws)
    # Version 1 (behind alias `live`) pins orders-fn-1; $LATEST then moves to the newest image.
    lam.create_function(FunctionName="orders-fn", PackageType="Image", Code={"ImageUri": f"{REGISTRY}/orders-fn:v1"},
                        Role=role, Publish=True)
    lam.create_alias(FunctionName="orders-fn", Name="live", FunctionVersion="1")
    lam.update_function_code(FunctionName="orders-fn", ImageUri=f"{REGISTRY}/orders-fn:v2")
    boto3.client("batch", region_name=REGION, endpoint_url=aws).register_job_definition(
        jobDefinitionName="nightly", type="container",
        containerProperties={"image": f"{REGISTRY}/nightly:v1", "vcpus": 1, "memory": 128})
    boto3.client("sagemaker", region_name=REGION, endpoint_url=aws).create_model(
        ModelName="ranker", PrimaryContainer={"Image": f"{REGISTRY}/ranker:v1"}, ExecutionRoleArn=role)
    # Account B's job definition runs an image of account A's registry.
    _session(aws, B).client("batch", endpoint_url=aws).register_job_definition(
        jobDefinitionName=f"{B}-report", type="container",
        containerProperties={"image": f"{REGISTRY}/shared:v1", "vcpus": 1, "memory": 128})
    boto3.client("eks", region_name=REGION, endpoint_url=aws).create_cluster(
        name="prod", roleArn=f"arn:aws:iam::{A}:role/eks", resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    return target, unused, newest


def _cluster(pod_digest: str) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-7d9f-x1", "namespace": "payments"},
         "spec": {"containers": [{"name": "api", "image": f"{REGISTRY}/payments:live"}]},
         "status": {"phase": "Running", "containerStatuses": [
             {"name": "api", "image": f"{REGISTRY}/payments:live", "imageID": f"{REGISTRY}/payments@{pod_digest}"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"revisionHistoryLimit": 3, "template": {"spec": {"containers": [
             {"name": "web", "image": f"{REGISTRY}/web:v3"}]}}}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-5c8d", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "2"},
                      "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
         "spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "web", "image": f"{REGISTRY}/web:old"}]}}},
         "status": {"replicas": 0}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-9a1b", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "3"},
                      "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": f"{REGISTRY}/web:v3"}]}}},
         "status": {"replicas": 2}},
    ]


def _ok(res):
    assert res.code == 0, res.err
    return res.json()


def test_keep_1_planned_and_applied_expires_no_image_in_use_from_any_source(estate, cli, tmp_path, monkeypatch):
    target, unused, newest = estate
    store, after = tmp_path / "s.duckdb", tmp_path / "after.duckdb"
    roles = ["--role-arn", f"arn:aws:iam::{A}:role/Audit", "--role-arn", f"arn:aws:iam::{B}:role/Audit"]
    with KubeApiStub(_cluster(target["payments"]), eks_cluster="prod") as stub:
        monkeypatch.setenv("ECRWISE_EKS_ENDPOINTS", f"prod={stub.url}")
        scan = _ok(cli("scan", "--region", REGION, *roles, "--store", store, "--format", "json"))
    assert sorted(scan["snapshot"]["accounts"]) == [A, B] and scan["snapshot"]["failures"] == []

    # `ecrwise in-use` lists each target with the one source that explains it.
    listed = {(i["repository"], i["digest"]): i for i in _ok(cli("in-use", "--store", store, "--protect-pulled-within",
                                                                 "7", "--format", "json"))["items"]}
    for repo, why in SOURCES.items():
        assert (repo, target[repo]) in listed, (repo, sorted(listed), json.dumps(scan["warnings"]))
        item = listed[(repo, target[repo])]
        assert any(r.startswith(why) for r in item["reasons"]), (repo, item)
        assert (repo, unused[repo]) not in listed
    assert listed[("payments", target["payments"])]["sources"] == ["kubernetes"]
    assert listed[("pulled", target["pulled"])]["sources"] == ["recent_pulls"]

    policy = tmp_path / "keep-1.json"
    policy.write_text(json.dumps(KEEP_1))
    select = [a for repo in SOURCES for a in ("--repository", repo)]
    # simulate names each one's reason: the bare policy would expire it.
    sim = _ok(cli("lifecycle", "simulate", "--store", store, "--policy", policy, *select,
                  "--protect-pulled-within", "7", "--format", "json"))
    by_repo = {i["repository"].split("/", 2)[2]: i for i in sim["items"]}
    for repo, why in SOURCES.items():
        hits = by_repo[repo]["in_use"]["acted_on"]
        assert [h["digest"] for h in hits] == [target[repo]], (repo, hits)
        assert any(r.startswith(why) for r in hits[0]["reasons"])
    # ... and with protection (as plan rolls it out) it expires only the unused image.
    prot = _ok(cli("lifecycle", "simulate", "--store", store, "--policy", policy, *select,
                   "--protect-pulled-within", "7", "--protect-in-use", "--format", "json"))
    for item in prot["items"]:
        repo = item["repository"].split("/", 2)[2]
        assert item["expire_count"] == 1 and item["without_protection"]["expire_count"] == 2, item
    assert prot["totals"]["in_use_acted_on"] == len(SOURCES)

    plan = tmp_path / "plan.json"
    doc = _ok(cli("lifecycle", "plan", "--store", store, "--policy", policy, *select, "--protect-pulled-within", "7",
                  "--out", plan, "--format", "json"))
    assert doc["totals"]["in_use_saved_by_protection"] == len(SOURCES)
    applied = cli("lifecycle", "apply", plan, "--apply", "--backup-dir", tmp_path / "backups", "--store", store,
                  "--format", "json")
    assert applied.code == 0, applied.err
    assert {i["status"] for i in applied.json()["items"]} == {"changed"}

    # The applied policies, evaluated on the live images as ECR would: no target goes, each unused image does.
    _ok(cli("scan", "--region", REGION, "--only", "ecr", "--store", after, "--format", "json"))
    live = _ok(cli("lifecycle", "simulate", "--store", after, *select, "--list", "--format", "json"))
    for item in live["items"]:
        repo = item["repository"].split("/", 2)[2]
        assert item["has_policy"]
        expired = {e["digest"] for e in item["expire"]} | {t["digest"] for t in item["transition"]}
        assert expired == {unused[repo]}, (repo, expired)
        assert target[repo] not in expired and newest[repo] not in expired


def test_current_policy_expiring_an_image_in_use_is_a_critical_finding(estate, cli, tmp_path, monkeypatch):
    target, _, _ = estate
    boto3.client("ecr", region_name=REGION).put_lifecycle_policy(repositoryName="ranker",
                                                                 lifecyclePolicyText=json.dumps(KEEP_1))
    monkeypatch.setenv("ECRWISE_EKS_ENDPOINTS", "prod=http://127.0.0.1:9")  # the cluster is not reachable here
    _ok(cli("scan", "--region", REGION, "--store", tmp_path / "s.duckdb", "--format", "json"))
    out = _ok(cli("findings", "--store", tmp_path / "s.duckdb", "--check", "lifecycle.policy-expires-in-use",
                  "--format", "json"))
    [f] = out["items"]
    assert f["severity"] == "critical" and f["resource"].endswith(":repository/ranker")
    [img] = f["evidence"]["images"]
    assert img["digest"] == target["ranker"] and img["action"] == "expire"
    assert img["reasons"] == ["sagemaker:model/ranker primary"] and img["sources"] == ["sagemaker"]
    # The unreachable cluster leaves in-use incomplete: said, not silent.
    warned = _ok(cli("in-use", "--store", tmp_path / "s.duckdb", "--format", "json"))["warnings"]
    assert any("in use may be incomplete" in w and "prod" in w for w in warned), warned
