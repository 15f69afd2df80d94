"""The snapshot store: every scan is appended to one DuckDB file as a snapshot.

Tables are derived from the record dataclasses in `ecrwise.records` (one table per record class, plus a
`snapshot_id` column), so a new domain adds records, not store code. Rows are inserted column-wise through
`unnest` because DuckDB's executemany costs about a millisecond a row.
"""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, TypeVar

import duckdb

from ecrwise.errors import UserError
from ecrwise.records.scan import ScanFailure
from ecrwise.timefmt import iso

T = TypeVar("T")

STORE_ENV = "ECRWISE_STORE"


def default_store_path() -> Path:
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ecrwise" / "ecrwise.duckdb"


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: int
    taken_at: datetime
    accounts: list[str]
    regions: list[str]
    services: list[str]
    failures: list[ScanFailure] = field(default_factory=list)
    ecrwise_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "taken_at": iso(self.taken_at),
            "accounts": self.accounts,
            "regions": self.regions,
            "services": self.services,
            "failures": [dataclasses.asdict(f) for f in self.failures],
        }


# -- mapping dataclass fields to DuckDB columns ---------------------------------------------------------

def _base_type(tp: Any) -> tuple[Any, bool]:
    """Strip Optional[...]; return (type, nullable)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _sql_type(tp: Any) -> str:
    tp, _ = _base_type(tp)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        return _sql_type(typing.get_args(tp)[0]) + "[]"
    if origin is dict or tp is dict:
        return "JSON"
    return {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN",
            datetime: "TIMESTAMP", date: "DATE"}[tp]


def _columns(cls: type) -> list[tuple[str, Any, str]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name], _sql_type(hints[f.name])) for f in dataclasses.fields(cls)]


def _to_db(value: Any, sql: str) -> Any:
    if value is None:
        return None
    if sql == "JSON":
        return json.dumps(value, sort_keys=True)
    if sql == "TIMESTAMP":
        # Stored as naive UTC.
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if sql.endswith("[]"):
        return list(value)
    return value


def _from_db(value: Any, sql: str) -> Any:
    if value is None:
        return None
    if sql == "JSON":
        return json.loads(value) if isinstance(value, str) else value
    if sql == "TIMESTAMP":
        return value.replace(tzinfo=timezone.utc)
    return value


class Store:
    """A DuckDB file of snapshots. Use as a context manager."""

    def __init__(self, path: Path | str, *, read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise UserError(f"{self.path}: no store here yet; run `ecrwise scan` (or `ecrwise demo`) first, "
                            f"or point --store / {STORE_ENV} at an existing store")
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except (duckdb.Error, OSError) as e:
            raise UserError(f"{self.path}: cannot open the store: {e}") from None
        self.read_only = read_only
        self._known: set[str] = set()
        if not read_only:
            self._init_meta()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def _init_meta(self) -> None:
        self.con.execute("""
            CREATE SEQUENCE IF NOT EXISTS snapshot_ids START 1;
            CREATE TABLE IF NOT EXISTS snapshots (
                id BIGINT PRIMARY KEY, taken_at TIMESTAMP NOT NULL, accounts VARCHAR[], regions VARCHAR[],
                services VARCHAR[], failures JSON, ecrwise_version VARCHAR, complete BOOLEAN NOT NULL);
        """)

    def _ensure_table(self, cls: type) -> str:
        table = cls.__table__
        if table not in self._known:
            cols = ", ".join(f'"{n}" {sql}' for n, _, sql in _columns(cls))
            self.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (snapshot_id BIGINT NOT NULL, {cols})')
            self._known.add(table)
        return table

    # -- writing --------------------------------------------------------------------------------------

    def begin_snapshot(self, taken_at: datetime, accounts: list[str], regions: list[str], services: list[str],
                       version: str) -> int:
        sid = self.con.execute("SELECT nextval('snapshot_ids')").fetchone()[0]
        self.con.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, false)",
            [sid, _to_db(taken_at, "TIMESTAMP"), accounts, regions, services, "[]", version])
        return sid

    def finish_snapshot(self, sid: int, accounts: list[str], failures: list[ScanFailure]) -> None:
        self.con.execute("UPDATE snapshots SET complete = true, accounts = ?, failures = ? WHERE id = ?",
                         [accounts, json.dumps([dataclasses.asdict(f) for f in failures]), sid])

    def save_scan(self, started_at: datetime, accounts: list[str], regions: list[str], services: list[str],
                  records: dict[type, list[Any]], failures: list[ScanFailure], version: str) -> Snapshot:
        """Append one scan as a snapshot; it becomes visible (complete) only once everything is written."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            sid = self.begin_snapshot(started_at, accounts, regions, services, version)
            for cls, recs in records.items():
                self.insert(sid, recs, cls)
            self.finish_snapshot(sid, accounts, failures)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return self.snapshot(sid)

    def insert(self, sid: int, records: Iterable[Any], cls: type | None = None) -> int:
        records = list(records)
        if not records:
            if cls is not None:
                self._ensure_table(cls)
            return 0
        cls = cls or type(records[0])
        table = self._ensure_table(cls)
        cols = _columns(cls)
        columns = [[sid] * len(records)]
        for name, _, sql in cols:
            columns.append([_to_db(getattr(r, name), sql) for r in records])
        placeholders = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
        casts = ", ".join(["snapshot_id"] + [f'"{n}"' for n, _, _ in cols])
        self.con.execute(f'INSERT INTO "{table}" ({casts}) SELECT {placeholders}', columns)
        return len(records)

    # -- reading --------------------------------------------------------------------------------------

    def snapshots(self) -> list[Snapshot]:
        rows = self.con.execute(
            "SELECT id, taken_at, accounts, regions, services, failures, ecrwise_version FROM snapshots "
            "WHERE complete ORDER BY id").fetchall()
        return [self._snapshot(r) for r in rows]

    @staticmethod
    def _snapshot(r: tuple) -> Snapshot:
        failures = [ScanFailure(**f) for f in json.loads(r[5] or "[]")]
        return Snapshot(r[0], r[1].replace(tzinfo=timezone.utc), list(r[2] or []), list(r[3] or []),
                        list(r[4] or []), failures, r[6] or "")

    def snapshot(self, sid: int | None = None) -> Snapshot:
        """The given snapshot, or the latest complete one."""
        try:
            if sid is None:
                row = self.con.execute(
                    "SELECT id, taken_at, accounts, regions, services, failures, ecrwise_version FROM snapshots "
                    "WHERE complete ORDER BY id DESC LIMIT 1").fetchone()
            else:
                row = self.con.execute(
                    "SELECT id, taken_at, accounts, regions, services, failures, ecrwise_version FROM snapshots "
                    "WHERE complete AND id = ?", [sid]).fetchone()
        except duckdb.CatalogException:
            row = None
        if row is None:
            if sid is None:
                raise UserError(f"{self.path}: the store has no snapshot yet; run `ecrwise scan` first")
            known = ", ".join(str(s.id) for s in self.snapshots()[-10:]) or "none"
            raise UserError(f"--snapshot {sid}: no such snapshot in {self.path} (latest: {known})")
        return self._snapshot(row)

    def load(self, sid: int, cls: type[T], where: str = "", params: list[Any] | None = None) -> list[T]:
        table = cls.__table__
        cols = _columns(cls)
        names = ", ".join(f'"{n}"' for n, _, _ in cols)
        try:
            rows = self.con.execute(
                f'SELECT {names} FROM "{table}" WHERE snapshot_id = ? {("AND " + where) if where else ""}',
                [sid, *(params or [])]).fetchall()
        except duckdb.CatalogException:
            return []  # this snapshot's scan did not collect that kind of record
        out = []
        for row in rows:
            out.append(cls(*[_from_db(v, sql) for v, (_, _, sql) in zip(row, cols)]))
        return out

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()
