from datetime import date, datetime, timezone

import pytest

from ecrwise.errors import UserError
from ecrwise.records.ecr import Image, PullMetric, Repository
from ecrwise.records.scan import ScanFailure
from ecrwise.store import Store

T0 = datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc)


def _repo(name, policy=None):
    return Repository("111111111111", "us-east-1", name, f"arn:aws:ecr:us-east-1:111111111111:repository/{name}",
                      f"111111111111.dkr.ecr.us-east-1.amazonaws.com/{name}", T0, "MUTABLE", False, "AES256",
                      {"team": "a"}, policy)


def _image(repo, digest, tags):
    return Image("111111111111", "us-east-1", repo, digest, tags, T0, None, 10, "m", None, 123,
                 children=["sha256:c"] if not tags else [])


def test_round_trip_preserves_every_field(tmp_path):
    path = tmp_path / "s.duckdb"
    recs = {Repository: [_repo("a", '{"rules":[]}'), _repo("b")],
            Image: [_image("a", "sha256:1", ["v1", "latest"]), _image("a", "sha256:2", [])],
            PullMetric: [PullMetric("111111111111", "us-east-1", "a", date(2026, 5, 1), 42)]}
    failures = [ScanFailure("111111111111", "eu-west-1", "ecr", "AccessDenied", "denied")]
    with Store(path) as st:
        snap = st.save_scan(T0, ["111111111111"], ["us-east-1", "eu-west-1"], ["ecr"], recs, failures, "t")
    with Store(path, read_only=True) as st:
        again = st.snapshot()
        assert again.id == snap.id and again.failures == failures and again.regions == ["us-east-1", "eu-west-1"]
        assert again.taken_at == T0
        for cls, rows in recs.items():
            assert sorted(st.load(again.id, cls), key=repr) == sorted(rows, key=repr)


def test_snapshots_accumulate_and_latest_is_default(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        a = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Repository: [_repo("a")]}, [], "t")
        b = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Repository: [_repo("a"), _repo("b")]}, [], "t")
        assert st.snapshot().id == b.id > a.id
        assert len(st.load(a.id, Repository)) == 1 and len(st.load(b.id, Repository)) == 2


def test_records_a_scan_did_not_collect_load_empty(tmp_path):
    with Store(tmp_path / "s.duckdb") as st:
        snap = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Repository: [_repo("a")]}, [], "t")
        assert st.load(snap.id, PullMetric) == []


def test_unknown_snapshot_and_missing_store_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no store here yet"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    with Store(tmp_path / "s.duckdb") as st:
        with pytest.raises(UserError, match="no snapshot yet"):
            st.snapshot()
        st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {}, [], "t")
        with pytest.raises(UserError, match="--snapshot 99: no such snapshot"):
            st.snapshot(99)


def test_unreadable_store_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("this is not a duckdb file")
    with pytest.raises(UserError, match=f"{bad}: not a DuckDB file"):
        Store(bad, read_only=True)


def test_large_insert_is_columnar(tmp_path):
    rows = [_image("a", f"sha256:{i}", [f"v{i}"]) for i in range(20000)]
    with Store(tmp_path / "s.duckdb") as st:
        snap = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Image: rows}, [], "t")
        assert st.query("SELECT count(*) FROM images WHERE snapshot_id = ?", [snap.id])[0][0] == 20000


def test_a_record_class_that_gained_fields_reads_and_writes_an_older_store(tmp_path):
    """A store written before a record class gained fields (the column does not exist yet): read-only, the old
    rows read with the new fields' defaults; written to, the columns are added and new rows keep their values."""
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Before:
        __table__ = "evolving"
        name: str
        size: int

    @dataclass(frozen=True)
    class After:
        __table__ = "evolving"
        name: str
        size: int
        labels: list[str] = field(default_factory=list)
        flag: bool = False
        note: str | None = None

    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        old = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Before: [Before("a", 1)]}, [], "t")
    with Store(path, read_only=True) as st:
        assert st.load(old.id, After) == [After("a", 1)]
    with Store(path) as st:
        new = st.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {After: [After("b", 2, ["x"], True, "n")]}, [], "t")
    with Store(path, read_only=True) as st:
        assert st.load(old.id, After) == [After("a", 1, [], False, None)]
        assert st.load(new.id, After) == [After("b", 2, ["x"], True, "n")]
        assert st.load(new.id, Before) == [Before("b", 2)]
