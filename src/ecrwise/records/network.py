"""Network records: what decides the path an image pull takes (NAT gateway, VPC endpoints, public IP)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Vpc:
    __table__ = "vpcs"
    account: str
    region: str
    vpc_id: str
    cidr: str
    is_default: bool
    enable_dns_support: bool
    enable_dns_hostnames: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subnet:
    __table__ = "subnets"
    account: str
    region: str
    subnet_id: str
    vpc_id: str
    cidr: str
    availability_zone: str
    map_public_ip_on_launch: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a route table, flattened: target_type is igw | nat | vpce | local | tgw | pcx | eni |
    instance | other; destination is a CIDR or a prefix-list id (S3 gateway endpoints add a prefix list)."""
    __table__ = "routes"
    account: str
    region: str
    route_table_id: str
    vpc_id: str
    destination: str
    target_type: str
    target_id: str
    state: str


@dataclass(frozen=True, slots=True)
class RouteTable:
    __table__ = "route_tables"
    account: str
    region: str
    route_table_id: str
    vpc_id: str
    main: bool
    # Subnets explicitly associated; a subnet with no explicit association uses the VPC's main table.
    subnet_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NatGateway:
    __table__ = "nat_gateways"
    account: str
    region: str
    nat_gateway_id: str
    vpc_id: str
    subnet_id: str
    state: str
    connectivity_type: str
    public_ips: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VpcEndpoint:
    __table__ = "vpc_endpoints"
    account: str
    region: str
    endpoint_id: str
    vpc_id: str
    service_name: str  # com.amazonaws.us-east-1.ecr.dkr
    endpoint_type: str  # Interface | Gateway | GatewayLoadBalancer
    state: str
    private_dns_enabled: bool
    subnet_ids: list[str] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    route_table_ids: list[str] = field(default_factory=list)
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def short_service(self) -> str:
        """`ecr.dkr`, `ecr.api`, `s3`, `logs`: the service name without its com.amazonaws.REGION. prefix."""
        parts = self.service_name.split(".")
        return ".".join(parts[3:]) if len(parts) > 3 else self.service_name


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    """One ingress or egress permission, flattened (one row per CIDR / referenced group)."""
    __table__ = "security_group_rules"
    account: str
    region: str
    group_id: str
    vpc_id: str
    direction: str  # ingress | egress
    protocol: str  # tcp | udp | icmp | -1 (all)
    from_port: int | None
    to_port: int | None
    cidr: str | None  # IPv4 or IPv6 CIDR
    source_group_id: str | None = None
    prefix_list_id: str | None = None


@dataclass(frozen=True, slots=True)
class NatMetric:
    """A daily sum of one AWS/NATGateway byte metric for one NAT gateway."""
    __table__ = "nat_metrics"
    account: str
    region: str
    nat_gateway_id: str
    metric: str  # BytesOutToDestination | BytesInFromDestination | BytesOutToSource | BytesInFromSource
    day: date
    value: int
