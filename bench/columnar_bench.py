"""ecrwise commands against the plain-SQL floor on the same synthetic store, side by side (issue 11).

    python bench/columnar_bench.py --images 100000 --repos 1000 --snapshots 2 [--baseline-src /work/main/src]

Builds a store with bench/synthetic_estate.py, then per command: median of 3 wall times and the peak RSS of
the ecrwise command (a subprocess, measured by the kernel via resource.getrusage of the child), the same
figures for the query alone run by DuckDB on the store file, and the ratio. With --baseline-src, the same
command from another checkout (e.g. main, before the columnar rewrite) runs beside it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))


TEMPLATE = SRC / "ecrwise" / "lifecycle" / "templates" / "playbook-base.json"
# label → (ecrwise arguments, the SQL facts its floor runs: (name, "latest" snapshot or "every" snapshot);
# layer_deltas always runs on the first and the latest). The simulate floor is the queries that hand the engine
# its images; the engine's own work is on top of it.
IMAGES = [("engine_image_rows", "latest"), ("engine_layer_rows", "latest")]
COMMANDS = {
    "repos --format json": (["repos", "--format", "json"], [("repository_facts", "latest")]),
    "history --format json": (["history", "--format", "json"], [("repository_facts", "every"), ("layer_deltas", "")]),
    "simulate playbook-base": (["lifecycle", "simulate", "--policy", str(TEMPLATE), "--format", "json"], IMAGES),
    # Every check; the floor is the queries their data comes from (the inventory, each image with its layers).
    "findings --format json": (["findings", "--format", "json"], [("repository_facts", "latest"), *IMAGES]),
    # The checks' queries, and the history the report prints (every snapshot's inventory, the layer deltas).
    "report --html": (["report", "--html", "{tmp}/report.html"],
                      [("repository_facts", "every"), ("layer_deltas", ""), *IMAGES]),
}


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of one child process."""
    t = time.perf_counter()
    pid = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(pid.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {pid.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss * 1024


def _median3(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    runs = [_run(cmd, env) for _ in range(3)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def _floor_script(store: Path, queries: list[tuple[str, str]]) -> str:
    # Plain DuckDB: the same SQL text ecrwise runs, for every snapshot (history) or the latest one.
    return f"""
import duckdb, sys
sys.path.insert(0, {str(SRC)!r})
from ecrwise.store.queries import sql_text
con = duckdb.connect({str(store)!r}, read_only=True)
ids = [r[0] for r in con.execute("SELECT id FROM snapshots WHERE complete ORDER BY id").fetchall()]
for name, scope in {queries!r}:
    if name == "layer_deltas":
        con.execute(sql_text(name), {{"a": ids[0], "b": ids[-1]}}).fetchall()
    else:
        for sid in (ids if scope == "every" else ids[-1:]):
            con.execute(sql_text(name), {{"sid": sid}}).fetchall()
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--snapshots", type=int, default=2)
    ap.add_argument("--baseline-src", type=Path, help="another checkout's src/ to run the same commands from")
    ap.add_argument("--only", nargs="*", help="the commands to run, by first word (repos, history, simulate, findings, report)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecrwise-bench-") as tmp:
        store = Path(tmp) / "syn.duckdb"
        t = time.perf_counter()
        # In a child process: a child's peak RSS (ru_maxrss) starts from its parent's high-water mark, which
        # Linux carries across the exec (getrusage(2): usage is preserved across execve), so building the
        # estate in this process would show its 1.7 GiB as every command's peak.
        subprocess.run([sys.executable, str(HERE / "synthetic_estate.py"), str(store), "--repos", str(a.repos),
                        "--images", str(a.images), "--snapshots", str(a.snapshots)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"estate: {a.repos} repositories x {a.images // a.repos} images x {a.snapshots} snapshots, "
              f"built in {time.perf_counter() - t:.1f} s")
        base_env = {**os.environ, "XDG_DATA_HOME": tmp, "XDG_STATE_HOME": tmp}
        py = sys.executable
        cli = "from ecrwise.cli.main import main; import sys; main(sys.argv[1:])"
        header = f"{'command':<24} {'ecrwise':>9} {'SQL floor':>10} {'ratio':>6} {'RSS':>9}"
        if a.baseline_src:
            header += f" {'baseline':>9} {'base RSS':>9}"
        print(header)
        for label, (args, queries) in COMMANDS.items():
            if a.only and label.split()[0] not in a.only:
                continue
            args = [x.replace("{tmp}", tmp) for x in args]
            env = {**base_env, "PYTHONPATH": str(SRC)}
            wall, rss = _median3([py, "-c", cli, *args, "--store", str(store)], env)
            fwall, _ = _median3([py, "-c", _floor_script(store, queries)], env)
            line = f"{label:<24} {wall:>8.2f}s {fwall:>9.2f}s {wall / fwall:>5.1f}x {rss / 2**20:>6.0f}MiB"
            if a.baseline_src:
                benv = {**base_env, "PYTHONPATH": str(a.baseline_src)}
                bwall, brss = _median3([py, "-c", cli, *args, "--store", str(store)], benv)
                line += f" {bwall:>8.2f}s {brss / 2**20:>6.0f}MiB"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
