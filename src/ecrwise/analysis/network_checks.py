"""Network checks: the VPC endpoints an image pull needs, per VPC that runs ECS tasks or routes private
subnets to a NAT gateway. Pure.

Which subnets: the subnets ECS services and tasks run in (awsvpc), and the subnets of the EC2 hosts that pull
for EC2-launched tasks, when the snapshot has ECS records; otherwise (and for every other VPC) the private
subnets whose default route is a NAT gateway. Subnets whose default route is an internet gateway are left
out: their pulls do not cross a NAT.

What a pull needs, per those subnets (ECR User Guide, "Amazon ECR interface VPC endpoints"; ECS Developer
Guide, Fargate platform version 1.4.0): `ecr.api` and `ecr.dkr` interface endpoints with private DNS, reachable
(a security group admitting TCP 443 from the subnets, a network interface in the subnets' AZs), the `s3`
gateway endpoint on the subnets' route tables (layers are served from S3), `logs` when task definitions use
the awslogs driver, and the VPC's enableDnsSupport and enableDnsHostnames (private DNS needs both).

Each gap is a `Gap` (what the fix plan reads) and a `Finding` (what users read), with the monthly cost it
causes where pull traffic is known: from `ecrwise pulls` (`analysis/pulls.py`) when present, or passed in as
`pull_traffic` (the seam for callers that have their own figures).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from ecrwise.analysis.checks import REGISTRY, CheckContext, CheckOptions, Finding, check, fact, option
from ecrwise.analysis.egress import NetworkIndex, egress_path, endpoint_problems
from ecrwise.analysis.facts import pulls
from ecrwise.analysis.nat_traffic import NatSeries, nat_series
from ecrwise.pricing.book import GIB, Price, PriceBook
from ecrwise.pricing.network_cost import API_BYTES_PER_PULL, DEFAULT_IMAGE_BYTES, DKR_BYTES_PER_PULL
from ecrwise.records import Records
from ecrwise.records.network import (NatGateway, NatMetric, Route, RouteTable, SecurityGroupRule, Subnet, Vpc,
                                     VpcEndpoint)

INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "logs")
SERVICES = ("ecr.api", "ecr.dkr", "s3", "logs")
DOCS = "docs/network.md"
FIX = "ecrwise network fix --vpc {vpc} --apply"
SPIKE_K = 3.0  # a day above k × the rolling median of the days before is a spike
SPIKE_WINDOW = 7  # days in that median

Key = tuple[str, str, str]  # (account, region, vpc_id)


# -- inputs ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """What pulls images in one VPC: its subnets and why they were chosen."""
    account: str
    region: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    source: str  # "ecs" (services, tasks, hosts) | "nat-route" (private subnets routing to a NAT)
    uses_awslogs: bool = False
    ecs_services: tuple[str, ...] = ()
    public_subnet_ids: tuple[str, ...] = ()  # ECS subnets left out: their default route is an internet gateway


@dataclass(frozen=True)
class VpcPullTraffic:
    """Image-pull traffic of one VPC's workloads per month."""
    bytes_per_month: int  # everything the pulls download: layers + ECR API/manifest bytes
    pulls_per_month: float | None = None
    nat_bytes_per_month: int | None = None  # the part that crosses a NAT today
    bytes_by_subnet: dict[str, int] | None = None
    bytes_by_nat: dict[str, int] | None = None  # pull bytes through each NAT gateway today
    # Measured split (from `ecrwise pulls`); without it the cost model's 32 KiB a pull splits the bytes.
    layer_bytes_per_month: int | None = None
    manifest_bytes_per_month: int | None = None
    source: str = "ecrwise pulls"

    @property
    def pulls(self) -> float:
        return self.pulls_per_month if self.pulls_per_month is not None else self.bytes_per_month / DEFAULT_IMAGE_BYTES

    @property
    def _manifests(self) -> int:
        if self.manifest_bytes_per_month is not None:
            return min(self.manifest_bytes_per_month, self.bytes_per_month)
        return min(int(self.pulls * (API_BYTES_PER_PULL + DKR_BYTES_PER_PULL)), self.bytes_per_month)

    @property
    def api_bytes(self) -> int:
        """The token exchange's share of the ECR bytes (ecr.api); the rest is the registry API (ecr.dkr)."""
        return int(self._manifests * API_BYTES_PER_PULL / (API_BYTES_PER_PULL + DKR_BYTES_PER_PULL))

    @property
    def dkr_bytes(self) -> int:
        return self._manifests - self.api_bytes

    @property
    def layer_bytes(self) -> int:
        if self.layer_bytes_per_month is not None:
            return self.layer_bytes_per_month
        return self.bytes_per_month - self._manifests

    def share(self, subnet_ids: Iterable[str], all_subnets: Iterable[str]) -> float:
        """Share of the VPC's pull bytes from `subnet_ids`: measured per subnet when known, else even."""
        subset, every = set(subnet_ids), list(all_subnets)
        if self.bytes_by_subnet:
            total = sum(self.bytes_by_subnet.values())
            return sum(v for k, v in self.bytes_by_subnet.items() if k in subset) / total if total else 0.0
        return len(subset & set(every)) / len(every) if every else 0.0


def pull_traffic_from_pulls(records: Records, book: PriceBook) -> dict[Key, VpcPullTraffic]:
    """Per-VPC pull traffic from `ecrwise pulls` (analysis/pulls.py); {} when that analysis is absent."""
    try:
        from ecrwise.analysis.pulls import analyse_pulls
    except ImportError:
        return {}
    return pull_traffic_from_report(analyse_pulls(records, book), book)


def pull_traffic_from_report(report: Any, book: PriceBook) -> dict[Key, VpcPullTraffic]:
    """Sum `ecrwise pulls`' per-service rows (`ServicePulls`) per VPC."""
    days = book.hours_per_month / 24.0
    acc: dict[Key, dict[str, Any]] = {}
    for s in report.services:
        if not s.vpc_id:
            continue
        a = acc.setdefault((s.account, s.region, s.vpc_id), {
            "bytes": 0, "layers": 0.0, "manifests": 0.0, "pulls": 0.0, "nat": 0, "nat_known": True,
            "subnets": defaultdict(float), "nats": defaultdict(int)})
        starts = s.task_starts_per_day * days
        a["bytes"] += s.pulled_bytes_per_month
        a["layers"] += s.layer_bytes_per_start * starts
        a["manifests"] += s.manifest_bytes_per_start * starts
        a["pulls"] += starts * max(1, len(s.images))
        if s.nat_bytes_per_month is None:
            a["nat_known"] = False
        else:
            a["nat"] += s.nat_bytes_per_month
        for subnet, share in (s.path_detail.get("subnets") or {}).items():
            a["subnets"][subnet] += s.pulled_bytes_per_month * share
        for nat, b in (s.path_detail.get("nat_gateways") or {}).items():
            a["nats"][nat] += int(b)
    return {k: VpcPullTraffic(
        bytes_per_month=a["bytes"], pulls_per_month=a["pulls"], nat_bytes_per_month=a["nat"] if a["nat_known"] else None,
        bytes_by_subnet={sn: int(v) for sn, v in a["subnets"].items()} or None,
        bytes_by_nat=dict(a["nats"]) or None, layer_bytes_per_month=int(a["layers"]),
        manifest_bytes_per_month=int(a["manifests"])) for k, a in acc.items()}


def workloads(records: Records, idx: NetworkIndex) -> dict[Key, Workload]:
    """The subnets that pull images, per VPC."""
    subnets: dict[Key, set[str]] = defaultdict(set)
    task_defs: dict[Key, set[str]] = defaultdict(set)
    services: dict[Key, set[str]] = defaultdict(set)

    def add(account: str, region: str, subnet_id: str | None, task_def: str | None, service: str | None) -> None:
        s = idx.subnets.get((account, region, subnet_id or ""))
        if s is None:
            return
        key = (account, region, s.vpc_id)
        subnets[key].add(s.subnet_id)
        if task_def:
            task_defs[key].add(task_def)
        if service:
            services[key].add(service)

    try:
        from ecrwise.records.ecs import (Ec2Instance, EcsContainerDefinition, EcsContainerInstance, EcsService,
                                         EcsTask)
    except ImportError:  # the ECS records ship with the package; kept optional for the network family alone
        ecs: dict[str, list[Any]] = {}
    else:
        ecs = {"services": records.of(EcsService), "tasks": records.of(EcsTask),
               "instances": records.of(EcsContainerInstance), "ec2": records.of(Ec2Instance),
               "containers": records.of(EcsContainerDefinition)}
    for svc in ecs.get("services", []):
        if svc.status == "INACTIVE":
            continue
        for sn in svc.subnets:
            add(svc.account, svc.region, sn, svc.task_definition_arn, svc.name)
    host_subnet = {(i.account, i.region, i.instance_id): i.subnet_id for i in ecs.get("ec2", [])}
    instance_subnet = {(ci.account, ci.region, ci.container_instance_arn):
                       host_subnet.get((ci.account, ci.region, ci.ec2_instance_id or ""))
                       for ci in ecs.get("instances", [])}
    for t in ecs.get("tasks", []):
        # awsvpc tasks have their own subnet; bridge/host tasks pull on their container instance.
        subnet = t.subnet_id or instance_subnet.get((t.account, t.region, t.container_instance_arn or ""))
        add(t.account, t.region, subnet, t.task_definition_arn, t.service_name)
    for ci in ecs.get("instances", []):
        if ci.status in ("ACTIVE", "DRAINING"):
            add(ci.account, ci.region, instance_subnet.get((ci.account, ci.region, ci.container_instance_arn)),
                None, None)
    awslogs_defs = {(c.account, c.region, c.task_definition_arn) for c in ecs.get("containers", [])
                    if (c.log_driver or "") == "awslogs"}

    out: dict[Key, Workload] = {}
    for key, ids in subnets.items():
        account, region, vpc_id = key
        private, public = [], []
        for sn in sorted(ids):
            path = egress_path(idx, account, region, sn)
            (public if path is not None and path.default_route == "igw" else private).append(sn)
        uses_awslogs = any((account, region, td) in awslogs_defs for td in task_defs[key])
        if private:
            out[key] = Workload(account, region, vpc_id, tuple(private), "ecs", uses_awslogs,
                                tuple(sorted(services[key])), tuple(public))
    # Every other VPC: private subnets whose default route is a NAT gateway.
    nat_subnets: dict[Key, list[str]] = defaultdict(list)
    for (account, region, sn), s in sorted(idx.subnets.items()):
        if (account, region, s.vpc_id) in out:
            continue
        path = egress_path(idx, account, region, sn)
        if path is not None and path.default_route == "nat":
            nat_subnets[(account, region, s.vpc_id)].append(sn)
    for key, ids in nat_subnets.items():
        out[key] = Workload(*key, tuple(ids), "nat-route")
    return dict(sorted(out.items()))


# -- the audit -------------------------------------------------------------------------------------------

@dataclass
class Gap:
    """One thing missing or wrong; the fix plan reads these."""
    kind: str  # missing | s3-route-tables | private-dns-off | sg-no-https | az-coverage | state | vpc-dns
    service: str | None = None  # ecr.api | ecr.dkr | s3 | logs
    endpoint_id: str | None = None
    route_table_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()  # the workload subnets affected
    cidrs: tuple[str, ...] = ()  # for sg-no-https: the subnet CIDRs not admitted
    azs: tuple[str, ...] = ()  # for az-coverage: AZs without an endpoint interface
    attributes: tuple[str, ...] = ()  # for vpc-dns: enableDnsSupport / enableDnsHostnames
    detail: str = ""


@dataclass
class ServiceStatus:
    service: str
    required: bool
    endpoint_ids: list[str]
    ok: bool
    detail: str
    short: str = ""  # a few words for tables: "missing", "DNS off, no 443", "not on 3 route tables"


SHORT = {"state": "not available", "private-dns-off": "DNS off", "sg-no-https": "no 443", "az-coverage": "AZ gap"}


@dataclass
class VpcAudit:
    account: str
    region: str
    vpc: Vpc
    workload: Workload
    subnets: list[Subnet]
    route_table_ids: list[str]
    egress: dict[str, str]  # subnet id -> default route (nat | none | tgw | other)
    nat_gateway_ids: list[str]
    services: dict[str, ServiceStatus]
    gaps: list[Gap] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    traffic: VpcPullTraffic | None = None
    nats: list[NatSeries] = field(default_factory=list)
    endpoints: list[VpcEndpoint] = field(default_factory=list)  # every endpoint in the VPC

    @property
    def vpc_id(self) -> str:
        return self.vpc.vpc_id

    @property
    def name(self) -> str:
        return self.vpc.tags.get("Name", "")

    @property
    def azs(self) -> list[str]:
        return sorted({s.availability_zone for s in self.subnets})

    @property
    def subnet_cidrs(self) -> list[str]:
        return sorted({s.cidr for s in self.subnets})

    @property
    def monthly_cost_usd(self) -> float:
        return sum(f.monthly_cost_usd or 0.0 for f in self.findings)


@dataclass
class NetworkAudit:
    vpcs: list[VpcAudit]
    nats: list[NatSeries]
    findings: list[Finding]  # every VPC's findings plus NAT spike findings
    warnings: list[str] = field(default_factory=list)

    def vpc(self, vpc_id: str) -> VpcAudit | None:
        return next((v for v in self.vpcs if v.vpc_id == vpc_id), None)


def network_index(records: Records) -> NetworkIndex:
    return NetworkIndex.build(records.of(Vpc), records.of(Subnet), records.of(RouteTable), records.of(Route),
                              records.of(VpcEndpoint), records.of(SecurityGroupRule), records.of(NatGateway))


def audit_network(records: Records, book: PriceBook, *, pull_traffic: dict[Key, VpcPullTraffic] | None = None,
                  spike_k: float = SPIKE_K, spike_window: int = SPIKE_WINDOW) -> NetworkAudit:
    idx = network_index(records)
    if pull_traffic is None:
        pull_traffic = pull_traffic_from_pulls(records, book)
    nat_pulls: dict[tuple[str, str, str], int] = {}
    for (account, region, vpc_id), t in pull_traffic.items():
        if t.bytes_by_nat:
            for nat_id, b in t.bytes_by_nat.items():
                nat_pulls[(account, region, nat_id)] = nat_pulls.get((account, region, nat_id), 0) + b
            continue
        # Without a per-gateway split, a VPC with one NAT gateway gets all of its pull bytes through the NAT.
        nats = [n for n in idx.nats.values() if (n.account, n.region, n.vpc_id) == (account, region, vpc_id)]
        if len(nats) == 1 and t.nat_bytes_per_month is not None:
            nat_pulls[(account, region, nats[0].nat_gateway_id)] = t.nat_bytes_per_month
    series = nat_series(records.of(NatMetric), records.of(NatGateway), k=spike_k, window=spike_window,
                        pull_bytes_by_nat=nat_pulls, days_per_month=book.hours_per_month / 24.0)
    audits = []
    for key, wl in workloads(records, idx).items():
        vpc = idx.vpcs.get(key)
        if vpc is None:
            continue
        a = _audit_vpc(idx, vpc, wl, book, pull_traffic.get(key))
        a.nats = [s for s in series if (s.account, s.region, s.vpc_id) == key]
        audits.append(a)
    findings = [f for a in audits for f in a.findings] + list(_spike_findings(series, book))
    return NetworkAudit(audits, series, findings)


def _audit_vpc(idx: NetworkIndex, vpc: Vpc, wl: Workload, book: PriceBook,
               traffic: VpcPullTraffic | None) -> VpcAudit:
    account, region = vpc.account, vpc.region
    subnets = [idx.subnets[(account, region, s)] for s in wl.subnet_ids]
    paths = {s.subnet_id: egress_path(idx, account, region, s.subnet_id) for s in subnets}
    egress = {sn: (p.default_route if p else "none") for sn, p in paths.items()}
    tables = sorted({p.route_table_id for p in paths.values() if p and p.route_table_id})
    nat_ids = sorted({p.nat_gateway_id for p in paths.values() if p and p.nat_gateway_id})
    endpoints = [e for e in idx.endpoints.get((account, region, vpc.vpc_id), [])]
    a = VpcAudit(account, region, vpc, wl, subnets, tables, egress, nat_ids, {}, traffic=traffic,
                 endpoints=endpoints)
    dns_ok = vpc.enable_dns_support and vpc.enable_dns_hostnames

    for service in INTERFACE_SERVICES:
        required = service != "logs" or wl.uses_awslogs
        candidates = [e for e in endpoints if e.endpoint_type == "Interface" and e.short_service == service]
        if not candidates:
            if required:
                a.gaps.append(Gap("missing", service, subnet_ids=wl.subnet_ids,
                                  detail=f"no {service} interface endpoint"))
                a.services[service] = ServiceStatus(service, True, [], False, "missing", "missing")
            else:
                a.services[service] = ServiceStatus(service, False, [], True, "not needed", "-")
            continue
        problems = {e.endpoint_id: _endpoint_gaps(idx, vpc, e, subnets) for e in candidates}
        usable = [e for e in candidates if not problems[e.endpoint_id]]
        if usable:
            # One working endpoint serves the service; only its AZ coverage matters.
            chosen = usable[0]
            gap = _az_gap(idx, chosen, subnets, service)
            if gap:
                a.gaps.append(gap)
            detail = "ok" if dns_ok else "ok, but the VPC's DNS attributes are off"
            if gap:
                detail = f"ok; no interface in {', '.join(gap.azs)}"
            a.services[service] = ServiceStatus(service, required, [chosen.endpoint_id], dns_ok, detail,
                                                "ok" if not gap else "ok, AZ gap")
            continue
        for e in candidates:
            for g in problems[e.endpoint_id]:
                g.service = service
                a.gaps.append(g)
            gap = _az_gap(idx, e, subnets, service)
            if gap:
                a.gaps.append(gap)
        first = problems[candidates[0].endpoint_id]
        a.services[service] = ServiceStatus(service, required, [e.endpoint_id for e in candidates], False,
                                            "; ".join(g.detail for g in first),
                                            ", ".join(SHORT[g.kind] for g in first))

    gateways = [e for e in endpoints if e.endpoint_type == "Gateway" and e.short_service == "s3"
                and e.state == "available"]
    if not gateways:
        a.gaps.append(Gap("missing", "s3", subnet_ids=wl.subnet_ids, route_table_ids=tuple(tables),
                          detail="no s3 gateway endpoint"))
        a.services["s3"] = ServiceStatus("s3", True, [], False, "missing", "missing")
    else:
        covered = {rt for e in gateways for rt in e.route_table_ids}
        missing = [rt for rt in tables if rt not in covered]
        ids = [e.endpoint_id for e in gateways]
        if missing:
            affected = tuple(sn for sn, p in paths.items() if p and p.route_table_id in missing)
            a.gaps.append(Gap("s3-route-tables", "s3", endpoint_id=ids[0], route_table_ids=tuple(missing),
                              subnet_ids=affected, detail=f"not on {', '.join(missing)}"))
            a.services["s3"] = ServiceStatus("s3", True, ids, False, f"not on {', '.join(missing)}",
                                             f"not on {len(missing)} route table(s)")
        else:
            a.services["s3"] = ServiceStatus("s3", True, ids, True, "ok", "ok")

    has_interface = any(e.endpoint_type == "Interface" for e in endpoints) or any(
        g.kind == "missing" and g.service in INTERFACE_SERVICES for g in a.gaps)
    if not dns_ok and has_interface:
        attrs = tuple(n for n, v in (("enableDnsSupport", vpc.enable_dns_support),
                                     ("enableDnsHostnames", vpc.enable_dns_hostnames)) if not v)
        a.gaps.insert(0, Gap("vpc-dns", attributes=attrs, subnet_ids=wl.subnet_ids,
                             detail=f"{' and '.join(attrs)} off"))
    a.findings = [_finding(a, g, book) for g in a.gaps]
    return a


def _endpoint_gaps(idx: NetworkIndex, vpc: Vpc, ep: VpcEndpoint, subnets: list[Subnet]) -> list[Gap]:
    """The problems of one interface endpoint for the workload subnets (VPC DNS is reported once per VPC)."""
    codes: dict[str, list[Subnet]] = defaultdict(list)
    for s in subnets:
        for code, _ in endpoint_problems(idx, vpc.account, vpc.region, ep, s, vpc):
            codes[code].append(s)
    out = []
    if "state" in codes:
        out.append(Gap("state", endpoint_id=ep.endpoint_id, detail=f"state {ep.state}",
                       subnet_ids=tuple(s.subnet_id for s in codes["state"])))
    if "private-dns-off" in codes:
        out.append(Gap("private-dns-off", endpoint_id=ep.endpoint_id, detail="private DNS off",
                       subnet_ids=tuple(s.subnet_id for s in codes["private-dns-off"])))
    if "sg-no-https" in codes:
        blocked = codes["sg-no-https"]
        out.append(Gap("sg-no-https", endpoint_id=ep.endpoint_id,
                       subnet_ids=tuple(s.subnet_id for s in blocked),
                       cidrs=tuple(sorted({s.cidr for s in blocked})),
                       detail=f"security group does not admit 443 from {', '.join(sorted({s.cidr for s in blocked}))}"))
    return out


def _az_gap(idx: NetworkIndex, ep: VpcEndpoint, subnets: list[Subnet], service: str) -> Gap | None:
    azs = {idx.subnets[(ep.account, ep.region, s)].availability_zone for s in ep.subnet_ids
           if (ep.account, ep.region, s) in idx.subnets}
    lacking = [s for s in subnets if s.availability_zone not in azs]
    if not lacking:
        return None
    missing_azs = tuple(sorted({s.availability_zone for s in lacking}))
    return Gap("az-coverage", service, endpoint_id=ep.endpoint_id, subnet_ids=tuple(s.subnet_id for s in lacking),
               azs=missing_azs, detail=f"no interface in {', '.join(missing_azs)}")


# -- findings --------------------------------------------------------------------------------------------

CHECK_IDS = {
    "missing": "network.endpoint-missing",
    "s3-route-tables": "network.s3-gateway-route-tables",
    "private-dns-off": "network.endpoint-private-dns",
    "sg-no-https": "network.endpoint-security-group",
    "az-coverage": "network.endpoint-az-coverage",
    "state": "network.endpoint-state",
    "vpc-dns": "network.vpc-dns-attributes",
}


def _money(bytes_: float, price: Price, what: str) -> tuple[float, dict[str, Any]]:
    cost = bytes_ / GIB * price.usd
    return cost, {"what": what, "bytes": int(bytes_), "gb": round(bytes_ / GIB, 6), "price": price.as_dict(),
                  "formula": f"{int(bytes_):,} B / 2^30 × ${price.usd:g}/GB = ${cost:,.4f}"}


def _endpoint_hours(book: PriceBook, region: str, azs: int) -> tuple[float, dict[str, Any]]:
    price = book.price(region, "vpc_interface_endpoint_az_hour")
    hours = azs * book.hours_per_month
    cost = hours * price.usd
    return cost, {"what": "interface endpoint hours", "azs": azs, "hours": hours, "price": price.as_dict(),
                  "formula": f"{azs} AZ × {book.hours_per_month:g} h × ${price.usd:g}/AZ-hour = ${cost:,.2f}"}


def _finding(a: VpcAudit, g: Gap, book: PriceBook) -> Finding:
    affected = set(g.subnet_ids) or {s.subnet_id for s in a.subnets}
    routes = {a.egress.get(sn, "none") for sn in affected}
    via_nat = routes == {"nat"}
    no_way_out = "none" in routes
    label = f"{a.name} ({a.vpc_id})" if a.name else a.vpc_id
    nat_text = f"NAT gateway {', '.join(a.nat_gateway_ids)}" if a.nat_gateway_ids else "the default route"
    cost: float | None = None
    savings: float | None = None
    arithmetic: dict[str, Any] = {}
    severity = "medium"
    t = a.traffic
    share = t.share(affected, a.workload.subnet_ids) if t else 0.0
    nat_price = book.price(a.region, "nat_gateway_gb")
    service = g.service or ""
    resource = g.endpoint_id or (f"{a.vpc_id}/{service}" if service else a.vpc_id)
    evidence: dict[str, Any] = {"vpc_id": a.vpc_id, "vpc_name": a.name, "subnets": sorted(affected),
                                "default_routes": sorted(routes), "workload_source": a.workload.source}
    if a.workload.ecs_services:
        evidence["ecs_services"] = list(a.workload.ecs_services)

    def service_bytes() -> float:
        if t is None:
            return 0.0
        return {"s3": t.layer_bytes, "ecr.api": t.api_bytes, "ecr.dkr": t.dkr_bytes}.get(service, 0) * share

    if g.kind in ("missing", "s3-route-tables"):
        if service == "s3":
            what = "layer bytes through the NAT"
            if g.kind == "missing":
                msg = f"{label}: no S3 gateway endpoint; image layers (most of every pull)"
            else:
                msg = (f"{label}: S3 gateway endpoint {g.endpoint_id} is not on route table(s) "
                       f"{', '.join(g.route_table_ids)}; image layers for subnets {', '.join(sorted(affected))}")
            if no_way_out:
                severity, msg = "critical", msg + " have no way out: layer downloads fail"
            else:
                severity = "high"
                msg += f" cross {nat_text} and are billed per GB there" if via_nat else \
                    " leave through the default route instead of the free gateway endpoint"
            evidence["route_table_ids"] = list(g.route_table_ids or a.route_table_ids)
        else:
            what = f"{service} bytes through the NAT"
            if no_way_out:
                severity = "critical" if service != "logs" else "high"
                msg = (f"{label}: no {service} interface endpoint and no route out: "
                       + ("pulls fail" if service != "logs" else "awslogs containers cannot start"))
            else:
                severity = "low"
                msg = (f"{label}: no {service} interface endpoint; "
                       + ("ECR API calls" if service == "ecr.api" else "registry requests (manifests)"
                          if service == "ecr.dkr" else "log events")
                       + f" go through {nat_text}")
        if via_nat and t is not None and service != "logs":
            cost, arithmetic = _money(service_bytes(), nat_price, what)
            savings = cost
            if service != "s3":
                fix_cost, fix_arith = _endpoint_hours(book, a.region, len(a.azs))
                arithmetic["fix_cost"] = fix_arith
                # The endpoint's own hours usually exceed the NAT processing it saves: say so, don't hide it.
                savings = max(0.0, cost - fix_cost)
    elif g.kind == "private-dns-off":
        severity = "critical" if no_way_out else "medium"
        msg = (f"{label}: {service} endpoint {g.endpoint_id} has private DNS off, so "
               f"{service}.{a.region}.amazonaws.com still resolves to public addresses: "
               + ("calls have no way out and fail" if no_way_out else f"the traffic goes through {nat_text} "
                  "and the endpoint is paid for nothing"))
        wasted, arithmetic = _endpoint_hours(book, a.region, len(a.azs))
        arithmetic = {"endpoint": arithmetic}
        cost = wasted
        if via_nat and t is not None:
            nat_cost, arithmetic["nat"] = _money(service_bytes(), nat_price, f"{service} bytes through the NAT")
            cost += nat_cost
        savings = cost
    elif g.kind == "sg-no-https":
        ep = _endpoint(a, g.endpoint_id)
        groups = ", ".join(ep.security_group_ids) if ep and ep.security_group_ids else "(none)"
        dns_on = bool(ep and ep.private_dns_enabled)
        severity = "high" if dns_on else "medium"
        msg = (f"{label}: security group(s) {groups} of the {service} endpoint {g.endpoint_id} do not admit "
               f"TCP 443 from {', '.join(g.cidrs)}; "
               + ("with private DNS on, calls from those subnets time out and "
                  + ("pulls fail" if service != "logs" else "log delivery fails")
                  if dns_on else "the endpoint stays unreachable once private DNS is turned on"))
        evidence["security_groups"] = ep.security_group_ids if ep else []
        evidence["cidrs"] = list(g.cidrs)
    elif g.kind == "az-coverage":
        severity = "low"
        msg = (f"{label}: the {service} endpoint {g.endpoint_id} has no network interface in "
               f"{', '.join(g.azs)}; subnets there reach it across zones (cross-AZ data charges, and their "
               f"pulls depend on another zone)")
        evidence["azs"] = list(g.azs)
    elif g.kind == "state":
        msg = f"{label}: the {service} endpoint {g.endpoint_id} is in state {g.detail.split()[-1]}, not available"
    else:  # vpc-dns
        severity = "critical" if no_way_out else "high"
        msg = (f"{label}: {' and '.join(g.attributes)} off: interface endpoints' private DNS names do not "
               f"resolve, so ECR traffic " + ("fails" if no_way_out else f"goes through {nat_text}"))
        evidence["attributes"] = list(g.attributes)
    if t is not None:
        evidence["pull_traffic"] = {"bytes_per_month": t.bytes_per_month, "share_of_vpc": round(share, 4),
                                    "source": t.source}
    check_id = CHECK_IDS[g.kind]
    return Finding(check_id, severity, a.account, a.region, resource, msg, monthly_cost_usd=cost,
                   monthly_savings_usd=savings, evidence=evidence, arithmetic=arithmetic,
                   recommendation=REGISTRY[check_id].recommendation, fix=FIX.format(vpc=a.vpc_id))


def _endpoint(a: VpcAudit, endpoint_id: str | None) -> VpcEndpoint | None:
    return next((e for e in a.endpoints if e.endpoint_id == endpoint_id), None)


def _spike_findings(series: list[NatSeries], book: PriceBook) -> Iterable[Finding]:
    for s in series:
        if not s.spikes:
            continue
        price = book.price(s.region, "nat_gateway_gb")
        excess = sum(max(0, sp.excess_bytes) for sp in s.spikes)
        cost, arithmetic = _money(excess, price, "bytes above the rolling median on spike days")
        worst = max(s.spikes, key=lambda sp: sp.processed)
        days = ", ".join(sp.day.isoformat() for sp in s.spikes)
        ratio = f"{worst.ratio:.1f}×" if worst.ratio else "from zero to"
        share = (f"; image pulls explain {s.pull_share:.0%} of its recent bytes" if s.pull_share is not None
                 else "")
        yield Finding(
            "network.nat-traffic-spike", "medium", s.account, s.region, s.nat_gateway_id,
            f"NAT gateway {s.nat_gateway_id} ({s.vpc_id}) spiked on {len(s.spikes)} day(s) ({days}); worst "
            f"{worst.day}: {ratio} the median of the {s.window} days before ({worst.processed / GIB:,.1f} GiB)"
            + share,
            monthly_cost_usd=cost, evidence={
                "vpc_id": s.vpc_id, "k": s.k, "window_days": s.window,
                "spikes": [{"day": sp.day.isoformat(), "processed_bytes": sp.processed,
                            "median_bytes": int(sp.median), "ratio": None if sp.ratio is None else round(sp.ratio, 2)}
                           for sp in s.spikes]},
            arithmetic=arithmetic, recommendation=REGISTRY["network.nat-traffic-spike"].recommendation,
            fix="ecrwise network alarms --apply")


# -- the facts the network checks share -------------------------------------------------------------------

@fact(uses=(pulls,))
def pull_traffic(ctx: Any) -> dict[Key, VpcPullTraffic]:
    """Per-VPC pull traffic from `ecrwise pulls`' analysis (at its default threshold, `now` inferred, as
    `ecrwise network` runs it). Callers with their own figures pass them instead: facts={"pull_traffic": …}."""
    from ecrwise.analysis.pulls import DEFAULT_CRASH_LOOP_THRESHOLD

    return pull_traffic_from_report(pulls(ctx, DEFAULT_CRASH_LOOP_THRESHOLD, None), ctx.book)


@fact(reads=("vpcs", "subnets", "route_tables", "routes", "vpc_endpoints", "security_group_rules", "nat_gateways",
             "nat_metrics", "ecs_services", "ecs_tasks", "ecs_container_definitions", "ecs_container_instances",
             "ec2_instances"), uses=(pull_traffic,))
def network_audit(ctx: Any, spike_k: float = SPIKE_K, spike_window: int = SPIKE_WINDOW) -> NetworkAudit:
    """The VPC endpoint audit and the NAT spike series, once per session."""
    return audit_network(ctx.records, ctx.book, pull_traffic=pull_traffic(ctx), spike_k=spike_k,
                         spike_window=spike_window)


def _this_checks(ctx: CheckContext, audit: NetworkAudit | None = None) -> list[Finding]:
    """The audit's findings of this check (the audit builds every network finding at once)."""
    return [f for f in (audit or network_audit(ctx)).findings if f.check == ctx.check.id]


# -- registered checks -----------------------------------------------------------------------------------

@check("network.endpoint-missing", title="An endpoint image pulls need is missing", severity="high",
       facts=(network_audit,), docs=f"{DOCS}#endpoint-missing",
       risk="Image layers and registry calls cross the NAT gateway (billed per GB), or, with no route out, fail.",
       recommendation="Create the missing endpoint: the S3 gateway endpoint (free) on every route table of the "
                      "task subnets, ecr.api and ecr.dkr interface endpoints with private DNS in the tasks' AZs, "
                      "logs when task definitions use awslogs.")
def endpoint_missing(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.s3-gateway-route-tables", title="S3 gateway endpoint not on the task subnets' route tables",
       severity="high", facts=(network_audit,), docs=f"{DOCS}#s3-gateway-route-tables",
       risk="Layer downloads from those subnets cross the NAT gateway instead of the free gateway endpoint.",
       recommendation="Associate an S3 gateway endpoint with every route table the task subnets use; it is free "
                      "and carries the layer bytes.")
def s3_gateway_route_tables(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.endpoint-private-dns", title="Interface endpoint with private DNS off", severity="medium",
       facts=(network_audit,), docs=f"{DOCS}#endpoint-private-dns",
       risk="The service's public name still resolves to public addresses: the endpoint is paid for and unused.",
       recommendation="Turn private DNS on for the endpoint (ModifyVpcEndpoint PrivateDnsEnabled) so the "
                      "service's public name resolves to it.")
def endpoint_private_dns(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.endpoint-security-group", title="Endpoint security group does not admit 443 from the task subnets",
       severity="high", facts=(network_audit,), docs=f"{DOCS}#endpoint-security-group",
       risk="Calls from those subnets time out once they resolve to the endpoint: pulls fail.",
       recommendation="Attach a security group admitting TCP 443 from the task subnets' CIDRs to the endpoint.")
def endpoint_security_group(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.endpoint-az-coverage", title="Interface endpoint missing from a task AZ", severity="low",
       facts=(network_audit,), docs=f"{DOCS}#endpoint-az-coverage",
       risk="Subnets in that zone reach the endpoint across zones: cross-AZ charges, and a dependency on "
            "another zone.",
       recommendation="Add a subnet in each task AZ to the endpoint.")
def endpoint_az_coverage(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.endpoint-state", title="Endpoint not available", severity="medium", facts=(network_audit,),
       docs=f"{DOCS}#endpoint-state", risk="Until it is available the endpoint serves nothing.",
       recommendation="Recreate or accept the endpoint; until it is available it serves nothing.")
def endpoint_state(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


@check("network.vpc-dns-attributes", title="VPC DNS support or hostnames off", severity="high",
       facts=(network_audit,), docs=f"{DOCS}#vpc-dns-attributes",
       risk="Interface endpoints' private DNS names do not resolve: ECR traffic goes through the NAT, or fails.",
       recommendation="Turn on enableDnsSupport and enableDnsHostnames for the VPC.")
def vpc_dns_attributes(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx)


class SpikeOptions(CheckOptions):
    spike_k: float = option(SPIKE_K, "A NAT gateway day above this many times the rolling median is a spike.",
                            gt=1, le=1000)
    spike_window: int = option(SPIKE_WINDOW, "Days in the rolling median a NAT gateway day is compared with.",
                               ge=2, le=90)


@check("network.nat-traffic-spike", title="NAT gateway traffic spike", severity="medium", facts=(network_audit,),
       options=SpikeOptions, docs=f"{DOCS}#nat-traffic-spike",
       risk="Something downloaded far more than usual through the NAT gateway, billed per GB.",
       recommendation="Find what pulled or downloaded on those days (a crash-looping service re-pulls its image on "
                      "every start); put an alarm on the NAT's bytes.")
def nat_traffic_spike(ctx: CheckContext) -> Iterable[Finding]:
    return _this_checks(ctx, network_audit(ctx, ctx.options.spike_k, ctx.options.spike_window))
