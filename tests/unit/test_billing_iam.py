"""`iam-policy`: the billing modules' actions are apart (`--billing`), so `--read-only` is what a scan needs and
nothing more, exactly as before the billing commands existed."""
from __future__ import annotations

import json
import types

import pytest

from ecrwise.aws import billing_s3, cost_explorer, pricing_api
from ecrwise.aws.iam import apply_policy, billing_policy, declared_actions, group_of, read_only_policy
from ecrwise.cli.main import main

# `iam-policy --read-only` at the commit before the billing groundwork (a6b69a2), verbatim.
READ_ONLY_BEFORE_BILLING = [
    "cloudwatch:GetMetricData", "ec2:DescribeInstanceAttribute", "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeNatGateways", "ec2:DescribeRegions",
    "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcs", "ecr:BatchGetImage", "ecr:DescribeImages",
    # The registry family (replication, pull-through cache rules, creation templates):
    "ecr:DescribePullThroughCacheRules", "ecr:DescribeRegistry",
    "ecr:DescribeRepositories", "ecr:DescribeRepositoryCreationTemplates", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource", "ecs:DescribeClusters",
    "ecs:DescribeContainerInstances", "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks",
    "ecs:ListClusters", "ecs:ListContainerInstances", "ecs:ListServices", "ecs:ListTaskDefinitions", "ecs:ListTasks",
    "organizations:ListAccounts", "sts:AssumeRole", "sts:GetCallerIdentity"]
# The in-use collectors (App Runner, Batch, EKS, Inspector, Lambda, SageMaker), added after billing.
IN_USE_SOURCES = [
    "apprunner:DescribeService", "apprunner:ListServices", "inspector2:BatchGetAccountStatus", "inspector2:ListCoverage",
    "batch:DescribeJobDefinitions", "eks:DescribeCluster", "eks:ListClusters", "lambda:GetFunction", "lambda:ListAliases", "lambda:ListFunctions",
    "lambda:ListVersionsByFunction", "sagemaker:DescribeEndpoint", "sagemaker:DescribeModel",
    "sagemaker:ListEndpoints", "sagemaker:ListModels"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_read_only_is_the_scan_policy_as_before_billing(capsys: pytest.CaptureFixture[str]) -> None:
    assert read_only_policy() == {"Version": "2012-10-17", "Statement": [
        {"Sid": "EcrwiseReadOnlyScan", "Effect": "Allow", "Action": sorted(READ_ONLY_BEFORE_BILLING + IN_USE_SOURCES),
         "Resource": "*"}]}
    code, out, err = cli(capsys, "iam-policy", "--read-only")
    assert code == 0 and json.loads(out) == read_only_policy() and err == ""
    assert not any(a.startswith(("ce:", "pricing:", "s3:")) for a in apply_policy()["Statement"][0]["Action"])


def test_billing_modules_declare_their_group() -> None:
    assert {group_of(m) for m in (billing_s3, cost_explorer, pricing_api)} == {"billing"}
    read, apply = declared_actions("billing")
    assert read == {"billing_s3": ["s3:GetObject", "s3:ListBucket"], "cost_explorer": ["ce:GetCostAndUsage"],
                    "pricing_api": ["pricing:GetProducts"]} and apply == {}
    with pytest.raises(ValueError, match="IAM_GROUP 'biling'"):
        group_of(types.SimpleNamespace(__name__="x", IAM_GROUP="biling"))  # type: ignore[arg-type]


def test_billing_policy_unscoped_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "iam-policy", "--billing")
    assert code == 0
    assert json.loads(out)["Statement"] == [
        {"Sid": "EcrwiseBilling", "Effect": "Allow", "Action": ["ce:GetCostAndUsage", "pricing:GetProducts"],
         "Resource": "*"},
        {"Sid": "EcrwiseBillingExportRead", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": "*"}]
    assert "--export-prefix" in err and "every bucket" in err


def test_billing_policy_scoped_to_the_export_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "iam-policy", "--billing", "--export-prefix", "s3://my-bills/exports/")
    assert code == 0 and err == ""
    statements = json.loads(out)["Statement"]
    assert statements[1:] == [
        {"Sid": "EcrwiseBillingExportList", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": "arn:aws:s3:::my-bills", "Condition": {"StringLike": {"s3:prefix": ["exports", "exports/*"]}}},
        {"Sid": "EcrwiseBillingExportRead", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": "arn:aws:s3:::my-bills/exports/*"}]
    # Two prefixes, one a whole bucket: numbered statements, no prefix condition for the bucket.
    doc = billing_policy(["s3://a/x", "s3://b"])
    assert [s["Sid"] for s in doc["Statement"]] == ["EcrwiseBilling", "EcrwiseBillingExportList1",
                                                    "EcrwiseBillingExportRead1", "EcrwiseBillingExportList2",
                                                    "EcrwiseBillingExportRead2"]
    assert "Condition" not in doc["Statement"][3] and doc["Statement"][4]["Resource"] == "arn:aws:s3:::b/*"


@pytest.mark.parametrize("args, message", [
    ((), "exactly one of --read-only, --apply or --billing"),
    (("--read-only", "--billing"), "exactly one of"),
    (("--read-only", "--export-prefix", "s3://a/b"), "--export-prefix goes with --billing"),
    (("--billing", "--export-prefix", "bills/exports"), "bills/exports: not an s3://bucket/prefix address"),
])
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    code, out, err = cli(capsys, "iam-policy", *args)
    assert code == 2 and out == "" and message in err
