"""Pending side files: a finished scan that could not be written to its store (busy for the whole wait, or not
writable) is kept as a one-snapshot ecrwise store in `<store>.pending/`, and merged into the store by the next
command that can write it, oldest first, one transaction per file, the file removed only after the commit.

A side file is itself a valid store (`ecrwise repos --store <side file>` reads it). File names begin with the
scan's start time (UTC, fixed width), so name order is the order the scans were taken.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from ecrwise.errors import UserError
from ecrwise.store.files import Notice, attach_literal, check_readable, ident, schema_version, tables

SUFFIX = ".duckdb"
_ALIAS = "ecrwise_pending"


def pending_dir(store: Path) -> Path:
    return store.with_name(store.name + ".pending")


def pending_files(store: Path) -> list[Path]:
    """Complete side files waiting for `store`, oldest first (files still being written end in .part)."""
    d = pending_dir(store)
    try:
        return sorted(p for p in d.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
    except OSError:
        return []


def _remove(path: Path, *, quiet: bool = False) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            if not quiet:
                raise


def keep(store: Path, taken_at: datetime, write: Callable[[Path], None]) -> Path:
    """Write the scan (through `write`, given a new file path) into a side file for `store`: next to the store,
    or in the temp directory if that is not writable. Returns the side file."""
    stamp = taken_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
    errors = []
    for d in (pending_dir(store), Path(tempfile.gettempdir()) / "ecrwise-pending"):
        part = d / (name + ".part")
        try:
            d.mkdir(parents=True, exist_ok=True)
            write(part)
            os.replace(part, d / name)  # atomic: a merger never sees half a side file
            return d / name
        except (OSError, duckdb.Error, UserError) as e:
            errors.append(f"{d}: {e}")
            _remove(part, quiet=True)
    raise UserError(f"{store}: could not write the store, nor keep the scan in a side file ({'; '.join(errors)})")


def merge(con: duckdb.DuckDBPyConnection, store: Path, notice: Notice) -> list[int]:
    """Merge every pending side file into the store open (for writing) on `con`; the new snapshot ids."""
    merged: list[int] = []
    for side in pending_files(store):
        try:
            merged += _merge_one(con, store, side)
        except (duckdb.Error, UserError, OSError) as e:
            notice(f"warning: pending snapshot {side} could not be merged into {store}, left in place: {e}")
    return merged


def _merge_one(con: duckdb.DuckDBPyConnection, store: Path, side: Path) -> list[int]:
    if con.execute("SELECT 1 FROM ecrwise_merged WHERE pending_file = ?", [side.name]).fetchone():
        _remove(side)  # merged before, but the process stopped before it removed the file
        return []
    con.execute(f"ATTACH {attach_literal(side)} AS {_ALIAS} (READ_ONLY)")
    try:
        if schema_version(con, side, _ALIAS) < 1:
            raise UserError(f"{side}: holds no snapshot")
        check_readable(con, side, _ALIAS)
        ours = tables(con, con.execute("SELECT current_database()").fetchone()[0])
        theirs = [t for t, cols in tables(con, _ALIAS).items() if cols[:1] == ["snapshot_id"]]
        olds = [r[0] for r in con.execute(
            f"SELECT id FROM {_ALIAS}.snapshots WHERE complete ORDER BY taken_at, id").fetchall()]
        news: list[int] = []
        con.execute("BEGIN TRANSACTION")
        try:
            for old in olds:
                new = con.execute("SELECT nextval('snapshot_ids')").fetchone()[0]
                con.execute(f"INSERT INTO snapshots BY NAME SELECT * REPLACE ({int(new)} AS id) "
                            f"FROM {_ALIAS}.snapshots WHERE id = ?", [old])
                for t in theirs:
                    src = f"{_ALIAS}.main.{ident(t)}"
                    if t not in ours:
                        con.execute(f"CREATE TABLE IF NOT EXISTS {ident(t)} AS SELECT * FROM {src} WITH NO DATA")
                    con.execute(f"INSERT INTO {ident(t)} BY NAME SELECT * REPLACE ({int(new)} AS snapshot_id) "
                                f"FROM {src} WHERE snapshot_id = ?", [old])
                news.append(new)
            con.execute("INSERT INTO ecrwise_merged VALUES (?, ?, ?)",
                        [side.name, news[0] if news else 0, datetime.now(timezone.utc).replace(tzinfo=None)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"DETACH {_ALIAS}")
    _remove(side)
    return news
