import json

import pytest

from ecrwise.errors import UserError
from ecrwise.pricing.book import load_price_book

REQUIRED_REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"]
REQUIRED_ITEMS = ["ecr_storage_gb_month", "nat_gateway_hour", "nat_gateway_gb", "vpc_interface_endpoint_az_hour",
                  "vpc_interface_endpoint_gb", "public_ipv4_hour", "fargate_vcpu_hour", "fargate_gb_hour"]


@pytest.mark.parametrize("region", REQUIRED_REGIONS)
@pytest.mark.parametrize("item", REQUIRED_ITEMS)
def test_book_covers_required_regions_and_items_without_fallback(region, item):
    p = load_price_book().price(region, item)
    assert p.usd > 0 and not p.fallback
    assert p.source.startswith("https://") and p.as_of


def test_known_list_prices():
    book = load_price_book()
    assert book.price("us-east-1", "ecr_storage_gb_month").usd == 0.10
    assert book.price("us-east-1", "nat_gateway_gb").usd == 0.045
    assert book.price("eu-central-1", "nat_gateway_hour").usd == 0.052
    assert book.hours_per_month == 730


def test_unknown_region_falls_back_and_says_so():
    p = load_price_book().price("sa-east-1", "ecr_storage_gb_month")
    assert p.fallback and p.region == "sa-east-1" and p.usd == 0.10


def test_price_file_overrides_one_entry(tmp_path):
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"as_of": "2026-11-01", "source": "our EDP contract",
                             "regions": {"us-east-1": {"nat_gateway_gb": 0.03}}}))
    book = load_price_book(f)
    p = book.price("us-east-1", "nat_gateway_gb")
    assert (p.usd, p.source, p.as_of) == (0.03, "our EDP contract", "2026-11-01")
    assert book.price("us-east-1", "nat_gateway_hour").usd == 0.045  # untouched
    assert book.price("eu-west-1", "nat_gateway_gb").usd == 0.048


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON: line 1"),
    (json.dumps({"regions": {"us-east-1": {"no_such_item": 1}}}), "regions.us-east-1.no_such_item: unknown price item"),
    (json.dumps({"regions": {"us-east-1": {"nat_gateway_gb": "cheap"}}}), "regions.us-east-1.nat_gateway_gb"),
    (json.dumps({"regions": {"us-east-1": {"nat_gateway_gb": -1}}}), "cannot be negative"),
    (json.dumps({"unknown_key": 1}), "unknown_key"),
])
def test_bad_price_file_names_file_and_path(tmp_path, content, expected):
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(UserError) as e:
        load_price_book(f)
    assert str(f) in str(e.value) and expected in str(e.value)


def test_missing_price_file(tmp_path):
    with pytest.raises(UserError, match="cannot read price file"):
        load_price_book(tmp_path / "nope.json")
