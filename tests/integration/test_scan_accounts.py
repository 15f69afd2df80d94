"""Several accounts: --role-arn and --org-role through the stand-in (moto routes assumed-role credentials
to the role's account, as AWS does)."""
from __future__ import annotations

import boto3
import pytest


def session_in(url: str, account: str) -> boto3.Session:
    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/Setup", RoleSessionName="setup")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="us-east-1")


@pytest.fixture
def two_accounts(aws):
    org = boto3.client("organizations", endpoint_url=aws, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    made = []
    for name in ("team-a", "team-b"):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account = status["AccountId"]
        ecr = session_in(aws, account).client("ecr", endpoint_url=aws)
        ecr.create_repository(repositoryName=f"{name}-svc")
        made.append(account)
    return made


def test_role_arn_scans_that_account(two_accounts, cli, tmp_path):
    a, _ = two_accounts
    res = cli("scan", "--region", "us-east-1", "--only", "ecr", "--role-arn", f"arn:aws:iam::{a}:role/Audit",
              "--store", tmp_path / "s.duckdb", "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["snapshot"]["accounts"] == [a]
    items = cli("repos", "--store", tmp_path / "s.duckdb", "--format", "json").json()["items"]
    assert [(i["account"], i["repository"]) for i in items] == [(a, "team-a-svc")]


def test_org_role_scans_every_active_account(two_accounts, cli, tmp_path):
    res = cli("scan", "--region", "us-east-1", "--only", "ecr", "--org-role", "Audit",
              "--store", tmp_path / "s.duckdb", "--format", "json")
    assert res.code == 0, res.err
    accounts = res.json()["snapshot"]["accounts"]
    assert set(two_accounts) <= set(accounts)
    items = cli("repos", "--store", tmp_path / "s.duckdb", "--format", "json").json()["items"]
    assert {(i["account"], i["repository"]) for i in items} == {(two_accounts[0], "team-a-svc"),
                                                                  (two_accounts[1], "team-b-svc")}


def test_bad_role_arn_is_a_usage_error(aws, cli, tmp_path):
    res = cli("scan", "--region", "us-east-1", "--role-arn", "not-an-arn", "--store", tmp_path / "s.duckdb")
    assert res.code == 2 and "--role-arn not-an-arn" in res.err
