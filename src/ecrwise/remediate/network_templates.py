"""Fixes for one VPC's endpoint gaps: the plan, and the plan as Terraform HCL and a CloudFormation template.

Pure. The plan only ever *adds*: a security group admitting 443 from the task subnets, the missing interface
endpoints, an S3 gateway endpoint for the route tables without one (a second gateway endpoint rather than
changing the user's: a route table may carry one route per service, and what ecrwise creates it can delete
whole), and the changes to existing endpoints that cannot be additions (turn private DNS on, attach the
group, add a subnet in a missing AZ) and to the VPC's DNS attributes. `ecrwise network fix --apply` records
those changes as tags on the changed resource, so `ecrwise network undo` can reverse exactly them.

Terraform has resources that change an endpoint it does not manage (attach a group, add a subnet, turn private
DNS on: `aws_vpc_endpoint_private_dns`, AWS provider 5.x); the DNS attributes of a VPC it does not manage it
cannot change, so those appear as commented AWS CLI commands. CloudFormation can only create: everything that
changes an existing resource goes into the template's Metadata as commands, and is printed when the template
is written.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ecrwise.analysis.network_checks import VpcAudit

MANAGED_KEY, MANAGED_VALUE = "ecrwise:managed", "true"
PURPOSE_KEY = "ecrwise:purpose"
SG_NAME = "ecrwise-vpc-endpoints"
TAG_ADDED_SG = "ecrwise:added-security-groups"
TAG_PRIVATE_DNS = "ecrwise:enabled-private-dns"
TAG_ADDED_SUBNETS = "ecrwise:added-subnets"
TAG_VPC_DNS = {"enableDnsSupport": "ecrwise:enabled-dns-support",
               "enableDnsHostnames": "ecrwise:enabled-dns-hostnames"}

# Order matters: private DNS on a new endpoint needs the VPC's DNS attributes; DNS support before hostnames.
ORDER = ("enable-vpc-dns", "ensure-security-group", "create-interface-endpoint", "create-gateway-endpoint",
         "attach-security-group", "enable-private-dns", "add-endpoint-subnets", "manual")


@dataclass(frozen=True)
class Action:
    kind: str
    description: str
    service: str | None = None
    endpoint_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    attribute: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"action": self.kind, "description": self.description}
        for k in ("service", "endpoint_id", "attribute"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        for k in ("subnet_ids", "route_table_ids", "cidrs"):
            if getattr(self, k):
                d[k] = list(getattr(self, k))
        return d


@dataclass(frozen=True)
class FixPlan:
    account: str
    region: str
    vpc_id: str
    vpc_name: str
    actions: tuple[Action, ...]

    @property
    def empty(self) -> bool:
        return not self.actions

    def of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "vpc_id": self.vpc_id, "vpc_name": self.vpc_name,
                "actions": [a.as_dict() for a in self.actions]}


def service_name(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"


def plan_fixes(audit: VpcAudit) -> FixPlan:
    by_az: dict[str, str] = {}
    for s in sorted(audit.subnets, key=lambda s: s.subnet_id):
        by_az.setdefault(s.availability_zone, s.subnet_id)
    az_of = {s.subnet_id: s.availability_zone for s in audit.subnets}
    actions: list[Action] = []
    for g in audit.gaps:
        if g.kind == "vpc-dns":
            for attr in ("enableDnsSupport", "enableDnsHostnames"):
                if attr in g.attributes:
                    actions.append(Action("enable-vpc-dns", f"turn on {attr} for {audit.vpc_id}", attribute=attr))
        elif g.kind == "missing" and g.service != "s3":
            actions.append(Action("create-interface-endpoint",
                                  f"create the {g.service} interface endpoint (private DNS on) in "
                                  f"{', '.join(sorted(by_az))}", service=g.service,
                                  subnet_ids=tuple(by_az[az] for az in sorted(by_az))))
        elif g.kind in ("missing", "s3-route-tables"):
            tables = tuple(g.route_table_ids or audit.route_table_ids)
            actions.append(Action("create-gateway-endpoint",
                                  f"create an S3 gateway endpoint on {', '.join(tables)}", service="s3",
                                  route_table_ids=tables))
        elif g.kind == "sg-no-https":
            actions.append(Action("attach-security-group",
                                  f"attach the ecrwise endpoint security group to {g.service} endpoint "
                                  f"{g.endpoint_id}", service=g.service, endpoint_id=g.endpoint_id))
        elif g.kind == "private-dns-off":
            actions.append(Action("enable-private-dns", f"turn on private DNS for {g.service} endpoint "
                                  f"{g.endpoint_id}", service=g.service, endpoint_id=g.endpoint_id))
        elif g.kind == "az-coverage":
            picks: dict[str, str] = {}
            for sn in sorted(g.subnet_ids):
                picks.setdefault(az_of[sn], sn)
            actions.append(Action("add-endpoint-subnets", f"add {', '.join(picks.values())} "
                                  f"({', '.join(sorted(picks))}) to {g.service} endpoint {g.endpoint_id}",
                                  service=g.service, endpoint_id=g.endpoint_id,
                                  subnet_ids=tuple(picks[az] for az in sorted(picks))))
        elif g.kind == "state":
            actions.append(Action("manual", f"{g.service} endpoint {g.endpoint_id} is in {g.detail}: accept or "
                                  "recreate it (ecrwise does not change it)", service=g.service,
                                  endpoint_id=g.endpoint_id))
    if any(a.kind in ("create-interface-endpoint", "attach-security-group") for a in actions):
        actions.append(Action("ensure-security-group", f"security group {SG_NAME} admitting TCP 443 from "
                              f"{', '.join(audit.subnet_cidrs)}", cidrs=tuple(audit.subnet_cidrs)))
    actions.sort(key=lambda a: ORDER.index(a.kind))
    return FixPlan(audit.account, audit.region, audit.vpc_id, audit.name, tuple(actions))


def cli_command(plan: FixPlan, a: Action) -> str | None:
    """The AWS CLI command for a change to an existing resource (what templates cannot express)."""
    r = f"--region {plan.region}"
    if a.kind == "enable-private-dns":
        return f"aws ec2 modify-vpc-endpoint {r} --vpc-endpoint-id {a.endpoint_id} --private-dns-enabled"
    if a.kind == "enable-vpc-dns":
        flag = "--enable-dns-support" if a.attribute == "enableDnsSupport" else "--enable-dns-hostnames"
        return f'aws ec2 modify-vpc-attribute {r} --vpc-id {plan.vpc_id} {flag} "{{\\"Value\\":true}}"'
    if a.kind == "attach-security-group":
        return (f"aws ec2 modify-vpc-endpoint {r} --vpc-endpoint-id {a.endpoint_id} "
                f"--add-security-group-ids <id of group {SG_NAME}>")
    if a.kind == "add-endpoint-subnets":
        return (f"aws ec2 modify-vpc-endpoint {r} --vpc-endpoint-id {a.endpoint_id} "
                f"--add-subnet-ids {' '.join(a.subnet_ids)}")
    return None


# -- Terraform -------------------------------------------------------------------------------------------

class _Ref(str):
    """A bare HCL expression (a reference), not a string literal."""


def _hcl(value: Any, indent: int = 1) -> str:
    if isinstance(value, _Ref):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        pad = "  " * (indent + 1)
        inner = "\n".join(f"{pad}{json.dumps(k)} = {_hcl(v, indent + 1)}" for k, v in value.items())
        return "{\n" + inner + "\n" + "  " * indent + "}"
    raise TypeError(type(value).__name__)


def _block(head: str, body: dict[str, Any], nested: list[tuple[str, dict[str, Any]]] | None = None) -> str:
    width = max([len(k) for k in body] or [0])
    lines = [f"{head} {{"]
    for k, v in body.items():
        lines.append(f"  {k.ljust(width)} = {_hcl(v)}")
    for name, inner in nested or []:
        lines.append(f"  {name} {{")
        w = max(len(k) for k in inner)
        for k, v in inner.items():
            lines.append(f"    {k.ljust(w)} = {_hcl(v, 2)}")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def _label(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def terraform(plan: FixPlan, version: str = "") -> str:
    vpc = plan.vpc_id
    out = [
        f"# Generated by ecrwise {version} for {vpc}" + (f" ({plan.vpc_name})" if plan.vpc_name else "")
        + f", account {plan.account}, region {plan.region}.",
        "# Creates only what is missing; everything created is tagged ecrwise:managed = \"true\".",
        "",
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        '      version = ">= 5.70"\n    }\n  }\n}',
        "",
        _block('provider "aws"', {"region": plan.region}),
        "",
        _block("locals", {"ecrwise_tags": {MANAGED_KEY: MANAGED_VALUE}}),
    ]
    sg_ref = _Ref("aws_security_group.ecrwise_vpc_endpoints.id")
    for a in plan.of("ensure-security-group"):
        out += ["", _block('resource "aws_security_group" "ecrwise_vpc_endpoints"', {
            "name": SG_NAME, "description": "ecrwise: HTTPS from the task subnets to the VPC endpoints",
            "vpc_id": vpc,
            "tags": _Ref(f'merge(local.ecrwise_tags, {{ Name = "{SG_NAME}", "{PURPOSE_KEY}" = "vpc-endpoints" }})'),
        }, [("ingress", {"description": "HTTPS from the task subnets", "from_port": 443, "to_port": 443,
                         "protocol": "tcp", "cidr_blocks": list(a.cidrs)})])]
    for a in plan.of("create-interface-endpoint"):
        name = _label(a.service or "")
        out += ["", _block(f'resource "aws_vpc_endpoint" "{name}"', {
            "vpc_id": vpc, "service_name": service_name(plan.region, a.service or ""),
            "vpc_endpoint_type": "Interface", "private_dns_enabled": True, "subnet_ids": list(a.subnet_ids),
            "security_group_ids": [sg_ref],
            "tags": _Ref(f'merge(local.ecrwise_tags, {{ Name = "ecrwise-{a.service}" }})'),
        })]
    for a in plan.of("create-gateway-endpoint"):
        out += ["", "# Layers come from S3: this free gateway endpoint keeps their bytes off the NAT gateway.",
                _block('resource "aws_vpc_endpoint" "s3"', {
                    "vpc_id": vpc, "service_name": service_name(plan.region, "s3"),
                    "vpc_endpoint_type": "Gateway", "route_table_ids": list(a.route_table_ids),
                    "tags": _Ref('merge(local.ecrwise_tags, { Name = "ecrwise-s3" })'),
                })]
    for a in plan.of("attach-security-group"):
        out += ["", _block(f'resource "aws_vpc_endpoint_security_group_association" '
                           f'"{_label((a.service or "") + "_" + (a.endpoint_id or ""))}"',
                           {"vpc_endpoint_id": a.endpoint_id or "", "security_group_id": sg_ref})]
    for a in plan.of("add-endpoint-subnets"):
        for sn in a.subnet_ids:
            out += ["", _block(f'resource "aws_vpc_endpoint_subnet_association" '
                               f'"{_label((a.endpoint_id or "") + "_" + sn)}"',
                               {"vpc_endpoint_id": a.endpoint_id or "", "subnet_id": sn})]
    for a in plan.of("enable-private-dns"):
        body: dict[str, Any] = {"vpc_endpoint_id": a.endpoint_id or "", "private_dns_enabled": True}
        attach = [x for x in plan.of("attach-security-group") if x.endpoint_id == a.endpoint_id]
        if attach:
            # Private DNS sends the service's traffic to the endpoint: admit it first, or calls time out.
            body["depends_on"] = [_Ref("aws_vpc_endpoint_security_group_association."
                                       + _label((x.service or "") + "_" + (x.endpoint_id or ""))) for x in attach]
        out += ["", _block(f'resource "aws_vpc_endpoint_private_dns" "{_label(a.endpoint_id or "")}"', body)]
    manual = [a for a in plan.actions if a.kind in ("enable-vpc-dns", "manual")]
    if manual:
        out += ["", "# Changes to resources this configuration does not manage (or run "
                    f"`ecrwise network fix --vpc {vpc} --apply`):"]
        for a in manual:
            out.append(f"#   {a.description}")
            cmd = cli_command(plan, a)
            if cmd:
                out.append(f"#     {cmd}")
    outputs = [f"aws_vpc_endpoint.{_label(a.service or '')}.id" for a in plan.of("create-interface-endpoint")]
    outputs += ["aws_vpc_endpoint.s3.id" for _ in plan.of("create-gateway-endpoint")]
    if outputs:
        out += ["", _block('output "ecrwise_endpoint_ids"', {"value": _Ref("[" + ", ".join(outputs) + "]")})]
    return "\n".join(out) + "\n"


# -- CloudFormation --------------------------------------------------------------------------------------

def _cfn_tags(name: str) -> list[dict[str, str]]:
    return [{"Key": MANAGED_KEY, "Value": MANAGED_VALUE}, {"Key": "Name", "Value": name}]


def _logical(service: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[^a-zA-Z0-9]", service)) + "Endpoint"


def cloudformation(plan: FixPlan, version: str = "") -> dict[str, Any] | None:
    """The template, or None when the plan creates nothing (only changes to existing resources)."""
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for a in plan.of("ensure-security-group"):
        resources["EcrwiseEndpointSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupName": SG_NAME, "GroupDescription": "ecrwise: HTTPS from the task subnets to the VPC endpoints",
            "VpcId": plan.vpc_id,
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": c,
                                      "Description": "HTTPS from a task subnet"} for c in a.cidrs],
            "Tags": _cfn_tags(SG_NAME) + [{"Key": PURPOSE_KEY, "Value": "vpc-endpoints"}]}}
        outputs["EndpointSecurityGroupId"] = {"Value": {"Ref": "EcrwiseEndpointSecurityGroup"}}
    for a in plan.of("create-interface-endpoint"):
        lid = _logical(a.service or "")
        resources[lid] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "VpcId": plan.vpc_id, "ServiceName": {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{a.service}"},
            "VpcEndpointType": "Interface", "PrivateDnsEnabled": True, "SubnetIds": list(a.subnet_ids),
            "SecurityGroupIds": [{"Ref": "EcrwiseEndpointSecurityGroup"}],
            "Tags": _cfn_tags(f"ecrwise-{a.service}")}}
        outputs[f"{lid}Id"] = {"Value": {"Ref": lid}}
    for a in plan.of("create-gateway-endpoint"):
        resources["S3GatewayEndpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "VpcId": plan.vpc_id, "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"},
            "VpcEndpointType": "Gateway", "RouteTableIds": list(a.route_table_ids),
            "Tags": _cfn_tags("ecrwise-s3")}}
        outputs["S3GatewayEndpointId"] = {"Value": {"Ref": "S3GatewayEndpoint"}}
    if not resources:
        return None
    steps = []
    for a in plan.actions:
        if a.kind in ("attach-security-group", "enable-private-dns", "add-endpoint-subnets", "enable-vpc-dns",
                      "manual"):
            cmd = cli_command(plan, a)
            steps.append({"step": a.description, **({"command": cmd} if cmd else {})})
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"ecrwise {version}: VPC endpoints image pulls need in {plan.vpc_id}"
                       + (f" ({plan.vpc_name})" if plan.vpc_name else "") + f", {plan.region}",
        "Resources": resources,
        "Outputs": outputs,
    }
    if steps:
        template["Metadata"] = {"ecrwise": {"vpc_id": plan.vpc_id, "changes_to_existing_resources": steps}}
    return template


def manual_steps(plan: FixPlan) -> list[str]:
    """What a CloudFormation user still has to run (changes to resources a stack cannot own)."""
    out = []
    for a in plan.actions:
        if a.kind in ("attach-security-group", "enable-private-dns", "add-endpoint-subnets", "enable-vpc-dns",
                      "manual"):
            cmd = cli_command(plan, a)
            out.append(a.description + (f": {cmd}" if cmd else ""))
    return out
