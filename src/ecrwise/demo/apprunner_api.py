"""App Runner for the stand-in: moto 5.2 has no App Runner, so the stand-in's front (`standin.StubFront`)
answers these awsJson1_0 calls (target `AppRunner.<Operation>`) in the botocore model's shape
(https://docs.aws.amazon.com/apprunner/latest/api/API_Service.html): CreateService, ListServices (MaxResults,
NextToken), DescribeService and DeleteService, with state per account and region. Only what ecrwise and its
tests use; unknown operations answer InvalidRequestException as App Runner does for a malformed call.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

CONTENT_TYPE = "application/x-amz-json-1.0"
_STATE: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (account, region) → arn → Service
_LOCK = threading.Lock()


def reset() -> None:
    with _LOCK:
        _STATE.clear()


def _error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"__type": code, "Message": message}


def _summary(s: dict[str, Any]) -> dict[str, Any]:
    return {k: s[k] for k in ("ServiceName", "ServiceId", "ServiceArn", "ServiceUrl", "CreatedAt", "UpdatedAt",
                              "Status")}


def handle(account: str, region: str, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one call."""
    with _LOCK:
        services = _STATE.setdefault((account, region), {})
        if operation == "CreateService":
            name = body.get("ServiceName") or ""
            if not name or "SourceConfiguration" not in body:
                return _error("InvalidRequestException", "ServiceName and SourceConfiguration are required")
            if any(s["ServiceName"] == name for s in services.values()):
                return _error("InvalidRequestException", f"Service with the provided name already exists: {name}")
            sid = uuid.uuid4().hex
            arn = f"arn:aws:apprunner:{region}:{account}:service/{name}/{sid}"
            now = time.time()
            service = {"ServiceName": name, "ServiceId": sid, "ServiceArn": arn,
                       "ServiceUrl": f"{sid[:10]}.{region}.awsapprunner.com", "CreatedAt": now, "UpdatedAt": now,
                       "Status": "RUNNING", "SourceConfiguration": body["SourceConfiguration"],
                       "InstanceConfiguration": body.get("InstanceConfiguration") or {"Cpu": "1024",
                                                                                       "Memory": "2048"}}
            services[arn] = service
            return 200, {"Service": service, "OperationId": uuid.uuid4().hex}
        if operation == "ListServices":
            items = sorted(services.values(), key=lambda s: s["CreatedAt"])
            start = int(body.get("NextToken") or 0)
            size = int(body.get("MaxResults") or 20)
            doc: dict[str, Any] = {"ServiceSummaryList": [_summary(s) for s in items[start:start + size]]}
            if start + size < len(items):
                doc["NextToken"] = str(start + size)
            return 200, doc
        if operation in ("DescribeService", "DeleteService"):
            service = services.get(body.get("ServiceArn") or "")
            if service is None:
                return _error("ResourceNotFoundException", f"Service not found: {body.get('ServiceArn')}")
            if operation == "DeleteService":
                del services[service["ServiceArn"]]
                return 200, {"Service": {**service, "Status": "DELETED", "DeletedAt": time.time()},
                             "OperationId": uuid.uuid4().hex}
            return 200, {"Service": service}
    return _error("InvalidRequestException", f"the stand-in does not serve AppRunner.{operation}")
