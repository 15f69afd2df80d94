"""The store's file policy: foreign and broken files refused untouched, schema versions and migrations, bounded
waiting for DuckDB's lock, and pending side files that keep a scan the store could not take."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from ecrwise.errors import UserError
from ecrwise.records.ecr import Image, Repository
from ecrwise.store import SCHEMA_VERSION, Store, save_scan
from ecrwise.store.files import DUCKDB_CONFIG
from ecrwise.store.pending import pending_dir, pending_files

T0 = datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc)


def _repo(name):
    return Repository("111111111111", "us-east-1", name, f"arn:aws:ecr:us-east-1:111111111111:repository/{name}",
                      f"111111111111.dkr.ecr.us-east-1.amazonaws.com/{name}", T0, "MUTABLE", False, "AES256",
                      {"team": "a"}, None)


def _image(i):
    return Image("111111111111", "us-east-1", "a", f"sha256:{i:064d}", [f"v{i}"], T0, None, 10, "m", None, 123 + i)


def _save(path, n=1, taken=T0, **kw):
    return save_scan(path, taken, ["111111111111"], ["us-east-1"], ["ecr"],
                     {Repository: [_repo(f"r{i}") for i in range(n)]}, [], "t", **kw)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counts(path) -> list[int]:
    with Store(path, read_only=True) as st:
        return [len(st.load(s.id, Repository)) for s in st.snapshots()]


def build_v1_store(path: Path) -> None:
    """A store exactly as ecrwise wrote it before schema versions (commit 7ecad9b): a sequence, the snapshots
    table and record tables, no ecrwise_meta. Frozen here as SQL, not built by today's code."""
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE SEQUENCE IF NOT EXISTS snapshot_ids START 1;
        CREATE TABLE IF NOT EXISTS snapshots (
            id BIGINT PRIMARY KEY, taken_at TIMESTAMP NOT NULL, accounts VARCHAR[], regions VARCHAR[],
            services VARCHAR[], failures JSON, ecrwise_version VARCHAR, complete BOOLEAN NOT NULL);
        CREATE TABLE IF NOT EXISTS "repositories" (snapshot_id BIGINT NOT NULL, "account" VARCHAR,
            "region" VARCHAR, "name" VARCHAR, "arn" VARCHAR, "uri" VARCHAR, "created_at" TIMESTAMP,
            "tag_mutability" VARCHAR, "scan_on_push" BOOLEAN, "encryption" VARCHAR, "tags" JSON,
            "lifecycle_policy" VARCHAR);
    """)
    for _ in range(2):
        sid = con.execute("SELECT nextval('snapshot_ids')").fetchone()[0]
        con.execute("INSERT INTO snapshots VALUES (?, ?, ['1'], ['us-east-1'], ['ecr'], '[]', 'old', true)",
                    [sid, T0.replace(tzinfo=None)])
        con.execute("INSERT INTO repositories VALUES (?, '1', 'us-east-1', 'old', 'arn', 'uri', ?, 'MUTABLE', "
                    "false, 'AES256', '{}', NULL)", [sid, T0.replace(tzinfo=None)])
    con.close()


# -- schema versions -------------------------------------------------------------------------------------------

def test_a_new_store_records_application_and_schema_version(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    con = duckdb.connect(str(path), read_only=True)
    meta = dict(con.execute("SELECT key, value FROM ecrwise_meta").fetchall())
    con.close()
    assert meta == {"application_id": "ecrwise", "schema_version": str(SCHEMA_VERSION)}


def test_a_store_written_before_versions_is_read_then_migrated_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    build_v1_store(path)
    before = _sha(path)
    with Store(path, read_only=True) as st:  # reading does not migrate
        assert st.version == 1 and [s.id for s in st.snapshots()] == [1, 2]
    assert _sha(path) == before
    snap = _save(path, n=3)
    assert snap.id == 3  # the old sequence carries on
    with Store(path, read_only=True) as st:
        assert st.version == SCHEMA_VERSION
        assert [r.name for r in st.load(1, Repository)] == ["old"]
        assert len(st.load(3, Repository)) == 3


def test_a_migration_that_fails_leaves_the_store_at_its_old_version(tmp_path, monkeypatch):
    from ecrwise.store import files

    path = tmp_path / "old.duckdb"
    build_v1_store(path)

    def broken(con):
        con.execute("CREATE TABLE half_done (a INTEGER)")
        raise duckdb.ConversionException("this step cannot be applied")

    monkeypatch.setattr(files, "MIGRATIONS", (*files.MIGRATIONS, broken))
    monkeypatch.setattr(files, "SCHEMA_VERSION", len(files.MIGRATIONS))
    with pytest.raises(UserError, match="cannot migrate the store from schema version 1 to 3"):
        Store(path)
    monkeypatch.undo()
    con = duckdb.connect(str(path), read_only=True)
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert names == {"snapshots", "repositories"}  # neither step 2 nor the broken step 3 stayed
    with Store(path, read_only=True) as st:
        assert st.version == 1


def test_a_store_of_a_newer_ecrwise_is_refused_unchanged(tmp_path):
    path = tmp_path / "new.duckdb"
    _save(path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE ecrwise_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    before = _sha(path)
    for ro in (True, False):
        with pytest.raises(UserError, match="newer ecrwise"):
            Store(path, read_only=ro)
    assert _sha(path) == before


# -- foreign and broken files ----------------------------------------------------------------------------------

def _foreign_duckdb(path):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR); INSERT INTO customers VALUES (1, 'a')")
    con.close()


def _sqlite(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()


def _truncated(path):
    _save(path, n=2000)
    os.truncate(path, path.stat().st_size // 2)


def _corrupt_data_block(path):
    """Flip bytes inside the block holding the images table's data: the file opens, reading images fails."""
    with Store(path) as st:
        st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Image: [_image(i) for i in range(10000)]}, [], "t")
    with Store(path, read_only=True) as st:  # after the checkpoint on close: the data is in blocks
        block, within = st.query("SELECT block_id, block_offset FROM pragma_storage_info('images') "
                                 "WHERE column_name = 'digest' AND block_id >= 0 LIMIT 1")[0]
    # Blocks of 256 KiB follow three 4 KiB headers; each block starts with its 8-byte checksum.
    offset = 3 * 4096 + block * 262144 + 8 + within + 500
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(64)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


BROKEN = {"foreign DuckDB": (_foreign_duckdb, "DuckDB database of another program"),
          "SQLite": (_sqlite, "a SQLite database"),
          "truncated": (_truncated, "truncated"),
          "corrupt block": (_corrupt_data_block, "corrupt"),
          "not a database": (lambda p: p.write_text("hello, world"), "not a DuckDB file")}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_foreign_or_broken_file_is_refused_and_left_unchanged(tmp_path, kind):
    make, message = BROKEN[kind]
    path = tmp_path / "store.duckdb"
    make(path)
    before = _sha(path)
    with pytest.raises(UserError, match=message) as writing:
        _save(path)
    assert str(path) in str(writing.value)
    # ... and the scan is not lost: it is kept next to the file, itself a readable store.
    kept = pending_files(path)
    assert len(kept) == 1 and str(kept[0]) in str(writing.value)
    assert _counts(kept[0]) == [1]
    with pytest.raises(UserError, match=f"{path}: "):  # reading: refused at the open, or by the read that fails
        with Store(path, read_only=True, merge_pending=False) as st:
            for snap in st.snapshots():
                st.load(snap.id, Repository), st.load(snap.id, Image)
    assert _sha(path) == before
    assert not path.with_name(path.name + ".wal").exists()


def test_a_corrupt_block_fails_the_read_that_meets_it_as_a_user_error(tmp_path):
    path = tmp_path / "store.duckdb"
    _corrupt_data_block(path)
    before = _sha(path)
    with Store(path, read_only=True) as st:
        with pytest.raises(UserError, match="cannot read the store"):
            st.load(st.snapshot().id, Image)
    assert _sha(path) == before


def test_extension_autoload_and_autoinstall_are_off(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    with Store(path, read_only=True) as st:
        settings = dict(st.query("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                 "('autoload_known_extensions', 'autoinstall_known_extensions')"))
    assert settings == {k: "false" for k in DUCKDB_CONFIG}


def test_an_empty_file_or_an_empty_duckdb_file_becomes_a_store(tmp_path):
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    with pytest.raises(UserError, match="empty file"):
        Store(empty, read_only=True)
    assert _save(empty).id == 1
    blank = tmp_path / "blank.duckdb"
    duckdb.connect(str(blank)).close()
    assert _save(blank).id == 1 and _counts(blank) == [1]


def test_store_wait_must_be_a_sane_number(tmp_path, monkeypatch):
    for bad in ("soon", "nan", "-1", "1e9"):
        monkeypatch.setenv("ECRWISE_STORE_WAIT", bad)
        with pytest.raises(UserError, match="ECRWISE_STORE_WAIT"):
            Store(tmp_path / "s.duckdb")


# -- locks and pending side files ------------------------------------------------------------------------------

def _hold(path: Path, seconds: float, read_only: bool) -> subprocess.Popen:
    """Another process holding the store's lock for `seconds`; returns once it holds it."""
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == '1'); "
            "print('held', flush=True); time.sleep(float(sys.argv[3]))")
    p = subprocess.Popen([sys.executable, "-c", code, str(path), "1" if read_only else "0", str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_writer_waits_for_a_reader_then_saves(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    notices = []
    holder = _hold(path, 1.5, read_only=True)
    snap = _save(path, wait=20, notice=notices.append)
    holder.wait()
    assert snap.id == 2 and not snap.pending
    assert len(notices) == 1 and f"store {path} is busy (held by another ecrwise, PID {holder.pid})" in notices[0]
    assert "waiting up to 20 s" in notices[0]


def test_a_reader_waits_for_a_writer(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    holder = _hold(path, 1.0, read_only=False)
    notices = []
    with Store(path, read_only=True, wait=20, notice=notices.append) as st:
        assert st.snapshot().id == 1
    holder.wait()
    assert notices and "is busy" in notices[0]


def test_a_reader_gives_up_after_the_wait_with_a_user_error(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    holder = _hold(path, 5, read_only=False)
    try:
        with pytest.raises(UserError, match="still busy after 0.3 s"):
            Store(path, read_only=True, wait=0.3, notice=lambda _: None)
    finally:
        holder.kill()
        holder.wait()


def test_a_scan_the_busy_store_cannot_take_is_kept_and_merged_later(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    holder = _hold(path, 30, read_only=False)
    notices = []
    try:
        snap = _save(path, n=4, wait=0.3, notice=notices.append)
        assert snap.id == 0 and snap.pending
        side = Path(snap.pending)
        assert side.parent == pending_dir(path) and side.exists()
        assert any(f"kept in {side}" in n for n in notices)
    finally:
        holder.kill()
        holder.wait()
    # The next command that opens the store (here a reader) merges it, then removes the side file.
    assert _counts(path) == [1, 4]
    assert not side.exists()


def test_a_reader_that_cannot_merge_says_how_many_are_pending(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    holder = _hold(path, 30, read_only=False)
    try:
        _save(path, wait=0, notice=lambda _: None)
        _save(path, wait=0, notice=lambda _: None)
    finally:
        holder.kill()
        holder.wait()
    reader = _hold(path, 30, read_only=True)  # another reader: this one cannot get the write lock to merge
    try:
        notices = []
        with Store(path, read_only=True, notice=notices.append) as st:
            assert len(st.snapshots()) == 1
        assert any("2 pending snapshot(s) not yet merged" in n for n in notices)
    finally:
        reader.kill()
        reader.wait()
    assert _counts(path) == [1, 1, 1]


def test_pending_snapshots_merge_oldest_first_and_only_once(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    holder = _hold(path, 30, read_only=False)
    try:
        late = _save(path, n=2, taken=T0 + timedelta(hours=2), wait=0, notice=lambda _: None)
        early = _save(path, n=3, taken=T0 + timedelta(hours=1), wait=0, notice=lambda _: None)
    finally:
        holder.kill()
        holder.wait()
    copy = tmp_path / "copy.duckdb"
    shutil.copy(early.pending, copy)
    with Store(path) as st:
        assert st.merged == [2, 3]
        assert [s.taken_at for s in st.snapshots()] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert pending_files(path) == []
    # As if a merger had committed but stopped before removing the file: it is not merged twice.
    shutil.copy(copy, early.pending)
    with Store(path) as st:
        assert st.merged == [] and len(st.snapshots()) == 3
    assert not Path(early.pending).exists()
    assert late.pending != early.pending


def test_a_scan_that_cannot_be_kept_next_to_the_store_is_kept_in_the_temp_directory(tmp_path):
    path = tmp_path / "s.duckdb"
    _save(path)
    pending_dir(path).write_text("a file where the pending directory would go")
    holder = _hold(path, 30, read_only=False)
    notices = []
    try:
        snap = _save(path, wait=0, notice=notices.append)
    finally:
        holder.kill()
        holder.wait()
    side = Path(snap.pending)
    try:
        assert side.parent != pending_dir(path) and side.exists() and _counts(side) == [1]
        assert any(f"kept in {side}; move it into {pending_dir(path)}/" in n for n in notices)
    finally:
        side.unlink()
