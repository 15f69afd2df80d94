"""AWS Price List API products → a dated price file in the `--price-file` format. Pure.

`pricing:GetProducts` returns `PriceList`, a list of JSON *strings*, one product each
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html; the product
document: `product.attributes.usagetype/regionCode`, `terms.OnDemand.<offer>.priceDimensions.<rate>` with
`unit`, `beginRange`, `pricePerUnit.USD` and the offer's `effectiveDate`; see "Using the AWS Price List API",
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html).

Products are mapped to price-book items by usage type without its region prefix (as in `ecrwise.billing`).
Tiered prices (VPC endpoint bytes: first 1 PB, then lower) take the first tier with a non-zero price, which is
what the book's items mean. The file written holds only the items found, so loading it over the shipped book
changes exactly those figures; each figure then names the Price List API and the fetch date as its source.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

from ecrwise.pricing.usage_types import usage_family
from ecrwise.errors import UserError

SOURCE = ("AWS Price List API (pricing:GetProducts, "
          "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)")

# (service code, usage type family) -> price-book item
ITEMS: dict[tuple[str, str], str] = {
    ("AmazonECR", "TimedStorage-ByteHrs"): "ecr_storage_gb_month",
    ("AmazonEC2", "NatGateway-Hours"): "nat_gateway_hour",
    ("AmazonEC2", "NatGateway-Bytes"): "nat_gateway_gb",
    ("AmazonVPC", "VpcEndpoint-Hours"): "vpc_interface_endpoint_az_hour",
    ("AmazonVPC", "VpcEndpoint-Bytes"): "vpc_interface_endpoint_gb",
    ("AmazonVPC", "PublicIPv4:InUseAddress"): "public_ipv4_hour",
    ("AmazonECS", "Fargate-vCPU-Hours:perCPU"): "fargate_vcpu_hour",
    ("AmazonECS", "Fargate-GB-Hours"): "fargate_gb_hour",
}


class _Dimension(BaseModel):
    model_config = ConfigDict(extra="allow")
    unit: str
    beginRange: str = "0"
    pricePerUnit: dict[str, str]
    rateCode: str | None = None
    description: str | None = None


class _Offer(BaseModel):
    model_config = ConfigDict(extra="allow")
    effectiveDate: str | None = None
    priceDimensions: dict[str, _Dimension]


class _Product(BaseModel):
    model_config = ConfigDict(extra="allow")
    sku: str | None = None
    productFamily: str | None = None
    attributes: dict[str, str]


class _PriceListItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    product: _Product
    serviceCode: str
    terms: dict[str, dict[str, _Offer]] = {}
    publicationDate: str | None = None


@dataclass(frozen=True)
class PricePoint:
    region: str
    item: str
    usd: float
    unit: str
    usage_type: str
    sku: str | None
    effective_date: str | None
    publication_date: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "item": self.item, "usd": self.usd, "unit": self.unit,
                "usage_type": self.usage_type, "sku": self.sku, "effective_date": self.effective_date,
                "publication_date": self.publication_date}


@dataclass
class ParsedPrices:
    points: dict[tuple[str, str], PricePoint] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    products_seen: int = 0


def _first_priced_tier(offer: _Offer) -> _Dimension | None:
    dims = sorted(offer.priceDimensions.values(), key=lambda d: float(d.beginRange or 0))
    priced = [d for d in dims if float(d.pricePerUnit.get("USD", "0")) > 0]
    return priced[0] if priced else (dims[0] if dims else None)


def parse_price_list(price_list: Iterable[str], *, regions: Iterable[str] | None = None,
                     where: str = "PriceList") -> ParsedPrices:
    """Price points for the book's items from GetProducts' PriceList strings (optionally only some regions)."""
    wanted = set(regions) if regions else None
    out = ParsedPrices()
    for i, raw in enumerate(price_list):
        out.products_seen += 1
        try:
            doc = _PriceListItem.model_validate(json.loads(raw))
        except json.JSONDecodeError as e:
            raise UserError(f"{where}[{i}]: not a JSON document: {e.msg}") from None
        except ValidationError as e:
            err = e.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            raise UserError(f"{where}[{i}].{path}: {err['msg']}") from None
        attrs = doc.product.attributes
        usage_type = attrs.get("usagetype", "")
        region = attrs.get("regionCode")
        item = ITEMS.get((doc.serviceCode, usage_family(usage_type)))
        if item is None or not region or (wanted is not None and region not in wanted):
            continue
        offers = list((doc.terms.get("OnDemand") or {}).values())
        if not offers:
            out.warnings.append(f"{where}[{i}]: {usage_type} in {region} has no OnDemand term")
            continue
        dim = _first_priced_tier(offers[0])
        if dim is None or "USD" not in dim.pricePerUnit:
            out.warnings.append(f"{where}[{i}]: {usage_type} in {region} has no USD price")
            continue
        try:
            usd = float(dim.pricePerUnit["USD"])
        except ValueError:
            raise UserError(f"{where}[{i}].terms.OnDemand: pricePerUnit.USD {dim.pricePerUnit['USD']!r} "
                            "is not a number") from None
        point = PricePoint(region, item, usd, dim.unit, usage_type, doc.product.sku, offers[0].effectiveDate,
                           doc.publicationDate)
        prev = out.points.get((region, item))
        if prev and prev.usd != usd:
            out.warnings.append(f"{region} {item}: two products ({prev.sku}, {point.sku}) priced {prev.usd} and "
                                f"{usd}; kept the first")
            continue
        out.points.setdefault((region, item), point)
    return out


def price_file(parsed: ParsedPrices, fetched: date) -> dict[str, Any]:
    """The `--price-file` document (as_of, source, note, regions → item → USD) for what was found."""
    regions: dict[str, dict[str, float]] = {}
    for (region, item), p in sorted(parsed.points.items()):
        regions.setdefault(region, {})[item] = p.usd
    return {"as_of": fetched.isoformat(), "source": SOURCE,
            "note": f"fetched {fetched.isoformat()} by `ecrwise prices update`; "
                    f"{len(parsed.points)} prices from {parsed.products_seen} products",
            "regions": regions}


def provenance(parsed: ParsedPrices) -> list[dict[str, Any]]:
    """Per item: the product (SKU), usage type, unit and effective date each figure came from."""
    return [p.as_dict() for _, p in sorted(parsed.points.items())]


_DATED = re.compile(r"^prices-(\d{4}-\d{2}-\d{2})\.json$")


def dated_file_name(fetched: date) -> str:
    return f"prices-{fetched.isoformat()}.json"


def latest_price_file(directory: Path) -> Path | None:
    """The newest `prices-YYYY-MM-DD.json` in a directory (what `prices update` writes next to the store), for
    commands to use when no --price-file is given; None when there is none."""
    if not Path(directory).is_dir():
        return None
    dated = [(m.group(1), p) for p in Path(directory).iterdir() if (m := _DATED.match(p.name)) and p.is_file()]
    return max(dated)[1] if dated else None
