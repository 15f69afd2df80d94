"""The estimates reconciliation compares the bill with, as a user (or another command) may hand them in a JSON
file: {"storage": [...], "nat": [...], "endpoints": [...]}. Validated; errors name the JSON path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecrwise.billing.reconcile import EndpointExpectation, NatAttribution, StorageEstimate
from ecrwise.errors import UserError


class _Storage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    region: str
    repository: str
    estimated_bytes: int = Field(ge=0)


class _Nat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    region: str
    nat_gateway_id: str
    pull_bytes: int = Field(ge=0)


class _Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    region: str
    vpc_endpoint_id: str
    az_count: int = Field(ge=1)
    expected_bytes: int | None = Field(default=None, ge=0)


class _Estimates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage: list[_Storage] = []
    nat: list[_Nat] = []
    endpoints: list[_Endpoint] = []


def load_estimates(path: Path) -> dict[str, Any]:
    """kwargs for `reconcile(...)`: storage, nat, endpoints."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as e:
        raise UserError(f"{path}: cannot read estimates: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        est = _Estimates.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        raise UserError(f"{path}: {where}: {err['msg']}") from None
    return {"storage": [StorageEstimate(**s.model_dump()) for s in est.storage],
            "nat": [NatAttribution(**n.model_dump()) for n in est.nat],
            "endpoints": [EndpointExpectation(**e.model_dump()) for e in est.endpoints]}
