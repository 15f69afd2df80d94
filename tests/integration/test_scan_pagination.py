"""Pagination everywhere AWS paginates: a scan through the fault proxy cutting every paginated answer into
pages of one item must give exactly the snapshot of the unpaginated scan, table by table and row by row."""
from __future__ import annotations

import botocore.session
import pytest

from ecrwise.demo.estate import build_estate
from ecrwise.demo.fault_proxy import PAGINATED, FaultProxy
from ecrwise.store import Store

pytestmark = pytest.mark.standin

# SigV4 signing name → botocore's service name, where they differ.
BOTOCORE_NAME = {"monitoring": "cloudwatch"}
# Paginated operations the scan calls whose every answer holds one item, so pages of one cannot cut it.
ONE_ITEM_ANSWERS = {("ec2", "DescribeLaunchTemplateVersions")}  # asked for exactly one version
# The demo estate configures no pull-through cache rule or creation template: one empty page each.
ONE_ITEM_ANSWERS |= {("ecr", "DescribePullThroughCacheRules"), ("ecr", "DescribeRepositoryCreationTemplates")}
# Nor any SageMaker model or endpoint (the in-use integration test makes its own).
ONE_ITEM_ANSWERS |= {("sagemaker", "ListModels"), ("sagemaker", "ListEndpoints")}


def snapshot_rows(store) -> dict[str, list[tuple]]:
    """Every table with a snapshot_id column: its rows without the snapshot id, sorted."""
    with Store(store, read_only=True) as st:
        (sid,) = [s.id for s in st.snapshots()]
        tables = [t for (t,) in st.query("SELECT table_name FROM information_schema.columns "
                                         "WHERE column_name = 'snapshot_id' ORDER BY table_name")]
        return {t: sorted(map(repr, st.query(f'SELECT * EXCLUDE (snapshot_id) FROM "{t}" WHERE snapshot_id = ?',
                                             [sid]))) for t in tables}


def paginates(service: str, op: str) -> bool:
    """Whether botocore has a paginator for the operation (so AWS may split its answer)."""
    try:
        botocore.session.get_session().get_paginator_model(BOTOCORE_NAME.get(service, service)).get_paginator(op)
    except Exception:  # noqa: BLE001 — no paginator model for the service, or none for the operation
        return False
    return True


def test_every_proxy_pagination_entry_matches_botocore():
    session = botocore.session.get_session()
    for (service, op), spec in PAGINATED.items():
        name = BOTOCORE_NAME.get(service, service)
        config = session.get_paginator_model(name).get_paginator(op)
        assert config["input_token"] == spec.in_token and config["output_token"] == spec.out_token, op
        assert config.get("limit_key") == spec.limit, op
        results = config["result_key"] if isinstance(config["result_key"], list) else [config["result_key"]]
        assert spec.result == results[0], op
        if service == "ec2":
            member = session.get_service_model(name).operation_model(op).output_shape.members[spec.result]
            assert member.serialization["name"] == spec.xml_set, op


def test_scan_through_pages_of_one_equals_the_unpaginated_scan(aws, cli, tmp_path, monkeypatch):
    estate = build_estate(aws)
    regions = [a for r in estate.regions for a in ("--region", r)]

    def scan(url: str, store) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        res = cli("scan", *regions, "--store", store, "--format", "json")
        assert res.code == 0, res.err
        assert res.json()["snapshot"]["failures"] == []

    scan(aws, tmp_path / "plain.duckdb")
    with FaultProxy(aws, page_size=1) as proxy:
        scan(proxy.url, tmp_path / "paged.duckdb")
        stats = proxy.stats()
    plain, paged = snapshot_rows(tmp_path / "plain.duckdb"), snapshot_rows(tmp_path / "paged.duckdb")
    assert set(plain) == set(paged) and len(plain) >= 20
    for table in plain:
        assert paged[table] == plain[table], table
    print({t: len(rows) for t, rows in plain.items()})
    assert sum(len(rows) for rows in plain.values()) > 1000

    # Every paginated operation the scan called was really cut into pages (and is in the proxy's table).
    used = {op for op in stats["operations"] if op in PAGINATED}
    assert {op for op in stats["operations"] if paginates(*op)} == used
    assert {("ecs", "ListTaskDefinitions"), ("ecr", "DescribeImages"), ("ec2", "DescribeVpcs"),
            ("monitoring", "GetMetricData")} <= used
    for op in used - ONE_ITEM_ANSWERS:
        assert stats["pages"].get(op, 0) > 0, (op, stats["pages"])
    print("pages served with a token:", sum(stats["pages"].values()), "over", len(used), "operations:",
          sorted(stats["pages"].items()))
