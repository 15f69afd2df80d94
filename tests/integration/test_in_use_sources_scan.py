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
