"""Build a synthetic ECR estate straight into an ecrwise store with DuckDB SQL (issue 11's benchmarks).

    python bench/synthetic_estate.py STORE --repos 1000 --images 100000 --snapshots 1

The schema is the store's own (ecrwise.store.Store creates the file and the record tables), the rows come from
generate_series, so a million images take seconds and no Python object per row. Per repository (two regions,
alternating): `images / repos` images, one new image per snapshot (the oldest leaves), every 5th untagged,
every 20th an image index (two children, no layers of its own), the newest tagged `latest`. Each image
references three layers: a base layer shared across repositories (a pool of 50), a layer shared within its
repository by groups of 10 images, and one of its own. Every repository has 30 days of pull metrics.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository  # noqa: E402
from ecrwise.store import Store  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ACCOUNT = "123456789012"


def build(path: Path, repos: int, images: int, snapshots: int, memory_limit: str = "2GB") -> list[int]:
    per_repo = max(1, images // repos)
    sids = []
    with Store(path) as st:
        con = st.con
        con.execute(f"SET memory_limit = '{memory_limit}'")
        for cls in (Repository, Image, ImageLayer, PullMetric):
            st._ensure_table(cls)  # the store's own table creation, so the schema is the real one
        for s in range(snapshots):
            taken = T0 + timedelta(days=s)
            con.execute("BEGIN TRANSACTION")
            sid = st.begin_snapshot(taken, [ACCOUNT], ["us-east-1", "eu-west-1"], ["ecr"], "synthetic")
            p = {"sid": sid, "repos": repos, "n": per_repo, "s": s, "account": ACCOUNT}

            def run(sql: str) -> None:
                # DuckDB refuses named parameters a statement does not use.
                con.execute(sql, {k: v for k, v in p.items() if re.search(rf"\${k}\b", sql)})
            run("""
                INSERT INTO repositories
                SELECT $sid, $account, CASE WHEN r % 2 = 0 THEN 'us-east-1' ELSE 'eu-west-1' END,
                       printf('svc-%05d', r), printf('arn:aws:ecr:region:%s:repository/svc-%05d', $account, r),
                       printf('%s.dkr.ecr.region.amazonaws.com/svc-%05d', $account, r),
                       TIMESTAMP '2025-01-01', 'MUTABLE', false, 'AES256',
                       CASE WHEN r % 3 = 0 THEN '{"team": "core"}' ELSE '{}' END::JSON,
                       CASE WHEN r % 4 = 0 THEN '{"rules": []}' END
                FROM generate_series(0, $repos - 1) t(r)""")
            # Image k of repository r; this snapshot holds k in [s, s + n).
            run("""
                CREATE OR REPLACE TEMP TABLE syn AS
                SELECT r, k, CASE WHEN r % 2 = 0 THEN 'us-east-1' ELSE 'eu-west-1' END AS region,
                       printf('svc-%05d', r) AS repo, printf('sha256:%064x', r::BIGINT * 1000000 + k) AS digest,
                       k % 20 = 19 AS is_index, k = $s + $n - 1 AS newest
                FROM generate_series(0, $repos - 1) a(r), generate_series($s, $s + $n - 1) b(k)""")
            run("""
                INSERT INTO image_layers
                SELECT $sid, $account, region, repo, digest, layer, size FROM (
                    SELECT region, repo, digest, printf('sha256:b%063x', r % 50) AS layer, 50000000 + (r % 50) * 1000000 AS size
                    FROM syn WHERE NOT is_index
                    UNION ALL
                    SELECT region, repo, digest, printf('sha256:g%063x', r::BIGINT * 100000 + k // 10), 5000000 + (k // 10) * 1000
                    FROM syn WHERE NOT is_index
                    UNION ALL
                    SELECT region, repo, digest, printf('sha256:u%063x', r::BIGINT * 1000000 + k), 1000000 + (k * 7919) % 900000
                    FROM syn WHERE NOT is_index)""")
            run("""
                INSERT INTO images (snapshot_id, account, region, repository, digest, tags, pushed_at, last_pulled_at,
                                    reported_size_bytes, media_type, artifact_media_type, size_bytes, storage_class,
                                    archived_at, children, is_index)
                SELECT $sid, $account, s.region, s.repo, s.digest,
                       CASE WHEN s.newest THEN ['latest', printf('v%d', s.k)] WHEN s.k % 5 = 0 THEN []::VARCHAR[]
                            ELSE [printf('v%d', s.k)] END,
                       TIMESTAMP '2025-06-01' + INTERVAL (s.k) HOUR * 6,
                       CASE WHEN s.k % 3 = 0 THEN TIMESTAMP '2025-12-01' + INTERVAL (s.k % 48) HOUR END,
                       coalesce(l.size, 0),
                       CASE WHEN s.is_index THEN 'application/vnd.oci.image.index.v1+json'
                            ELSE 'application/vnd.docker.distribution.manifest.v2+json' END, NULL,
                       coalesce(l.size, 0), 'standard', NULL,
                       CASE WHEN s.is_index THEN [printf('sha256:%064x', s.r::BIGINT * 1000000 + s.k - 1),
                                                  printf('sha256:%064x', s.r::BIGINT * 1000000 + s.k - 2)]
                            ELSE []::VARCHAR[] END,
                       s.is_index
                FROM syn s LEFT JOIN (SELECT image_digest, sum(size) AS size FROM image_layers
                                      WHERE snapshot_id = $sid GROUP BY image_digest) l ON l.image_digest = s.digest""")
            run("""
                INSERT INTO pull_metrics
                SELECT $sid, $account, CASE WHEN r % 2 = 0 THEN 'us-east-1' ELSE 'eu-west-1' END,
                       printf('svc-%05d', r), DATE '2025-12-01' + CAST(d + $s AS INTEGER), (r * 31 + d) % 7
                FROM generate_series(0, $repos - 1) a(r), generate_series(0, 29) b(d)""")
            con.execute("DROP TABLE syn")
            st.finish_snapshot(sid, [ACCOUNT], [])
            con.execute("COMMIT")
            sids.append(sid)
    return sids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=1)
    ap.add_argument("--memory-limit", default="2GB")
    a = ap.parse_args(argv)
    if a.store.exists():
        ap.error(f"{a.store} exists; the builder writes a new store")
    t = time.perf_counter()
    sids = build(a.store, a.repos, a.images, a.snapshots, a.memory_limit)
    print(f"{a.store}: snapshots {sids}, {a.repos} repositories x {max(1, a.images // a.repos)} images "
          f"in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
