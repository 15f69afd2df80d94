"""Amazon Inspector's ListCoverage for the stand-in: moto 5.2 answers Enable and BatchGetAccountStatus but not
ListCoverage, so the stand-in's front (`standin.StubFront`) answers `POST /coverage/list` (restJson1) in the
documented shape (https://docs.aws.amazon.com/inspector/v2/APIReference/API_ListCoverage.html,
`CoveredResource` with `resourceMetadata.ecrImage` / `ecrRepository`).

What it covers is what Inspector would: every image in moto's ECR backend of that account and region, when
Inspector's ECR scanning is ENABLED there in moto's inspector2 backend. How many tasks or pods run an image is
Inspector's own observation, which no API sets; tests and the demo estate set it with `set_image_use`.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

CONTENT_TYPE = "application/json"
_USE: dict[tuple[str, str, str, str], tuple[int, datetime | None]] = {}  # (account, region, repo, digest)
_LOCK = threading.Lock()


def reset() -> None:
    with _LOCK:
        _USE.clear()


def set_image_use(account: str, region: str, repository: str, digest: str, in_use_count: int,
                  last_in_use_at: datetime | None = None) -> None:
    with _LOCK:
        _USE[(account, region, repository, digest)] = (in_use_count, last_in_use_at)


def _enabled(account: str, region: str) -> bool:
    from moto.backends import get_backend

    status = get_backend("inspector2")[account][region].account_status.get(account)
    return status is not None and status.ecr == "ENABLED"


def _filter_values(criteria: dict[str, Any], key: str) -> list[str] | None:
    wanted = [f.get("value") for f in criteria.get(key, []) if f.get("comparison") == "EQUALS"]
    return wanted or None


def list_coverage(account: str, region: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from moto.backends import get_backend

    criteria = body.get("filterCriteria") or {}
    types = _filter_values(criteria, "resourceType")
    repos = _filter_values(criteria, "ecrRepositoryName")
    covered: list[dict[str, Any]] = []
    if _enabled(account, region) and (types is None or "AWS_ECR_CONTAINER_IMAGE" in types):
        ecr = get_backend("ecr")[account][region]
        for name, repo in sorted(ecr.repositories.items()):
            if repos is not None and name not in repos:
                continue
            seen: set[str] = set()
            for image in repo.images:
                if image.image_digest in seen:
                    continue
                seen.add(image.image_digest)
                with _LOCK:
                    count, last = _USE.get((account, region, name, image.image_digest), (0, None))
                meta: dict[str, Any] = {"tags": list(image.image_tags), "inUseCount": count}
                if last is not None:
                    meta["lastInUseAt"] = last.timestamp()
                covered.append({
                    "accountId": account, "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                    "resourceId": f"arn:aws:ecr:{region}:{account}:repository/{name}/{image.image_digest}",
                    "scanType": "PACKAGE", "scanStatus": {"statusCode": "ACTIVE", "reason": "SUCCESSFUL"},
                    "resourceMetadata": {"ecrRepository": {"name": name, "scanFrequency": "SCAN_ON_PUSH"},
                                         "ecrImage": meta}})
    start = int(body.get("nextToken") or 0)
    size = min(int(body.get("maxResults") or 100), 200)
    doc: dict[str, Any] = {"coveredResources": covered[start:start + size]}
    if start + size < len(covered):
        doc["nextToken"] = str(start + size)
    return 200, doc
