"""`pricing:GetProducts` through a stub: moto 5.2 has no Pricing API, so `ecrwise.demo.pricing_stub` serves the
documented response shape (PriceList as JSON strings, NextToken) on 127.0.0.1; the real botocore client and
its paginator parse it."""
from __future__ import annotations

import boto3
import pytest

from ecrwise.aws.pricing_api import QUERIES, fetch_price_lists
from ecrwise.aws.session import Account
from ecrwise.demo.pricing_stub import PricingStub, product
from ecrwise.pricing.price_list import parse_price_list


@pytest.fixture
def stub_env(monkeypatch: pytest.MonkeyPatch):
    def start(products):
        stub = PricingStub(products, page_size=1)  # pages of one: the paginator must follow NextToken
        stub.__enter__()
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", stub.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        started.append(stub)
        return stub

    started: list[PricingStub] = []
    yield start
    for s in started:
        s.__exit__(None, None, None)


def test_fetch_through_the_paginator(stub_env) -> None:
    stub = stub_env([product("eu-central-1", i, usd) for i, usd in [
        ("ecr_storage_gb_month", 0.1), ("nat_gateway_hour", 0.06), ("nat_gateway_gb", 0.06),
        ("vpc_interface_endpoint_az_hour", 0.012), ("public_ipv4_hour", 0.005), ("fargate_vcpu_hour", 0.05)]]
        + [product("us-east-1", "nat_gateway_hour", 0.045)])
    lists = fetch_price_lists(Account("123456789012", boto3.Session()), ["eu-central-1"])
    assert set(lists) == {f"{svc}/eu-central-1" for svc, _ in QUERIES}
    assert len(lists["AmazonEC2/eu-central-1"]) == 2  # two pages of one; us-east-1's NAT filtered out
    parsed = parse_price_list([s for v in lists.values() for s in v])
    assert {i for _, i in parsed.points} == {"ecr_storage_gb_month", "nat_gateway_hour", "nat_gateway_gb",
                                             "vpc_interface_endpoint_az_hour", "public_ipv4_hour",
                                             "fargate_vcpu_hour"}
    assert parsed.points[("eu-central-1", "nat_gateway_hour")].usd == 0.06
    nat_query = next(r for r in stub.requests if r["ServiceCode"] == "AmazonEC2")
    assert {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "NAT Gateway"} in nat_query["Filters"]
    assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-central-1"} in nat_query["Filters"]


def test_prices_update_writes_a_loadable_price_file(aws: str, stub_env, tmp_path, capsys) -> None:
    """`ecrwise prices update` through the mounted CLI (in process), end to end: STS from the moto stand-in,
    GetProducts from the stub (AWS_ENDPOINT_URL_PRICING wins over AWS_ENDPOINT_URL for that service only)."""
    import csv
    import io
    import json

    from ecrwise.cli.main import main
    from ecrwise.pricing.book import load_price_book

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as e:
            main(["prices", "update", "--region", "eu-west-1", *args])
        out = capsys.readouterr()
        assert e.value.code == 0, out.err
        return out.out

    stub_env([product("eu-west-1", "nat_gateway_gb", 0.05), product("eu-west-1", "fargate_gb_hour", 0.0049)])
    out = tmp_path / "prices.json"
    doc = json.loads(run("-o", str(out), "--format", "json"))
    assert doc["kind"] == "prices-update" and doc["totals"]["prices"] == 2
    assert {i["item"]: i["effective_date"] for i in doc["items"]} == {"nat_gateway_gb": "2026-11-01T00:00:00Z",
                                                                      "fargate_gb_hour": "2026-11-01T00:00:00Z"}
    book = load_price_book(out)
    assert book.price("eu-west-1", "nat_gateway_gb").usd == 0.05
    assert book.price("eu-west-1", "nat_gateway_hour") == load_price_book().price("eu-west-1", "nat_gateway_hour")
    table = run("-o", str(tmp_path / "t.json"))
    assert "Wrote" in table and "nat_gateway_gb" in table and "0.0049" in table
    rows = list(csv.DictReader(io.StringIO(run("-o", str(tmp_path / "c.json"), "--format", "csv"))))
    assert {r["item"]: float(r["usd"]) for r in rows} == {"nat_gateway_gb": 0.05, "fargate_gb_hour": 0.0049}


def test_prices_update_checks_the_format_before_any_request(stub_env, tmp_path, capsys) -> None:
    from ecrwise.cli.main import main

    stub = stub_env([product("eu-west-1", "nat_gateway_gb", 0.05)])
    with pytest.raises(SystemExit) as e:
        main(["prices", "update", "-o", str(tmp_path / "p.json"), "--format", "sarif"])
    assert e.value.code == 2 and "sarif" in capsys.readouterr().err
    assert stub.requests == [] and not (tmp_path / "p.json").exists()


def test_the_newest_dated_price_file_is_used_by_default(estate_store, aws: str, stub_env, cli) -> None:
    """After `prices update` (which writes prices-YYYY-MM-DD.json next to the store), `repos` prices from that
    file without --price-file: its storage figures change and name the Price List API and the file's date; an
    explicit --price-file still wins; the table output says once on stderr which file it used."""
    from datetime import date

    from ecrwise.pricing.price_list import SOURCE

    before = cli("repos", "--store", estate_store, "--format", "json")
    assert before.code == 0, before.err
    key = lambda r: (r["account"], r["region"], r["repository"])  # noqa: E731
    rows0 = {key(r): r for r in before.json()["items"]}
    region = next(iter(rows0.values()))["region"]
    old_usd = next(iter(rows0.values()))["arithmetic"]["price"]["usd"]
    stub_env([product(region, "ecr_storage_gb_month", old_usd * 2)])
    up = cli("prices", "update", "--region", region, "--store", estate_store, "--format", "json")
    assert up.code == 0, up.err
    written = estate_store.parent / f"prices-{date.today().isoformat()}.json"
    assert written.is_file()

    after = cli("repos", "--store", estate_store, "--format", "json")
    assert after.code == 0 and after.err == "", after.err  # JSON output: nothing said on stderr
    doc = after.json()
    assert doc["snapshot"]["prices"]["price_files"] == [{"path": str(written), "source": SOURCE,
                                                         "as_of": date.today().isoformat()}]
    changed = 0
    for name, row in {key(r): r for r in doc["items"]}.items():
        price = row["arithmetic"]["price"]
        if row["region"] == region:
            assert price["source"] == SOURCE and price["as_of"] == date.today().isoformat()
            assert price["usd"] == pytest.approx(2 * old_usd)
            assert row["monthly_cost_usd"] == pytest.approx(row["stored_bytes"] / 2**30 * 2 * old_usd, abs=0.005)
            changed += row["monthly_cost_usd"] > rows0[name]["monthly_cost_usd"]
        else:  # a region the file does not price keeps the shipped book's figure
            assert row["monthly_cost_usd"] == rows0[name]["monthly_cost_usd"]
    assert changed

    table = cli("repos", "--store", estate_store)
    assert table.code == 0 and table.err.count(f"prices: {written} (as of {date.today().isoformat()})") == 1

    shipped = estate_store.parent / "shipped.json"
    shipped.write_text('{"regions": {}}')
    explicit = cli("repos", "--store", estate_store, "--price-file", shipped, "--format", "json")
    assert {key(r): r["monthly_cost_usd"] for r in explicit.json()["items"]} == \
        {n: r["monthly_cost_usd"] for n, r in rows0.items()}
