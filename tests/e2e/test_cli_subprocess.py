"""The installed `ecrwise` console script, run as a user runs it: a separate process, real exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import stand_in_environ

ECRWISE = str(Path(sys.executable).with_name("ecrwise"))


def run(*args, env=None, timeout=300):
    return subprocess.run([ECRWISE, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.e2e
def test_demo_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    res = run("demo", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Top 15 ECR repositories by monthly cost" in res.stdout and "What to do next" in res.stdout
    # A generated month of CUR 2.0 billing, imported and reconciled: the top gap is the stray NAT bytes.
    assert "Billed vs estimated (" in res.stdout and "40.0 GiB NAT bytes image pulls do not explain" in res.stdout
    assert 'id="billed-vs-estimated"' in (tmp_path / "xdg" / "ecrwise" / "ecrwise-report.html").read_text()
    store = tmp_path / "xdg" / "ecrwise" / "demo.duckdb"
    assert store.exists()
    doc = json.loads(run("repos", "--store", store, "--format", "json").stdout)
    assert doc["totals"]["repositories"] >= 40 and doc["totals"]["stored_bytes"] < doc["totals"]["naive_bytes"]


@pytest.mark.e2e
def test_scan_reaches_the_stand_in_through_aws_endpoint_url(aws, tmp_path):
    from ecrwise.demo.estate import build_estate

    build_estate(aws, repositories=6, images_per_repo=2)
    res = run("scan", "--region", "us-east-1", "--region", "eu-west-1", "--only", "ecr", "--store",
              tmp_path / "s.duckdb", env=stand_in_environ(aws))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("snapshot 1: 6 repositories, 12 images")
    assert "Traceback" not in res.stderr


@pytest.mark.e2e
def test_usage_errors_exit_2_without_traceback(tmp_path):
    res = run("repos", "--store", tmp_path / "missing.duckdb")
    assert res.returncode == 2 and "no store here yet" in res.stderr and "Traceback" not in res.stderr
    res = run("repos", "--no-such-option")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run("iam-policy")
    assert res.returncode == 2 and "exactly one of" in res.stderr


@pytest.mark.e2e
def test_iam_policy_is_derived_from_the_collectors():
    doc = json.loads(run("iam-policy", "--read-only").stdout)
    actions = doc["Statement"][0]["Action"]
    for needed in ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetLifecyclePolicy", "ecr:DescribeRepositories",
                   "ecr:ListTagsForResource", "cloudwatch:GetMetricData", "sts:GetCallerIdentity"]:
        assert needed in actions
    assert not any(a.split(":")[1].startswith(("Put", "Delete", "Create", "Update")) for a in actions)
