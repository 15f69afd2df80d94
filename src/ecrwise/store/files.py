"""Opening a store file safely.

- DuckDB lets one process write a database file, or several processes read it, and takes a file lock to enforce
  that (https://duckdb.org/docs/2.0/connect/concurrency.html). We wait for that lock, bounded and with backoff,
  instead of failing on the first "Could not set lock on file".
- Before anything is written, the file must be an ecrwise store: a DuckDB file (checked from its header bytes
  before DuckDB sees it), with ecrwise's meta table (or, for stores written before it existed, ecrwise's tables
  and nothing else), and every block readable. Anything else is refused and left untouched.
- Extension autoload and autoinstall are off: DuckDB would otherwise load, and download, an extension to open
  e.g. a SQLite file (https://duckdb.org/docs/current/configuration/overview.html); a store never needs one.
- The schema version is recorded in `ecrwise_meta`; `MIGRATIONS[i]` takes a store from version i to i + 1.
"""
from __future__ import annotations

import math
import os
import random
import re
import time
from pathlib import Path
from typing import Callable

import duckdb

from ecrwise.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no POSIX locks (DuckDB locks with LockFileEx there)
    fcntl = None  # type: ignore[assignment]

WAIT_ENV = "ECRWISE_STORE_WAIT"
DEFAULT_WAIT = 30.0
APPLICATION_ID = "ecrwise"
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# Every connection runs this first: DuckDB draws its progress bar on stdout for a query that runs over two
# seconds (https://duckdb.org/docs/configuration/overview, enable_progress_bar and progress_bar_time), which put
# it in the middle of `--format json` output on a large store. A session setting: connect's config refuses it.
SESSION_SETUP = "SET enable_progress_bar = false"

# Bounded memory (issue 11): every connection gets DuckDB's memory_limit, and spills what does not fit to
# temp_directory. `ecrwise --memory-limit` sets the environment variable, so subprocesses inherit it.
# https://duckdb.org/docs/configuration/overview  https://duckdb.org/docs/guides/performance/how_to_tune_workloads
MEMORY_ENV = "ECRWISE_MEMORY_LIMIT"
# Default: half of physical memory, at most 512 MiB. What ecrwise asks of DuckDB spills (sorts, joins, grouping
# without list aggregates), and DuckDB takes what it is allowed: with half of a 24 GiB machine `lifecycle
# simulate` on 1,000,000 images peaked at 2.17 GB, at 1.19 GB and as fast with 500 MB; `findings` peaked at
# 1.57 GiB with 1 GB and 1.09 GiB with 512 MB, in less time (docs/performance.md).
DEFAULT_MEMORY_FRACTION = 0.5
DEFAULT_MEMORY_CAP = 512 * 2**20
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def parse_memory_limit(text: str) -> int:
    """Bytes of a --memory-limit: a size (4GB, 512MiB) or a share of physical memory (50%)."""
    m = _SIZE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"--memory-limit {text}: expected a size such as 4GB, 512MiB or 50% (of physical memory)")
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit == "%":
        total = _physical_memory()
        if total is None:
            raise UserError(f"--memory-limit {text}: physical memory unknown here; give a size such as 4GB")
        return int(total * min(number, 100.0) / 100)
    return int(number * _UNITS[unit])


def memory_limit_bytes() -> int | None:
    """The limit every store connection gets: $ECRWISE_MEMORY_LIMIT, else half of physical memory, at most
    512 MiB."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        return parse_memory_limit(text)
    total = _physical_memory()
    return min(int(total * DEFAULT_MEMORY_FRACTION), DEFAULT_MEMORY_CAP) if total else DEFAULT_MEMORY_CAP


def spill_directory() -> Path:
    # DuckDB creates it only when a query spills, and removes its files when the connection closes.
    import tempfile

    return Path(tempfile.gettempdir()) / f"ecrwise-spill-{os.getuid() if hasattr(os, 'getuid') else 0}"


def connection_config() -> dict[str, object]:
    config: dict[str, object] = dict(DUCKDB_CONFIG)
    limit = memory_limit_bytes()
    if limit:
        config["memory_limit"] = f"{max(limit // 2**20, 64)}MiB"
    config["temp_directory"] = str(spill_directory())
    return config

# A DuckDB file starts with an 8-byte checksum, then the magic "DUCK"; SQLite's header is documented at
# https://www.sqlite.org/fileformat.html ("SQLite format 3\0").
_DUCKDB_MAGIC = (8, b"DUCK")
_SQLITE_MAGIC = b"SQLite format 3\x00"

Notice = Callable[[str], None]


class StoreBusy(UserError):
    """The store stayed locked by another process for the whole wait."""

    def __init__(self, path: Path, wait: float, holder: str):
        self.short = f"store {path} stayed busy for {wait:g} s ({holder})"
        super().__init__(f"store {path} is still busy after {wait:g} s ({holder}); try again, or wait longer "
                         f"with {WAIT_ENV}=SECONDS")


class StoreRefused(UserError):
    """Not an ecrwise store, or a broken one: nothing is written to it."""


class StoreUnwritable(UserError):
    """An ecrwise store this process cannot write (permissions, disk)."""


def store_wait() -> float:
    """Seconds to wait for the store's lock: $ECRWISE_STORE_WAIT, default 30."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 86400:
        raise UserError(f"{WAIT_ENV}={raw!r}: give the seconds to wait for a busy store, 0 to 86400")
    return value


def is_lock_error(e: BaseException) -> bool:
    return isinstance(e, duckdb.IOException) and "Could not set lock on file" in str(e)


def _holder(e: BaseException) -> str:
    m = re.search(r"\(PID (\d+)\)", str(e))
    return f"held by another ecrwise, PID {m.group(1)}" if m else "held by another ecrwise"


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def connect(path: Path, *, read_only: bool, wait: float, notice: Notice) -> duckdb.DuckDBPyConnection:
    """Connect, waiting up to `wait` seconds (backoff 50 ms doubling to 1 s, jittered) while another process
    holds the lock. Raises StoreBusy after the wait, StoreRefused (read-only) or StoreUnwritable otherwise."""
    deadline = time.monotonic() + wait
    delay = 0.05
    told = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=connection_config())
            con.execute(SESSION_SETUP)
            return con
        except duckdb.Error as e:
            if not is_lock_error(e):
                if read_only:
                    raise StoreRefused(f"{path}: cannot be read as a DuckDB database (truncated or corrupt?): "
                                       f"{_first_line(e)}") from None
                raise StoreUnwritable(f"{path}: cannot open the store for writing: {_first_line(e)}") from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreBusy(path, wait, _holder(e)) from None
            if not told:
                notice(f"store {path} is busy ({_holder(e)}): waiting up to {wait:g} s")
                told = True
            time.sleep(min(left, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, 1.0)


def sniff(path: Path) -> str:
    """'new' (no file), 'empty' (0 bytes) or 'duckdb'; anything else is refused from its first bytes, before
    DuckDB opens it."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return "new"
    except IsADirectoryError:
        raise StoreRefused(f"{path}: is a directory, not a store file") from None
    except OSError as e:
        raise StoreRefused(f"{path}: cannot read the store: {e.strerror or e}") from None
    if not head:
        return "empty"
    if head.startswith(_SQLITE_MAGIC):
        raise StoreRefused(f"{path}: a SQLite database, not an ecrwise store (a DuckDB file); refused, nothing "
                           "was written to it")
    off, magic = _DUCKDB_MAGIC
    if head[off:off + len(magic)] != magic:
        raise StoreRefused(f"{path}: not a DuckDB file, so not an ecrwise store; refused, nothing was written to it")
    return "duckdb"


def remove_empty(path: Path) -> None:
    """Remove a 0-byte file so DuckDB can create the store there (it refuses an empty file). Under a POSIX lock:
    DuckDB holds one while it creates a file, and a file being created must not be removed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        try:
            if fcntl is not None:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # someone is creating it right now; connect() waits for them
        if os.fstat(fd).st_size == 0:
            os.unlink(path)
    finally:
        os.close(fd)


# -- schema versions and migrations ---------------------------------------------------------------------------

def _v1_snapshots(con: duckdb.DuckDBPyConnection) -> None:
    # The schema before versions were recorded; record tables are created per record class when first written.
    con.execute("""
        CREATE SEQUENCE IF NOT EXISTS snapshot_ids START 1;
        CREATE TABLE IF NOT EXISTS snapshots (
            id BIGINT PRIMARY KEY, taken_at TIMESTAMP NOT NULL, accounts VARCHAR[], regions VARCHAR[],
            services VARCHAR[], failures JSON, ecrwise_version VARCHAR, complete BOOLEAN NOT NULL);
    """)


def _v2_meta(con: duckdb.DuckDBPyConnection) -> None:
    # The meta table that makes a store recognisable, and the record of merged pending side files (so a merge
    # interrupted between its commit and the file's removal is not merged twice).
    con.execute("""
        CREATE TABLE ecrwise_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        CREATE TABLE ecrwise_merged (pending_file VARCHAR PRIMARY KEY, merged_as BIGINT NOT NULL,
                                     merged_at TIMESTAMP NOT NULL);
    """)
    con.execute("INSERT INTO ecrwise_meta VALUES ('application_id', ?)", [APPLICATION_ID])


MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (_v1_snapshots, _v2_meta)
SCHEMA_VERSION = len(MIGRATIONS)

_V1_SNAPSHOT_COLUMNS = ["id", "taken_at", "accounts", "regions", "services", "failures", "ecrwise_version",
                        "complete"]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[str]]:
    """Every table of database `db` (all schemas; 'schema.table' outside main) → its column names."""
    rows = con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY schema_name, table_name, column_index", [db]).fetchall()
    out: dict[str, list[str]] = {}
    for schema, table, column in rows:
        out.setdefault(table if schema == "main" else f"{schema}.{table}", []).append(column)
    return out


def schema_version(con: duckdb.DuckDBPyConnection, path: Path, db: str | None = None) -> int:
    """The store's schema version (0: an empty DuckDB file). Refuses a foreign or too new one."""
    db = db or con.execute("SELECT current_database()").fetchone()[0]
    try:
        found = tables(con, db)
        others = con.execute("SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND NOT internal",
                             [db]).fetchone()[0]
        sequences = [r[0] for r in con.execute(
            "SELECT sequence_name FROM duckdb_sequences() WHERE database_name = ?", [db]).fetchall()]
        if "ecrwise_meta" in found:
            meta = dict(con.execute(f"SELECT key, value FROM {ident(db)}.main.ecrwise_meta").fetchall())
        else:
            meta = None
    except duckdb.Error as e:
        raise StoreRefused(f"{path}: cannot read the store's catalog (corrupt?): {_first_line(e)}") from None

    def foreign() -> StoreRefused:
        names = ", ".join(sorted(found)[:6]) + (", …" if len(found) > 6 else "")
        return StoreRefused(f"{path}: a DuckDB database of another program (tables: {names or 'none'}), not an "
                            "ecrwise store; refused, nothing was written to it")

    if meta is not None:
        if meta.get("application_id") != APPLICATION_ID:
            raise foreign()
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise StoreRefused(f"{path}: ecrwise_meta.schema_version is {meta.get('schema_version')!r}, not a "
                               "number; refused") from None
        if version > SCHEMA_VERSION:
            raise StoreRefused(f"{path}: written by a newer ecrwise (store schema version {version}; this ecrwise "
                               f"knows up to {SCHEMA_VERSION}); upgrade ecrwise to use it")
        return version
    if not found and not others and not sequences:
        return 0
    snaps = found.get("snapshots")
    if (snaps == _V1_SNAPSHOT_COLUMNS and sequences == ["snapshot_ids"] and not others
            and all(cols[:1] == ["snapshot_id"] for t, cols in found.items() if t != "snapshots")):
        return 1  # written by ecrwise before the meta table existed
    raise foreign()


def migrate(con: duckdb.DuckDBPyConnection, path: Path, version: int) -> int:
    """Bring the store to SCHEMA_VERSION in one transaction: all migrations apply, or none."""
    if version >= SCHEMA_VERSION:
        return version
    con.execute("BEGIN TRANSACTION")
    try:
        for step in MIGRATIONS[version:]:
            step(con)
        con.execute("INSERT OR REPLACE INTO ecrwise_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except duckdb.Error as e:
        con.execute("ROLLBACK")
        raise StoreUnwritable(f"{path}: cannot migrate the store from schema version {version} to "
                              f"{SCHEMA_VERSION}: {_first_line(e)}") from None
    return SCHEMA_VERSION


def check_readable(con: duckdb.DuckDBPyConnection, path: Path, db: str | None = None) -> None:
    """Read every block of every table (a hash of every column), so a corrupt block is found before a scan is
    appended to the file: DuckDB verifies each block's checksum as it reads it. About 0.3 s per million rows."""
    db = db or con.execute("SELECT current_database()").fetchone()[0]
    for table in tables(con, db):
        schema, _, name = table.rpartition(".")
        ref = f"{ident(db)}.{ident(schema or 'main')}.{ident(name)}"
        try:
            con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {ref}").fetchall()
        except duckdb.Error as e:
            raise StoreRefused(f"{path}: the store is corrupt or truncated (reading table {table} failed: {_first_line(e)}); "
                               "refused, nothing was written to it. Restore it from a backup, or move it away "
                               "to start a new store") from None


def attach_literal(path: Path) -> str:
    return _lit(str(path))
