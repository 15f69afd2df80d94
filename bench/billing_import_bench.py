"""Billing import benchmark: a 5,000,000-line CUR 2.0 export (hourly lines, 50 accounts, 40 % of them ECR /
NAT / endpoint / S3 lines, the rest EC2 instance hours) imported into a store file in bounded memory.

The file is generated with DuckDB SQL (`range()`, the demo generator's exact CUR 2.0 column list and types),
not Python loops. The baseline, measured in the same run on the same file, is the floor any import pays: one
DuckDB scan of the file summing a cost column. Each measured step runs in its own child process with DuckDB's
`memory_limit` set, so the peak RSS printed (ru_maxrss of that child) is the step's alone.

    python bench/billing_import_bench.py [--lines 5000000] [--csv] [--memory-limit 512MB] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GEN = """CREATE VIEW gen AS
SELECT TIMESTAMP '2026-11-01' AS period_start, TIMESTAMP '2026-12-01' AS period_end, '100000000000' AS payer,
       CAST(100000000001 + i // 10 % 50 AS VARCHAR) AS account, 'Usage' AS line_type,
       CASE i % 10 WHEN 0 THEN 'AmazonECR' WHEN 2 THEN 'AmazonVPC' WHEN 3 THEN 'AmazonS3' ELSE 'AmazonEC2' END
           AS service,
       CASE i % 10 WHEN 0 THEN 'USE1-TimedStorage-ByteHrs'
                   WHEN 1 THEN CASE WHEN i % 20 = 1 THEN 'NatGateway-Bytes' ELSE 'NatGateway-Hours' END
                   WHEN 2 THEN 'USE1-VpcEndpoint-Hours' WHEN 3 THEN 'TimedStorage-ByteHrs'
                   ELSE 'BoxUsage:m5.large' END AS usage_type,
       'Op' AS operation, 'us-east-1' AS region,
       CASE i % 10 WHEN 0 THEN 'arn:aws:ecr:us-east-1:' || CAST(100000000001 + i // 10 % 50 AS VARCHAR)
                               || ':repository/repo-' || CAST(i // 10 % 4000 AS VARCHAR)
                   WHEN 1 THEN 'arn:aws:ec2:us-east-1:' || CAST(100000000001 + i // 10 % 50 AS VARCHAR)
                               || ':natgateway/nat-' || CAST(i // 10 % 100 AS VARCHAR)
                   ELSE 'res-' || CAST(i % 100000 AS VARCHAR) END AS resource_id,
       TIMESTAMP '2026-11-01' + to_hours(CAST(i % 720 AS INTEGER)) AS t0,
       TIMESTAMP '2026-11-01' + to_hours(CAST(i % 720 AS INTEGER) + 1) AS t1,
       (i % 97) / 1000.0 AS amount, 'Hrs' AS unit, 0.045 AS rate, (i % 97) / 1000.0 * 0.045 AS cost,
       'benchmark line' AS description, 'Family' AS family
FROM range({lines}) AS r(i)"""


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _settings(con, memory_limit: str, threads: int, tmp: str) -> None:
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{tmp}'")


def _run_step(step: str, path: str, store: str, memory_limit: str, threads: int, lines: int, csv: bool) -> None:
    import duckdb

    t = time.perf_counter()
    if step == "generate":
        from ecrwise.billing.schema import CUR2
        from ecrwise.demo.billing_export import select_sql

        con = duckdb.connect()
        _settings(con, memory_limit, threads, str(Path(path).parent))
        con.execute(GEN.format(lines=lines))
        opts = "HEADER, COMPRESSION gzip" if csv else "FORMAT parquet, COMPRESSION snappy"
        con.execute(f"COPY ({select_sql(CUR2, csv)}) TO '{path}' ({opts})")
        result: dict = {}
    elif step == "floor":
        con = duckdb.connect()
        _settings(con, memory_limit, threads, str(Path(path).parent))
        reader = (f"read_csv('{path}', header = true, all_varchar = true)" if csv else f"read_parquet('{path}')")
        n, total = con.execute(f"SELECT count(*), sum(CAST(line_item_unblended_cost AS DOUBLE)) FROM {reader}").fetchone()
        result = {"lines": n, "cost": total}
    else:
        from ecrwise.billing.importer import import_export

        con = duckdb.connect(store)
        _settings(con, memory_limit, threads, str(Path(store).parent))
        r = import_export(con, path)
        result = {"kept": r.rows_kept, "periods": r.periods}
    result["seconds"] = time.perf_counter() - t
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--csv", action="store_true", help="gzip CSV instead of Parquet")
    ap.add_argument("--memory-limit", default="512MB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        _run_step(a.step, a.path, a.store, a.memory_limit, a.threads, a.lines, a.csv)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / ("cur2-00001.csv.gz" if a.csv else "cur2-00001.snappy.parquet"))
        store = str(Path(tmp) / "store.duckdb")
        common = ["--path", path, "--store", store, "--memory-limit", a.memory_limit, "--threads", str(a.threads),
                  "--lines", str(a.lines)] + (["--csv"] if a.csv else [])
        gen = _child(["--step", "generate", *common])
        size = Path(path).stat().st_size
        floor = _child(["--step", "floor", *common])
        imp = _child(["--step", "import", *common])
    print(f"export: {a.lines:,} lines, {'gzip CSV' if a.csv else 'Parquet'}, {size / 2**20:,.1f} MiB "
          f"(generated in {gen['seconds']:.1f} s)")
    print(f"settings: memory_limit={a.memory_limit} threads={a.threads}")
    print(f"floor  (one scan, sum a column): {floor['seconds']:6.2f} s   peak RSS {floor['peak_rss_mib']:7.1f} MiB")
    print(f"import (filter, normalise, store): {imp['seconds']:6.2f} s   peak RSS {imp['peak_rss_mib']:7.1f} MiB   "
          f"kept {imp['kept']:,} lines   {imp['seconds'] / floor['seconds']:.1f}× floor")


if __name__ == "__main__":
    main()
