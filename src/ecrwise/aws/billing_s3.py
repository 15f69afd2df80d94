"""Download an AWS Data Exports prefix from S3 into a local cache, so DuckDB reads local files only.

Objects are listed under the prefix (ListObjectsV2, paginated) and fetched when the cached copy is missing or
its size differs; the cache keeps the key layout, so the export's Manifest.json finds its data files
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions

from ecrwise.aws.session import Account, error_code, is_denied
from ecrwise.errors import AwsUnavailable, UserError

IAM_ACTIONS = ["s3:ListBucket", "s3:GetObject"]
IAM_GROUP = "billing"  # in `iam-policy --billing`, not in the scan's --read-only policy
SUFFIXES = (".parquet", ".csv.gz", ".csv", "Manifest.json")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise UserError(f"{uri}: not an s3://bucket/prefix address")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise UserError(f"{uri}: no bucket name")
    return bucket, prefix


def iam_statements(export_prefixes: list[str]) -> list[dict[str, Any]]:
    """The S3 statements of `iam-policy --billing`: scoped to the export prefixes when given. ListBucket is a
    bucket action, narrowed to the prefix with the `s3:prefix` condition key; GetObject is an object action on
    `bucket/prefix/*` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-condition-keys.html)."""
    if not export_prefixes:
        return [{"Sid": "EcrwiseBillingExportRead", "Effect": "Allow", "Action": sorted(IAM_ACTIONS), "Resource": "*"}]
    out: list[dict[str, Any]] = []
    for i, uri in enumerate(export_prefixes):
        bucket, prefix = parse_s3_uri(uri)
        prefix = prefix.strip("/")
        sid = "" if len(export_prefixes) == 1 else str(i + 1)
        listing: dict[str, Any] = {"Sid": f"EcrwiseBillingExportList{sid}", "Effect": "Allow",
                                   "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"}
        if prefix:  # the import lists with Prefix=<prefix> as given, with or without a trailing slash
            listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
        out.append(listing)
        out.append({"Sid": f"EcrwiseBillingExportRead{sid}", "Effect": "Allow", "Action": ["s3:GetObject"],
                    "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"})
    return out


def download_export(account: Account, uri: str, cache_dir: Path, region: str = "us-east-1") -> Path:
    """The local folder mirroring s3://bucket/prefix (export files only)."""
    bucket, prefix = parse_s3_uri(uri)
    client = account.client("s3", region)
    root = Path(cache_dir) / bucket
    fetched = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents") or []:
                key = obj["Key"]
                if not key.endswith(SUFFIXES) or ".." in key.split("/"):
                    continue
                local = root / key
                if local.is_file() and local.stat().st_size == obj["Size"]:
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(local))
                fetched += 1
    except botocore.exceptions.ClientError as e:
        if is_denied(e):
            raise AwsUnavailable(f"{uri}: access denied ({error_code(e)}): the import needs s3:ListBucket and "
                                 "s3:GetObject on the export prefix") from None
        if error_code(e) in ("NoSuchBucket", "404"):
            raise UserError(f"{uri}: no such bucket") from None
        raise
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as e:
        raise AwsUnavailable(f"cannot reach S3: {e}") from None
    local_prefix = root / prefix if prefix else root
    if not local_prefix.exists():
        raise UserError(f"{uri}: no export files under this prefix")
    return local_prefix
