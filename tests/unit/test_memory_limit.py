"""--memory-limit / $ECRWISE_MEMORY_LIMIT: parsed strictly, applied to every store connection."""
from __future__ import annotations

import pytest

from ecrwise.errors import UserError
from ecrwise.records.ecr import Repository
from ecrwise.store import Store
from ecrwise.store.files import MEMORY_ENV, _physical_memory, parse_memory_limit


@pytest.mark.parametrize("text,want", [("4GB", 4 * 10**9), ("512MiB", 512 * 2**20), ("1.5 GiB", int(1.5 * 2**30))])
def test_sizes(text, want):
    assert parse_memory_limit(text) == want


def test_percent_of_physical_memory():
    assert parse_memory_limit("50%") == int(_physical_memory() * 0.5)


@pytest.mark.parametrize("text", ["lots", "0GB", "-1GB", "4 parsecs", ""])
def test_bad_sizes_are_refused(text):
    with pytest.raises(UserError, match="--memory-limit"):
        parse_memory_limit(text)


def test_every_connection_gets_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "300MiB")
    repo = Repository("1", "us-east-1", "a", "arn", "uri", None, "MUTABLE", False, "AES256")
    with Store(tmp_path / "s.duckdb") as st:
        st.save_scan(__import__("datetime").datetime(2026, 1, 1), ["1"], ["us-east-1"], ["ecr"], {Repository: [repo]},
                     [], "t")
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        [(limit,)] = st.query("SELECT current_setting('memory_limit')")
    assert limit == "300.0 MiB"


def test_cli_refuses_a_bad_limit(cli, tmp_path):
    res = cli("--memory-limit", "lots", "repos", "--store", tmp_path / "none.duckdb")
    assert res.code == 2 and "--memory-limit lots" in res.err


def test_no_connection_draws_duckdbs_progress_bar(tmp_path):
    """DuckDB draws a progress bar on stdout for a query over two seconds; in a `--format json` run on a large
    store it landed in the middle of the JSON. Every store and lake connection turns it off."""
    from ecrwise.store.lake import lake_connection

    with Store(tmp_path / "s.duckdb") as st:
        assert st.query("SELECT current_setting('enable_progress_bar')") == [(False,)]
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        assert st.query("SELECT current_setting('enable_progress_bar')") == [(False,)]
    lake = tmp_path / "lake"
    lake.mkdir()
    assert lake_connection(lake).execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
