"""`ecrwise pulls` and `ecrwise ecs` through the stand-in: the demo estate scanned, then the commands run on it;
the circuit-breaker fix applied and restored against a live stand-in service."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from ecrwise.pricing.book import GIB, load_price_book

pytestmark = pytest.mark.standin


def pulls_doc(cli, store: Path, *args: str) -> dict:
    res = cli("pulls", "--store", str(store), "--format", "json", *args)
    assert res.code == 0, res.err
    return res.json()


def by_key(doc: dict) -> dict[str, dict]:
    return {f"{i['cluster']}/{i['service']}": i for i in doc["items"]}


def test_crash_loop_behind_nat_is_flagged_with_its_nat_cost(scanned_estate, cli):
    ecs = scanned_estate.estate.ecs
    svc = ecs.service("prod/billing-api")
    doc = pulls_doc(cli, scanned_estate.store)
    row = by_key(doc)["prod/billing-api"]
    assert row["crash_loop"] and row["launch_type"] == "FARGATE" and row["starts_evidence"] == "service-events"
    assert row["task_starts_per_day"] == pytest.approx(svc.starts_per_day, rel=0.05)
    assert row["images"][0]["repository"] == "billing-api" and row["images"][0]["bytes"] == svc.image_bytes
    assert 590_000_000 <= svc.image_bytes <= 610_000_000  # the ~600 MB image
    # Hand arithmetic: 300 starts a day × days a month × the whole image, through the NAT at its GB price.
    book = load_price_book()
    days = book.hours_per_month / 24
    expected = 300 * days * svc.image_bytes / GIB * book.price("us-east-1", "nat_gateway_gb").usd
    assert row["nat_cost_usd_per_month"] == pytest.approx(expected, rel=0.10)
    net = scanned_estate.estate.networks["nat-only"]
    assert row["path"] == "nat" and row["vpc_id"] == net.vpc_id and row["nat_gateway_id"] == net.nat_gateway_id
    assert {r["category"] for r in row["reasons"]} >= {"health-check", "essential-exited"}
    fixes = {f["fix"]: f for f in row["fixes"]}
    assert fixes["circuit-breaker-rollback"]["monthly_savings_usd"] > 0.9 * expected  # a failing deployment
    assert fixes["s3-gateway-endpoint"]["command"] == "ecrwise network"
    assert doc["totals"]["crash_looping"] >= 2


def test_same_service_behind_endpoints_sends_nearly_nothing_through_the_nat(scanned_estate, cli):
    row = by_key(pulls_doc(cli, scanned_estate.store))["prod-endpoints/billing-api"]
    assert row["crash_loop"]
    assert row["pulled_bytes_per_month"] > 5 * 10**12
    assert row["nat_bytes_per_month"] < 0.001 * row["pulled_bytes_per_month"]
    assert row["path_detail"]["layers_via"] == ["s3-gateway-endpoint"]
    assert row["vpc_id"] == scanned_estate.estate.networks["endpoints-ok"].vpc_id
    # Its loop is not a deployment: the circuit breaker is recommended but saves nothing here.
    cb = next(f for f in row["fixes"] if f["fix"] == "circuit-breaker-rollback")
    assert cb["monthly_savings_usd"] is None


def test_healthy_services_are_not_flagged(scanned_estate, cli):
    rows = by_key(pulls_doc(cli, scanned_estate.store))
    for key in ("prod/checkout-web", "prod/payments-api", "edge/edge-proxy", "batch-ec2/search-indexer"):
        assert not rows[key]["crash_loop"], key
        assert rows[key]["task_starts_per_day"] < 1
    looping = {k for k, r in rows.items() if r["crash_loop"]}
    assert looping == {k for k, s in scanned_estate.estate.ecs.services.items() if s.crash_loop}
    ec2 = rows["batch-ec2/inventory-worker"]
    assert ec2["layer_bytes_per_start"] == 0 and ec2["pull_behavior"] == "default"
    only = pulls_doc(cli, scanned_estate.store, "--crash-looping", "--crash-loop-threshold", "100")
    assert {f"{i['cluster']}/{i['service']}" for i in only["items"]} == {"prod/billing-api", "prod-endpoints/billing-api"}


def test_pulls_per_repository_and_formats(scanned_estate, cli):
    doc = pulls_doc(cli, scanned_estate.store, "--by", "repository")
    repos = {(i["region"], i["repository"]): i for i in doc["items"]}
    billing = repos[("us-east-1", "billing-api")]
    assert billing["services"] == ["prod-endpoints/billing-api", "prod/billing-api"]
    assert billing["explained_per_day"] == pytest.approx(600, rel=0.05)
    assert billing["unexplained_per_day"] < 0.1 * billing["pulls_per_day"]
    csv_out = cli("pulls", "--store", str(scanned_estate.store), "--format", "csv")
    assert csv_out.code == 0 and csv_out.out.splitlines()[0].startswith("account,region,cluster,service,launch_type")
    table = cli("pulls", "--store", str(scanned_estate.store))
    assert table.code == 0 and "prod/billing-api" in table.out and "LOOP" in table.out


def test_ecs_audit_finds_the_estate_problems(scanned_estate, cli):
    res = cli("ecs", "--store", str(scanned_estate.store), "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    found = {(i["check"], i["resource"]) for i in doc["items"]}
    e = scanned_estate.estate.ecs
    assert ("ecs.crash-loop", e.service("prod/billing-api").arn) in found
    assert ("ecs.circuit-breaker-off", e.service("prod/billing-api").arn) in found
    assert ("ecs.circuit-breaker-no-rollback", e.service("prod-endpoints/billing-api").arn) in found
    assert ("ecs.single-replica", e.service("prod/payments-api").arn) in found
    assert ("ecs.container-instance-left-behind", e.container_instances["batch-old"]) in found
    assert ("ecs.fargate-invalid-size", e.task_definitions["reports-export"]) in found
    assert ("ecs.container-limits", e.task_definitions["cron-runner"]) in found
    assert ("ecs.mutable-image-tag", e.task_definitions["payments-api"]) in found
    assert ("ecs.image-outside-ecr", e.task_definitions["edge-proxy"]) in found
    assert ("ecs.agent-missing-cluster", f"{e.launch_template_id}:1") in found
    auth = [i for i in doc["items"] if i["check"] == "ecs.agent-auth-data-plaintext"]
    assert {i["resource"] for i in auth} == {e.instances["batch-a"], e.instances["batch-b"]}
    assert all(i["severity"] == "critical" for i in auth)
    left = next(i for i in doc["items"] if i["check"] == "ecs.container-instance-left-behind")
    assert left["fix"].startswith("aws ecs deregister-container-instance --cluster batch-ec2")
    assert ("ecs.crash-loop", e.service("prod/checkout-web").arn) not in found


def test_the_fake_secret_is_nowhere(scanned_estate, cli):
    secret = scanned_estate.estate.ecs.fake_secret
    assert secret.encode() not in scanned_estate.store.read_bytes()
    for args in (("ecs",), ("pulls",), ("pulls", "--by", "repository")):
        for fmt in ("table", "json", "csv"):
            res = cli(*args, "--store", str(scanned_estate.store), "--format", fmt)
            assert res.code == 0, res.err
            assert secret not in res.out and secret not in res.err, (args, fmt)


def test_all_crash_looping_selects_the_snapshot_loops(scanned_estate):
    from ecrwise.cli.ecs import _resolve_services

    targets, snap = _resolve_services([], True, scanned_estate.store, None, 12.0)
    e = scanned_estate.estate.ecs
    assert {t[0] for t in targets} == {s.arn for s in e.services.values() if s.crash_loop}
    assert all(t[1] == "us-east-1" and t[2] in ("prod", "prod-endpoints", "batch-ec2") for t in targets)


def test_circuit_breaker_fix_applied_and_restored(aws, cli, tmp_path):
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    td = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx", "memory": 256}])["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.create_service(cluster="shop", serviceName="web", taskDefinition=td, desiredCount=2)["service"]["serviceArn"]
    before = {"deploymentCircuitBreaker": {"enable": False, "rollback": False}, "maximumPercent": 150,
              "minimumHealthyPercent": 50}
    ecs.update_service(cluster="shop", service="web", deploymentConfiguration=before)

    def live() -> dict:
        return ecs.describe_services(cluster="shop", services=["web"])["services"][0]["deploymentConfiguration"]

    plan = cli("ecs", "fix", "circuit-breaker", "--service", arn, "--backup-dir", str(tmp_path), "--format", "json")
    assert plan.code == 0, plan.err
    assert plan.json()["items"][0]["action"] == "update" and not list(tmp_path.iterdir())
    assert live()["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}  # a plan changes nothing

    done = cli("ecs", "fix", "circuit-breaker", "--service", arn, "--backup-dir", str(tmp_path), "--apply",
               "--format", "json")
    assert done.code == 0, done.err
    backup = Path(done.json()["totals"]["backup"])
    saved = json.loads(backup.read_text())
    assert saved["kind"] == "ecs-circuit-breaker-backup" and saved["services"][0]["previous"] == before
    after = live()
    assert after["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert after["maximumPercent"] == 150 and after["minimumHealthyPercent"] == 50  # the rest is kept

    again = cli("ecs", "fix", "circuit-breaker", "--service", arn, "--format", "json")
    assert again.json()["items"][0]["action"] == "none: already set"

    dry = cli("ecs", "restore", str(backup))
    assert dry.code == 0 and live()["deploymentCircuitBreaker"]["enable"] is True
    restored = cli("ecs", "restore", str(backup), "--apply", "--format", "json")
    assert restored.code == 0, restored.err
    assert live() == before

    assert cli("ecs", "fix", "circuit-breaker", "--service", "not-an-arn").code == 2
    assert cli("ecs", "fix", "circuit-breaker").code == 2
    missing = arn.replace("/web", "/nope")
    assert cli("ecs", "fix", "circuit-breaker", "--service", missing).code == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "something-else"}')
    res = cli("ecs", "restore", str(bad))
    assert res.code == 2 and "kind" in res.err


def test_scan_flags_a_credential_in_a_task_definition_environment_and_stores_no_value(aws, cli, tmp_path):
    # The scan's DescribeTaskDefinition answer goes through the same conversion as `ecs lint`'s files.
    secret = "hunter2-" + "integration-9c0ffee"
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    td = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx:1.27", "memory": 256,
         "environment": [{"name": "DB_PASSWORD", "value": secret}, {"name": "LOG_LEVEL", "value": "info"}]}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition=td, desiredCount=2)
    store = tmp_path / "s.duckdb"
    res = cli("scan", "--region", "us-east-1", "--only", "ecs", "--store", store, "--format", "json")
    assert res.code == 0, res.err
    doc = cli("ecs", "--store", store, "--format", "json").json()
    [found] = [i for i in doc["items"] if i["check"] == "ecs.secret-in-environment"]
    assert found["resource"] == td and found["evidence"]["variable"] == "DB_PASSWORD"
    assert secret not in json.dumps(doc) and secret.encode() not in store.read_bytes()
