"""A stand-in for the AWS Price List Query API. moto 5.2 has no Pricing API, so this small stdlib HTTP server
on 127.0.0.1 answers `GetProducts` (awsJson1_1, target `AWSPriceListService.GetProducts`) in the documented
shape (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html):
`FormatVersion`, `PriceList` (each product a JSON *string*) and `NextToken`, honouring `ServiceCode`,
TERM_MATCH `Filters` on product attributes / `productFamily`, and `MaxResults`. Clients reach it through
`endpoint_url` / `AWS_ENDPOINT_URL_PRICING`, as they would reach AWS.
"""
from __future__ import annotations

import json
import zlib
from typing import Any

from ecrwise.demo.local_http import JsonHandler, LocalServer

from ecrwise.demo.billing_export import REGION_CODES

# item -> (service code, usage type family, product family, unit); how the Price List names them.
PRODUCTS = {
    "ecr_storage_gb_month": ("AmazonECR", "TimedStorage-ByteHrs", "Storage", "GB-Mo"),
    "nat_gateway_hour": ("AmazonEC2", "NatGateway-Hours", "NAT Gateway", "Hrs"),
    "nat_gateway_gb": ("AmazonEC2", "NatGateway-Bytes", "NAT Gateway", "GB"),
    "vpc_interface_endpoint_az_hour": ("AmazonVPC", "VpcEndpoint-Hours", "VpcEndpoint", "Hrs"),
    "vpc_interface_endpoint_gb": ("AmazonVPC", "VpcEndpoint-Bytes", "VpcEndpoint", "GB"),
    "public_ipv4_hour": ("AmazonVPC", "PublicIPv4:InUseAddress", "VPC Public IPv4 Address", "Hrs"),
    "fargate_vcpu_hour": ("AmazonECS", "Fargate-vCPU-Hours:perCPU", "Compute", "hours"),
    "fargate_gb_hour": ("AmazonECS", "Fargate-GB-Hours", "Compute", "GB-Hours"),
}
EFFECTIVE = "2026-11-01T00:00:00Z"


def product(region: str, item: str, usd: float, *, tiers: list[tuple[str, float]] | None = None) -> dict[str, Any]:
    """One product document; `tiers` [(beginRange, usd), …] for tiered prices."""
    service, family, product_family, unit = PRODUCTS[item]
    code = REGION_CODES.get(region, "USE1")
    # EC2's us-east-1 usage types carry no region prefix; the others' do.
    usage_type = family if (service == "AmazonEC2" and region == "us-east-1") else f"{code}-{family}"
    sku = f"{service[:6].upper()}{zlib.crc32(f'{region}/{item}'.encode()) % 10**8:08d}"
    dims = {}
    for n, (begin, price) in enumerate(tiers or [("0", usd)]):
        rate = f"{sku}.JRTCKXETXF.{n:010d}"
        dims[rate] = {"unit": unit, "endRange": "Inf", "beginRange": begin, "appliesTo": [], "rateCode": rate,
                      "description": f"${price} per {unit} ({family})", "pricePerUnit": {"USD": f"{price:.10f}"}}
    return {"product": {"productFamily": product_family, "sku": sku,
                        "attributes": {"regionCode": region, "servicecode": service, "usagetype": usage_type,
                                       "location": region, "operation": family.split("-")[0]}},
            "serviceCode": service,
            "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": dims, "sku": sku,
                                                          "effectiveDate": EFFECTIVE, "offerTermCode": "JRTCKXETXF",
                                                          "termAttributes": {}}}},
            "version": "20261101000000", "publicationDate": EFFECTIVE}


def _matches(p: dict[str, Any], service: str, filters: list[dict[str, str]]) -> bool:
    if p["serviceCode"] != service:
        return False
    attrs = {**p["product"]["attributes"], "productFamily": p["product"]["productFamily"]}
    return all(attrs.get(f["Field"]) == f["Value"] for f in filters if f.get("Type") == "TERM_MATCH")


class PricingStub(LocalServer):
    def __init__(self, products: list[dict[str, Any]], page_size: int = 2) -> None:
        self.products = products
        self.page_size = page_size
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(JsonHandler):
            content_type = "application/x-amz-json-1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                if target != "AWSPriceListService.GetProducts":
                    return self._send(400, {"__type": "InvalidParameterException", "Message": f"unknown {target}"})
                stub.requests.append(body)
                hits = [p for p in stub.products if _matches(p, body.get("ServiceCode"), body.get("Filters", []))]
                start = int(body.get("NextToken") or 0)
                size = min(int(body.get("MaxResults") or stub.page_size), stub.page_size)
                doc: dict[str, Any] = {"FormatVersion": "aws_v1",
                                       "PriceList": [json.dumps(p) for p in hits[start:start + size]]}
                if start + size < len(hits):
                    doc["NextToken"] = str(start + size)
                self._send(200, doc)


        super().__init__(Handler)

