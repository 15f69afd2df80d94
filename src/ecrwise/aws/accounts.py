"""Which accounts a scan covers: the caller's own, assumed roles, or every account of an organization."""
from __future__ import annotations

import boto3
import botocore.exceptions

from ecrwise.aws.session import Account, caller_account, error_code
from ecrwise.errors import UserError

# IAM actions each function here calls; `ecrwise iam-policy` is derived from these declarations.
IAM_ACTIONS = ["sts:GetCallerIdentity", "sts:AssumeRole", "organizations:ListAccounts"]


def assume(base: boto3.Session, role_arn: str, region: str) -> Account:
    if not role_arn.startswith("arn:") or ":role/" not in role_arn:
        raise UserError(f"--role-arn {role_arn}: not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    sts = base.client("sts", region_name=region)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="ecrwise-scan")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    account_id = role_arn.split(":")[4]
    return Account(account_id, session, via=role_arn)


def organization_role_arns(base: boto3.Session, role_name: str, region: str) -> list[str]:
    org = base.client("organizations", region_name=region)
    arns = []
    for page in org.get_paginator("list_accounts").paginate():
        for acct in page["Accounts"]:
            if acct.get("Status", "ACTIVE") == "ACTIVE":
                partition = acct["Arn"].split(":")[1] if acct.get("Arn") else "aws"
                arns.append(f"arn:{partition}:iam::{acct['Id']}:role/{role_name}")
    return arns


def resolve_accounts(base: boto3.Session, region: str, role_arns: list[str], org_role: str | None,
                     ) -> tuple[list[Account], list[tuple[str, str, str]]]:
    """Accounts to scan, plus (role_arn, error_code, message) for each role that could not be assumed."""
    # Check the base credentials first: missing or rejected ones are exit 3 with one clear line.
    home_account = caller_account(base, region)
    if org_role:
        try:
            role_arns = [*role_arns, *organization_role_arns(base, org_role, region)]
        except botocore.exceptions.ClientError as e:
            raise UserError(f"--org-role {org_role}: cannot list the organization's accounts "
                            f"({error_code(e)}); run from the management or a delegated admin account") from None
    if not role_arns:
        return [Account(home_account, base)], []
    accounts, failed = [], []
    for arn in dict.fromkeys(role_arns):
        try:
            accounts.append(assume(base, arn, region))
        except botocore.exceptions.ClientError as e:
            failed.append((arn, error_code(e), str(e)))
    return accounts, failed


def account_factory(profile: str | None, role_arns: list[str], home_region: str = "us-east-1"):
    """`account_id -> Account` for commands that change things: the caller's own account, or the account of a
    matching --role-arn. Asking for any other account is a usage error naming the fix."""
    from ecrwise.aws.session import base_session

    base = base_session(profile)
    region = base.region_name or home_region
    me = caller_account(base, region)
    accounts = {me: Account(me, base)}
    for arn in role_arns:
        acct = assume(base, arn, region)
        accounts[acct.account_id] = acct

    def account_for(account_id: str) -> Account:
        acct = accounts.get(account_id)
        if acct is None:
            raise UserError(f"account {account_id}: the current credentials are for "
                            f"{', '.join(sorted(accounts))}; pass --role-arn arn:aws:iam::{account_id}:role/NAME")
        return acct

    return account_for


def client_factory(profile: str | None, role_arns: list[str], service: str, home_region: str = "us-east-1"):
    """`(account, region) -> client` of `service`, on the accounts `account_factory` knows."""
    account_for = account_factory(profile, role_arns, home_region)

    def client_for(account_id: str, region_name: str):
        return account_for(account_id).client(service, region_name)

    return client_for
