"""Lifecycle engine benchmark: simulate a five-rule policy over 1,000,000 images in 10,000 repositories.

The baseline, measured in the same run on the same data, is the floor any simulation pays: turning raw
rows into LifecycleImage objects and sorting them (repository, push time, digest). The target is
simulate ≤ 3× floor. Timings are medians over --runs runs; memory is the process's peak RSS plus
tracemalloc's view of what the loaded images hold and what simulate allocates on top (one extra traced run,
not timed). Nothing is written to disk.

    python bench/lifecycle_bench.py [--images 1000000] [--repos 10000] [--runs 3]
"""
from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from typing import Iterator

from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.lifecycle.simulate import simulate
from ecrwise.pricing.book import load_price_book

AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
DAY = 86400.0

POLICY = """{
  "rules": [
    {"rulePriority": 1, "description": "keep the newest latest",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["latest"], "countType": "imageCountMoreThan",
                   "countNumber": 1}, "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "archive releases nobody pulled for 90 days",
     "selection": {"tagStatus": "tagged", "tagPatternList": ["v*.*.*"], "countType": "sinceImagePulled",
                   "countUnit": "days", "countNumber": 90},
     "action": {"type": "transition", "targetStorageClass": "archive"}},
    {"rulePriority": 3, "description": "untagged after a week",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                   "countNumber": 7}, "action": {"type": "expire"}},
    {"rulePriority": 4, "description": "keep 50 of everything else",
     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
     "action": {"type": "expire"}},
    {"rulePriority": 5, "description": "delete archived images after 180 days in archive",
     "selection": {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                   "countUnit": "days", "countNumber": 180}, "action": {"type": "expire"}}
  ]
}"""

Row = tuple  # (repository, digest, tags, pushed_ts, pulled_ts|None, storage_class, archived_ts|None, layers, manifests)


def generate(n_images: int, n_repos: int, seed: int = 7) -> list[Row]:
    """Raw rows as a collector or a JSON export would hand them over: plain values, epoch seconds; shuffled."""
    rnd = random.Random(seed)
    rows = [row for _, repo_rows in repositories(n_images, n_repos, rnd) for row in repo_rows]
    rnd.shuffle(rows)
    return rows


def repositories(n_images: int, n_repos: int, rnd: random.Random) -> Iterator[tuple[str, list[Row]]]:
    """(name, its rows) one repository at a time, so a document of any size can be written without holding it."""
    # Repository sizes follow a heavy tail (a few huge CI repositories, many small ones), summing to n.
    weights = [1.0 / (k + 1) ** 0.8 for k in range(n_repos)]
    scale = n_images / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[0] += n_images - sum(sizes)
    bases = [(f"sha256:{rnd.getrandbits(256):064x}", rnd.randint(20, 120) * 2**20) for _ in range(64)]
    start = AT.timestamp() - 400 * DAY
    for r, size in enumerate(sizes):
        rows: list[Row] = []
        repo = f"team-{r % 97:02d}/service-{r:05d}"
        base = rnd.sample(bases, 2)
        major, minor, patch = 1, 0, 0
        t = start + rnd.random() * 30 * DAY
        step = 360 * DAY / size
        # Repositories with room get one multi-arch index (counted in their size) over their two newest images.
        regular = size - 1 if size >= 3 else size
        latest_at = regular - 1 - rnd.randrange(min(regular, 2))
        for i in range(regular):
            t += rnd.random() * 2 * step
            kind = rnd.random()
            if kind < 0.30:
                tags: list[str] = []
            elif kind < 0.55:
                patch += 1
                if rnd.random() < 0.1:
                    minor, patch = minor + 1, 0
                tags = [f"v{major}.{minor}.{patch}"]
                if rnd.random() < 0.3:
                    tags.append(f"release-{major}.{minor}")
            elif kind < 0.85:
                tags = [f"{rnd.getrandbits(28):07x}"]
            else:
                tags = [f"dev-{rnd.getrandbits(28):07x}"]
            if i == latest_at:
                tags.append("latest")
            pulled = t + rnd.random() * 200 * DAY if rnd.random() < 0.5 else None
            if pulled is not None and pulled > AT.timestamp():
                pulled = AT.timestamp() - rnd.random() * DAY
            archived = None
            storage = "standard"
            if tags and rnd.random() < 0.02:
                storage, archived = "archive", t + rnd.random() * 100 * DAY
            layers = list(base) + [(f"sha256:{rnd.getrandbits(256):064x}", rnd.randint(1, 40) * 2**20)
                                   for _ in range(rnd.randint(2, 5))]
            rows.append((repo, f"sha256:{rnd.getrandbits(256):064x}", tags, t, pulled, storage, archived, layers,
                         []))
        if regular < size:
            kids = [rows[-1][1], rows[-2][1]]
            rows.append((repo, f"sha256:{rnd.getrandbits(256):064x}", ["multiarch"], t + 1.0, None, "standard",
                         None, [], kids))
        yield repo, rows


def load(rows: list[Row], split: list[float] | None = None) -> list[LifecycleImage]:
    """The floor: build the objects and sort them, nothing more. `split` receives the sort's share."""
    fts = datetime.fromtimestamp
    utc = timezone.utc
    images = [LifecycleImage(repository=r[0], digest=r[1], tags=tuple(r[2]), pushed_at=fts(r[3], utc),
                             last_pulled_at=None if r[4] is None else fts(r[4], utc), storage_class=r[5],
                             archived_at=None if r[6] is None else fts(r[6], utc), layers=tuple(r[7]),
                             manifests=tuple(r[8]))
              for r in rows]
    t0 = time.perf_counter()
    images.sort(key=lambda im: (im.repository, im.pushed_at, im.digest))
    if split is not None:
        split.append(time.perf_counter() - t0)
    return images


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--repos", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass")
    args = ap.parse_args(argv)

    policy = parse_policy(POLICY)
    book = load_price_book()
    std = book.price(book.fallback_region, "ecr_storage_gb_month").usd
    arc = book.price(book.fallback_region, "ecr_archive_storage_gb_month").usd
    t0 = time.perf_counter()
    rows = generate(args.images, args.repos)
    gen_s = time.perf_counter() - t0
    n_repos = len({r[0] for r in rows})
    print(f"generated {len(rows):,} images in {n_repos:,} repositories ({gen_s:.1f} s, not timed below)",
          flush=True)

    floor_s: list[float] = []
    sort_s: list[float] = []
    sim_s: list[float] = []
    result = None
    for run in range(args.runs):
        gc.collect()
        t0 = time.perf_counter()
        images = load(rows, sort_s)
        floor_s.append(time.perf_counter() - t0)
        policies = {repo: policy for repo in {im.repository for im in images}}
        gc.collect()
        t0 = time.perf_counter()
        result = simulate(policies, images, AT, std, arc)
        sim_s.append(time.perf_counter() - t0)
        print(f"  run {run + 1}: floor {floor_s[-1]:.2f} s, simulate {sim_s[-1]:.2f} s", flush=True)
        del images
    assert result is not None
    tot = result.totals()

    traced = False
    loaded_mb = sim_peak_mb = 0.0
    if not args.no_trace:
        del result
        gc.collect()
        tracemalloc.start()
        images = load(rows)
        loaded_mb = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        policies = {repo: policy for repo in {im.repository for im in images}}
        simulate(policies, images, AT, std, arc)
        sim_peak_mb = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
        del images
        traced = True

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f_med, s_med = statistics.median(floor_s), statistics.median(sim_s)
    rows_out = [
        ("floor: build LifecycleImage objects + sort", f"{f_med:.2f} s"),
        ("  of which the sort", f"{statistics.median(sort_s):.2f} s"),
        ("simulate: 5 rules, every repository", f"{s_med:.2f} s"),
        ("ratio of the medians, simulate / floor", f"{s_med / f_med:.2f} x"),
        ("median of per-run ratios", f"{statistics.median(s / f for s, f in zip(sim_s, floor_s)):.2f} x"),
        ("process peak RSS (raw rows + images + results)", f"{peak_rss_mb:,.0f} MiB"),
    ]
    if traced:
        rows_out += [("loaded objects, strings shared with rows (tracemalloc)", f"{loaded_mb:,.0f} MiB"),
                     ("simulate peak allocation on top (tracemalloc)", f"{sim_peak_mb:,.0f} MiB")]
    w = max(len(k) for k, _ in rows_out)
    print()
    print(f"{len(rows):,} images in {n_repos:,} repositories; Python {sys.version.split()[0]}; "
          f"median of {args.runs} runs (floor runs: {', '.join(f'{x:.2f}' for x in floor_s)}; "
          f"simulate runs: {', '.join(f'{x:.2f}' for x in sim_s)})")
    print(f"| {'measure'.ljust(w)} | {'value':>10} |")
    print(f"|{'-' * (w + 2)}|{'-' * 11}:|")
    for k, v in rows_out:
        print(f"| {k.ljust(w)} | {v:>10} |")
    print()
    print(f"expire {tot['expire_count']:,}, transition {tot['transition_count']:,}, kept {tot['kept']:,}, "
          f"held by index {tot['held_by_index']:,}; freed {tot['freed_bytes'] / 2**40:.2f} TiB of "
          f"{tot['stored_bytes'] / 2**40:.2f} TiB stored")
    print(f"target simulate <= 3x floor: {'met' if s_med <= 3 * f_med else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
