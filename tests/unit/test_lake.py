"""The fact queries over the exported Parquet lake equal those over the store, row for row; the transpiled
queries bind integers only and name Athena's tables as athena.sql does."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ecrwise.cli.snapshot_data import layer_deltas_of, repository_facts_of  # noqa: F401 (the store's readers)
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.report.export import export_parquet
from ecrwise.store import Store
from ecrwise.store.lake import lake_connection, lake_facts, render_query

ROOT = Path(__file__).resolve().parents[2]
CLASSES = [Repository, Image, ImageLayer, PullMetric]


def _builder():
    spec = importlib.util.spec_from_file_location("synthetic_estate", ROOT / "bench" / "synthetic_estate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build


def test_lake_facts_equal_store_facts(tmp_path):
    sids = _builder()(tmp_path / "s.duckdb", repos=7, images=70, snapshots=2, memory_limit="256MB")
    with Store(tmp_path / "s.duckdb") as st:
        export_parquet(st.con, tmp_path / "lake")
        want = {sid: st.facts("repository_facts", {"sid": sid}, CLASSES) for sid in sids}
        want_d = st.facts("layer_deltas", {"a": sids[0], "b": sids[1]}, [ImageLayer])
    con = lake_connection(tmp_path / "lake")
    for sid in sids:
        got = lake_facts(con, "repository_facts", {"sid": sid}, CLASSES)
        assert len(got) == 7 and got == want[sid]  # same rows in the same (stored) order
    assert lake_facts(con, "layer_deltas", {"a": sids[0], "b": sids[1]}, [ImageLayer]) == want_d
    # The literal-substituted DuckDB text gives the same rows too.
    assert con.execute(render_query("repository_facts", "duckdb", {"sid": sids[0]})).fetchall() == want[sids[0]]
    for dialect in ("duckdb", "athena", "spark"):
        for name in ("repository_facts", "layer_deltas"):
            text = (tmp_path / "lake" / "queries" / dialect / f"{name}.sql").read_text()
            assert text.startswith(f"-- ecrwise fact query `{name}` for {dialect}")


def test_render_query_dialects():
    athena = render_query("repository_facts", "athena", {"sid": 3})
    assert "ecrwise.repositories" in athena and "ecrwise.image_layers" in athena and "ecrwise.r " not in athena
    assert "CARDINALITY(tags)" in athena and "LENGTH(tags)" not in athena and "snapshot_id = 3" in athena
    spark = render_query("repository_facts", "spark", {"sid": 3})
    assert "SIZE(tags)" in spark and "ecrwise." not in spark and ":sid" not in spark
    assert ":sid" in render_query("repository_facts", "spark")


@pytest.mark.parametrize("params", [{"sid": "1 OR 1=1"}, {"sid": True}, {"sid": 1.0}, {}, {"sid": 1, "x": 2}])
def test_render_query_takes_integers_only(params):
    with pytest.raises((TypeError, ValueError)):
        render_query("repository_facts", "athena", params)


def test_every_query_is_written_for_every_dialect(tmp_path):
    from ecrwise.store.lake import DIALECTS, write_queries
    from ecrwise.store.queries import query_names

    names = {p.relative_to(tmp_path).as_posix() for p in write_queries(tmp_path)}
    assert names == {f"queries/{d}/{n}.sql" for d in DIALECTS for n in query_names()}
    assert "queries/spark/engine_layer_rows.sql" in names


def test_a_lake_exported_before_a_column_existed_reads_it_as_null(tmp_path):
    """A lake from an older store lacks a newer column (images.manifest_missing): the facts still run over it,
    the column read as its default, and the lake's own exported rowid is not added a second time."""
    import duckdb

    sids = _builder()(tmp_path / "s.duckdb", repos=3, images=30, snapshots=1, memory_limit="256MB")
    with Store(tmp_path / "s.duckdb") as st:
        export_parquet(st.con, tmp_path / "lake")
        want = st.facts("repository_facts", {"sid": sids[0]}, CLASSES)
    for part in (tmp_path / "lake" / "images").rglob("*.parquet"):
        duckdb.execute(f"COPY (SELECT * EXCLUDE (manifest_missing) FROM read_parquet('{part}')) TO "
                       f"'{part}.tmp' (FORMAT parquet)")
        Path(f"{part}.tmp").replace(part)
    con = lake_connection(tmp_path / "lake")
    assert "manifest_missing" not in {r[0] for r in con.execute("DESCRIBE images").fetchall()}
    assert lake_facts(con, "repository_facts", {"sid": sids[0]}, CLASSES) == want
    from ecrwise.store.queries import bind_tables

    columns = [r[0] for r in con.execute("DESCRIBE " + bind_tables(con, "SELECT * FROM images", [Image])).fetchall()]
    assert columns.count("rowid") == 1 and "rowid_1" not in columns and "manifest_missing" in columns
