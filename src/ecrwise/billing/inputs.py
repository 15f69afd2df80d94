"""The estimates reconciliation compares the bill with, as a user (or another command) may hand them in a JSON
file: {"storage": [...], "nat": [...], "endpoints": [...]}. Validated; errors name the JSON path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ecrwise.billing.reconcile import EndpointExpectation, NatAttribution, StorageEstimate
from ecrwise.inputs import load_document


class _Located(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    region: str


class _Storage(_Located):
    repository: str
    estimated_bytes: int = Field(ge=0)


class _Nat(_Located):
    nat_gateway_id: str
    pull_bytes: int = Field(ge=0)


class _Endpoint(_Located):
    vpc_endpoint_id: str
    az_count: int = Field(ge=1)
    expected_bytes: int | None = Field(default=None, ge=0)


class _Estimates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage: list[_Storage] = []
    nat: list[_Nat] = []
    endpoints: list[_Endpoint] = []


def load_estimates(path: Path) -> dict[str, Any]:
    """kwargs for `reconcile(...)`: storage, nat, endpoints. Read through the one input loader (encoding, depth,
    finite numbers, the schema with JSON paths)."""
    est = load_document(path, what="estimates file", schema=_Estimates)
    return {"storage": [StorageEstimate(**s.model_dump()) for s in est.storage],
            "nat": [NatAttribution(**n.model_dump()) for n in est.nat],
            "endpoints": [EndpointExpectation(**e.model_dump()) for e in est.endpoints]}
