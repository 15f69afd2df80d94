"""Which path a subnet's traffic to ECR takes: pure reasoning over route tables, endpoints and groups.

An image pull fetches the manifest from ECR (ecr.api / ecr.dkr) and the layers from S3. With an S3 *gateway*
endpoint on the subnet's route table, layer bytes bypass the NAT gateway for free; ECR interface endpoints
carry only API and manifest traffic, and only when private DNS resolves the ECR names to them.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

from ecrwise.records.network import (NatGateway, Route, RouteTable, SecurityGroupRule, Subnet, Vpc,
                                     VpcEndpoint)

HTTPS = 443
ECR_INTERFACE_SERVICES = ("ecr.api", "ecr.dkr")


@dataclass(frozen=True)
class EndpointUse:
    """Whether one interface endpoint serves a subnet, and if not, why."""
    endpoint_id: str | None
    usable: bool
    problems: tuple[str, ...] = ()
    same_az: bool = True
    # The same problems as machine-readable codes (see PROBLEM_CODES), in the same order.
    codes: tuple[str, ...] = ()


# Why an interface endpoint does not serve a subnet.
PROBLEM_CODES = ("missing", "state", "private-dns-off", "vpc-dns-off", "sg-no-https")


@dataclass(frozen=True)
class EgressPath:
    subnet_id: str
    vpc_id: str
    availability_zone: str
    route_table_id: str | None
    default_route: str  # nat | igw | none | tgw | other
    nat_gateway_id: str | None
    s3_gateway_endpoint_id: str | None
    interface: dict[str, EndpointUse] = field(default_factory=dict)  # "ecr.api" / "ecr.dkr" / "logs"

    @property
    def layers_via(self) -> str:
        """Layer bytes come from S3: through the gateway endpoint if the route table has it."""
        if self.s3_gateway_endpoint_id:
            return "s3-gateway-endpoint"
        return self.default_route

    @property
    def manifests_via(self) -> str:
        if all(self.interface.get(s, EndpointUse(None, False)).usable for s in ECR_INTERFACE_SERVICES):
            return "interface-endpoint"
        return self.default_route


@dataclass
class NetworkIndex:
    """Lookups over one snapshot's network records."""
    vpcs: dict[tuple[str, str, str], Vpc]
    subnets: dict[tuple[str, str, str], Subnet]
    tables: dict[tuple[str, str, str], RouteTable]
    routes: dict[tuple[str, str, str], list[Route]]
    endpoints: dict[tuple[str, str, str], list[VpcEndpoint]]  # by vpc
    rules: dict[tuple[str, str, str], list[SecurityGroupRule]]  # by group
    nats: dict[tuple[str, str, str], NatGateway]

    @classmethod
    def build(cls, vpcs: list[Vpc], subnets: list[Subnet], tables: list[RouteTable], routes: list[Route],
              endpoints: list[VpcEndpoint], rules: list[SecurityGroupRule],
              nats: list[NatGateway]) -> "NetworkIndex":
        r: dict[tuple[str, str, str], list[Route]] = defaultdict(list)
        for x in routes:
            r[(x.account, x.region, x.route_table_id)].append(x)
        e: dict[tuple[str, str, str], list[VpcEndpoint]] = defaultdict(list)
        for x in endpoints:
            e[(x.account, x.region, x.vpc_id)].append(x)
        g: dict[tuple[str, str, str], list[SecurityGroupRule]] = defaultdict(list)
        for x in rules:
            g[(x.account, x.region, x.group_id)].append(x)
        return cls(
            vpcs={(v.account, v.region, v.vpc_id): v for v in vpcs},
            subnets={(s.account, s.region, s.subnet_id): s for s in subnets},
            tables={(t.account, t.region, t.route_table_id): t for t in tables},
            routes=dict(r), endpoints=dict(e), rules=dict(g),
            nats={(n.account, n.region, n.nat_gateway_id): n for n in nats},
        )

    def table_for(self, account: str, region: str, subnet_id: str) -> RouteTable | None:
        subnet = self.subnets.get((account, region, subnet_id))
        if subnet is None:
            return None
        main = None
        for t in self.tables.values():
            if t.account != account or t.region != region or t.vpc_id != subnet.vpc_id:
                continue
            if subnet_id in t.subnet_ids:
                return t
            if t.main:
                main = t
        return main


def allows_https_from(rules: list[SecurityGroupRule], cidr: str) -> bool:
    """Does any ingress rule admit TCP 443 from every address of `cidr`?"""
    net = ipaddress.ip_network(cidr, strict=False)
    for rule in rules:
        if rule.direction != "ingress":
            continue
        if rule.protocol not in ("tcp", "-1", "6"):
            continue
        if rule.protocol != "-1" and not ((rule.from_port or 0) <= HTTPS <= (rule.to_port or 65535)):
            continue
        if rule.cidr:
            src = ipaddress.ip_network(rule.cidr, strict=False)
            if src.version == net.version and net.subnet_of(src):  # type: ignore[arg-type]
                return True
    return False


def egress_path(idx: NetworkIndex, account: str, region: str, subnet_id: str) -> EgressPath | None:
    subnet = idx.subnets.get((account, region, subnet_id))
    if subnet is None:
        return None
    table = idx.table_for(account, region, subnet_id)
    routes = idx.routes.get((account, region, table.route_table_id), []) if table else []
    default_route, nat_id = "none", None
    for route in routes:
        if route.destination == "0.0.0.0/0" and route.state != "blackhole":
            default_route = route.target_type if route.target_type in ("nat", "igw", "tgw") else "other"
            nat_id = route.target_id if route.target_type == "nat" else None
    vpc = idx.vpcs.get((account, region, subnet.vpc_id))
    endpoints = idx.endpoints.get((account, region, subnet.vpc_id), [])
    s3_gw = next((e.endpoint_id for e in endpoints
                  if e.endpoint_type == "Gateway" and e.short_service == "s3" and e.state.lower() == "available"
                  and table is not None and table.route_table_id in e.route_table_ids), None)
    interface = {}
    for service in (*ECR_INTERFACE_SERVICES, "logs"):
        interface[service] = _interface_use(idx, account, region, subnet, vpc,
                                            [e for e in endpoints if e.endpoint_type == "Interface"
                                             and e.short_service == service])
    return EgressPath(subnet_id, subnet.vpc_id, subnet.availability_zone,
                      table.route_table_id if table else None, default_route, nat_id, s3_gw, interface)


def _interface_use(idx: NetworkIndex, account: str, region: str, subnet: Subnet, vpc: Vpc | None,
                   candidates: list[VpcEndpoint]) -> EndpointUse:
    if not candidates:
        return EndpointUse(None, False, ("missing",), codes=("missing",))
    best: EndpointUse | None = None
    for ep in candidates:
        found = endpoint_problems(idx, account, region, ep, subnet, vpc)
        problems = [text for _, text in found]
        azs = {idx.subnets[(account, region, s)].availability_zone for s in ep.subnet_ids
               if (account, region, s) in idx.subnets}
        same_az = subnet.availability_zone in azs
        use = EndpointUse(ep.endpoint_id, not problems, tuple(problems), same_az,
                          tuple(code for code, _ in found))
        if best is None or (use.usable and not best.usable) or (use.usable == best.usable and same_az
                                                                 and not best.same_az):
            best = use
    assert best is not None
    return best


def endpoint_problems(idx: NetworkIndex, account: str, region: str, ep: VpcEndpoint, subnet: Subnet,
                      vpc: Vpc | None) -> list[tuple[str, str]]:
    """Why interface endpoint `ep` does not serve `subnet`, as (code, text) pairs; empty when it does."""
    problems: list[tuple[str, str]] = []
    if ep.state.lower() != "available":
        problems.append(("state", f"state {ep.state}"))
    if not ep.private_dns_enabled:
        problems.append(("private-dns-off", "private DNS off"))
    if vpc is not None and not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        problems.append(("vpc-dns-off", "VPC DNS support/hostnames off"))
    rules = [r for g in ep.security_group_ids for r in idx.rules.get((account, region, g), [])]
    if not allows_https_from(rules, subnet.cidr):
        problems.append(("sg-no-https", f"security group does not allow 443 from {subnet.cidr}"))
    return problems
