"""The snapshot store: every scan is appended to one DuckDB file as a snapshot.

Tables are derived from the record dataclasses in `ecrwise.records` (one table per record class, plus a
`snapshot_id` column), so a new domain adds records, not store code. Rows are inserted column-wise through
`unnest` because DuckDB's executemany costs about a millisecond a row. A record class may gain fields (with
defaults): writing adds the column to an older store's table, and older rows read as the field's default.

How a file is opened (lock waits, refusing foreign or broken files, schema versions) is `store.files`; how a scan
the store cannot take is kept and merged later is `store.pending`. `save_scan()` is the one way a scan is saved.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import duckdb

from ecrwise.errors import UserError
from ecrwise.records.scan import ScanFailure
from ecrwise.store import pending
from ecrwise.store.files import (DUCKDB_CONFIG, MIGRATIONS, SCHEMA_VERSION, WAIT_ENV, Notice, StoreBusy,
                                 StoreRefused, StoreUnwritable, check_readable, connect, migrate, remove_empty,
                                 schema_version, sniff, store_wait)
from ecrwise.timefmt import iso

__all__ = ["DUCKDB_CONFIG", "MIGRATIONS", "SCHEMA_VERSION", "STORE_ENV", "WAIT_ENV", "Snapshot", "Store", "StoreBusy",
           "StoreRefused", "StoreUnwritable", "check_store", "default_store_path", "save_scan"]

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
    # Set when the store stayed busy and the scan was kept in this side file instead (id is then 0: the store
    # gives the snapshot its id when it merges the file).
    pending: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "taken_at": iso(self.taken_at),
            "accounts": self.accounts,
            "regions": self.regions,
            "services": self.services,
            "failures": [dataclasses.asdict(f) for f in self.failures],
        }
        if self.pending:
            d["pending"] = self.pending
        return d


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


def _field_default(cls: type, name: str) -> Callable[[], Any] | None:
    """A factory of the field's default; None for a field without one (a NULL stays None)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory
    if f.default is dataclasses.MISSING:
        return None
    value = f.default
    return lambda: value


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


# A text column whose first rows repeat this much (account, region, repository, media types) is read with one
# string object per distinct value: DuckDB hands every row its own copy (the images table in Python at 100,000
# images: 90 MiB with copies, 64 MiB shared).
_SHARE_SAMPLE = 1000
_SHARE_DISTINCT = 100


def _column_from_db(values: tuple[Any, ...], default: Callable[[], Any] | None, sql: str) -> Sequence[Any]:
    """`_from_db` over one column, NULLs read as the field's `default` (when it has one)."""
    if sql in ("JSON", "TIMESTAMP"):
        values = tuple(_from_db(v, sql) for v in values)
    elif sql == "VARCHAR" and len(values) > _SHARE_SAMPLE and len(set(values[:_SHARE_SAMPLE])) <= _SHARE_DISTINCT:
        one: dict[Any, Any] = {}
        values = tuple([one.setdefault(v, v) for v in values])
    if default is not None and None in values:
        values = tuple(default() if v is None else v for v in values)
    return values


def _open_for_writing(path: Path, wait: float, notice: Notice) -> duckdb.DuckDBPyConnection:
    """A read-write connection to an ecrwise store at its current schema version, creating it if there is none.
    An existing file is first checked read-only (ecrwise's? every block readable?), so a foreign or broken file
    is refused before a writable connection could touch it."""
    kind = sniff(path)
    if kind == "empty":
        remove_empty(path)
    elif kind == "duckdb":
        con = connect(path, read_only=True, wait=wait, notice=notice)
        try:
            schema_version(con, path)
            check_readable(con, path)
        finally:
            con.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreUnwritable(f"{path}: cannot create the store's directory: {e.strerror or e}") from None
    con = connect(path, read_only=False, wait=wait, notice=notice)
    try:
        # Again under the write lock: another process may have created or migrated it in between.
        migrate(con, path, schema_version(con, path))
    except BaseException:
        con.close()
        raise
    return con


def check_store(path: Path | str) -> None:
    """Refuse now (UserError) a store file that a scan could not be saved to: not an ecrwise store, or broken.
    Cheap and never waits: a busy store is checked again when the scan is saved."""
    path = Path(path)
    if sniff(path) != "duckdb":
        return
    try:
        con = connect(path, read_only=True, wait=0, notice=lambda _: None)
    except StoreBusy:
        return
    try:
        schema_version(con, path)
        check_readable(con, path)
    finally:
        con.close()


def save_scan(path: Path | str, started_at: datetime, accounts: list[str], regions: list[str], services: list[str],
              records: dict[type, list[Any]], failures: list[ScanFailure], version: str, *,
              wait: float | None = None, notice: Notice | None = None) -> Snapshot:
    """Append a finished scan to the store at `path`, never losing it.

    Waits for a busy store (bounded); if it stays busy, the scan is kept in a pending side file (the Snapshot
    returned has id 0 and `pending` set; the next command that opens the store merges it). If the store is not
    ecrwise's, is broken or cannot be written, the scan is kept the same way and a UserError names both files."""
    path = Path(path)
    notice = notice or _stderr

    def write(st: "Store") -> Snapshot:
        return st.save_scan(started_at, accounts, regions, services, records, failures, version)

    try:
        with Store(path, wait=wait, notice=notice) as st:
            return write(st)
    except (StoreBusy, StoreUnwritable, StoreRefused, duckdb.Error, OSError) as e:
        problem = e if isinstance(e, UserError) else f"{path}: saving the scan failed: {e}"
        kept: list[Snapshot] = []

        def write_side(side: Path) -> None:
            with Store(side, wait=0, notice=notice, merge_pending=False) as st:
                kept.append(write(st))

        side = pending.keep(path, started_at, write_side)
        if side.parent == pending.pending_dir(path):
            later = f"the next ecrwise command that opens {path} merges it"
        else:  # the store's directory is not writable either: only a move brings it back
            later = f"move it into {pending.pending_dir(path)}/ to have it merged into {path}"
        if isinstance(e, StoreBusy):
            notice(f"{e.short}: the scan is kept in {side}; {later}")
            return dataclasses.replace(kept[0], id=0, pending=str(side))
        raise UserError(f"{problem}. The scan is kept in {side} (itself a store: --store {side} reads it); "
                        f"{later.replace('merges it', 'merges it once that is a writable ecrwise store')}") from None


def _stderr(message: str) -> None:
    print(f"ecrwise: {message}", file=sys.stderr, flush=True)


class Store:
    """A DuckDB file of snapshots. Use as a context manager.

    Opening waits (bounded, $ECRWISE_STORE_WAIT) while another process holds the file, refuses a file that is not
    an ecrwise store or is broken (UserError, nothing written), migrates an older store when opened for writing
    and merges pending side files. A read-only open merges them too when it can get the write lock at once, and
    otherwise says how many are waiting."""

    def __init__(self, path: Path | str, *, read_only: bool = False, wait: float | None = None,
                 notice: Notice | None = None, merge_pending: bool = True):
        self.path = Path(path)
        self.read_only = read_only
        self._notice = notice or _stderr
        self._known: set[str] = set()
        wait = store_wait() if wait is None else wait
        if read_only:
            if merge_pending:
                self._merge_before_reading(wait)
            if not self.path.exists():
                raise UserError(f"{self.path}: no store here yet; run `ecrwise scan` (or `ecrwise demo`) first, "
                                f"or point --store / {STORE_ENV} at an existing store")
            if sniff(self.path) == "empty":
                raise UserError(f"{self.path}: an empty file, no store yet; run `ecrwise scan` first")
            self.con = connect(self.path, read_only=True, wait=wait, notice=self._notice)
            try:
                self.version = schema_version(self.con, self.path)
            except BaseException:
                self.con.close()
                raise
        else:
            self.con = _open_for_writing(self.path, wait, self._notice)
            self.version = SCHEMA_VERSION
            if merge_pending:
                self.merged = pending.merge(self.con, self.path, self._notice)

    def _merge_before_reading(self, wait: float) -> None:
        waiting = pending.pending_files(self.path)
        if not waiting:
            return
        try:
            # A short wait: a reader must not stall behind another reader just to merge.
            with Store(self.path, wait=min(wait, 1.0), notice=self._notice):
                pass
        except UserError as e:
            self._notice(f"{len(waiting)} pending snapshot(s) not yet merged into {self.path} (kept in "
                         f"{pending.pending_dir(self.path)}; the next command that can write the store merges "
                         f"them): {e}")
            return
        left = pending.pending_files(self.path)
        if left:
            self._notice(f"{len(left)} pending snapshot(s) not yet merged into {self.path} (kept in "
                         f"{pending.pending_dir(self.path)})")

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def _read(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Execute a read; a storage failure (a corrupt block, an I/O error) is the user's broken file, named."""
        return self._guarded(lambda: self.con.execute(sql, params or []))

    def _guarded(self, read: Callable[[], T]) -> T:
        """`read()`, a storage failure (a corrupt block, an I/O error) turned into the user's broken file, named."""
        try:
            return read()
        except duckdb.CatalogException:
            raise
        except duckdb.OutOfMemoryException as e:
            # DuckDB's memory limit (--memory-limit) reached by what a query cannot spill to disk.
            raise MemoryError(f"DuckDB: {str(e).splitlines()[0]}") from None
        except (duckdb.IOException, duckdb.InternalException) as e:
            raise UserError(f"{self.path}: cannot read the store (corrupt?): {str(e).splitlines()[0]}") from None
        except duckdb.Error as e:
            if "corrupt" in str(e).lower():
                raise UserError(f"{self.path}: cannot read the store (corrupt): {str(e).splitlines()[0]}") from None
            raise

    def _ensure_table(self, cls: type) -> str:
        table = cls.__table__
        if table not in self._known:
            cols = ", ".join(f'"{n}" {sql}' for n, _, sql in _columns(cls))
            self.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (snapshot_id BIGINT NOT NULL, {cols})')
            # A record class that gained a field since the table was made (a newer ecrwise on an older store):
            # the column is added, NULL in the older snapshots' rows, which `load` reads as the field's default.
            have = self._table_columns(table) or set()
            for n, _, sql in _columns(cls):
                if n not in have:
                    self.con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{n}" {sql}')
            self._known.add(table)
        return table

    def _table_columns(self, table: str) -> set[str] | None:
        """The table's column names; None when the store has no such table."""
        rows = self._read("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND "
                          "table_name = ?", [table]).fetchall()
        return {r[0] for r in rows} or None

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
        rows = self._read(
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
                row = self._read(
                    "SELECT id, taken_at, accounts, regions, services, failures, ecrwise_version FROM snapshots "
                    "WHERE complete ORDER BY id DESC LIMIT 1").fetchone()
            else:
                row = self._read(
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
        have = self._table_columns(table)
        if have is None:
            return []  # this snapshot's scan did not collect that kind of record
        # Fields newer than the table (a store written by an older ecrwise) read as their defaults: the column
        # is missing (opened read-only) or NULL in the older rows (added since) where the field cannot be None.
        names = ", ".join(f'"{n}"' if n in have else f'NULL AS "{n}"' for n, _, _ in cols)
        defaults = [None if _base_type(tp)[1] else _field_default(cls, n) for n, tp, _ in cols]
        rows = self._read(
            f'SELECT {names} FROM "{table}" WHERE snapshot_id = ? {("AND " + where) if where else ""}',
            [sid, *(params or [])]).fetchall()
        if not rows:
            return []
        # Column by column: a conversion runs only on the columns that need one (times, JSON, defaults), not as a
        # call per value, which was most of the cost of loading a million-row table.
        columns = [_column_from_db(col, d, sql) for col, d, (_, _, sql) in zip(zip(*rows), defaults, cols)]
        del rows
        return list(map(cls, *columns))

    def facts(self, name: str, params: dict[str, Any], classes: list[type]) -> list[tuple]:
        """Rows of the SQL fact `store/sql/<name>.sql` (`store.queries`) over this store; a corrupt block or an
        I/O error is the user's broken file, named (exit 2), as for `load`."""
        return [row for rows in self.fact_batches(name, params, classes) for row in rows]

    def fact_batches(self, name: str, params: dict[str, Any], classes: list[type],
                     size: int = 50_000) -> Iterator[list[tuple]]:
        """`facts`, in batches of `size` rows: a large fact (one row per image) never sits in Python whole
        beside what the caller builds from it."""
        from ecrwise.store import queries

        text = self._guarded(lambda: queries.bind_tables(self.con, queries.sql_text(name), classes))
        # A cursor of its own, so that two facts can be read side by side (engine_image_groups merges two).
        con = self.con.cursor()
        try:
            result = self._guarded(lambda: con.execute(text, params))
            while rows := self._guarded(lambda: result.fetchmany(size)):
                yield rows
        finally:
            con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self._read(sql, params or []).fetchall()


@dataclass(frozen=True)
class StoredSnapshot:
    """One snapshot of an open store, read on demand: the `records.RecordSource` of `Records` built from a store
    (`cli.snapshot_data.open_snapshot`), so a command reads only the tables its checks ask for."""
    store: Store
    snapshot_id: int

    def load(self, cls: type[T]) -> list[T]:
        return self.store.load(self.snapshot_id, cls)

    def fact_batches(self, name: str, classes: list[type]) -> Iterator[list[tuple]]:
        return self.store.fact_batches(name, {"sid": self.snapshot_id}, classes)
