"""Network collector (scan family "network"): what decides the path an image pull takes.

Per account and region: VPCs and their DNS attributes, subnets, route tables (flattened routes, subnet
associations, the main table), NAT gateways, VPC endpoints, security group rules (flattened), and 30 days of
AWS/NATGateway byte metrics per NAT gateway as daily sums. About eight requests a region plus two a VPC
(DescribeVpcAttribute answers one attribute a call) and one GetMetricData call per 125 NAT gateways.
It never computes money.
"""
from __future__ import annotations

from datetime import timezone
from typing import Any, Iterable

import botocore.exceptions

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.metrics import MAX_QUERIES, day_window
from ecrwise.aws.session import Account, error_code
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import network as network_records
from ecrwise.records.network import (NatGateway, NatMetric, Route, RouteTable, SecurityGroupRule, Subnet, Vpc,
                                     VpcEndpoint)

IAM_ACTIONS = [
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeNatGateways",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeSecurityGroups",
    "cloudwatch:GetMetricData",
]

NAT_METRICS = ("BytesOutToDestination", "BytesInFromDestination", "BytesOutToSource", "BytesInFromSource")
# AWS keeps deleted NAT gateways and endpoints visible for a while; they no longer route anything.
GONE_STATES = {"deleted", "deleting"}


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _pages(client: Any, op: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(op).paginate(**kwargs):
        out.extend(page.get(key, []))
    return out


def region_task(account: Account, region: str, *, vpc_ids: list[str] | None = None,
                with_metrics: bool = True) -> Task:
    """The first task for one account and region. `vpc_ids` narrows collection to those VPCs (used by
    `ecrwise network fix --apply` to read the live state of one VPC)."""
    def run() -> TaskResult:
        ec2 = account.client("ec2", region)
        vpc_filter = [{"Name": "vpc-id", "Values": vpc_ids}] if vpc_ids else []
        vpcs = _pages(ec2, "describe_vpcs", "Vpcs", **({"VpcIds": vpc_ids} if vpc_ids else {}))
        tasks = [vpc_task(account, region, v) for v in vpcs]
        tasks += [
            Task("network", account.account_id, region, f"{region} subnets",
                 lambda: TaskResult(records=collect_subnets(account, region, vpc_filter))),
            Task("network", account.account_id, region, f"{region} route tables",
                 lambda: TaskResult(records=collect_route_tables(account, region, vpc_filter))),
            Task("network", account.account_id, region, f"{region} vpc endpoints",
                 lambda: TaskResult(records=collect_endpoints(account, region, vpc_filter))),
            Task("network", account.account_id, region, f"{region} security groups",
                 lambda: TaskResult(records=collect_security_group_rules(account, region, vpc_filter))),
            Task("network", account.account_id, region, f"{region} nat gateways",
                 lambda: nat_gateways(account, region, vpc_filter, with_metrics)),
        ]
        return TaskResult(tasks=tasks)

    return Task("network", account.account_id, region, f"{account.account_id}/{region} network", run,
                region_root=True)


def vpc_task(account: Account, region: str, vpc: dict[str, Any]) -> Task:
    return Task("network", account.account_id, region, f"{region}/{vpc['VpcId']} attributes",
                lambda: collect_vpc(account, region, vpc))


def collect_vpc(account: Account, region: str, vpc: dict[str, Any]) -> TaskResult:
    ec2 = account.client("ec2", region)
    vpc_id = vpc["VpcId"]
    result = TaskResult()
    values = {}
    for attr in ("enableDnsSupport", "enableDnsHostnames"):
        try:
            resp = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attr)
            values[attr] = bool(resp.get(attr[0].upper() + attr[1:], {}).get("Value"))
        except botocore.exceptions.ClientError as e:
            # Keep the VPC (its endpoints still get audited); an unreadable attribute is taken as on, so no
            # DNS finding is raised on a guess, and the scan warns that it could not read it.
            values[attr] = True
            result.problems.append((error_code(e), f"{vpc_id}: DescribeVpcAttribute {attr}: "
                                                   f"{e.response.get('Error', {}).get('Message', e)}"))
    result.records.append(Vpc(account.account_id, region, vpc_id, vpc.get("CidrBlock", ""),
                              bool(vpc.get("IsDefault")), values["enableDnsSupport"], values["enableDnsHostnames"],
                              _tags(vpc.get("Tags"))))
    return result


def collect_subnets(account: Account, region: str, vpc_filter: list[dict[str, Any]]) -> list[Subnet]:
    ec2 = account.client("ec2", region)
    return [Subnet(account.account_id, region, s["SubnetId"], s["VpcId"], s.get("CidrBlock", ""),
                   s.get("AvailabilityZone", ""), bool(s.get("MapPublicIpOnLaunch")), _tags(s.get("Tags")))
            for s in _pages(ec2, "describe_subnets", "Subnets", Filters=vpc_filter)]


def route_target(route: dict[str, Any]) -> tuple[str, str]:
    """(target_type, target_id) of one route as DescribeRouteTables returns it."""
    if route.get("NatGatewayId"):
        return "nat", route["NatGatewayId"]
    if route.get("TransitGatewayId"):
        return "tgw", route["TransitGatewayId"]
    if route.get("VpcPeeringConnectionId"):
        return "pcx", route["VpcPeeringConnectionId"]
    if route.get("InstanceId"):
        return "instance", route["InstanceId"]
    if route.get("NetworkInterfaceId"):
        return "eni", route["NetworkInterfaceId"]
    gw = route.get("GatewayId") or ""
    if gw == "local":
        return "local", "local"
    if gw.startswith("igw-"):
        return "igw", gw
    if gw.startswith("vpce-"):
        return "vpce", gw
    other = gw or route.get("EgressOnlyInternetGatewayId") or route.get("CarrierGatewayId") or \
        route.get("LocalGatewayId") or route.get("CoreNetworkArn") or ""
    return "other", other


def flatten_route_table(account: str, region: str, table: dict[str, Any]) -> tuple[RouteTable, list[Route]]:
    rt_id, vpc_id = table["RouteTableId"], table["VpcId"]
    assocs = [a for a in table.get("Associations", [])
              if (a.get("AssociationState") or {}).get("State", "associated") == "associated"]
    main = any(a.get("Main") for a in assocs)
    subnets = sorted({a["SubnetId"] for a in assocs if a.get("SubnetId")})
    routes = []
    for r in table.get("Routes", []):
        dest = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock") or r.get("DestinationPrefixListId")
        if not dest:
            continue
        kind, target = route_target(r)
        routes.append(Route(account, region, rt_id, vpc_id, dest, kind, target, r.get("State", "active")))
    return RouteTable(account, region, rt_id, vpc_id, main, subnets), routes


def collect_route_tables(account: Account, region: str,
                         vpc_filter: list[dict[str, Any]]) -> list[RouteTable | Route]:
    ec2 = account.client("ec2", region)
    out: list[RouteTable | Route] = []
    for t in _pages(ec2, "describe_route_tables", "RouteTables", Filters=vpc_filter):
        table, routes = flatten_route_table(account.account_id, region, t)
        out.append(table)
        out.extend(routes)
    return out


def endpoint_record(account: str, region: str, e: dict[str, Any]) -> VpcEndpoint:
    return VpcEndpoint(
        account=account, region=region, endpoint_id=e["VpcEndpointId"], vpc_id=e["VpcId"],
        service_name=e.get("ServiceName", ""), endpoint_type=e.get("VpcEndpointType") or "Gateway",
        state=(e.get("State") or "").lower(), private_dns_enabled=bool(e.get("PrivateDnsEnabled")),
        subnet_ids=sorted(e.get("SubnetIds") or []),
        security_group_ids=sorted(g["GroupId"] for g in e.get("Groups") or []),
        route_table_ids=sorted(e.get("RouteTableIds") or []), policy=e.get("PolicyDocument"),
        tags=_tags(e.get("Tags")))


def collect_endpoints(account: Account, region: str, vpc_filter: list[dict[str, Any]]) -> list[VpcEndpoint]:
    ec2 = account.client("ec2", region)
    return [endpoint_record(account.account_id, region, e)
            for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=vpc_filter)
            if (e.get("State") or "").lower() not in GONE_STATES]


def flatten_security_group(account: str, region: str, group: dict[str, Any]) -> list[SecurityGroupRule]:
    out = []
    for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        for perm in group.get(key, []):
            proto = str(perm.get("IpProtocol", "-1"))
            base = dict(account=account, region=region, group_id=group["GroupId"], vpc_id=group.get("VpcId", ""),
                        direction=direction, protocol=proto, from_port=perm.get("FromPort"),
                        to_port=perm.get("ToPort"))
            for r in perm.get("IpRanges", []):
                out.append(SecurityGroupRule(**base, cidr=r["CidrIp"]))
            for r in perm.get("Ipv6Ranges", []):
                out.append(SecurityGroupRule(**base, cidr=r["CidrIpv6"]))
            for p in perm.get("UserIdGroupPairs", []):
                out.append(SecurityGroupRule(**base, cidr=None, source_group_id=p.get("GroupId")))
            for p in perm.get("PrefixListIds", []):
                out.append(SecurityGroupRule(**base, cidr=None, prefix_list_id=p.get("PrefixListId")))
    return out


def collect_security_group_rules(account: Account, region: str,
                                 vpc_filter: list[dict[str, Any]]) -> list[SecurityGroupRule]:
    ec2 = account.client("ec2", region)
    out: list[SecurityGroupRule] = []
    for g in _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=vpc_filter):
        out.extend(flatten_security_group(account.account_id, region, g))
    return out


def nat_gateways(account: Account, region: str, vpc_filter: list[dict[str, Any]],
                 with_metrics: bool) -> TaskResult:
    ec2 = account.client("ec2", region)
    # DescribeNatGateways names its VPC filter "vpc-id" like the others.
    nats = [n for n in _pages(ec2, "describe_nat_gateways", "NatGateways", Filter=vpc_filter)
            if (n.get("State") or "").lower() not in GONE_STATES]
    records = [NatGateway(account.account_id, region, n["NatGatewayId"], n.get("VpcId", ""), n.get("SubnetId", ""),
                          (n.get("State") or "").lower(), n.get("ConnectivityType") or "public",
                          sorted(a["PublicIp"] for a in n.get("NatGatewayAddresses", []) if a.get("PublicIp")))
               for n in nats]
    ids = [n.nat_gateway_id for n in records]
    tasks = []
    if with_metrics and ids:
        per_call = MAX_QUERIES // len(NAT_METRICS)
        for i in range(0, len(ids), per_call):
            chunk = ids[i:i + per_call]
            tasks.append(Task("cloudwatch", account.account_id, region,
                              f"{region} NAT metrics {i // per_call + 1}",
                              lambda chunk=chunk: TaskResult(records=collect_nat_metrics(account, region, chunk))))
    return TaskResult(records=list(records), tasks=tasks)


def nat_metric_queries(nat_ids: list[str]) -> list[dict[str, Any]]:
    return [{
        "Id": f"n{i}m{j}",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/NATGateway", "MetricName": metric,
                       "Dimensions": [{"Name": "NatGatewayId", "Value": nat}]},
            "Period": 86400, "Stat": "Sum"},
        "ReturnData": True,
    } for i, nat in enumerate(nat_ids) for j, metric in enumerate(NAT_METRICS)]


def collect_nat_metrics(account: Account, region: str, nat_ids: list[str]) -> list[NatMetric]:
    """Daily sums of the four byte metrics for up to 125 NAT gateways (500 queries, one GetMetricData call
    plus its pages)."""
    cw = account.client("cloudwatch", region)
    start, end = day_window()
    sums: dict[tuple[str, str, Any], int] = {}
    # One result Id may continue on a later page: sums are kept per (NAT, metric, day) across pages.
    for resp in cw.get_paginator("get_metric_data").paginate(MetricDataQueries=nat_metric_queries(nat_ids),
                                                             StartTime=start, EndTime=end):
        for res in resp.get("MetricDataResults", []):
            i, j = (int(x) for x in res["Id"][1:].split("m"))
            for ts, value in zip(res.get("Timestamps", []), res.get("Values", [])):
                key = (nat_ids[i], NAT_METRICS[j], ts.astimezone(timezone.utc).date())
                sums[key] = sums.get(key, 0) + int(round(value))
    return [NatMetric(account.account_id, region, nat, metric, day, value)
            for (nat, metric, day), value in sorted(sums.items())]


def collect_vpc_records(account: Account, region: str, vpc_id: str, *,
                        with_metrics: bool = False) -> list[Any]:
    """Everything the collector reads about one VPC, synchronously (for plan/apply on live state)."""
    records: list[Any] = []
    pending: list[Task] = [region_task(account, region, vpc_ids=[vpc_id], with_metrics=with_metrics)]
    while pending:
        res = pending.pop().fn()
        records.extend(res.records)
        pending.extend(res.tasks)
    return records


def by_type(records: Iterable[Any]) -> dict[type, list[Any]]:
    out: dict[type, list[Any]] = {}
    for r in records:
        out.setdefault(type(r), []).append(r)
    return out


# NAT gateway byte metrics are part of this family; their tasks report failures as "network".
FAMILY = CollectorFamily(name="network", records=(network_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("network",), summary=(Vpc, VpcEndpoint, NatGateway))
