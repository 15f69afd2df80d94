"""The store under real processes: concurrent `ecrwise scan`s and readers lose nothing and fail on no lock, and
foreign or broken store files are refused with exit 2 and left byte for byte as they were."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import stand_in_environ
from ecrwise.store import Store
from ecrwise.store.pending import pending_files

ECRWISE = str(Path(sys.executable).with_name("ecrwise"))
HOLD = ("import sys, time; from ecrwise.store import Store\n"
        "with Store(sys.argv[1], read_only=True):\n"
        "    print('held', flush=True); time.sleep(float(sys.argv[2]))\n")


def _start(*args, env) -> subprocess.Popen:
    return subprocess.Popen([ECRWISE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _hold(store: Path, seconds: float, env) -> subprocess.Popen:
    """A reader process holding the store open (DuckDB's shared lock) for `seconds`."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(store), str(seconds)], stdout=subprocess.PIPE, text=True,
                         env=env)
    assert p.stdout.readline().strip() == "held"
    return p


def _finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def _snapshot_count(store: Path) -> int:
    with Store(store, read_only=True, merge_pending=False) as st:
        return len(st.snapshots())


@pytest.fixture
def small_estate(aws, tmp_path):
    from ecrwise.demo.estate import build_estate

    build_estate(aws, repositories=4, images_per_repo=2)
    env = stand_in_environ(aws)
    store = tmp_path / "s.duckdb"
    first = subprocess.run([ECRWISE, "scan", "--region", "us-east-1", "--only", "ecr", "--store", str(store)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    return store, env


SCAN = ("scan", "--region", "us-east-1", "--only", "ecr", "--store")


@pytest.mark.e2e
def test_two_scans_and_a_read_while_a_reader_holds_the_store_all_succeed(small_estate, tmp_path):
    store, env = small_estate
    holder = _hold(store, 120, env)
    logs = [tmp_path / f"scan{i}.err" for i in range(2)]
    scans = [subprocess.Popen([ECRWISE, *SCAN, str(store)], stdout=subprocess.DEVNULL, stderr=log.open("w"),
                              text=True, env=env) for log in logs]
    reader = _start("repos", "--store", store, "--format", "json", env=env)
    # The reader holds the store until both scans have finished collecting and are waiting for it.
    deadline = time.monotonic() + 120
    while not all("is busy (held by another ecrwise" in log.read_text() for log in logs):
        assert time.monotonic() < deadline and all(s.poll() is None for s in scans), [l.read_text() for l in logs]
        time.sleep(0.2)
    time.sleep(1)
    holder.kill()
    holder.wait()
    for scan, log in zip(scans, logs):
        assert scan.wait(timeout=120) == 0, log.read_text()
        assert "Could not set lock" not in log.read_text() and "kept in" not in log.read_text()
    code, out, err = _finish(reader)
    assert code == 0 and "Could not set lock" not in err, err
    assert _snapshot_count(store) == 3  # the first scan and both concurrent ones
    assert pending_files(store) == []


@pytest.mark.e2e
def test_scans_that_outwait_their_patience_are_kept_and_merged_by_the_next_command(small_estate):
    store, env = small_estate
    impatient = {**env, "ECRWISE_STORE_WAIT": "0.5"}
    holder = _hold(store, 30, env)
    try:
        results = [_finish(p) for p in [_start(*SCAN, store, env=impatient), _start(*SCAN, store, env=impatient)]]
        for code, _, err in results:
            assert code == 0, err
            assert "Could not set lock" not in err and "kept in" in err
        assert len(pending_files(store)) == 2
        # A reader while the store is still held cannot merge: it says so, and reads what is there.
        code, out, err = _finish(_start("repos", "--store", store, "--format", "json", env=impatient))
        assert code == 0, err
        assert "2 pending snapshot(s) not yet merged" in err
    finally:
        holder.kill()
        holder.wait()
    code, _, err = _finish(_start("repos", "--store", store, "--format", "json", env=env))
    assert code == 0, err
    assert pending_files(store) == [] and _snapshot_count(store) == 3


# -- foreign and broken store files ----------------------------------------------------------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _corrupt(path: Path) -> None:
    """Flip bytes in the block that holds the images' digests: the file opens; reading images fails."""
    con = duckdb.connect(str(path), read_only=True)
    block, within = con.execute("SELECT block_id, block_offset FROM pragma_storage_info('images') "
                                "WHERE column_name = 'digest' AND block_id >= 0 LIMIT 1").fetchone()
    con.close()
    offset = 3 * 4096 + block * 262144 + 8 + within + 100  # three 4 KiB headers, 256 KiB blocks, 8-byte checksum
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(32)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def _foreign(path: Path) -> None:
    path.unlink()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER, total DOUBLE); INSERT INTO invoices VALUES (1, 9.5)")
    con.close()


def _sqlite(path: Path) -> None:
    path.unlink()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()


@pytest.mark.e2e
@pytest.mark.parametrize("breaker", [_truncate, _corrupt, _foreign, _sqlite], ids=lambda f: f.__name__[1:])
def test_scan_and_repos_refuse_a_broken_or_foreign_store_with_exit_2_and_leave_it_unchanged(
        breaker, estate_store, aws):
    breaker(estate_store)
    before = _sha(estate_store)
    env = stand_in_environ(aws)
    for args in (("repos", "--store", estate_store), (*SCAN, estate_store)):
        code, out, err = _finish(_start(*args, env=env))
        assert code == 2, (args, code, err)
        assert str(estate_store) in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        assert _sha(estate_store) == before
    assert not estate_store.with_name(estate_store.name + ".wal").exists()
    assert pending_files(estate_store) == []  # scan refused before collecting anything: nothing to keep
