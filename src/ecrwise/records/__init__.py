"""Plain records that collectors produce and analyses read.

Each record class is a frozen dataclass with a ``__table__`` name; the store derives one DuckDB table per
record class from its fields, so adding a domain (ECS, network) means adding records, not store code.
Nothing here imports boto3 or computes money.
"""
from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class Records:
    """A snapshot's records by record class; what checks and analyses read. `of(Repository)` → list."""

    def __init__(self, by_type: dict[type, list[Any]], snapshot_id: int | None = None):
        self._by_type = by_type
        self.snapshot_id = snapshot_id

    def of(self, cls: type[T]) -> list[T]:
        return self._by_type.get(cls, [])  # type: ignore[return-value]
