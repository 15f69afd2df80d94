"""Lambda, Batch and SageMaker through the stand-in (moto server mode): a scan collects each and each image is
in use with its reason. (EKS cases are added by the Kubernetes branch.)"""
from __future__ import annotations

import json

import boto3

from ecrwise.analysis.in_use import find_in_use
from ecrwise.aws.scan import ScanOptions, run_scan
from ecrwise.records import Records


def _push(ecr, tag: str, n: int) -> str:
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                               "digest": "sha256:" + str(n) * 64},
                    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100,
                                "digest": "sha256:" + "abcdef"[n] * 64}]})
    return ecr.put_image(repositoryName="app", imageManifest=m, imageTag=tag)["image"]["imageId"]["imageDigest"]


def test_scan_finds_lambda_batch_and_sagemaker_images_in_use(aws, monkeypatch):
    monkeypatch.setenv("MOTO_LAMBDA_STUB_ECR", "false")  # moto then resolves the image's real digest
    ecr = boto3.client("ecr", endpoint_url=aws)
    uri = ecr.create_repository(repositoryName="app")["repository"]["repositoryUri"]
    d1, d2, d3, _ = (_push(ecr, f"v{n}", n) for n in (1, 2, 3, 4))
    role = boto3.client("iam", endpoint_url=aws).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", endpoint_url=aws)
    lam.create_function(FunctionName="orders-fn", PackageType="Image", Code={"ImageUri": f"{uri}:v1"}, Role=role,
                        Publish=True)
    lam.create_alias(FunctionName="orders-fn", Name="live", FunctionVersion="1")
    boto3.client("batch", endpoint_url=aws).register_job_definition(
        jobDefinitionName="nightly", type="container",
        containerProperties={"image": f"{uri}:v2", "vcpus": 1, "memory": 128})
    boto3.client("sagemaker", endpoint_url=aws).create_model(ModelName="ranker", PrimaryContainer={"Image": f"{uri}:v3"},
                                                             ExecutionRoleArn=role)
    res = run_scan(ScanOptions(regions=["us-east-1"], workers=4))
    assert res.failures == []
    account = res.accounts[0]
    used = find_in_use(Records(res.records)).digests((account, "us-east-1", "app"))
    assert used == {d1: ["lambda:orders-fn:$LATEST", "lambda:orders-fn:1 (alias live)"],
                    d2: ["batch:nightly:1"], d3: ["sagemaker:model/ranker primary"]}


def test_scan_finds_app_runner_and_inspector_images_in_use(aws, cli, tmp_path):
    """App Runner and Inspector's ListCoverage are served by the stand-in's stubs (moto lacks them), over the same
    HTTP endpoint; Inspector's Enable and BatchGetAccountStatus are moto's own."""
    from datetime import datetime, timezone

    from ecrwise.demo.inspector_api import set_image_use

    ecr = boto3.client("ecr", endpoint_url=aws)
    uri = ecr.create_repository(repositoryName="app")["repository"]["repositoryUri"]
    d1, d2, d3, d4 = (_push(ecr, f"v{n}", n) for n in (1, 2, 3, 4))
    boto3.client("apprunner", endpoint_url=aws).create_service(
        ServiceName="web-front", SourceConfiguration={
            "ImageRepository": {"ImageIdentifier": f"{uri}:v1", "ImageRepositoryType": "ECR"},
            "AutoDeploymentsEnabled": False})
    account = uri.split(".", 1)[0]
    # Before Inspector scans ECR, its coverage is not asked for (and says nothing of use).
    res = run_scan(ScanOptions(regions=["us-east-1"], workers=4, only=["apprunner", "ecr", "inspector"]))
    assert res.failures == []
    from ecrwise.records.inspector import InspectorImageCoverage, InspectorStatus

    assert res.records[InspectorStatus] == [InspectorStatus(account, "us-east-1", "UNKNOWN")]
    assert not res.records.get(InspectorImageCoverage)

    boto3.client("inspector2", endpoint_url=aws).enable(resourceTypes=["ECR"], accountIds=[account])
    set_image_use(account, "us-east-1", "app", d1, 1, datetime.now(timezone.utc))  # explained by App Runner
    set_image_use(account, "us-east-1", "app", d2, 4, datetime.now(timezone.utc))  # explained by nothing
    store = tmp_path / "s.duckdb"
    r = cli("scan", "--region", "us-east-1", "--store", store, "--format", "json")
    assert r.code == 0 and r.json()["snapshot"]["failures"] == [], r.err
    r = cli("in-use", "--store", store, "--format", "json")
    assert r.code == 0, r.err
    got = {i["digest"]: (i["reasons"], i["sources"]) for i in r.json()["items"]}
    assert got == {d1: (["apprunner:web-front", "inspector:in use by 1 ECS task(s) or EKS pod(s)"],
                        ["apprunner", "inspector"]),
                   d2: (["inspector:in use by 4 ECS task(s) or EKS pod(s)"], ["inspector"])}
    assert d3 not in got and d4 not in got
    r = cli("findings", "--store", store, "--check", "in-use.inspector-unexplained", "--format", "json")
    assert r.code == 0, r.err
    assert [f["evidence"]["digest"] for f in r.json()["items"]] == [d2]
