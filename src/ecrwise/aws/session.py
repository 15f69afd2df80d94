"""Sessions and clients: credentials and endpoints the usual AWS way, retries tuned for large scans.

Everything that talks to AWS gets its clients here, so retry mode, pool size and the stand-in endpoint
(`AWS_ENDPOINT_URL`, honoured by botocore itself) are decided in one place.
"""
from __future__ import annotations

from contextlib import contextmanager

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3
import botocore.config
import botocore.exceptions

from ecrwise.errors import AwsUnavailable, UserError

# Error codes that mean "you may not look here" rather than "something broke".
DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
    "InvalidClientTokenId", "AuthFailure", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "OptInRequired", "InvalidSignatureException", "UnauthorizedException",
}

NO_CREDENTIALS_HELP = (
    "no AWS credentials found: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or run on a machine with an instance/task role"
)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def is_denied(exc: BaseException) -> bool:
    return error_code(exc) in DENIED_CODES


@dataclass
class Account:
    """One account to scan: its id and the boto3 session whose credentials reach it."""
    account_id: str
    session: boto3.Session
    via: str = "default credentials"
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, region: str, *, pool: int = 32) -> Any:
        key = (service, region)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                cfg = botocore.config.Config(
                    region_name=region,
                    retries=retry_config(),
                    max_pool_connections=pool,
                    connect_timeout=10,
                    read_timeout=60,
                    user_agent_appid="ecrwise",
                )
                c = self._clients[key] = self.session.client(service, config=cfg)
            return c


def retry_config() -> dict[str, Any]:
    """Adaptive retries with 11 attempts in all, unless the user sets AWS_RETRY_MODE / AWS_MAX_ATTEMPTS (the
    standard AWS variables, which an explicit Config would otherwise override)."""
    mode = os.environ.get("AWS_RETRY_MODE") or "adaptive"
    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 11)
    except ValueError:
        raise UserError(f"AWS_MAX_ATTEMPTS={os.environ['AWS_MAX_ATTEMPTS']!r}: not a whole number") from None
    return {"mode": mode, "total_max_attempts": max(1, attempts)}


def base_session(profile: str | None) -> boto3.Session:
    try:
        return boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise UserError(f"--profile {profile}: no such profile in your AWS config files") from None


def caller_account(session: boto3.Session, region: str) -> str:
    """The account id the session's credentials belong to (STS GetCallerIdentity)."""
    try:
        sts = session.client("sts", region_name=region)
        return sts.get_caller_identity()["Account"]
    except botocore.exceptions.NoCredentialsError:
        raise AwsUnavailable(NO_CREDENTIALS_HELP) from None
    except botocore.exceptions.ClientError as e:
        raise AwsUnavailable(f"AWS rejected the credentials ({error_code(e)}): {e}") from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as e:
        raise AwsUnavailable(f"cannot reach AWS: {e}") from None


def known_regions(session: boto3.Session) -> set[str]:
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ecr", partition_name=partition))
    return regions


def check_regions(session: boto3.Session, regions: list[str]) -> None:
    known = known_regions(session)
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise UserError(f"--region {unknown[0]}: unknown AWS region (ECR is in: {', '.join(sorted(known))})")


def as_unavailable(exc: BaseException) -> AwsUnavailable | None:
    """An SDK error that escaped a command, as exit 3 when it means AWS could not be reached or refused the
    credentials; None for anything else (an internal error). Used by the CLI's last-resort handler."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AwsUnavailable(NO_CREDENTIALS_HELP)
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                        botocore.exceptions.ReadTimeoutError)):
        return AwsUnavailable(f"cannot reach AWS: {exc}")
    if isinstance(exc, botocore.exceptions.ClientError) and is_denied(exc):
        return AwsUnavailable(f"AWS denied the request ({error_code(exc)}): {exc}")
    return None


@contextmanager
def reaching(service: str, needs: str) -> Iterator[None]:
    """Calls to one service whose denial or unreachability is the user's to fix: exit 3 saying which
    permission is needed (`reaching("Cost Explorer", "the billing commands need ce:GetCostAndUsage")`)."""
    try:
        yield
    except botocore.exceptions.ClientError as e:
        if is_denied(e):
            raise AwsUnavailable(f"{service} denied the request ({error_code(e)}): {needs}") from None
        raise
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as e:
        raise AwsUnavailable(f"cannot reach {service}: {e}") from None
