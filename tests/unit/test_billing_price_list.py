"""Price List parsing into a price file: the figures it should change, and no others."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ecrwise.demo.pricing_stub import product
from ecrwise.errors import UserError
from ecrwise.pricing.book import load_price_book
from ecrwise.pricing.price_list import SOURCE, latest_price_file, parse_price_list, price_file


def strings(*docs: dict) -> list[str]:
    return [json.dumps(d) for d in docs]


def test_price_file_changes_exactly_what_was_fetched(tmp_path: Path) -> None:
    fetched = {("us-east-1", "nat_gateway_gb"): 0.05, ("us-east-1", "ecr_storage_gb_month"): 0.11,
               ("eu-central-1", "nat_gateway_hour"): 0.06, ("eu-central-1", "public_ipv4_hour"): 0.0055}
    docs = [product(r, i, usd) for (r, i), usd in fetched.items()]
    docs.append(product("eu-central-1", "vpc_interface_endpoint_gb", 0.0,
                        tiers=[("0", 0.01), ("1048576", 0.006), ("5242880", 0.004)]))
    parsed = parse_price_list(strings(*docs))
    assert parsed.points[("eu-central-1", "vpc_interface_endpoint_gb")].usd == 0.01  # first tier
    path = tmp_path / "prices-2026-12-02.json"
    path.write_text(json.dumps(price_file(parsed, date(2026, 12, 2))))
    shipped, updated = load_price_book(), load_price_book(path)
    expect = {**fetched, ("eu-central-1", "vpc_interface_endpoint_gb"): 0.01}
    changed = []
    for region in shipped.regions:
        for item in shipped.items:
            old, new = shipped.price(region, item), updated.price(region, item)
            if (region, item) in expect:
                assert new.usd == expect[(region, item)]
                assert new.source == SOURCE and new.as_of == "2026-12-02"
                if new.usd != old.usd:
                    changed.append((region, item))
            else:
                assert new == old, (region, item)
    # 0.01 was already the book's eu-central-1 endpoint GB price: re-stated, not changed.
    assert sorted(changed) == sorted(fetched)


def test_region_filter_and_other_products_ignored() -> None:
    other = product("us-east-1", "nat_gateway_hour", 0.045)
    other["product"]["attributes"]["usagetype"] = "NatGateway-Something"
    parsed = parse_price_list(strings(product("us-east-1", "nat_gateway_hour", 0.045),
                                      product("eu-west-1", "nat_gateway_hour", 0.048), other),
                              regions=["eu-west-1"])
    assert list(parsed.points) == [("eu-west-1", "nat_gateway_hour")]
    assert parsed.points[("eu-west-1", "nat_gateway_hour")].usage_type == "EU-NatGateway-Hours"


def test_bad_product_names_the_path() -> None:
    with pytest.raises(UserError, match=r"PriceList\[0\]: not a JSON document"):
        parse_price_list(["{nope"])
    doc = product("us-east-1", "nat_gateway_hour", 0.045)
    del doc["product"]["attributes"]
    with pytest.raises(UserError, match=r"PriceList\[1\]\.product\.attributes: Field required"):
        parse_price_list(strings(product("us-east-1", "nat_gateway_gb", 0.045), doc))


def test_latest_price_file(tmp_path: Path) -> None:
    assert latest_price_file(tmp_path) is None and latest_price_file(tmp_path / "nope") is None
    for name in ("prices-2026-11-30.json", "prices-2026-12-02.json", "prices-2026-12-01.json", "prices-x.json",
                 "other-2027-01-01.json"):
        (tmp_path / name).write_text("{}")
    assert latest_price_file(tmp_path) == tmp_path / "prices-2026-12-02.json"
