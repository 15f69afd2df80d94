"""Network checks on hand-built records: which gaps each VPC has, their severity and cost, the fix plan and
its Terraform / CloudFormation rendering."""
from __future__ import annotations

from datetime import date, timedelta

import hcl2
import pytest

from ecrwise.analysis.checks import REGISTRY, Records
from ecrwise.analysis.checks import CheckSession
from ecrwise.analysis.network_checks import VpcPullTraffic, audit_network, network_audit
from ecrwise.pricing.book import GIB, load_price_book
from ecrwise.records.ecs import EcsContainerDefinition, EcsService
from ecrwise.records.network import (NatGateway, NatMetric, Route, RouteTable, SecurityGroupRule, Subnet, Vpc,
                                     VpcEndpoint)
from ecrwise.remediate.network_templates import cloudformation, plan_fixes, terraform

A, R = "111111111111", "us-east-1"
BOOK = load_price_book()
KIB = 1024
HCL = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


class Net:
    """One VPC: a public subnet (IGW), three private subnets each with its own route table to a NAT."""

    def __init__(self, n: int = 1, nat: bool = True, dns: tuple[bool, bool] = (True, True), azs: str = "abc"):
        self.vpc_id, self.cidr = f"vpc-{n}", f"10.{n}.0.0/16"
        self.records: list = [Vpc(A, R, self.vpc_id, self.cidr, False, dns[0], dns[1], {"Name": f"net{n}"})]
        self.nat = f"nat-{n}" if nat else None
        self.public_rt = f"rtb-{n}-pub"
        self.records += [Subnet(A, R, f"subnet-{n}-pub", self.vpc_id, f"10.{n}.0.0/24", f"{R}a", True),
                         RouteTable(A, R, self.public_rt, self.vpc_id, False, [f"subnet-{n}-pub"]),
                         Route(A, R, self.public_rt, self.vpc_id, "0.0.0.0/0", "igw", f"igw-{n}", "active"),
                         RouteTable(A, R, f"rtb-{n}-main", self.vpc_id, True, [])]
        if nat:
            self.records.append(NatGateway(A, R, self.nat, self.vpc_id, f"subnet-{n}-pub", "available", "public",
                                           ["3.3.3.3"]))
        self.private, self.tables = [], []
        for i, az in enumerate(azs):
            sn, rt = f"subnet-{n}-{az}", f"rtb-{n}-{az}"
            self.private.append(sn)
            self.tables.append(rt)
            self.records += [Subnet(A, R, sn, self.vpc_id, f"10.{n}.{10 + i}.0/24", f"{R}{az}", False),
                             RouteTable(A, R, rt, self.vpc_id, False, [sn])]
            if nat:
                self.records.append(Route(A, R, rt, self.vpc_id, "0.0.0.0/0", "nat", self.nat, "active"))

    def endpoints(self, *, s3_tables: list[str] | None = None, dns_off: tuple[str, ...] = (), https: bool = True,
                  logs: bool = True, subnets: list[str] | None = None) -> "Net":
        sg = f"sg-{self.vpc_id}"
        port = 443 if https else 22
        self.records.append(SecurityGroupRule(A, R, sg, self.vpc_id, "ingress", "tcp", port, port, self.cidr))
        self.records.append(VpcEndpoint(A, R, f"vpce-{self.vpc_id}-s3", self.vpc_id, f"com.amazonaws.{R}.s3",
                                        "Gateway", "available", True,
                                        route_table_ids=self.tables if s3_tables is None else s3_tables))
        for svc in ("ecr.api", "ecr.dkr") + (("logs",) if logs else ()):
            self.records.append(VpcEndpoint(A, R, f"vpce-{self.vpc_id}-{svc}", self.vpc_id,
                                            f"com.amazonaws.{R}.{svc}", "Interface", "available",
                                            svc not in dns_off, subnet_ids=subnets or self.private,
                                            security_group_ids=[sg]))
        return self


def audit(*nets: Net, extra: list | None = None, **kw):
    recs: dict[type, list] = {}
    for r in [x for n in nets for x in n.records] + (extra or []):
        recs.setdefault(type(r), []).append(r)
    return audit_network(Records(recs), BOOK, **kw)


def kinds(vpc_audit) -> list[tuple[str, str]]:
    return sorted((f.check, f.resource) for f in vpc_audit.findings)


def test_nat_only_vpc_misses_every_endpoint():
    n = Net(1)
    (a,) = audit(n, pull_traffic={}).vpcs
    assert a.workload.source == "nat-route" and a.workload.subnet_ids == tuple(n.private)
    assert kinds(a) == [("network.endpoint-missing", "vpc-1/ecr.api"), ("network.endpoint-missing", "vpc-1/ecr.dkr"),
                        ("network.endpoint-missing", "vpc-1/s3")]
    sev = {f.resource: f.severity for f in a.findings}
    assert sev == {"vpc-1/ecr.api": "low", "vpc-1/ecr.dkr": "low", "vpc-1/s3": "high"}
    assert a.services["logs"].detail == "not needed"
    assert all(f.fix == "ecrwise network fix --vpc vpc-1 --apply" for f in a.findings)


def test_correct_vpc_has_no_findings():
    (a,) = audit(Net(2).endpoints(), pull_traffic={}).vpcs
    assert a.findings == []
    assert all(s.ok for s in a.services.values())


def test_broken_vpc_is_reported_exactly():
    n = Net(3).endpoints(s3_tables=["rtb-3-pub"], dns_off=("ecr.dkr",), https=False)
    (a,) = audit(n, pull_traffic={}).vpcs
    assert kinds(a) == [
        ("network.endpoint-private-dns", "vpce-vpc-3-ecr.dkr"),
        ("network.endpoint-security-group", "vpce-vpc-3-ecr.api"),
        ("network.endpoint-security-group", "vpce-vpc-3-ecr.dkr"),
        ("network.endpoint-security-group", "vpce-vpc-3-logs"),
        ("network.s3-gateway-route-tables", "vpce-vpc-3-s3"),
    ]
    by = {(f.check, f.resource): f for f in a.findings}
    # Private DNS on + no 443: calls time out. Private DNS off: the group only matters once DNS is fixed.
    assert by[("network.endpoint-security-group", "vpce-vpc-3-ecr.api")].severity == "high"
    assert by[("network.endpoint-security-group", "vpce-vpc-3-ecr.dkr")].severity == "medium"
    assert "10.3.10.0/24, 10.3.11.0/24, 10.3.12.0/24" in by[("network.endpoint-security-group",
                                                              "vpce-vpc-3-ecr.api")].message
    s3 = by[("network.s3-gateway-route-tables", "vpce-vpc-3-s3")]
    assert s3.evidence["route_table_ids"] == ["rtb-3-a", "rtb-3-b", "rtb-3-c"]
    # The endpoint with private DNS off is paid for nothing: 3 AZ × 730 h × $0.01.
    assert by[("network.endpoint-private-dns", "vpce-vpc-3-ecr.dkr")].monthly_cost_usd == pytest.approx(21.90)


def test_ecs_subnets_decide_and_awslogs_needs_logs():
    n = Net(4).endpoints(logs=False)
    td = "arn:aws:ecs:us-east-1:111111111111:task-definition/api:3"
    svc = EcsService(A, R, "arn:cluster", "prod", "arn:svc/api", "api", "ACTIVE", "FARGATE", [], "REPLICA", 2, 2, 0,
                     td, "ECS", True, True, 100, 200, subnets=["subnet-4-a", "subnet-4-pub"])
    container = EcsContainerDefinition(A, R, td, "app", "repo:1", None, None, None, True, log_driver="awslogs")
    (a,) = audit(n, extra=[svc, container], pull_traffic={}).vpcs
    assert a.workload.source == "ecs"
    assert a.workload.subnet_ids == ("subnet-4-a",)
    assert a.workload.public_subnet_ids == ("subnet-4-pub",)  # its pulls leave through the IGW
    assert a.workload.ecs_services == ("api",) and a.workload.uses_awslogs
    assert kinds(a) == [("network.endpoint-missing", "vpc-4/logs")]


def test_no_way_out_is_critical():
    n = Net(5, nat=False).endpoints(s3_tables=[])
    (a,) = audit(n, extra=[EcsService(A, R, "c", "c", "s", "s", "ACTIVE", "FARGATE", [], "REPLICA", 1, 1, 0,
                                      None, "ECS", None, None, None, None, subnets=["subnet-5-a"])],
                 pull_traffic={}).vpcs
    (f,) = a.findings
    assert f.check == "network.s3-gateway-route-tables" and f.severity == "critical"
    assert "layer downloads fail" in f.message


def test_vpc_dns_off_and_az_coverage():
    n = Net(6, dns=(True, False)).endpoints(subnets=["subnet-6-a"])
    (a,) = audit(n, pull_traffic={}).vpcs
    checks = sorted(f.check for f in a.findings)
    assert checks == ["network.endpoint-az-coverage"] * 3 + ["network.vpc-dns-attributes"]
    dns = next(f for f in a.findings if f.check == "network.vpc-dns-attributes")
    assert dns.severity == "high" and dns.evidence["attributes"] == ["enableDnsHostnames"]
    cov = next(f for f in a.findings if f.check == "network.endpoint-az-coverage")
    assert cov.evidence["azs"] == ["us-east-1b", "us-east-1c"] and cov.severity == "low"
    plan = plan_fixes(a)
    assert [x.kind for x in plan.actions] == ["enable-vpc-dns"] + ["add-endpoint-subnets"] * 3
    assert plan.actions[0].attribute == "enableDnsHostnames"
    assert plan.actions[1].subnet_ids == ("subnet-6-b", "subnet-6-c")


def test_costs_with_known_pull_traffic():
    n = Net(7).endpoints(s3_tables=["rtb-7-a", "rtb-7-b"], dns_off=("ecr.dkr",))
    t = VpcPullTraffic(bytes_per_month=1000 * GIB, pulls_per_month=4000)
    (a,) = audit(n, pull_traffic={(A, R, "vpc-7"): t}).vpcs
    by = {f.check: f for f in a.findings}
    layers = 1000 * GIB - 4000 * 32 * KIB
    # One of three subnets lacks the gateway route: a third of the layer bytes through the NAT at $0.045/GB.
    s3 = by["network.s3-gateway-route-tables"]
    assert s3.monthly_cost_usd == pytest.approx(layers / 3 / GIB * 0.045)
    assert s3.monthly_savings_usd == s3.monthly_cost_usd
    assert s3.arithmetic["bytes"] == int(layers / 3)
    # Private DNS off: the wasted endpoint hours plus the registry bytes (4000 × 28 KiB) through the NAT.
    dkr = by["network.endpoint-private-dns"]
    assert dkr.monthly_cost_usd == pytest.approx(21.90 + 4000 * 28 * KIB / GIB * 0.045)


def test_missing_ecr_endpoint_costs_more_than_it_saves():
    t = VpcPullTraffic(bytes_per_month=500 * GIB, pulls_per_month=2000)
    (a,) = audit(Net(8), pull_traffic={(A, R, "vpc-8"): t}).vpcs
    by = {f.resource: f for f in a.findings}
    dkr = by["vpc-8/ecr.dkr"]
    assert dkr.monthly_cost_usd == pytest.approx(2000 * 28 * KIB / GIB * 0.045)
    assert dkr.monthly_savings_usd == 0.0  # the endpoint's $21.90 of hours exceed what it takes off the NAT
    assert dkr.arithmetic["fix_cost"]["formula"].endswith("$21.90")
    assert by["vpc-8/s3"].monthly_cost_usd == pytest.approx((500 * GIB - 2000 * 32 * KIB) / GIB * 0.045)


def test_nat_spike_finding_and_registered_checks():
    n = Net(9)
    days = [40 * GIB] * 10 + [400 * GIB] + [40 * GIB] * 3
    metrics = [NatMetric(A, R, "nat-9", "BytesInFromDestination", date(2026, 3, 1) + timedelta(days=i), v)
               for i, v in enumerate(days)]
    recs: dict[type, list] = {}
    for r in n.records + metrics:
        recs.setdefault(type(r), []).append(r)
    records = Records(recs)
    session = CheckSession(records, BOOK, facts={"pull_traffic": {}})
    result = network_audit(session.context(REGISTRY["network.nat-traffic-spike"]))
    spikes = [f for f in result.findings if f.check == "network.nat-traffic-spike"]
    (spike,) = spikes
    assert spike.resource == "nat-9" and spike.evidence["spikes"][0]["day"] == "2026-03-11"
    assert spike.monthly_cost_usd == pytest.approx(360 * 0.045)
    for check_id in ("network.endpoint-missing", "network.nat-traffic-spike"):
        check = REGISTRY[check_id]
        assert check.family == "network" and check.docs.startswith("docs/network.md#")
        got = list(check.run(records, BOOK, facts={"pull_traffic": {}}))
        assert got and all(f.check == check_id for f in got)


def test_fix_plans_and_templates():
    nat_only = audit(Net(10), pull_traffic={}).vpcs[0]
    plan = plan_fixes(nat_only)
    assert [a.kind for a in plan.actions] == ["ensure-security-group", "create-interface-endpoint",
                                              "create-interface-endpoint", "create-gateway-endpoint"]
    assert plan.actions[0].cidrs == ("10.10.10.0/24", "10.10.11.0/24", "10.10.12.0/24")
    assert plan.actions[1].subnet_ids == ("subnet-10-a", "subnet-10-b", "subnet-10-c")
    tf = hcl2.loads(terraform(plan, "test"), serialization_options=HCL)
    resources = {(k, name): body for r in tf["resource"] for k, v in r.items() for name, body in v.items()}
    assert set(resources) == {("aws_security_group", "ecrwise_vpc_endpoints"), ("aws_vpc_endpoint", "ecr_api"),
                              ("aws_vpc_endpoint", "ecr_dkr"), ("aws_vpc_endpoint", "s3")}
    assert resources[("aws_vpc_endpoint", "s3")]["route_table_ids"] == ["rtb-10-a", "rtb-10-b", "rtb-10-c"]
    cfn = cloudformation(plan, "test")
    assert set(cfn["Resources"]) == {"EcrwiseEndpointSecurityGroup", "EcrApiEndpoint", "EcrDkrEndpoint",
                                     "S3GatewayEndpoint"}

    broken = audit(Net(11).endpoints(s3_tables=["rtb-11-pub"], dns_off=("ecr.dkr",), https=False),
                   pull_traffic={}).vpcs[0]
    plan = plan_fixes(broken)
    assert [(a.kind, a.service) for a in plan.actions] == [
        ("ensure-security-group", None), ("create-gateway-endpoint", "s3"),
        ("attach-security-group", "ecr.api"), ("attach-security-group", "ecr.dkr"),
        ("attach-security-group", "logs"), ("enable-private-dns", "ecr.dkr")]
    text = terraform(plan, "test")
    tf = hcl2.loads(text, serialization_options=HCL)
    assocs = [name for r in tf["resource"] for k, v in r.items() if k == "aws_vpc_endpoint_security_group_association"
              for name in v]
    assert len(assocs) == 3
    dns = [body for r in tf["resource"] for k, v in r.items() if k == "aws_vpc_endpoint_private_dns"
           for body in v.values()]
    assert len(dns) == 1 and dns[0]["vpc_endpoint_id"] == "vpce-vpc-11-ecr.dkr" and dns[0]["private_dns_enabled"]
    assert dns[0]["depends_on"] == ["${aws_vpc_endpoint_security_group_association.ecr_dkr_vpce_vpc_11_ecr_dkr}"]
    cfn = cloudformation(plan, "test")
    assert set(cfn["Resources"]) == {"EcrwiseEndpointSecurityGroup", "S3GatewayEndpoint"}
    steps = cfn["Metadata"]["ecrwise"]["changes_to_existing_resources"]
    assert len(steps) == 4  # three group attachments and private DNS: a stack cannot change them

    ok = audit(Net(12).endpoints(), pull_traffic={}).vpcs[0]
    assert plan_fixes(ok).empty and cloudformation(plan_fixes(ok)) is None


def test_the_audit_names_its_findings_with_the_registered_network_checks():
    from ecrwise.analysis.network_checks import CHECK_IDS

    registered = {c.id for c in REGISTRY.values() if c.family == "network"}
    assert set(CHECK_IDS.values()) | {"network.nat-traffic-spike"} == registered
    for c in REGISTRY.values():
        if c.family == "network":
            assert c.facts == ("network_audit",) and c.recommendation and c.risk
