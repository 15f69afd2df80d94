"""Offline `lifecycle simulate --images FILE`: the CLI (its loader, `ecrwise.inputs`) beside the in-process engine.

Writes an images document of N images (bench/lifecycle_bench.py's generator), then, medians of --runs:
(a) the engine in process on a pre-built LifecycleImage list (the floor, in a child process so its peak RSS
is its own), (b) `ecrwise lifecycle simulate --policy playbook-base.json --images FILE --format json` as a
child, (c) the same with --baseline-src's code (another checkout). Peak RSS of each child via os.wait4.
(b) and (c) outputs are compared byte for byte.

--order says how the document lists its images: `grouped` (each repository's images together, as an export
per repository writes them: the one-pass reading), `shuffled` (rows shuffled in windows of a million, so a
repository turns up again and again: the partitioned reading), or `both` (one document each; the two outputs
must be byte-identical). The document is written a repository at a time, so its size is not bounded by memory;
--no-floor skips (a), which holds every image (10,000,000 of them do not fit). --document keeps the documents in
that directory (and reuses them when they are there).

    python bench/offline_simulate_bench.py --images 100000 [--order both] [--baseline-src /work/main/src]
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
    ap.add_argument("--order", choices=["grouped", "shuffled", "both"], default="shuffled")
    ap.add_argument("--no-floor", action="store_true", help="skip (a), the engine in process")
    ap.add_argument("--document", type=Path, help="keep (and reuse) the documents in this directory")
    ap.add_argument("--write-document", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(SRC))
    if a.write_document:
        write_document(a.write_document, a.images, a.repos, a.order)
        return 0
    with tempfile.TemporaryDirectory(prefix="offline-sim-") as t:
        return _run(a, Path(t))


SHUFFLE_WINDOW = 1_000_000


def write_document(path: Path, n: int, repos: int, order: str) -> None:
    """The images document of lifecycle_bench's estate, written a repository (or a shuffled window) at a time."""
    import random
    from datetime import datetime, timezone

    from lifecycle_bench import repositories

    from ecrwise.lifecycle.images import LifecycleImage, image_to_document
    fts = datetime.fromtimestamp
    rnd = random.Random(7)
    window: list = []
    first = True
    with open(path, "w") as f:
        f.write('{"images": [')

        def emit(rows: list) -> None:
            nonlocal first
            for r in rows:
                im = LifecycleImage(repository=r[0], digest=r[1], tags=r[2], pushed_at=fts(r[3], timezone.utc),
                                    last_pulled_at=None if r[4] is None else fts(r[4], timezone.utc),
                                    storage_class=r[5],
                                    archived_at=None if r[6] is None else fts(r[6], timezone.utc),
                                    layers=tuple(r[7]), manifests=tuple(r[8]))
                f.write(("" if first else ",") + json.dumps(image_to_document(im)))
                first = False

        for _, rows in repositories(n, repos, rnd):
            # The generator reuses release-X.Y tags; in ECR a tag names one image, so later uses are dropped.
            owned: set[str] = set()
            kept = []
            for r in rows:
                tags = tuple(t for t in r[2] if t not in owned)
                owned.update(tags)
                kept.append((*r[:2], tags, *r[3:]))
            rows = kept
            if order == "grouped":
                emit(rows)
                continue
            window.extend(rows)
            if len(window) >= SHUFFLE_WINDOW:
                rnd.shuffle(window)
                emit(window)
                window = []
        rnd.shuffle(window)
        emit(window)
        f.write("]}")


def _run(a: argparse.Namespace, tmp: Path) -> int:
    orders = ["grouped", "shuffled"] if a.order == "both" else [a.order]
    where = a.document or tmp
    where.mkdir(parents=True, exist_ok=True)
    docs = {}
    for order in orders:
        doc = docs[order] = where / f"images-{a.images}-{a.repos}-{order}.json"
        if not doc.exists():
            t0 = time.perf_counter()
            # In a child: a child's peak RSS starts from its parent's high-water mark (Linux carries it across
            # the exec, getrusage(2)), and a shuffled window holds a million rows.
            subprocess.run([sys.executable, __file__, "--write-document", str(doc.with_suffix(".part")),
                            "--images", str(a.images), "--repos", str(a.repos), "--order", order], check=True)
            doc.with_suffix(".part").rename(doc)
            print(f"wrote {doc.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        print(f"{a.images:,} images, {a.repos:,} repositories, {order}; document "
              f"{doc.stat().st_size / 2**20:,.0f} MiB", flush=True)

    py = sys.executable
    rows: list[tuple[str, list[float], list[float]]] = []
    env = dict(os.environ, PYTHONPATH=str(SRC))
    fl: list[float] = []
    if not a.no_floor:
        floor_cmd = [py, "-c", FLOOR.format(bench=str(HERE), n=a.images, repos=a.repos, policy=str(POLICY))]
        fr = []
        for _ in range(a.runs):
            _, rss, text = _child(floor_cmd, env)
            fl.append(float(text.strip().splitlines()[-1]))
            fr.append(rss)
        rows.append(("(a) engine in process (simulate only)", fl, fr))
    outs = {}
    for order, doc in docs.items():
        cli = ["-c", "import sys; from ecrwise.cli.main import main; sys.argv[0] = 'ecrwise'; sys.exit(main())",
               "lifecycle", "simulate", "--policy", str(POLICY), "--images", str(doc), "--at", AT, "--format", "json"]
        for label, src in [("(b) CLI, this tree", SRC), ("(c) CLI, baseline", a.baseline_src)]:
            if src is None:
                continue
            e = dict(os.environ, PYTHONPATH=str(src))
            out = tmp / "out.json"
            w, r = [], []
            for _ in range(a.runs):
                wall, rss, _ = _child([py, *cli], e, out=out)
                w.append(wall)
                r.append(rss)
            outs[f"{label[:3]} {order}"] = _digest(out)
            out.unlink()
            rows.append((f"{label}, {order} document", w, r))
    print(f"| run | median s | peak RSS MiB | x (a) |\n|---|---:|---:|---:|")
    base = statistics.median(fl) if fl else None
    for label, w, r in rows:
        m = statistics.median(w)
        print(f"| {label} | {m:.2f} | {max(r):,.0f} | {f'{m / base:.1f}x' if base else '-'} |")
    print("outputs byte-identical (sha256):", len(set(outs.values())) == 1, f"({', '.join(outs)})")
    return 0


def _digest(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(2**24):
            h.update(block)
    return h.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
