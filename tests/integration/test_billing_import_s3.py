"""`billing import s3://bucket/prefix` through the stand-in's S3: downloaded into the cache, then imported
from local files; a second import downloads nothing new and replaces the period's rows."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from ecrwise.billing import schema
from ecrwise.cli.main import main
from ecrwise.demo.billing_export import demo_usage, write_export

pytestmark = pytest.mark.standin


def test_import_from_s3(aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_export(demo_usage(), tmp_path / "local", fmt=schema.CUR2, file_format="csv")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="demo-billing")
    for f in (tmp_path / "local").rglob("*"):
        if f.is_file():
            s3.upload_file(str(f), "demo-billing", "exports/" + f.relative_to(tmp_path / "local").as_posix())
    s3.put_object(Bucket="demo-billing", Key="exports/README.txt", Body=b"not an export file")
    store = tmp_path / "store" / "s.duckdb"
    for _ in range(2):
        with pytest.raises(SystemExit) as e:
            main(["billing", "import", "s3://demo-billing/exports", "--store", str(store), "--format", "json"])
        out = capsys.readouterr()
        assert e.value.code == 0, out.err
        doc = json.loads(out.out)
        assert doc["totals"]["billing_periods"] == ["2026-11"] and doc["totals"]["manifests"]
    cache = tmp_path / "store" / "billing-cache" / "demo-billing" / "exports"
    assert (cache / manifest.relative_to(tmp_path / "local")).is_file()
    assert not (cache / "README.txt").exists()
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM billing_imports").fetchone()[0] == 1
    assert con.execute("SELECT count(DISTINCT resource_name) FROM billing_line_items "
                       "WHERE category = 'ecr_storage'").fetchone()[0] == 4
