"""`ecrwise network` through the stand-in: the three demo VPCs reported exactly; fix → re-scan → no findings;
undo → back to before; templates that cfn-lint accepts and python-hcl2 parses; alarms idempotent."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import hcl2
import pytest
from typer.testing import CliRunner

from ecrwise.cli.common import Fmt
from ecrwise.cli.main import app
from ecrwise.cli.scan_cmd import run_and_save
from ecrwise.demo.estate_network import build_networks
from ecrwise.demo.standin import DEMO_ACCOUNT

pytestmark = pytest.mark.standin
REGION = "us-east-1"
SPIKE = "network.nat-traffic-spike"


def scan(store: Path) -> int:
    return run_and_save(profile=None, regions=[REGION], all_regions=False, role_arns=[], org_role=None,
                        only=["network"], workers=8, store=store, fmt=Fmt.json, quiet=True).id


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def audit(store: Path) -> dict[str, dict]:
    doc = json.loads(cli("network", "--store", str(store), "--format", "json"))
    assert doc["kind"] == "network"
    return {item["name"]: item for item in doc["items"]}


def gaps(item: dict) -> list[tuple[str, str]]:
    """(check, what) per endpoint finding, with ids made readable for comparison."""
    return sorted((f["check"], f["resource"]) for f in item["findings"] if f["check"] != SPIKE)


def set_private_dns(endpoint_id: str, value: bool) -> None:
    # moto 5.2.5's ModifyVpcEndpoint ignores PrivateDnsEnabled (AWS applies it); set what AWS would have set.
    from moto.backends import get_backend

    get_backend("ec2")[DEMO_ACCOUNT][REGION].vpc_end_points[endpoint_id].private_dns_enabled = value


@pytest.fixture
def nets(aws: str):
    return build_networks(boto3.client("ec2", region_name=REGION), REGION)


def test_three_vpcs_reported_exactly_fixed_and_undone(nets, tmp_path: Path):
    store, journal = tmp_path / "s.duckdb", tmp_path / "journal"
    scan(store)
    before = audit(store)
    assert set(before) == {"nat-only", "endpoints-ok", "endpoints-broken"}  # the default VPC has no NAT route
    nat_only, broken = nets["nat-only"], nets["endpoints-broken"]
    v = nat_only.vpc_id
    assert gaps(before["nat-only"]) == [("network.endpoint-missing", f"{v}/ecr.api"),
                                        ("network.endpoint-missing", f"{v}/ecr.dkr"),
                                        ("network.endpoint-missing", f"{v}/s3")]
    assert gaps(before["endpoints-ok"]) == []
    ep = broken.endpoints
    assert gaps(before["endpoints-broken"]) == sorted([
        ("network.s3-gateway-route-tables", ep["s3"]),
        ("network.endpoint-private-dns", ep["ecr.dkr"]),
        ("network.endpoint-security-group", ep["ecr.api"]),
        ("network.endpoint-security-group", ep["ecr.dkr"]),
        ("network.endpoint-security-group", ep["logs"])])
    s3 = next(f for f in before["endpoints-broken"]["findings"] if f["check"] == "network.s3-gateway-route-tables")
    assert s3["evidence"]["route_table_ids"] == sorted(broken.private_route_tables)
    # NAT traffic: the nat-only gateway's bytes jump 15× ten days ago (the crash loop): those days spike until the
    # 7-day median catches up, on the fourth; the broken VPC's spikes once; the correct VPC's never.
    spikes = {item["name"]: [s["day"] for n in item["nat_gateways"] for s in n["spikes"]] for item in before.values()}
    series = before["nat-only"]["nat_gateways"][0]["series"]
    assert len(series) == 30 and spikes["nat-only"] == [d["day"] for d in series[-11:-7]]
    assert len(spikes["endpoints-broken"]) == 1 and spikes["endpoints-ok"] == []

    for net in (nat_only, broken):
        out = json.loads(cli("network", "fix", "--vpc", net.vpc_id, "--apply", "--store", str(store),
                             "--backup-dir", str(journal), "--format", "json"))
        assert out["kind"] == "network-fix"
        statuses = {r["action"]: r["status"] for r in out["items"]}
        assert set(statuses.values()) <= {"done", "pending"}
        if statuses.get("enable-private-dns") == "pending":
            set_private_dns(ep["ecr.dkr"], True)
        record = json.loads(Path(out["totals"]["journal"]).read_text())
        assert record["plan"]["actions"] and len(record["steps"]) == len(record["plan"]["actions"])
    ec2 = boto3.client("ec2", region_name=REGION)
    created = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:ecrwise:managed", "Values": ["true"]}])
    # Recorded for `billing savings`: the new interface endpoints' hours as a negative saving; the NAT gateways
    # without a prediction, since a network-only scan knows no pull traffic.
    from ecrwise.pricing.book import load_price_book
    from ecrwise.store import Store
    from ecrwise.store.applied import applied_changes

    with Store(store, read_only=True) as st:
        recorded = {c.resource: c.predicted_monthly_savings_usd for c in applied_changes(st, "network fix")}
    interface = [e["VpcEndpointId"] for e in created["VpcEndpoints"] if e["VpcEndpointType"] == "Interface"]
    book = load_price_book()
    hours = len({s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=nat_only.private_subnets)["Subnets"]})
    per = hours * book.hours_per_month * book.price(REGION, "vpc_interface_endpoint_az_hour").usd
    assert {r: recorded[r] for r in interface} == pytest.approx({r: -per for r in interface})
    assert {r: v for r, v in recorded.items() if r.startswith("nat-")} == \
        {n: None for n in (nat_only.nat_gateway_id, broken.nat_gateway_id)}
    # nat-only: ecr.api, ecr.dkr, s3; endpoints-broken: an S3 gateway endpoint for the private route tables.
    assert sorted(e["ServiceName"].split(".", 3)[-1] for e in created["VpcEndpoints"]) == \
        ["ecr.api", "ecr.dkr", "s3", "s3"]

    scan(store)
    fixed = audit(store)
    assert {name: gaps(item) for name, item in fixed.items()} == {n: [] for n in fixed}
    # Idempotent: a second fix finds nothing to do and creates nothing.
    cli("network", "fix", "--vpc", broken.vpc_id, "--apply", "--store", str(store), "--backup-dir", str(journal))
    again = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:ecrwise:managed", "Values": ["true"]}])
    assert len(again["VpcEndpoints"]) == 4

    for net in (nat_only, broken):
        out = cli("network", "undo", "--vpc", net.vpc_id, "--apply", "--store", str(store),
                  "--backup-dir", str(journal))
        assert "failed" not in out
    set_private_dns(ep["ecr.dkr"], False)
    scan(store)
    after = audit(store)
    assert {n: gaps(i) for n, i in after.items()} == {n: gaps(i) for n, i in before.items()}
    # Only ecrwise's resources went: the user's endpoints and group are still there.
    left = {e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["State"].lower() != "deleted"}
    assert set(broken.endpoints.values()) <= left
    mine = ec2.describe_vpc_endpoints(VpcEndpointIds=list(broken.endpoints.values()))["VpcEndpoints"]
    for e in mine:  # the changes ecrwise made to them are reversed, tags included
        if e["VpcEndpointType"] == "Interface":
            assert [g["GroupId"] for g in e["Groups"]] == [broken.endpoint_security_group]
        else:
            assert e["RouteTableIds"] == [broken.public_route_table]
        assert not any(t["Key"].startswith("ecrwise:") for t in e.get("Tags", []))
    assert ec2.describe_security_groups(GroupIds=[broken.endpoint_security_group])["SecurityGroups"]
    assert "nothing ecrwise created" in cli("network", "undo", "--vpc", broken.vpc_id, "--store", str(store))


def test_templates_alarms_and_cost(nets, tmp_path: Path):
    from cfnlint.api import ManualArgs, lint

    store = tmp_path / "s.duckdb"
    scan(store)
    for name in ("nat-only", "endpoints-broken"):
        out = tmp_path / name
        cli("network", "fix", "--vpc", nets[name].vpc_id, "--out", str(out), "--store", str(store))
        template = (out / "template.json").read_text()
        assert lint(template, config=ManualArgs(regions=[REGION])) == []
        tf = hcl2.loads((out / "main.tf").read_text(),
                        serialization_options=hcl2.SerializationOptions(strip_string_quotes=True,
                                                                        explicit_blocks=False))
        types = sorted(t for r in tf["resource"] for t in r)
        expected = (["aws_security_group", "aws_vpc_endpoint", "aws_vpc_endpoint", "aws_vpc_endpoint"]
                    if name == "nat-only" else ["aws_security_group", "aws_vpc_endpoint", "aws_vpc_endpoint_private_dns"]
                    + ["aws_vpc_endpoint_security_group_association"] * 3)
        assert types == sorted(expected)
    only_tf = tmp_path / "tf-only"
    cli("network", "fix", "--vpc", nets["nat-only"].vpc_id, "--out", str(only_tf), "--format", "terraform",
        "--store", str(store))
    assert [p.name for p in only_tf.iterdir()] == ["main.tf"]

    # Alarms: one per NAT gateway, thresholds from history; applying twice changes nothing the second time.
    first = json.loads(cli("network", "alarms", "--apply", "--store", str(store), "--format", "json"))
    assert sorted(r["status"] for r in first["items"]) == ["created"] * 3
    nat_only = next(r for r in first["items"] if r["vpc_id"] == nets["nat-only"].vpc_id)
    # 3 × the median day / 24 hours.
    assert nat_only["threshold_bytes_per_hour"] == pytest.approx(3 * nat_only["median_daily_bytes"] / 24, abs=2)
    second = json.loads(cli("network", "alarms", "--apply", "--store", str(store), "--format", "json"))
    assert sorted(r["status"] for r in second["items"]) == ["unchanged"] * 3
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNamePrefix="ecrwise-nat-bytes-")
    assert len(alarms["MetricAlarms"]) == 3
    assert {m["Id"] for m in alarms["MetricAlarms"][0]["Metrics"]} == {"m1", "m2", "processed"}

    doc = json.loads(cli("network", "cost", "--pull-gb-month", "40960", "--azs", "3", "--format", "json"))
    totals = doc["totals"]["given"]["blocks"]
    assert totals["nat"]["counted_by_common_estimate_usd"] == 1843.2 and totals["nat"]["total_usd"] == 1952.7
    assert totals["common-estimate"]["total_usd"] == 431.5 and totals["endpoints"]["total_usd"] == 43.85
    # Measured mode needs pull figures the network family alone does not have: a clear error, exit 2.
    result = CliRunner().invoke(app, ["network", "cost", "--store", str(store)])
    assert "no measured pull volume" in str(result.exception)


def test_fix_predictions_from_the_demo_estate_traffic(scanned_estate) -> None:
    """With ECS scanned, the snapshot knows the pull traffic through each NAT-only VPC: the NAT gateway's predicted
    saving is the NAT processing the closed gaps' findings priced (S3 layers and ECR requests through the NAT),
    positive and equal to those findings' NAT-priced arithmetic; a created interface endpoint costs its hours."""
    from ecrwise.analysis.network_checks import audit_network
    from ecrwise.cli.snapshot_data import load_records
    from ecrwise.pricing.book import GIB, load_price_book
    from ecrwise.remediate.network_apply import StepResult
    from ecrwise.remediate.network_fix import billing_predictions

    book = load_price_book()
    _, records = load_records(scanned_estate.store, None)
    audits = [a for a in audit_network(records, book).vpcs if len(a.nat_gateway_ids) == 1 and any(
        f.check == "network.endpoint-missing" and f.monthly_cost_usd for f in a.findings)]
    assert audits, "the demo estate has a NAT-only VPC whose pulls are priced"
    a = audits[0]
    nat_usd = sum(f.arithmetic["bytes"] / GIB * f.arithmetic["price"]["usd"] for f in a.findings
                  if f.check == "network.endpoint-missing"
                  and f.arithmetic.get("price", {}).get("item") == "nat_gateway_gb")
    got = dict(billing_predictions(a, [StepResult("create-interface-endpoint", "", "done", "vpce-new"),
                                       StepResult("create-interface-endpoint", "", "failed", "vpce-failed")], book))
    assert got[a.nat_gateway_ids[0]] == pytest.approx(nat_usd) and nat_usd > 0
    assert got["vpce-new"] == pytest.approx(-len(a.azs) * book.hours_per_month
                                            * book.price(a.region, "vpc_interface_endpoint_az_hour").usd)
    assert "vpce-failed" not in got
