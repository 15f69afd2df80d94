"""The scan → store → repos path through the stand-in over HTTP, checked against what the estate built."""
from __future__ import annotations

import csv
import io
import json

import pytest

GIB = 2**30


def expected_rows(estate):
    rows = {}
    for repo in estate.repositories:
        layers = {}
        for img in repo.images:
            for digest, size in img.layers:
                layers[digest] = size
        stored = sum(layers.values())
        rows[(repo.region, repo.name)] = {
            "images": len(repo.images),
            "tagged_images": sum(1 for i in repo.images if i.tags),
            "untagged_images": sum(1 for i in repo.images if not i.tags),
            "stored_bytes": stored,
            "naive_bytes": sum(size for i in repo.images for _, size in i.layers),
            "monthly_cost_usd": round(stored / GIB * 0.10, 2),
            "pulls_30d": sum(repo.daily_pulls),
            "lifecycle_policy": repo.policy is not None,
            "last_pushed_at": max(i.pushed_at for i in repo.images).isoformat().replace("+00:00", "Z"),
        }
    return rows


def test_repos_json_is_exact_on_the_estate(scanned_estate, cli):
    res = cli("repos", "--store", scanned_estate.store, "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["kind"] == "repos" and doc["ecrwise"] and doc["warnings"] == []
    assert doc["snapshot"]["id"] == scanned_estate.snapshot_id
    expected = expected_rows(scanned_estate.estate)
    got = {(i["region"], i["repository"]): i for i in doc["items"]}
    assert set(got) == set(expected)
    for key, exp in expected.items():
        for field, value in exp.items():
            assert got[key][field] == value, (key, field)
        # The arithmetic behind the dollar figure is there to check.
        arith = got[key]["arithmetic"]
        assert arith["bytes"] == exp["stored_bytes"] and arith["price_usd_per_gb_month"] == 0.10
    # Shared base layers make the naive per-image sum strictly larger on this estate.
    t = doc["totals"]
    assert t["repositories"] == len(expected)
    assert t["images"] == sum(e["images"] for e in expected.values())
    assert t["stored_bytes"] == sum(e["stored_bytes"] for e in expected.values())
    assert t["naive_bytes"] == sum(e["naive_bytes"] for e in expected.values()) > t["stored_bytes"]
    costs = sorted(e["stored_bytes"] / GIB * 0.10 for e in expected.values())
    assert t["monthly_cost_usd"] == round(sum(costs), 2)
    mid = len(costs) // 2
    median = costs[mid] if len(costs) % 2 else (costs[mid - 1] + costs[mid]) / 2
    assert t["median_monthly_cost_usd"] == round(median, 2)
    assert t["repositories_above_median"] == sum(1 for c in costs if c > median)


def test_multi_arch_index_and_children_are_collected(scanned_estate, cli):
    doc = cli("repos", "--store", scanned_estate.store, "--format", "json").json()
    multi = [i for i in doc["items"] if i["repository"] == "platform/base-images"]
    assert len(multi) == 2
    for item in multi:
        assert item["images"] == 9 and item["tagged_images"] == 3 and item["untagged_images"] == 6


def test_sort_top_and_csv(scanned_estate, cli):
    doc = cli("repos", "--store", scanned_estate.store, "--format", "json", "--sort", "size", "--top", "5").json()
    sizes = [i["stored_bytes"] for i in doc["items"]]
    assert len(sizes) == 5 and sizes == sorted(sizes, reverse=True)
    res = cli("repos", "--store", scanned_estate.store, "--format", "csv", "--sort", "name")
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert rows[0].keys() >= {"account", "region", "repository", "stored_bytes", "naive_bytes", "monthly_cost_usd"}
    names = [(r["repository"], r["region"]) for r in rows]
    assert names == sorted(names)


def test_playbook_csv_keeps_the_spreadsheet_columns(scanned_estate, cli):
    res = cli("repos", "--store", scanned_estate.store, "--playbook")
    lines = res.out.splitlines()
    assert lines[0] == "Repositories,Size,Expected Cost"
    expected = expected_rows(scanned_estate.estate)
    first = lines[1].split(",")
    top = max(expected.items(), key=lambda kv: kv[1]["stored_bytes"])
    assert first[0] == top[0][1] and first[1] == f"{top[1]['stored_bytes'] // 2**20} MB"


def test_table_output_mentions_totals(scanned_estate, cli):
    res = cli("repos", "--store", scanned_estate.store)
    assert res.code == 0 and "total" in res.out and "median" in res.out


def test_lifecycle_policy_text_is_stored_verbatim(scanned_estate):
    from ecrwise.records.ecr import Repository
    from ecrwise.store import Store

    with Store(scanned_estate.store, read_only=True) as st:
        repos = {(r.region, r.name): r for r in st.load(scanned_estate.snapshot_id, Repository)}
    for repo in scanned_estate.estate.repositories:
        stored = repos[(repo.region, repo.name)]
        if repo.policy is None:
            assert stored.lifecycle_policy is None
        else:
            assert json.loads(stored.lifecycle_policy) == repo.policy
        assert stored.tags == repo.tags


@pytest.mark.parametrize("args, message", [
    (["repos", "--snapshot", "999"], "--snapshot 999: no such snapshot"),
    (["repos", "--sort", "weight"], "--sort weight"),
])
def test_bad_input_exits_2_with_a_message(scanned_estate, cli, args, message):
    res = cli(*args, "--store", scanned_estate.store)
    assert res.code == 2 and message in res.err and "Traceback" not in res.err


def test_missing_store_exits_2(cli, tmp_path):
    res = cli("repos", "--store", tmp_path / "none.duckdb")
    assert res.code == 2 and "no store here yet" in res.err


def test_scan_unknown_region_exits_2(aws, cli, tmp_path):
    res = cli("scan", "--region", "us-nowhere-9", "--store", tmp_path / "s.duckdb")
    assert res.code == 2 and "--region us-nowhere-9: unknown AWS region" in res.err


def test_scan_without_credentials_exits_3(cli, tmp_path, monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    res = cli("scan", "--store", tmp_path / "s.duckdb")
    assert res.code == 3 and "no AWS credentials found" in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_scan_empty_account_makes_an_empty_snapshot(aws, cli, tmp_path):
    res = cli("scan", "--region", "us-east-1", "--store", tmp_path / "s.duckdb", "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["totals"]["repositories"] == 0 and doc["snapshot"]["failures"] == []
    res = cli("repos", "--store", tmp_path / "s.duckdb", "--format", "json")
    assert res.json()["items"] == [] and res.json()["totals"]["monthly_cost_usd"] == 0
