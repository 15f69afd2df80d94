"""Plain records that collectors produce and analyses read.

Each record class is a frozen dataclass with a ``__table__`` name; the store derives one DuckDB table per
record class from its fields, so adding a domain (ECS, network) means adding records, not store code.
Nothing here imports boto3 or computes money.
"""
from __future__ import annotations

from typing import Any, Iterator, Protocol, TypeVar

T = TypeVar("T")


class RecordSource(Protocol):
    """Where records come from on demand: one snapshot of an open store (`store.StoredSnapshot`)."""

    def load(self, cls: type[T]) -> list[T]: ...

    def fact_batches(self, name: str, classes: list[type]) -> Iterator[list[tuple]]: ...


class Records:
    """A snapshot's records by record class; what checks and analyses read. `of(Repository)` → list.

    Built from a store (`source`), a table is read the first time someone asks for it, and the SQL facts
    (store/sql/*.sql) can be asked for instead of records: `stored` says whether they can."""

    def __init__(self, by_type: dict[type, list[Any]], snapshot_id: int | None = None,
                 source: RecordSource | None = None):
        self._by_type = by_type
        self.snapshot_id = snapshot_id
        self._source = source

    def of(self, cls: type[T]) -> list[T]:
        if cls not in self._by_type and self._source is not None:
            self._by_type[cls] = self._source.load(cls)
        return self._by_type.get(cls, [])  # type: ignore[return-value]

    @property
    def stored(self) -> bool:
        return self._source is not None

    def fact_batches(self, name: str, classes: list[type]) -> Iterator[list[tuple]]:
        """The rows of the SQL fact `name` over this snapshot's tables of `classes`, in batches (stored only)."""
        if self._source is None:
            raise TypeError("SQL facts need records read from a store")
        return self._source.fact_batches(name, classes)

    def fact_rows(self, name: str, classes: list[type]) -> list[tuple]:
        return [row for rows in self.fact_batches(name, classes) for row in rows]
