"""NAT gateway versus VPC endpoints for image pulls: the arithmetic, line by line.

Pure: prices come from the price book, every line is quantity × unit price = USD. Four set-ups:

(a) `nat`       every pull byte through the NAT gateway: gateway hours, GB processed, the public IPv4 address.
(b) `common-estimate` every pull byte through interface endpoints, one endpoint in K AZs: how the common
                estimate priced PrivateLink ("NAT ≈ $1,800, PrivateLink ≈ $400" for 40 TB in 3 AZs, in the
                article "Optimizing Container Image Pull Efficiency").
(c) `endpoints` the correct set-up: `ecr.api` + `ecr.dkr` interface endpoints in K AZs carrying the ECR API
                and manifest bytes, and the S3 gateway endpoint (free) carrying the layers, which ECR serves
                from S3; plus `logs` with `logs=True`.
(d) `s3-only`   only the free S3 gateway endpoint; the NAT keeps carrying the (tiny) ECR API/manifest bytes.

The manifest-bytes model (`MANIFEST_BYTES_PER_PULL`, also what `analysis.pulls` counts per image per task
start). A pull makes one GetAuthorizationToken call (ecr.api) and, on the registry API (ecr.dkr), fetches the
manifest (two for a multi-arch index) and asks for each blob (config and each layer), which the registry
answers with a redirect (OCI distribution spec, "Pulling a Layer": the blob endpoint "MAY issue a 307
redirect"); ECR stores the layers in S3, so the blobs themselves come from S3 ("Amazon ECR uses Amazon S3 to
store your image layers", https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html). Without
a pull count, pulls are estimated as pull bytes / 256 MiB (a typical compressed service image). Both are
parameters; at any plausible value the interface endpoints carry well under 0.1% of the pull bytes.

GB means GiB (2^30 bytes), as AWS bills.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecrwise.pricing.book import GIB, Price, PriceBook

KIB = 1024
MIB = 1024 * KIB
# ECR API and registry bytes of one image pull: an estimate (ECR reports no such figure), the one figure both
# `network cost` and `pulls` use. 4 KiB for the GetAuthorizationToken exchange (ecr.api) with its TLS handshake;
# 28 KiB on ecr.dkr for the registry's TLS handshake, the manifest (and an index's child manifest) and one
# round trip per blob, each request carrying the registry token and each answer a presigned S3 URL, about 2 KiB
# a blob: ~20 KiB for a ten-layer image, rounded up. A start on an EC2 host that already has the image asks only
# for the manifest, so there it is an upper bound.
API_BYTES_PER_PULL = 4 * KIB
DKR_BYTES_PER_PULL = 28 * KIB
MANIFEST_BYTES_PER_PULL = API_BYTES_PER_PULL + DKR_BYTES_PER_PULL
DEFAULT_IMAGE_BYTES = 256 * MIB  # only to estimate a pull count when none is given

BLOCKS = ("nat", "common-estimate", "endpoints", "s3-only")


@dataclass(frozen=True)
class Line:
    label: str
    quantity: float
    unit: str
    price: Price
    # Did the common estimate count this line? (Shows what its figures leave out.)
    in_common_estimate: bool = False
    note: str = ""

    @property
    def usd(self) -> float:
        return self.quantity * self.price.usd

    @property
    def formula(self) -> str:
        return f"{_num(self.quantity)} {self.unit} × ${self.price.usd:g}/{self.price.unit} = {_usd(self.usd)}"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "quantity": self.quantity, "unit": self.unit,
                "unit_price_usd": self.price.usd, "usd": round(self.usd + 0.0, 2), "formula": self.formula,
                "counted_by_common_estimate": self.in_common_estimate, "note": self.note, "price": self.price.as_dict()}


@dataclass(frozen=True)
class Block:
    key: str
    title: str
    lines: tuple[Line, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_usd(self) -> float:
        return sum(x.usd for x in self.lines)

    @property
    def common_estimate_usd(self) -> float:
        return sum(x.usd for x in self.lines if x.in_common_estimate)

    @property
    def left_out_usd(self) -> float:
        return self.total_usd - self.common_estimate_usd


@dataclass(frozen=True)
class BreakEven:
    key: str
    meaning: str
    gb_per_month: float | None  # None: never (the alternative is cheaper at any volume)
    formula: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "meaning": self.meaning,
                "gb_per_month": None if self.gb_per_month is None else round(self.gb_per_month, 2),
                "formula": self.formula}


@dataclass(frozen=True)
class NetworkCost:
    region: str
    pull_gb_month: float
    azs: int
    nat_gateways: int
    logs: bool
    pulls_per_month: float
    pulls_estimated: bool
    manifest_bytes_per_pull: int
    manifest_gb: float
    layer_gb: float
    hours_per_month: float
    blocks: dict[str, Block]
    break_even: tuple[BreakEven, ...]
    notes: tuple[str, ...] = field(default=())

    def total(self, key: str) -> float:
        return self.blocks[key].total_usd

    @property
    def savings(self) -> dict[str, float]:
        """Monthly savings of the correct set-up (c) against the NAT path (a)."""
        nat = self.blocks["nat"]
        data = sum(x.usd for x in nat.lines if x.unit == "GB")
        return {
            # The NAT stays (other traffic needs it): only its data processing of pull bytes goes away.
            "endpoints_vs_nat_data": data - self.total("endpoints"),
            "s3_only_vs_nat_data": data - self.total("s3-only"),
            # Nothing else needs the NAT: its hours and address go too.
            "endpoints_vs_nat_removed": nat.total_usd - self.total("endpoints"),
        }


def _usd(x: float) -> str:
    """Cents, or four decimals under a dollar so small lines do not read as zero."""
    return f"${x:,.2f}" if abs(x) >= 1 or x == 0 else f"${x:.4f}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4f}".rstrip("0").rstrip(".")


def network_cost(book: PriceBook, region: str, pull_gb_month: float, azs: int, *, logs: bool = False,
                 pulls_per_month: float | None = None, nat_gateways: int | None = None,
                 manifest_bytes_per_pull: int = MANIFEST_BYTES_PER_PULL,
                 image_bytes: int = DEFAULT_IMAGE_BYTES) -> NetworkCost:
    if pull_gb_month < 0:
        raise ValueError("pull volume cannot be negative")
    if azs < 1:
        raise ValueError("at least one availability zone")
    nats = azs if nat_gateways is None else nat_gateways
    if nats < 0:
        raise ValueError("NAT gateway count cannot be negative")
    hours = book.hours_per_month
    p = {item: book.price(region, item) for item in (
        "nat_gateway_hour", "nat_gateway_gb", "public_ipv4_hour", "vpc_interface_endpoint_az_hour",
        "vpc_interface_endpoint_gb", "s3_gateway_endpoint_gb")}

    estimated = pulls_per_month is None
    pulls = pull_gb_month * GIB / image_bytes if estimated else float(pulls_per_month)  # type: ignore[arg-type]
    # The manifest bytes are part of what a pull downloads, never more than all of it.
    manifest_gb = min(pulls * manifest_bytes_per_pull / GIB, pull_gb_month)
    layer_gb = pull_gb_month - manifest_gb
    az_hours = azs * hours

    nat = Block("nat", "(a) NAT gateway: every pull byte through the NAT", (
        Line("NAT gateway hours", nats * hours, "gateway-hours", p["nat_gateway_hour"],
             note=f"{nats} gateway(s) × {_num(hours)} h (one per AZ is AWS's advice for zone independence)"),
        Line("NAT data processed (pull bytes)", pull_gb_month, "GB", p["nat_gateway_gb"], in_common_estimate=True),
        Line("Public IPv4 address of each NAT gateway", nats * hours, "address-hours", p["public_ipv4_hour"]),
    ), ("Data transfer from ECR/S3 to the NAT in the same region is free; the NAT's processing is not.",))

    common = Block("common-estimate", "(b) Every pull byte through one interface endpoint (the common estimate's "
                   "PrivateLink)", (
        Line("Interface endpoint data processed (all pull bytes)", pull_gb_month, "GB",
             p["vpc_interface_endpoint_gb"], in_common_estimate=True),
        Line("One interface endpoint in each AZ", az_hours, "AZ-hours", p["vpc_interface_endpoint_az_hour"],
             in_common_estimate=True, note=f"{azs} AZ × {_num(hours)} h"),
    ), (
        "Layers are not served by ECR's endpoints: ECR answers a layer request with a redirect to S3. "
        "Without an S3 gateway endpoint those bytes still cross the NAT at the NAT's price.",
        "Pulling needs two ECR interface endpoints (ecr.api and ecr.dkr), not one.",
    ))

    lines = [
        Line("ecr.api interface endpoint", az_hours, "AZ-hours", p["vpc_interface_endpoint_az_hour"],
             note=f"{azs} AZ × {_num(hours)} h"),
        Line("ecr.dkr interface endpoint", az_hours, "AZ-hours", p["vpc_interface_endpoint_az_hour"],
             note=f"{azs} AZ × {_num(hours)} h"),
        Line("ECR API and manifest bytes through the interface endpoints", manifest_gb, "GB",
             p["vpc_interface_endpoint_gb"],
             note=f"{_num(round(pulls))} pulls × {manifest_bytes_per_pull // KIB} KiB"
                  + (" (pulls estimated as pull bytes / 256 MiB)" if estimated else "")),
        Line("Layers through the S3 gateway endpoint", layer_gb, "GB", p["s3_gateway_endpoint_gb"],
             note="gateway endpoints have no hourly or data charge"),
    ]
    if logs:
        lines.append(Line("logs interface endpoint (awslogs)", az_hours, "AZ-hours",
                          p["vpc_interface_endpoint_az_hour"],
                          note=f"{azs} AZ × {_num(hours)} h; log bytes ($/GB) not modelled here"))
    endpoints = Block("endpoints", "(c) ecr.api + ecr.dkr interface endpoints + S3 gateway endpoint"
                      + (" + logs" if logs else ""), tuple(lines), (
        "If image pulls were the NAT's only traffic, the NAT (its hours and address) can go; otherwise "
        "it stays for the rest and only its pull-byte processing is saved.",
    ))

    s3_only = Block("s3-only", "(d) S3 gateway endpoint only; ECR API and manifests still via the NAT", (
        Line("ECR API and manifest bytes through the NAT", manifest_gb, "GB", p["nat_gateway_gb"]),
        Line("Layers through the S3 gateway endpoint", layer_gb, "GB", p["s3_gateway_endpoint_gb"]),
    ), ("Needs the NAT for the ECR API; its hours and address are counted in (a) and not repeated here.",))

    blocks = {b.key: b for b in (nat, common, endpoints, s3_only)}
    return NetworkCost(region, pull_gb_month, azs, nats, logs, pulls, estimated, manifest_bytes_per_pull,
                       manifest_gb, layer_gb, hours, blocks,
                       _break_even(p, az_hours, pull_gb_month, manifest_gb, logs))


def _break_even(p: dict[str, Price], az_hours: float, pull_gb: float, manifest_gb: float,
                logs: bool) -> tuple[BreakEven, ...]:
    nat_gb, ep_gb, ep_hour = p["nat_gateway_gb"].usd, p["vpc_interface_endpoint_gb"].usd, \
        p["vpc_interface_endpoint_az_hour"].usd
    one = az_hours * ep_hour
    ecr_fixed = 2 * one
    fixed = ecr_fixed + (one if logs else 0.0)
    # Share of pull bytes that are ECR API/manifest bytes (the rest are layers from S3).
    share = manifest_gb / pull_gb if pull_gb else 0.0
    out = []

    def be(key: str, meaning: str, numerator: float, per_gb: float, formula: str) -> BreakEven:
        gb = numerator / per_gb if per_gb > 0 else None
        return BreakEven(key, meaning, gb, formula + (f" = {gb:,.2f} GB/month" if gb is not None else " : never"))

    out.append(be("common-estimate", "the common estimate's model: one interface endpoint carrying every pull "
                  "byte beats NAT data processing above", one, nat_gb - ep_gb,
                  f"${one:,.2f} fixed / (${nat_gb:g} − ${ep_gb:g} per GB)"))
    out.append(be("endpoints", "the correct set-up (c) beats NAT data processing above", fixed,
                  nat_gb - share * ep_gb,
                  f"${fixed:,.2f} fixed / (${nat_gb:g} − {share:.6f} × ${ep_gb:g} per GB)"))
    out.append(be("ecr-interface-endpoints", "with the S3 gateway endpoint in place, the two ECR interface "
                  "endpoints pay for themselves (manifests off the NAT) above", ecr_fixed,
                  share * (nat_gb - ep_gb),
                  f"${ecr_fixed:,.2f} fixed / ({share:.6f} × (${nat_gb:g} − ${ep_gb:g}) per GB)"))
    return tuple(out)


def manifest_bytes(pulls: float, per_pull: int = MANIFEST_BYTES_PER_PULL) -> int:
    """ECR API and manifest bytes of `pulls` pulls under the model above."""
    return int(round(pulls * per_pull))
