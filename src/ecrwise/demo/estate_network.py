"""The demo estate's networks: three VPCs that show the three states users are in.

- `nat-only`: private subnets whose default route is a NAT gateway, and no endpoints: every image byte
  goes through the NAT.
- `endpoints-ok`: the correct set-up: `ecr.api` and `ecr.dkr` interface endpoints with private DNS in every
  private subnet's AZ, a security group allowing 443 from the private subnets, the free `s3` gateway endpoint
  on every private route table, and `logs`.
- `endpoints-broken`: endpoints that exist but do not work: the S3 gateway endpoint sits only on the public
  route table, `ecr.dkr` has private DNS off, and the endpoint security group has no 443 rule.

All created through the EC2 API. Returns the ids the ECS part of the estate places services into.

Each NAT gateway also gets 30 days of AWS/NATGateway byte metrics (see `NAT_TRAFFIC`): the nat-only VPC's
gateway carries every pull byte and jumps ~15× ten days ago, when the ECS part's `prod/billing-api` began
crash-looping (~300 starts a day × 572 MiB ≈ 169 GiB a day, all through the NAT); the broken VPC's spikes once
on traffic that is not image pulls; the correct VPC's carries only a little non-ECR traffic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from ecrwise.pricing.book import GIB

AZ_SUFFIXES = ("a", "b", "c")
DAYS = 30
# Per VPC: GiB a day downloaded through the NAT: (baseline, {days ago: GiB a day from that day on},
# {days ago: multiplier for that day alone}).
NAT_TRAFFIC: dict[str, tuple[float, dict[int, float], dict[int, float]]] = {
    "nat-only": (12.0, {10: 175.0}, {}),
    "endpoints-ok": (1.5, {}, {}),
    "endpoints-broken": (6.0, {}, {12: 6.0}),
}


@dataclass
class EstateVpc:
    name: str
    vpc_id: str
    cidr: str
    private_subnets: list[str] = field(default_factory=list)
    public_subnets: list[str] = field(default_factory=list)
    private_route_tables: list[str] = field(default_factory=list)
    public_route_table: str = ""
    nat_gateway_id: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)  # short service -> endpoint id
    endpoint_security_group: str | None = None


def build_networks(ec2: Any, region: str, *, metrics: bool = True, now: datetime | None = None,
                   seed: int = 11) -> dict[str, EstateVpc]:
    nets = {
        "nat-only": _vpc(ec2, region, "nat-only", "10.10.0.0/16", endpoints=None),
        "endpoints-ok": _vpc(ec2, region, "endpoints-ok", "10.20.0.0/16", endpoints="ok"),
        "endpoints-broken": _vpc(ec2, region, "endpoints-broken", "10.30.0.0/16", endpoints="broken"),
    }
    if metrics:
        # A CloudWatch client at the same endpoint as the EC2 client the caller gave us.
        cw = boto3.client("cloudwatch", endpoint_url=ec2.meta.endpoint_url, region_name=region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        put_nat_metrics(cw, nets, now or datetime.now(timezone.utc), seed)
    return nets


def nat_daily_bytes(name: str, rng: random.Random) -> list[tuple[int, int]]:
    """(days ago, BytesInFromDestination) for the last DAYS days of one demo VPC's NAT gateway."""
    level, steps, spikes = NAT_TRAFFIC[name]
    out = []
    for back in range(DAYS - 1, -1, -1):
        level = steps.get(back, level)
        value = level * GIB * rng.uniform(0.9, 1.1) * spikes.get(back, 1.0)
        out.append((back, int(value)))
    return out


def put_nat_metrics(cw: Any, nets: dict[str, EstateVpc], now: datetime, seed: int = 11) -> None:
    """30 daily data points of the four AWS/NATGateway byte metrics per gateway, at noon UTC.

    The stand-in accepts AWS/NATGateway data points from PutMetricData (AWS itself would not): it is how the
    stand-in is given the metrics NAT gateways publish. Responses dominate image pulls: what comes in from
    the destination goes out to the source; requests are ~3% of it each way.
    """
    rng = random.Random(seed)
    noon = now.astimezone(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    data = []
    for name, net in nets.items():
        if not net.nat_gateway_id:
            continue
        dims = [{"Name": "NatGatewayId", "Value": net.nat_gateway_id}]
        for back, downloaded in nat_daily_bytes(name, rng):
            requests = int(downloaded * 0.03)
            for metric, value in (("BytesInFromDestination", downloaded), ("BytesOutToSource", downloaded),
                                  ("BytesInFromSource", requests), ("BytesOutToDestination", requests)):
                data.append({"MetricName": metric, "Dimensions": dims, "Timestamp": noon - timedelta(days=back),
                             "Value": float(value), "Unit": "Bytes"})
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/NATGateway", MetricData=data[i:i + 1000])



def _tag(ec2: Any, resource_id: str, name: str) -> None:
    ec2.create_tags(Resources=[resource_id], Tags=[{"Key": "Name", "Value": name}])


def _vpc(ec2: Any, region: str, name: str, cidr: str, endpoints: str | None) -> EstateVpc:
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    _tag(ec2, vpc_id, name)
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    v = EstateVpc(name, vpc_id, cidr)
    prefix = cidr.split(".")[0] + "." + cidr.split(".")[1]

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    public_rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    _tag(ec2, public_rt, f"{name}-public")
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    v.public_route_table = public_rt

    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{prefix}.0.0/24",
                               AvailabilityZone=f"{region}a")["Subnet"]["SubnetId"]
    _tag(ec2, public, f"{name}-public-a")
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    v.public_subnets.append(public)

    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    _tag(ec2, nat, f"{name}-nat")
    v.nat_gateway_id = nat

    for i, az in enumerate(AZ_SUFFIXES):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{prefix}.{10 + i}.0/24",
                                   AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
        _tag(ec2, subnet, f"{name}-private-{az}")
        rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        _tag(ec2, rt, f"{name}-private-{az}")
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
        v.private_subnets.append(subnet)
        v.private_route_tables.append(rt)

    if endpoints is None:
        return v

    sg = ec2.create_security_group(GroupName=f"{name}-endpoints", Description="VPC endpoints",
                                   VpcId=vpc_id)["GroupId"]
    v.endpoint_security_group = sg
    if endpoints == "ok":
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr}]}])
    else:
        # The broken VPC's group admits only SSH: the endpoints exist but tasks cannot reach them.
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": cidr}]}])

    s3_tables = v.private_route_tables if endpoints == "ok" else [public_rt]
    v.endpoints["s3"] = ec2.create_vpc_endpoint(
        VpcId=vpc_id, ServiceName=f"com.amazonaws.{region}.s3", VpcEndpointType="Gateway",
        RouteTableIds=s3_tables)["VpcEndpoint"]["VpcEndpointId"]
    for service in ("ecr.api", "ecr.dkr", "logs"):
        private_dns = not (endpoints == "broken" and service == "ecr.dkr")
        v.endpoints[service] = ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=f"com.amazonaws.{region}.{service}", VpcEndpointType="Interface",
            SubnetIds=v.private_subnets, SecurityGroupIds=[sg],
            PrivateDnsEnabled=private_dns)["VpcEndpoint"]["VpcEndpointId"]
    return v
