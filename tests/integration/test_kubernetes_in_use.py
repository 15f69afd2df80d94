"""EKS / Kubernetes in use, end to end: moto serves ECR and the EKS control plane, the Kubernetes API stub
(ecrwise.demo.kube_stub) the cluster's pods and workloads; the official client and the scan run unpatched."""
from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from ecrwise.analysis.in_use import find_in_use
from ecrwise.demo.kube_stub import KubeApiStub

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def _push(ecr, repo: str, seed: str, tag: str) -> str:
    # A layer of its own per seed: moto derives the digest from the layer digests (all equal with no layers).
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 10,
                                      "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest()},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100,
                                       "digest": "sha256:" + hashlib.sha256(b"layer " + seed.encode()).hexdigest()}]})
    return ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)["image"]["imageId"]["imageDigest"]


def _cluster(pod_digest: str, rollback_image: str) -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-7d9f-x1", "namespace": "payments"},
         "spec": {"containers": [{"name": "api", "image": f"{REGISTRY}/payments:live"}]},
         # containerd reports the digest only; the repository is the spec image's.
         "status": {"phase": "Running", "containerStatuses": [{"name": "api", "image": f"{REGISTRY}/payments:live",
                                                               "imageID": pod_digest}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"revisionHistoryLimit": 3, "template": {"spec": {"containers": [
             {"name": "web", "image": f"{REGISTRY}/web:v3"}]}}}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-5c8d", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "2"},
                      "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
         "spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "web", "image": rollback_image}]}}},
         "status": {"replicas": 0}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-9a1b", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "3"},
                      "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": f"{REGISTRY}/web:v3"}]}}},
         "status": {"replicas": 2}},
    ]


@pytest.fixture
def estate(aws):
    ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=aws)
    for r in ("payments", "web"):
        ecr.create_repository(repositoryName=r)
    # The tag moved on; the pod still runs pay-1 by digest. (moto deletes an image whose only tag moves, where
    # ECR keeps it untagged: pay-1 keeps a build tag.)
    old_pay = _push(ecr, "payments", "pay-1", "build-1")
    _push(ecr, "payments", "pay-1", "live")
    new_pay = _push(ecr, "payments", "pay-2", "live")
    assert new_pay != old_pay
    old_web = _push(ecr, "web", "web-2", "v2")
    ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageTag": "v2"}])
    old_web = _push(ecr, "web", "web-2", "old")
    _push(ecr, "web", "web-3", "v3")
    eks = boto3.client("eks", region_name="us-east-1", endpoint_url=aws)
    eks.create_cluster(name="prod", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    return aws, old_pay, old_web


def _scan(cli, store, *extra):
    res = cli("scan", "--region", "us-east-1", "--store", store, "--format", "json", *extra)
    assert res.code == 0, res.err
    return res.json()


def _in_use(store):
    from ecrwise.cli.snapshot_data import load_records

    _, records = load_records(store, None)
    found = find_in_use(records)
    return {(repo[2], digest): reasons for repo, digests in found.by_repo.items() for digest, reasons in digests.items()}


def test_eks_pod_and_rollback_replicaset_are_in_use_and_kubectl_import_matches(estate, cli, tmp_path, monkeypatch):
    url, old_pay, old_web = estate
    objects = _cluster(old_pay, f"{REGISTRY}/web:old")
    with KubeApiStub(objects, eks_cluster="prod") as stub:
        monkeypatch.setenv("ECRWISE_EKS_ENDPOINTS", f"prod={stub.url}")
        _scan(cli, tmp_path / "live.duckdb")
        # Every call carried the EKS token (the stub answers 401 otherwise).
        assert stub.requests and all(a and a.startswith("Bearer k8s-aws-v1.") for _, a in stub.requests)
        (tmp_path / "prod.json").write_text(json.dumps(stub.kubectl_list()))
    monkeypatch.delenv("ECRWISE_EKS_ENDPOINTS")
    live = _in_use(tmp_path / "live.duckdb")
    reasons = {r for rs in live.values() for r in rs}
    assert {"eks:prod/payments/pod/api-7d9f-x1", "eks:prod/shop/rs/web-5c8d (rollback)"} <= reasons
    # The pod protects the digest it runs, not the one its tag points to now.
    assert "eks:prod/payments/pod/api-7d9f-x1" in live[("payments", old_pay)]

    # The same cluster data as a kubectl file: the same in-use images.
    boto3.client("eks", region_name="us-east-1", endpoint_url=url).delete_cluster(name="prod")
    _scan(cli, tmp_path / "file.duckdb", "--kube-pods", f"prod={tmp_path / 'prod.json'}")
    assert set(_in_use(tmp_path / "file.duckdb")) == set(live)


def test_malformed_kube_file_is_exit_2_naming_the_json_path(aws, cli, tmp_path):
    bad = {"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "p"},
                                      "spec": {"containers": [{"name": "c", "image": 7}]}}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    res = cli("scan", "--region", "us-east-1", "--store", tmp_path / "s.duckdb", "--kube-pods", tmp_path / "bad.json")
    assert res.code == 2
    assert "items[0].spec.containers[0].image" in res.err and "bad.json" in res.err


def test_unreachable_cluster_is_a_warning_and_the_scan_goes_on(estate, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ECRWISE_EKS_ENDPOINTS", "prod=http://127.0.0.1:9")  # nothing listens on port 9
    out = _scan(cli, tmp_path / "s.duckdb")
    # The rest of the scan ran (ECR, the EKS control plane), and the unreachable cluster is a warning.
    assert out["totals"]["repositories"] == 2 and out["totals"]["records"]["eks_clusters"] == 1
    assert any("eks: ClusterUnreachable: us-east-1/prod" in w for w in out["warnings"]), out["warnings"]


def test_kubeconfig_context_is_listed_like_a_live_eks_cluster(estate, cli, tmp_path):
    """`scan --kube-context NAME --kubeconfig FILE`: the context's server and token, as kubectl would use them."""
    _, old_pay, old_web = estate
    with KubeApiStub(_cluster(old_pay, f"{REGISTRY}/web:old")) as stub:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps({  # JSON is YAML: the client's loader reads it
            "apiVersion": "v1", "kind": "Config", "current-context": "other",
            "clusters": [{"name": "onprem", "cluster": {"server": stub.url}},
                         {"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}}],
            "users": [{"name": "reader", "user": {"token": "t0k3n"}}],
            "contexts": [{"name": "onprem-ctx", "context": {"cluster": "onprem", "user": "reader"}},
                         {"name": "other", "context": {"cluster": "nowhere", "user": "reader"}}]}))
        store = tmp_path / "ctx.duckdb"
        _scan(cli, store, "--only", "ecr,eks", "--kube-context", "onprem-ctx", "--kubeconfig", kubeconfig)
        assert stub.requests and all(a == "Bearer t0k3n" for _, a in stub.requests)
    used = _in_use(store)
    assert "k8s:onprem-ctx/payments/pod/api-7d9f-x1" in used[("payments", old_pay)], used
    assert used[("web", old_web)] == ["k8s:onprem-ctx/shop/rs/web-5c8d (rollback)"]
    # A context the kubeconfig lacks is a usage error before anything is scanned.
    res = cli("scan", "--region", "us-east-1", "--store", tmp_path / "x.duckdb", "--kube-context", "missing",
              "--kubeconfig", kubeconfig)
    assert res.code == 2 and "--kube-context missing" in res.err
