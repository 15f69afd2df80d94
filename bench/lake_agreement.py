"""DuckDB over the store, DuckDB over the exported Parquet lake and Spark SQL over the same lake agree (issue 11).

    python bench/lake_agreement.py --repos 1000 --images 100000 --snapshots 2

Builds a synthetic estate (bench/synthetic_estate.py), exports it (`export_parquet`), runs repository_facts
(latest snapshot) and layer_deltas (first vs last) on the three engines, prints rows compared, mismatches
(must be 0), the stored-bytes total and the times side by side (medians of 3; Spark in local mode, its session
start not timed). Needs the `bench` extra (pyspark) and Java 17.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_estate import build

from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.report.export import export_parquet
from ecrwise.store import Store
from ecrwise.store.lake import lake_connection, lake_facts, render_query

CLASSES = {"repository_facts": [Repository, Image, ImageLayer, PullMetric], "layer_deltas": [ImageLayer]}


def median_time(fn, n=3):
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def norm(row):
    # Spark hands timestamps back in the session zone (UTC here) and may mark them aware; compare naive UTC.
    return tuple(v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
                 for v in row)


def spark_session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[2]").appName("ecrwise-lake")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")  # account stays a string
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=2)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecrwise-lake-") as tmp:
        store, lake = Path(tmp) / "s.duckdb", Path(tmp) / "lake"
        t = time.perf_counter()
        sids = build(store, a.repos, a.images, a.snapshots)
        print(f"estate: {a.repos:,} repositories, {a.images:,} images/snapshot, snapshots {sids} "
              f"({time.perf_counter() - t:.1f} s)")
        params = {"repository_facts": {"sid": sids[-1]}, "layer_deltas": {"a": sids[0], "b": sids[-1]}}
        results = {}
        with Store(store) as st:
            t = time.perf_counter()
            export_parquet(st.con, lake)
            print(f"export --parquet: {time.perf_counter() - t:.1f} s")
            for q, p in params.items():
                results[(q, "store")] = median_time(lambda q=q, p=p: st.facts(q, p, CLASSES[q]))
        con = lake_connection(lake)
        for q, p in params.items():
            results[(q, "lake")] = median_time(lambda q=q, p=p: lake_facts(con, q, p, CLASSES[q]))
        spark = spark_session()
        for table in sorted(d for d in lake.iterdir() if d.is_dir() and d.name != "queries"):
            if any(table.rglob("*.parquet")):
                spark.read.option("basePath", str(table)).parquet(str(table)).createOrReplaceTempView(table.name)
        for q, p in params.items():
            text = render_query(q, "spark", p)
            results[(q, "spark")] = median_time(lambda text=text: [tuple(r) for r in spark.sql(text).collect()])
        spark.stop()
    print(f"{'query':<18} {'rows':>7} {'mismatch lake':>14} {'mismatch spark':>15} "
          f"{'store s':>8} {'lake s':>8} {'spark s':>8}")
    bad = 0
    for q in params:
        ref = [norm(r) for r in results[(q, "store")][1]]
        lk = [norm(r) for r in results[(q, "lake")][1]]
        sp = [norm(r) for r in results[(q, "spark")][1]]
        m_lake = sum(x != y for x, y in zip(ref, lk)) + abs(len(ref) - len(lk))
        m_spark = sum(x != y for x, y in zip(ref, sp)) + abs(len(ref) - len(sp))
        bad += m_lake + m_spark
        if m_spark:
            first = next((x, y) for x, y in zip(ref, sp) if x != y) if len(ref) == len(sp) else None
            print("  first spark mismatch:", first)
        print(f"{q:<18} {len(ref):>7,} {m_lake:>14} {m_spark:>15} {results[(q, 'store')][0]:>8.2f} "
              f"{results[(q, 'lake')][0]:>8.2f} {results[(q, 'spark')][0]:>8.2f}")
    for eng in ("store", "lake", "spark"):
        total = sum(norm(r)[5] for r in results[("repository_facts", eng)][1])
        print(f"stored bytes, sum over repositories ({eng}): {total:,}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
