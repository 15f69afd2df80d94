"""Store concurrency bench: concurrent `ecrwise scan`s into one store while a reader process holds it.

Against the AWS stand-in (moto, real HTTP), a small estate is scanned once to create the store. Then a reader
process opens the store while --scans `ecrwise scan` processes and one `ecrwise repos` run at once, and holds
it until --hold seconds after the last scan has finished collecting and started waiting for the store. Phase 1 uses the default wait (30 s): every scan waits for the lock and saves.
Phase 2 gives the scans a wait shorter than the hold (ECRWISE_STORE_WAIT=1): they keep their snapshots in
pending side files, and the next command, once the reader has let go, merges them. Printed: for each process
its exit code, wall time and how long it waited; snapshots expected vs found; any lock error.

    python bench/store_concurrency.py [--hold 10] [--scans 2]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecrwise.demo.standin import DEMO_CREDENTIALS, StandIn
from ecrwise.store import Store
from ecrwise.store.pending import pending_files

ECRWISE = str(Path(sys.executable).with_name("ecrwise"))
# The reader holds the store until told to let go (a line on its stdin).
HOLD = ("import sys; from ecrwise.store import Store\n"
        "with Store(sys.argv[1], read_only=True):\n"
        "    print('held', flush=True); sys.stdin.readline()\n")


def environ(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DEMO_CREDENTIALS, AWS_ENDPOINT_URL=url, AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, **extra)
    return env


def count(store: Path) -> int:
    with Store(store, read_only=True, merge_pending=False) as st:
        return len(st.snapshots())


def phase(name: str, store: Path, url: str, hold: float, scans: int, wait: str | None, logs: Path) -> int:
    """The reader takes the store before the scans start and lets go `hold` seconds after the last scan has
    finished collecting and is waiting for the lock (the scans' stderr says so), so each scan meets a held store."""
    env = environ(url)
    cmd_env = environ(url, **({"ECRWISE_STORE_WAIT": wait} if wait else {}))
    before = count(store)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout.readline().strip() == "held"
    t_hold = time.monotonic()
    args = [["scan", "--region", "us-east-1", "--only", "ecr", "--store", str(store)]] * scans
    args.append(["repos", "--store", str(store), "--format", "json"])
    procs = []
    for i, a in enumerate(args):
        err = logs / f"{name[:7].replace(' ', '')}-{i}.err"
        procs.append((a[0], err, time.monotonic(),
                      subprocess.Popen([ECRWISE, *a], stdout=subprocess.DEVNULL, stderr=err.open("w"), text=True,
                                       env=cmd_env)))
    print(f"\n{name}: a reader holds {store.name}; {scans} scans and 1 repos start at once "
          f"(ECRWISE_STORE_WAIT={wait or 'default 30'})")
    busy_at: dict[int, float] = {}
    done_at: dict[int, float] = {}
    released = None
    while len(done_at) < len(procs):
        now = time.monotonic()
        for i, (_, err, _, p) in enumerate(procs):
            if i not in busy_at and "is busy" in err.read_text():
                busy_at[i] = now
            if i not in done_at and p.poll() is not None:
                done_at[i] = now
        scans_ready = all(i in busy_at or i in done_at for i in range(scans))
        if released is None and scans_ready and now - max(busy_at.values(), default=now) >= hold:
            holder.stdin.write("go\n")
            holder.stdin.flush()
            released = now
        time.sleep(0.05)
    if released is None:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        released = time.monotonic()
    holder.wait()
    lock_errors = 0
    for i, (what, err, t0, p) in enumerate(procs):
        text = err.read_text()
        lock_errors += "Could not set lock" in text
        waited = (f"{done_at[i] - busy_at[i]:4.1f} s from its busy notice to its exit" if i in busy_at
                  else "never waited")
        kept = " · kept in a pending side file" if "kept in" in text else ""
        print(f"  {what:5} exit {p.returncode}  {done_at[i] - t0:5.1f} s in all  {waited}{kept}")
    print(f"  the reader held the store {released - t_hold:.1f} s")
    pending = len(pending_files(store))
    if pending:
        t0 = time.monotonic()
        p = subprocess.run([ECRWISE, "repos", "--store", str(store), "--format", "json"], capture_output=True,
                           text=True, env=env)
        print(f"  {pending} pending; the next `ecrwise repos` merged them: exit {p.returncode}, "
              f"{time.monotonic() - t0:.1f} s, {len(pending_files(store))} left")
    found = count(store) - before
    print(f"  snapshots expected {scans}, found {found}; lock errors {lock_errors}")
    return int(found != scans or lock_errors)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hold", type=float, default=10.0, help="seconds the reader holds the store")
    ap.add_argument("--scans", type=int, default=2, help="concurrent scans")
    a = ap.parse_args()
    from ecrwise.demo.estate import build_estate

    standin = StandIn()
    url = standin.start()
    try:
        build_estate(url, repositories=8, images_per_repo=3)
        with tempfile.TemporaryDirectory() as d:
            store = Path(d) / "bench.duckdb"
            subprocess.run([ECRWISE, "scan", "--region", "us-east-1", "--only", "ecr", "--store", str(store)],
                           check=True, capture_output=True, env=environ(url))
            bad = phase("phase 1 (scans wait)", store, url, a.hold, a.scans, None, Path(d))
            bad |= phase("phase 2 (scans give up waiting, keep their snapshots)", store, url, a.hold, a.scans,
                         "1", Path(d))
            print(f"\nstore {store.name}: {count(store)} snapshots in all (1 + {a.scans} + {a.scans})")
    finally:
        standin.stop()
    return bad


if __name__ == "__main__":
    sys.exit(main())
