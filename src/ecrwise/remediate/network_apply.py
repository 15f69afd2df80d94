"""Applying network fixes and NAT alarms, and undoing exactly what ecrwise did (the calls themselves are in
`ecrwise.aws.network_apply`).

Everything ecrwise creates is tagged `ecrwise:managed=true`. Changes it makes to resources it did not create
(private DNS turned on, its security group or a subnet added to an endpoint, a VPC DNS attribute turned on)
are recorded as tags on the changed resource (`ecrwise:enabled-private-dns`, `ecrwise:added-security-groups`,
`ecrwise:added-subnets`, `ecrwise:enabled-dns-support`/`-hostnames`), so `undo` finds them in AWS itself and
reverses only those. Each run also writes a journal file: the plan and the prior state of every resource it
will change before the first call, then each step's outcome as it happens.

Idempotent: the plan comes from the VPC's live state, so a second `fix` finds nothing to do, a second `undo`
nothing to remove, and alarms whose settings already match are left alone.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ecrwise.analysis.nat_traffic import PROCESSED, AlarmSpec
from ecrwise.aws.network_apply import (api_error, delete_group, existing_alarms, live_endpoints, merge_tag,
                                      security_groups, tags_of, wait_gone)
from ecrwise.aws.session import Account
from ecrwise.remediate.backup import write_durably
from ecrwise.remediate.network_templates import (MANAGED_KEY, MANAGED_VALUE, PURPOSE_KEY, SG_NAME, TAG_ADDED_SG,
                                                 TAG_ADDED_SUBNETS, TAG_PRIVATE_DNS, TAG_VPC_DNS, FixPlan,
                                                 service_name)

MANAGED_TAGS = [{"Key": MANAGED_KEY, "Value": MANAGED_VALUE}]


@dataclass
class StepResult:
    action: str
    description: str
    status: str  # done | pending | skipped | failed | not-run
    resource_id: str | None = None
    detail: str = ""


class Journal:
    """A JSON record of one run, rewritten durably (`remediate.backup.write_durably`) after every step."""

    def __init__(self, directory: Path, kind: str, header: dict[str, Any]):
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = directory / f"{kind}-{header.get('vpc_id', 'alarms')}-{stamp}.json"
        self.doc: dict[str, Any] = {"kind": kind, "started_at": stamp, **header, "steps": []}
        self._write()

    def record(self, result: StepResult) -> None:
        self.doc["steps"].append({**asdict(result), "at": datetime.now(timezone.utc).isoformat()})
        self._write()

    def _write(self) -> None:
        write_durably(self.path, self.doc)


def prior_state(account: Account, plan: FixPlan) -> dict[str, Any]:
    """What the resources the plan changes look like before it runs (for the journal)."""
    ec2 = account.client("ec2", plan.region)
    ids = sorted({a.endpoint_id for a in plan.actions if a.endpoint_id})
    out: dict[str, Any] = {"endpoints": [], "vpc": {}}
    if ids:
        for e in ec2.describe_vpc_endpoints(VpcEndpointIds=ids).get("VpcEndpoints", []):
            out["endpoints"].append({k: e.get(k) for k in ("VpcEndpointId", "ServiceName", "PrivateDnsEnabled",
                                                           "SubnetIds", "Groups", "RouteTableIds", "Tags")})
    if plan.of("enable-vpc-dns"):
        for attr in ("enableDnsSupport", "enableDnsHostnames"):
            resp = ec2.describe_vpc_attribute(VpcId=plan.vpc_id, Attribute=attr)
            out["vpc"][attr] = resp.get(attr[0].upper() + attr[1:], {}).get("Value")
    return out


def find_managed_group(ec2: Any, vpc_id: str) -> dict[str, Any] | None:
    groups = security_groups(ec2, vpc_id, {MANAGED_KEY: MANAGED_VALUE}, SG_NAME)
    return groups[0] if groups else None


def _ensure_group(ec2: Any, vpc_id: str, cidrs: tuple[str, ...]) -> tuple[str, str]:
    group = find_managed_group(ec2, vpc_id)
    if group is None:
        gid = ec2.create_security_group(
            GroupName=SG_NAME, Description="ecrwise: HTTPS from the task subnets to the VPC endpoints",
            VpcId=vpc_id, TagSpecifications=[{"ResourceType": "security-group", "Tags": MANAGED_TAGS + [
                {"Key": "Name", "Value": SG_NAME}, {"Key": PURPOSE_KEY, "Value": "vpc-endpoints"}]}])["GroupId"]
        have: set[str] = set()
        what = "created"
    else:
        gid, what = group["GroupId"], "reused"
        have = {r["CidrIp"] for p in group.get("IpPermissions", [])
                if p.get("IpProtocol") == "tcp" and p.get("FromPort") == 443 and p.get("ToPort") == 443
                for r in p.get("IpRanges", [])}
    missing = [c for c in cidrs if c not in have]
    if missing:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": c, "Description": "HTTPS from a task subnet"} for c in missing]}])
    return gid, f"{what}; 443 admitted from {', '.join(cidrs)}"


def apply_fix_plan(account: Account, plan: FixPlan, journal: Journal) -> list[StepResult]:
    """Run the plan's actions in order; stop at the first failure (later steps may depend on it)."""
    ec2 = account.client("ec2", plan.region)
    results: list[StepResult] = []
    group_id: str | None = None
    failed = False
    for a in plan.actions:
        if failed:
            results.append(StepResult(a.kind, a.description, "not-run"))
            journal.record(results[-1])
            continue
        res = StepResult(a.kind, a.description, "done")
        try:
            if a.kind == "enable-vpc-dns":
                ec2.modify_vpc_attribute(VpcId=plan.vpc_id, **{a.attribute[0].upper() + a.attribute[1:]:  # type: ignore[index]
                                                              {"Value": True}})
                ec2.create_tags(Resources=[plan.vpc_id], Tags=[{"Key": TAG_VPC_DNS[a.attribute or ""],
                                                                "Value": "true"}])
                res.resource_id = plan.vpc_id
            elif a.kind == "ensure-security-group":
                group_id, res.detail = _ensure_group(ec2, plan.vpc_id, a.cidrs)
                res.resource_id = group_id
            elif a.kind == "create-interface-endpoint":
                e = ec2.create_vpc_endpoint(
                    VpcId=plan.vpc_id, ServiceName=service_name(plan.region, a.service or ""),
                    VpcEndpointType="Interface", SubnetIds=list(a.subnet_ids), SecurityGroupIds=[group_id],
                    PrivateDnsEnabled=True, TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": MANAGED_TAGS + [
                        {"Key": "Name", "Value": f"ecrwise-{a.service}"}]}])["VpcEndpoint"]
                res.resource_id = e["VpcEndpointId"]
            elif a.kind == "create-gateway-endpoint":
                e = ec2.create_vpc_endpoint(
                    VpcId=plan.vpc_id, ServiceName=service_name(plan.region, "s3"), VpcEndpointType="Gateway",
                    RouteTableIds=list(a.route_table_ids), TagSpecifications=[{
                        "ResourceType": "vpc-endpoint", "Tags": MANAGED_TAGS + [{"Key": "Name", "Value": "ecrwise-s3"}]}]
                )["VpcEndpoint"]
                res.resource_id = e["VpcEndpointId"]
            elif a.kind == "attach-security-group":
                ec2.modify_vpc_endpoint(VpcEndpointId=a.endpoint_id, AddSecurityGroupIds=[group_id])
                merge_tag(ec2, a.endpoint_id or "", TAG_ADDED_SG, [group_id or ""])
                res.resource_id, res.detail = a.endpoint_id, f"added {group_id}"
            elif a.kind == "enable-private-dns":
                ec2.modify_vpc_endpoint(VpcEndpointId=a.endpoint_id, PrivateDnsEnabled=True)
                ec2.create_tags(Resources=[a.endpoint_id], Tags=[{"Key": TAG_PRIVATE_DNS, "Value": "true"}])
                res.resource_id = a.endpoint_id
                now = ec2.describe_vpc_endpoints(VpcEndpointIds=[a.endpoint_id])["VpcEndpoints"][0]
                if not now.get("PrivateDnsEnabled"):
                    res.status = "pending"
                    res.detail = "accepted; DescribeVpcEndpoints does not show it yet: re-scan to confirm"
            elif a.kind == "add-endpoint-subnets":
                ec2.modify_vpc_endpoint(VpcEndpointId=a.endpoint_id, AddSubnetIds=list(a.subnet_ids))
                merge_tag(ec2, a.endpoint_id or "", TAG_ADDED_SUBNETS, list(a.subnet_ids))
                res.resource_id = a.endpoint_id
            else:
                res.status, res.detail = "skipped", "needs a person: see the description"
        except Exception as e:
            detail = api_error(e)
            if detail is None:
                raise  # not AWS refusing a step: a bug, not a failed step
            res.status, res.detail = "failed", detail
            failed = True
        results.append(res)
        journal.record(res)
    return results


# -- undo ------------------------------------------------------------------------------------------------

@dataclass
class UndoStep:
    kind: str  # detach-security-groups | disable-private-dns | remove-endpoint-subnets | delete-endpoint |
    #            delete-security-group | disable-vpc-dns
    resource_id: str
    description: str
    values: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


UNDO_ORDER = ("detach-security-groups", "disable-private-dns", "remove-endpoint-subnets", "delete-endpoint",
              "delete-security-group", "disable-vpc-dns")


def plan_undo(account: Account, region: str, vpc_id: str) -> list[UndoStep]:
    """What ecrwise did in this VPC, found from the tags it left, as steps that reverse it."""
    ec2 = account.client("ec2", region)
    steps: list[UndoStep] = []
    for e in live_endpoints(ec2, vpc_id):
        eid, tags = e["VpcEndpointId"], tags_of(e.get("Tags"))
        short = e.get("ServiceName", "").split(".", 3)[-1]
        if tags.get(MANAGED_KEY) == MANAGED_VALUE:
            steps.append(UndoStep("delete-endpoint", eid, f"delete {short} endpoint {eid} (created by ecrwise)"))
            continue
        if tags.get(TAG_ADDED_SG):
            sgs = tags[TAG_ADDED_SG].split()
            steps.append(UndoStep("detach-security-groups", eid, f"detach {', '.join(sgs)} from {short} "
                                  f"endpoint {eid}", sgs))
        if tags.get(TAG_PRIVATE_DNS) == "true":
            steps.append(UndoStep("disable-private-dns", eid, f"turn private DNS off again for {short} "
                                  f"endpoint {eid}"))
        if tags.get(TAG_ADDED_SUBNETS):
            subnets = tags[TAG_ADDED_SUBNETS].split()
            steps.append(UndoStep("remove-endpoint-subnets", eid, f"remove {', '.join(subnets)} from {short} "
                                  f"endpoint {eid}", subnets))
    for g in security_groups(ec2, vpc_id, {MANAGED_KEY: MANAGED_VALUE}):
        steps.append(UndoStep("delete-security-group", g["GroupId"],
                              f"delete security group {g['GroupId']} ({g.get('GroupName')}, created by ecrwise)"))
    vpcs = ec2.describe_vpcs(VpcIds=[vpc_id]).get("Vpcs", [])
    tags = tags_of(vpcs[0].get("Tags")) if vpcs else {}
    # Hostnames before support: AWS refuses DNS hostnames without DNS support.
    for attr in ("enableDnsHostnames", "enableDnsSupport"):
        if tags.get(TAG_VPC_DNS[attr]) == "true":
            steps.append(UndoStep("disable-vpc-dns", vpc_id, f"turn {attr} off again for {vpc_id}", [attr]))
    steps.sort(key=lambda s: UNDO_ORDER.index(s.kind))
    return steps


def apply_undo(account: Account, region: str, vpc_id: str, steps: list[UndoStep], journal: Journal, *,
               wait_seconds: float = 180.0, poll: float = 3.0) -> list[StepResult]:
    ec2 = account.client("ec2", region)
    results: list[StepResult] = []
    deleted: list[str] = []
    for s in steps:
        res = StepResult(s.kind, s.description, "done", s.resource_id)
        try:
            if s.kind == "detach-security-groups":
                ec2.modify_vpc_endpoint(VpcEndpointId=s.resource_id, RemoveSecurityGroupIds=s.values)
                ec2.delete_tags(Resources=[s.resource_id], Tags=[{"Key": TAG_ADDED_SG}])
            elif s.kind == "disable-private-dns":
                ec2.modify_vpc_endpoint(VpcEndpointId=s.resource_id, PrivateDnsEnabled=False)
                ec2.delete_tags(Resources=[s.resource_id], Tags=[{"Key": TAG_PRIVATE_DNS}])
            elif s.kind == "remove-endpoint-subnets":
                ec2.modify_vpc_endpoint(VpcEndpointId=s.resource_id, RemoveSubnetIds=s.values)
                ec2.delete_tags(Resources=[s.resource_id], Tags=[{"Key": TAG_ADDED_SUBNETS}])
            elif s.kind == "delete-endpoint":
                resp = ec2.delete_vpc_endpoints(VpcEndpointIds=[s.resource_id])
                bad = resp.get("Unsuccessful") or []
                if bad:
                    raise RuntimeError(bad[0].get("Error", {}).get("Message", "not deleted"))
                deleted.append(s.resource_id)
            elif s.kind == "delete-security-group":
                wait_gone(ec2, deleted, wait_seconds, poll)
                delete_group(ec2, s.resource_id, wait_seconds, poll)
            elif s.kind == "disable-vpc-dns":
                attr = s.values[0]
                ec2.modify_vpc_attribute(VpcId=vpc_id, **{attr[0].upper() + attr[1:]: {"Value": False}})
                ec2.delete_tags(Resources=[vpc_id], Tags=[{"Key": TAG_VPC_DNS[attr]}])
        except Exception as e:
            detail = api_error(e)
            if detail is None and not isinstance(e, RuntimeError):
                raise
            res.status = "failed"
            res.detail = detail or str(e)
        results.append(res)
        journal.record(res)
    return results


# -- alarms ----------------------------------------------------------------------------------------------

def alarm_request(spec: AlarmSpec, actions: list[str]) -> dict[str, Any]:
    """PutMetricAlarm arguments: bytes processed per hour (BytesInFromSource + BytesInFromDestination)."""
    dims = [{"Name": "NatGatewayId", "Value": spec.nat_gateway_id}]
    metrics: list[dict[str, Any]] = [{
        "Id": f"m{i + 1}", "ReturnData": False,
        "MetricStat": {"Metric": {"Namespace": "AWS/NATGateway", "MetricName": name, "Dimensions": dims},
                       "Period": spec.period, "Stat": "Sum"}} for i, name in enumerate(PROCESSED)]
    metrics.append({"Id": "processed", "Expression": "m1 + m2", "Label": "bytes processed", "ReturnData": True})
    return {
        "AlarmName": spec.name,
        "AlarmDescription": f"ecrwise: NAT gateway {spec.nat_gateway_id} ({spec.vpc_id}) processed more than "
                            f"{spec.threshold:,} bytes in an hour. {spec.formula}.",
        "Metrics": metrics, "Threshold": float(spec.threshold), "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": spec.evaluation_periods, "DatapointsToAlarm": spec.datapoints_to_alarm,
        "TreatMissingData": "notBreaching", "ActionsEnabled": True, "AlarmActions": list(actions),
        "Tags": MANAGED_TAGS,
    }


def _same(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def metric_key(ms: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        out = []
        for m in ms or []:
            stat = m.get("MetricStat") or {}
            metric = stat.get("Metric") or {}
            out.append((m.get("Id"), m.get("Expression"), metric.get("MetricName"),
                        tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
                        stat.get("Period"), stat.get("Stat")))
        return sorted(out, key=str)

    return (float(existing.get("Threshold", -1)) == wanted["Threshold"]
            and existing.get("EvaluationPeriods") == wanted["EvaluationPeriods"]
            and existing.get("DatapointsToAlarm") == wanted["DatapointsToAlarm"]
            and existing.get("ComparisonOperator") == wanted["ComparisonOperator"]
            and sorted(existing.get("AlarmActions") or []) == sorted(wanted["AlarmActions"])
            and metric_key(existing.get("Metrics", [])) == metric_key(wanted["Metrics"]))


def apply_alarms(account: Account, specs: list[AlarmSpec], *, actions: list[str] | None = None,
                 apply: bool = False) -> list[StepResult]:
    """created / updated / unchanged per alarm; without `apply` the status says what would happen."""
    results = []
    by_region: dict[str, list[AlarmSpec]] = {}
    for s in specs:
        by_region.setdefault(s.region, []).append(s)
    for region, group in by_region.items():
        current = existing_alarms(account, region, [s.name for s in group])
        cw = account.client("cloudwatch", region)
        for s in group:
            wanted = alarm_request(s, actions or [])
            old = current.get(s.name)
            if old is not None and _same(old, wanted):
                results.append(StepResult("alarm", s.name, "unchanged", s.name))
                continue
            status = "updated" if old is not None else "created"
            if apply:
                if old is not None:
                    wanted.pop("Tags")  # PutMetricAlarm ignores tags when it updates an alarm
                cw.put_metric_alarm(**wanted)
            else:
                status = "would be " + status
            results.append(StepResult("alarm", s.name, status, s.name, s.formula))
    return results
