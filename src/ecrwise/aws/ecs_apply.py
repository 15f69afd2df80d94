"""Changing ECS services (`ecrwise ecs fix circuit-breaker` and `ecrwise ecs restore`): read a service's live
deployment configuration, and set a new one. `remediate.ecs_circuit_breaker` plans, and writes the backup
before calling `update_deployment_configuration` (only with `--apply`).
"""
from __future__ import annotations

from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from ecrwise.aws.session import error_code, is_denied
from ecrwise.errors import AwsUnavailable, UserError

IAM_ACTIONS = ["ecs:DescribeServices"]  # re-reads the live service before changing it
APPLY_IAM_ACTIONS = ["ecs:UpdateService"]


def parse_service_arn(arn: str) -> tuple[str, str, str | None, str]:
    """(region, account, cluster or None, service) from arn:aws:ecs:REGION:ACCOUNT:service/[CLUSTER/]NAME."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs" or not parts[5].startswith("service/"):
        raise UserError(f"--service {arn}: not an ECS service ARN (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME)")
    path = parts[5].split("/")[1:]
    if len(path) == 2:
        return parts[3], parts[4], path[0], path[1]
    if len(path) == 1:
        return parts[3], parts[4], None, path[0]
    raise UserError(f"--service {arn}: not an ECS service ARN")


def _client(session: boto3.Session, region: str) -> Any:
    cfg = botocore.config.Config(region_name=region, retries={"mode": "standard", "max_attempts": 5},
                                 user_agent_appid="ecrwise")
    return session.client("ecs", config=cfg)


def _call(what: str, fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except botocore.exceptions.NoCredentialsError:
        raise AwsUnavailable("no AWS credentials found: set AWS_PROFILE (or pass --profile)") from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as e:
        raise AwsUnavailable(f"{what}: cannot reach AWS: {e}") from None
    except botocore.exceptions.ClientError as e:
        if is_denied(e):
            raise AwsUnavailable(f"{what}: access denied ({error_code(e)}); needs "
                                 f"{', '.join(IAM_ACTIONS + APPLY_IAM_ACTIONS)}") from None
        raise UserError(f"{what}: {error_code(e)}: {e.response.get('Error', {}).get('Message', e)}") from None


def describe_service(session: boto3.Session, region: str, cluster: str, service: str) -> dict[str, Any]:
    """The live service (DescribeServices), as AWS returns it."""
    resp = _call(f"{cluster}/{service}", _client(session, region).describe_services,
                 cluster=cluster, services=[service])
    found = resp.get("services") or []
    if not found or found[0].get("status") == "INACTIVE":
        raise UserError(f"{cluster}/{service} ({region}): no such active service")
    return found[0]


def update_deployment_configuration(session: boto3.Session, region: str, cluster: str, service: str,
                                    config: dict[str, Any]) -> dict[str, Any]:
    """UpdateService with only `deploymentConfiguration` (no new deployment); returns what AWS now reports."""
    resp = _call(f"{cluster}/{service}", _client(session, region).update_service,
                 cluster=cluster, service=service, deploymentConfiguration=config)
    return (resp.get("service") or {}).get("deploymentConfiguration") or {}
