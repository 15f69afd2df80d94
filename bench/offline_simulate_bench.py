"""Offline `lifecycle simulate --images FILE`: the CLI (its loader, `ecrwise.inputs`) beside the in-process engine.

Writes an images document of N images (bench/lifecycle_bench.py's generator), then, medians of --runs:
(a) the engine in process on a pre-built LifecycleImage list (the floor, in a child process so its peak RSS
is its own), (b) `ecrwise lifecycle simulate --policy playbook-base.json --images FILE --format json` as a
child, (c) the same with --baseline-src's code (another checkout). Peak RSS of each child via os.wait4.
(b) and (c) outputs are compared byte for byte.

    python bench/offline_simulate_bench.py --images 100000 [--baseline-src /work/main/src]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
POLICY = SRC / "ecrwise" / "lifecycle" / "templates" / "playbook-base.json"
AT = "2026-03-01T00:00:00Z"

FLOOR = """
import sys; sys.path.insert(0, {bench!r})
from lifecycle_bench import generate, load, AT
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.lifecycle.simulate import simulate
import time
rows = generate({n}, {repos})
images = load(rows); del rows
policy = parse_policy(open({policy!r}).read())
t0 = time.perf_counter()
simulate({{im.repository: policy for im in images}}, images, AT, 0.1, 0.01)
print(time.perf_counter() - t0)
"""


def _child(cmd: list[str], env: dict[str, str], out: Path | None = None) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    with open(out or os.devnull, "wb") as f:
        p = subprocess.Popen(cmd, env=env, stdout=f if out else subprocess.PIPE, stderr=subprocess.PIPE)
        if out:
            _, status, ru = os.wait4(p.pid, 0)
            text = ""
        else:
            stdout = p.stdout.read().decode()  # type: ignore[union-attr]
            _, status, ru = os.wait4(p.pid, 0)
            text = stdout
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return wall, ru.ru_maxrss / 1024, text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--repos", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-src", type=Path)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(SRC))
    with tempfile.TemporaryDirectory(prefix="offline-sim-") as t:
        return _run(a, Path(t))


def _run(a: argparse.Namespace, tmp: Path) -> int:
    from lifecycle_bench import generate

    from ecrwise.lifecycle.images import LifecycleImage, image_to_document
    from datetime import datetime, timezone
    doc = tmp / "images.json"
    fts = datetime.fromtimestamp
    with open(doc, "w") as f:
        f.write('{"images": [')
        owned: set[tuple[str, str]] = set()
        for k, r in enumerate(generate(a.images, a.repos)):
            # The generator reuses release-X.Y tags; in ECR a tag names one image, so later uses are dropped.
            tags = tuple(t for t in r[2] if (r[0], t) not in owned)
            owned.update((r[0], t) for t in tags)
            im = LifecycleImage(repository=r[0], digest=r[1], tags=tags, pushed_at=fts(r[3], timezone.utc),
                                last_pulled_at=None if r[4] is None else fts(r[4], timezone.utc),
                                storage_class=r[5], archived_at=None if r[6] is None else fts(r[6], timezone.utc),
                                layers=tuple(r[7]), manifests=tuple(r[8]))
            f.write(("," if k else "") + json.dumps(image_to_document(im)))
        f.write("]}")
    print(f"{a.images:,} images, {a.repos:,} repositories; document {doc.stat().st_size / 2**20:,.0f} MiB", flush=True)

    py = sys.executable
    rows: list[tuple[str, list[float], list[float]]] = []
    floor_cmd = [py, "-c", FLOOR.format(bench=str(HERE), n=a.images, repos=a.repos, policy=str(POLICY))]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    fl, fr = [], []
    for _ in range(a.runs):
        _, rss, text = _child(floor_cmd, env)
        fl.append(float(text.strip().splitlines()[-1]))
        fr.append(rss)
    rows.append(("(a) engine in process (simulate only)", fl, fr))
    cli = ["-c", "import sys; from ecrwise.cli.main import main; sys.argv[0] = 'ecrwise'; sys.exit(main())", "lifecycle", "simulate", "--policy", str(POLICY), "--images", str(doc),
           "--at", AT, "--format", "json"]
    outs = {}
    for label, src in [("(b) CLI, this tree's loader", SRC), ("(c) CLI, baseline loader", a.baseline_src)]:
        if src is None:
            continue
        e = dict(os.environ, PYTHONPATH=str(src))
        w, r = [], []
        for _ in range(a.runs):
            wall, rss, _ = _child([py, *cli], e, out=tmp / f"{label[1]}.json")
            w.append(wall)
            r.append(rss)
        outs[label[1]] = (tmp / f"{label[1]}.json").read_bytes()
        rows.append((label, w, r))
    print(f"| run | median s | peak RSS MiB | x (a) |\n|---|---:|---:|---:|")
    base = statistics.median(fl)
    for label, w, r in rows:
        m = statistics.median(w)
        print(f"| {label} | {m:.2f} | {max(r):,.0f} | {m / base:.1f}x |")
    if "c" in outs:
        print("outputs (b) and (c) byte-identical:", outs["b"] == outs["c"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
