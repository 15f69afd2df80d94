"""--memory-limit / $ECRWISE_MEMORY_LIMIT: parsed strictly, applied to every store connection."""
from __future__ import annotations

import pytest

from ecrwise.errors import UserError
from ecrwise.records.ecr import Repository
from ecrwise.store import Store
from ecrwise.store.files import MEMORY_ENV, _physical_memory, memory_limit_bytes, parse_memory_limit


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


def test_the_default_is_half_of_physical_memory_at_most_512_mib(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert memory_limit_bytes() == min(int(_physical_memory() * 0.5), 512 * 2**20)


def test_duckdb_running_out_of_memory_is_the_out_of_memory_error(cli, tmp_path, monkeypatch):
    """DuckDB past --memory-limit in a query it cannot spill (at 1,000,000 images a hash aggregate of lists did):
    a MemoryError naming DuckDB, which the CLI prints as one line, exit 70, not as an internal error."""
    import duckdb

    import ecrwise.cli.lifecycle as lc

    with Store(tmp_path / "s.duckdb") as st:
        def exhausted() -> None:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB\nmore")

        with pytest.raises(MemoryError) as raised:
            st._guarded(exhausted)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def oom(*a, **k):
        raise raised.value

    monkeypatch.setattr(lc, "get_template", oom)
    res = cli("lifecycle", "template", "x")
    assert res.code == 70
    (line,) = res.err.strip().splitlines()
    assert line.startswith("ecrwise: error: out of memory (DuckDB: Out of Memory Error: could not allocate block "
                           "of size 256.0 KiB): ") and "--memory-limit" in line


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
