"""Pull traffic per service on hand-built snapshots, checked against arithmetic done by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from ecrwise.analysis.checks import Records
from ecrwise.analysis.pulls import (MANIFEST_BYTES_PER_IMAGE, analyse_pulls, classify_reason, parse_image)
from ecrwise.pricing.book import load_price_book
from ecrwise.records.ecr import Image, ImageLayer, PullMetric
from ecrwise.records.ecs import (Ec2Instance, EcsAgentConfig, EcsContainerDefinition, EcsContainerInstance,
                                 EcsDeployment, EcsService, EcsServiceEvent, EcsTask, EcsTaskContainer,
                                 EcsTaskDefinition)
from ecrwise.records.network import NatGateway, Route, RouteTable, SecurityGroupRule, Subnet, Vpc, VpcEndpoint

A, R = "111111111111", "us-east-1"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
GIB = 2**30
BOOK = load_price_book()
DAYS = BOOK.hours_per_month / 24
NAT_USD = BOOK.price(R, "nat_gateway_gb").usd
REG = f"{A}.dkr.ecr.{R}.amazonaws.com"
CLUSTER = f"arn:aws:ecs:{R}:{A}:cluster/prod"


# -- builders -------------------------------------------------------------------------------------------

def network(endpoints: str | None = None) -> list:
    """One VPC, one private subnet routed to a NAT gateway; optionally the S3 gateway and ECR endpoints."""
    recs = [Vpc(A, R, "vpc-1", "10.0.0.0/16", False, True, True),
            Subnet(A, R, "subnet-1", "vpc-1", "10.0.1.0/24", f"{R}a", False),
            RouteTable(A, R, "rtb-1", "vpc-1", False, ["subnet-1"]),
            Route(A, R, "rtb-1", "vpc-1", "10.0.0.0/16", "local", "local", "active"),
            Route(A, R, "rtb-1", "vpc-1", "0.0.0.0/0", "nat", "nat-1", "active"),
            NatGateway(A, R, "nat-1", "vpc-1", "subnet-pub", "available", "public")]
    if endpoints in ("s3", "all"):
        recs.append(VpcEndpoint(A, R, "vpce-s3", "vpc-1", f"com.amazonaws.{R}.s3", "Gateway", "available", False,
                                route_table_ids=["rtb-1"]))
    if endpoints == "all":
        for svc in ("ecr.api", "ecr.dkr"):
            recs.append(VpcEndpoint(A, R, f"vpce-{svc}", "vpc-1", f"com.amazonaws.{R}.{svc}", "Interface",
                                    "available", True, subnet_ids=["subnet-1"], security_group_ids=["sg-e"]))
        recs.append(SecurityGroupRule(A, R, "sg-e", "vpc-1", "ingress", "tcp", 443, 443, "10.0.0.0/16"))
    return recs


def image(repo: str, digest: str, tags: list[str], layers: list[tuple[str, int]]) -> list:
    return [Image(A, R, repo, digest, tags, NOW - timedelta(days=3), None, 1, "m", None, sum(s for _, s in layers)),
            *[ImageLayer(A, R, repo, digest, d, s) for d, s in layers]]


def service(name: str = "api", *, launch: str = "FARGATE", desired: int = 2, cb: tuple = (False, False),
            td: str = "arn:td/api:1", created: datetime | None = None) -> EcsService:
    return EcsService(A, R, CLUSTER, "prod", f"arn:aws:ecs:{R}:{A}:service/prod/{name}", name, "ACTIVE", launch, [],
                      "REPLICA", desired, desired, 0, td, "ECS", cb[0], cb[1], 100, 200,
                      subnets=["subnet-1"] if launch == "FARGATE" else [], security_groups=["sg-t"],
                      assign_public_ip="DISABLED" if launch == "FARGATE" else None,
                      created_at=created or NOW - timedelta(days=100))


def task_def(arn: str = "arn:td/api:1", images: list[str] | None = None, fargate: bool = True) -> list:
    images = images or [f"{REG}/api:v1"]
    return [EcsTaskDefinition(A, R, arn, "api", 1, "ACTIVE", "awsvpc" if fargate else "bridge",
                              ["FARGATE"] if fargate else ["EC2"], ["EC2", "FARGATE"], "1024", "2048",
                              container_count=len(images)),
            *[EcsContainerDefinition(A, R, arn, f"c{i}", img, 0, None, 256, True) for i, img in enumerate(images)]]


def start_events(svc: EcsService, n: int, interval: timedelta, failures: bool = True) -> list[EcsServiceEvent]:
    """n 'has started 1 tasks' events, newest 1 minute ago, one every `interval` (plus a failure between)."""
    out = []
    for k in range(n):
        at = NOW - timedelta(minutes=1) - interval * k
        out.append(EcsServiceEvent(A, R, svc.service_arn, f"s{k}", at, f"(service {svc.name}) has started 1 tasks: (task t{k})."))
        if failures:
            out.append(EcsServiceEvent(A, R, svc.service_arn, f"f{k}", at - interval / 2,
                                       f"(service {svc.name}) (task t{k + 1}) failed ELB health checks in "
                                       f"(target-group arn:tg/{svc.name})."))
    return out


def task(svc: EcsService, n: int, *, created: datetime, stopped: bool, reason: str | None = None,
         instance: str | None = None, digest: str | None = None) -> list:
    arn = f"arn:aws:ecs:{R}:{A}:task/prod/{svc.name}-{n}"
    return [EcsTask(A, R, CLUSTER, arn, svc.task_definition_arn or "", f"service:{svc.name}", "ecs-svc/1",
                    svc.launch_type, None, "STOPPED" if stopped else "RUNNING", "STOPPED" if stopped else "RUNNING",
                    created, created + timedelta(seconds=30), None, created + timedelta(minutes=3) if stopped else None,
                    None, None, "EssentialContainerExited" if stopped else None, reason, instance, f"{R}a",
                    "subnet-1" if svc.launch_type == "FARGATE" else None),
            EcsTaskContainer(A, R, arn, "c0", f"{REG}/api:v1", digest, "STOPPED" if stopped else "RUNNING",
                             1 if stopped else None, None)]


def records(*groups) -> Records:
    by: dict[type, list] = {}
    for g in groups:
        for r in (g if isinstance(g, list) else [g]):
            by.setdefault(type(r), []).append(r)
    return Records(by)


MB600 = [("sha256:base", 200_000_000), ("sha256:deps", 100_000_000), ("sha256:app", 300_000_000)]


def crash_loop_snapshot(endpoints: str | None = None, starts_per_day: int = 300, desired: int = 2) -> Records:
    svc = service(desired=desired)
    interval = timedelta(days=1) / starts_per_day
    return records(network(endpoints), image("api", "sha256:img1", ["v1"], MB600), task_def(), svc,
                   start_events(svc, 50, interval))


def only(report):
    (row,) = report.services
    return row


# -- the seed-000 case ------------------------------------------------------------------------------------

def test_crash_loop_behind_nat_costs_whole_image_per_start():
    row = only(analyse_pulls(crash_loop_snapshot(), BOOK, now=NOW))
    # 50 starts between the oldest event (49.5 intervals + 1 minute ago) and now.
    window_days = (timedelta(days=1) / 300 * 49.5 + timedelta(minutes=1)) / timedelta(days=1)
    starts = 50 / window_days
    assert row.task_starts_per_day == pytest.approx(starts)
    assert row.starts_evidence == "service-events"
    assert row.crash_loop
    assert row.layer_bytes_per_start == 600_000_000
    assert row.manifest_bytes_per_start == MANIFEST_BYTES_PER_IMAGE == 32 * 1024  # as `network cost` counts a pull
    per_start = 600_000_000 + MANIFEST_BYTES_PER_IMAGE
    assert row.nat_bytes_per_month == pytest.approx(starts * DAYS * per_start, rel=1e-9)
    assert row.nat_cost_per_month == pytest.approx(starts * DAYS * per_start / GIB * NAT_USD, rel=1e-9)
    assert row.nat_gateway_id == "nat-1" and row.vpc_id == "vpc-1" and row.path == "nat"
    assert {r.category for r in row.reasons} == {"health-check"}
    fixes = {f.fix: f for f in row.fixes}
    # The S3 gateway endpoint saves the layer bytes; the image is what gets halved.
    assert fixes["s3-gateway-endpoint"].monthly_savings == pytest.approx(starts * DAYS * 600_000_000 / GIB * NAT_USD)
    assert fixes["smaller-image"].monthly_savings == pytest.approx(fixes["s3-gateway-endpoint"].monthly_savings / 2)
    # Manifests alone (32 KiB a start) are worth about a cent a month here: NAT price less the endpoint's.
    vpce_usd = BOOK.price(R, "vpc_interface_endpoint_gb").usd
    assert fixes["ecr-interface-endpoints"].monthly_savings == pytest.approx(
        starts * DAYS * MANIFEST_BYTES_PER_IMAGE / GIB * (NAT_USD - vpce_usd))
    assert 0.005 < fixes["ecr-interface-endpoints"].monthly_savings < 0.01


def test_s3_gateway_endpoint_takes_layers_off_the_nat():
    row = only(analyse_pulls(crash_loop_snapshot("s3"), BOOK, now=NOW))
    assert row.path == "layers:s3-gateway-endpoint manifests:nat"
    assert row.nat_bytes_per_month == pytest.approx(row.task_starts_per_day * DAYS * MANIFEST_BYTES_PER_IMAGE, abs=1)
    assert "s3-gateway-endpoint" not in {f.fix for f in row.fixes}


def test_all_endpoints_leave_nothing_on_the_nat():
    row = only(analyse_pulls(crash_loop_snapshot("all"), BOOK, now=NOW))
    assert row.nat_bytes_per_month == 0 and row.nat_cost_per_month == 0
    assert row.crash_loop  # still a crash loop: it just costs no NAT bytes
    assert row.pulled_bytes_per_month > 5 * 10**12


def test_threshold_is_per_desired_task_and_configurable():
    snap = crash_loop_snapshot(starts_per_day=100, desired=10)  # 10 starts per desired task per day
    assert not only(analyse_pulls(snap, BOOK, now=NOW)).crash_loop
    assert only(analyse_pulls(snap, BOOK, now=NOW, crash_loop_threshold=5)).crash_loop
    with pytest.raises(ValueError):
        analyse_pulls(snap, BOOK, crash_loop_threshold=0)


def test_healthy_service_with_few_events_uses_its_age_as_window():
    svc = service(created=NOW - timedelta(days=30))
    events = [EcsServiceEvent(A, R, svc.service_arn, "d", NOW - timedelta(days=2),
                              "(service api) has started 2 tasks: (task a) (task b)."),
              EcsServiceEvent(A, R, svc.service_arn, "s", NOW - timedelta(hours=1), "(service api) has reached a steady state.")]
    row = only(analyse_pulls(records(network(), image("api", "sha256:img1", ["v1"], MB600), task_def(), svc, events),
                             BOOK, now=NOW))
    assert row.task_starts_per_day == pytest.approx(2 / 30)
    assert not row.crash_loop


def test_full_event_list_uses_the_oldest_event_as_window():
    svc = service(created=NOW - timedelta(days=300))
    events = start_events(svc, 100, timedelta(minutes=10), failures=False)  # 100 events: ECS dropped older ones
    row = only(analyse_pulls(records(network(), task_def(), svc, events), BOOK, now=NOW))
    window = (timedelta(minutes=10) * 99 + timedelta(minutes=1)) / timedelta(days=1)
    assert row.task_starts_per_day == pytest.approx(100 / window)


def test_evidence_order_events_then_stopped_tasks_then_deployments():
    svc = service()
    tasks = []
    for k in range(12):  # one every 5 minutes over the last hour: 12 stopped + 2 running
        tasks += task(svc, k, created=NOW - timedelta(minutes=5 * k + 10), stopped=True,
                      reason="Task failed ELB health checks in (target-group tg)")
    tasks += task(svc, 100, created=NOW - timedelta(minutes=2), stopped=False)
    tasks += task(svc, 101, created=NOW - timedelta(minutes=4), stopped=False)
    dep = EcsDeployment(A, R, svc.service_arn, "ecs-svc/1", "PRIMARY", svc.task_definition_arn, 2, 1, 0, 480,
                        "IN_PROGRESS", None, NOW - timedelta(days=2), NOW)
    base = [network(), task_def(), svc]
    row = only(analyse_pulls(records(*base, tasks, dep), BOOK, now=NOW))
    assert row.starts_evidence == "stopped-tasks"
    window = timedelta(minutes=65) / timedelta(days=1)
    assert row.task_starts_per_day == pytest.approx(14 / window)
    assert row.starts_detail["deployment-failed-tasks"]["failed_tasks"] == 480
    assert row.reasons[0].count == 12 and row.reasons[0].category == "health-check"
    row = only(analyse_pulls(records(*base, dep), BOOK, now=NOW))
    assert row.starts_evidence == "deployment-failed-tasks"
    assert row.task_starts_per_day == pytest.approx((480 + 1) / 2)
    row = only(analyse_pulls(records(*base, dep, start_events(svc, 3, timedelta(hours=1))), BOOK, now=NOW))
    assert row.starts_evidence == "service-events"


def test_repository_pull_count_is_only_an_upper_bound():
    svc = service(desired=1)
    metrics = [PullMetric(A, R, "api", (NOW - timedelta(days=d)).date(), 500) for d in range(1, 8)]
    row = only(analyse_pulls(records(network(), image("api", "sha256:img1", ["v1"], MB600), task_def(), svc,
                                     metrics), BOOK, now=NOW))
    assert row.starts_evidence == "repository-pull-count" and row.task_starts_per_day == pytest.approx(500)
    assert not row.crash_loop  # an upper bound flags nothing on its own
    idle = service(desired=0)
    row = only(analyse_pulls(records(network(), task_def(), idle, metrics), BOOK, now=NOW))
    assert row.starts_evidence == "none" and row.task_starts_per_day == 0


def test_circuit_breaker_saves_only_a_failing_deployment():
    snap = crash_loop_snapshot()
    row = only(analyse_pulls(snap, BOOK, now=NOW))
    cb = next(f for f in row.fixes if f.fix == "circuit-breaker-rollback")
    assert cb.monthly_savings is None and "not during a deployment" in cb.detail
    svc = snap.of(EcsService)[0]
    dep = EcsDeployment(A, R, svc.service_arn, "ecs-svc/2", "PRIMARY", svc.task_definition_arn, 2, 1, 0, 900,
                        "IN_PROGRESS", None, NOW - timedelta(days=3), NOW)
    row = only(analyse_pulls(records(*[r for cls in (Vpc, Subnet, RouteTable, Route, NatGateway, Image, ImageLayer,
                                                           EcsTaskDefinition, EcsContainerDefinition, EcsService,
                                                           EcsServiceEvent) for r in snap.of(cls)], dep),
                             BOOK, now=NOW))
    cb = next(f for f in row.fixes if f.fix == "circuit-breaker-rollback")
    excess = (row.task_starts_per_day - 2) / row.task_starts_per_day
    assert cb.monthly_savings == pytest.approx(row.nat_cost_per_month * excess)
    ok = records(network(), image("api", "sha256:img1", ["v1"], MB600), task_def(), service(cb=(True, True)),
                 start_events(service(), 50, timedelta(days=1) / 300))
    assert "circuit-breaker-rollback" not in {f.fix for f in only(analyse_pulls(ok, BOOK, now=NOW)).fixes}


def test_image_resolved_by_the_digest_the_task_ran_not_the_tag():
    svc = service()
    small = [("sha256:base", 200_000_000)]
    recs = records(network(), image("api", "sha256:old", [], MB600), image("api", "sha256:new", ["v1"], small),
                   task_def(), svc, task(svc, 1, created=NOW - timedelta(hours=1), stopped=False, digest="sha256:old"))
    row = only(analyse_pulls(recs, BOOK, now=NOW))
    assert row.images[0].resolved_by == "task-digest" and row.images[0].bytes == 600_000_000
    recs = records(network(), image("api", "sha256:new", ["v1"], small), task_def(), svc)
    row = only(analyse_pulls(recs, BOOK, now=NOW))
    assert row.images[0].resolved_by == "tag" and row.images[0].bytes == 200_000_000


def test_shared_layers_of_a_task_count_once_and_outside_images_are_unknown():
    svc = service()
    recs = records(network(), image("api", "sha256:a", ["v1"], MB600),
                   image("side", "sha256:b", ["v2"], [("sha256:base", 200_000_000), ("sha256:s", 5_000_000)]),
                   task_def(images=[f"{REG}/api:v1", f"{REG}/side:v2", "docker.io/library/nginx:1.27"]), svc,
                   start_events(svc, 50, timedelta(days=1) / 300))
    row = only(analyse_pulls(recs, BOOK, now=NOW))
    assert row.layer_bytes_per_start == 605_000_000
    assert row.manifest_bytes_per_start == 3 * MANIFEST_BYTES_PER_IMAGE
    assert [u.registry for u in row.images] == ["ecr", "ecr", "external"] and row.images[2].bytes is None
    ptc = next(f for f in row.fixes if f.fix == "pull-through-cache")
    assert ptc.monthly_savings is None and "nginx" in ptc.detail


def test_external_image_manifests_use_the_nat_even_with_endpoints():
    svc = service()
    recs = records(network("all"), image("api", "sha256:a", ["v1"], MB600),
                   task_def(images=[f"{REG}/api:v1", "nginx"]), svc, start_events(svc, 50, timedelta(days=1) / 300))
    row = only(analyse_pulls(recs, BOOK, now=NOW))
    assert row.nat_bytes_per_month == pytest.approx(row.task_starts_per_day * DAYS * MANIFEST_BYTES_PER_IMAGE, abs=1)


def ec2_snapshot(behavior: str | None) -> Records:
    svc = service("worker", launch="EC2", desired=1, td="arn:td/worker:1")
    ci = EcsContainerInstance(A, R, CLUSTER, "arn:ci/1", "i-1", "ACTIVE", True, 1, 0, "1.80", "m5.large", f"{R}a", NOW)
    host = Ec2Instance(A, R, "i-1", "running", "m5.large", "subnet-1", "vpc-1", f"{R}a", None, None, None, NOW)
    cfgs = [EcsAgentConfig(A, R, "instance-user-data", "i-1",
                           {"ECS_CLUSTER": "prod"} | ({"ECS_IMAGE_PULL_BEHAVIOR": behavior} if behavior else {}),
                           [], True, ["i-1"])]
    tasks = []
    for k in range(6):
        tasks += task(svc, k, created=NOW - timedelta(minutes=10 * k + 5), stopped=k > 0, instance="arn:ci/1",
                      reason="OutOfMemoryError: Container killed due to memory usage")
    return records(network(), image("api", "sha256:img1", ["v1"], MB600), task_def("arn:td/worker:1", fargate=False),
                   svc, ci, host, cfgs, tasks, start_events(svc, 100, timedelta(minutes=15), failures=False))


@pytest.mark.parametrize("behavior,manifest", [(None, MANIFEST_BYTES_PER_IMAGE), ("default", MANIFEST_BYTES_PER_IMAGE),
                                                ("always", MANIFEST_BYTES_PER_IMAGE), ("once", 0),
                                                ("prefer-cached", 0)])
def test_ec2_hosts_keep_layers_and_pull_behaviour_decides_the_round_trip(behavior, manifest):
    row = only(analyse_pulls(ec2_snapshot(behavior), BOOK, now=NOW))
    assert row.launch_type == "EC2" and row.crash_loop
    assert row.layer_bytes_per_start == 0 and row.manifest_bytes_per_start == manifest
    assert row.pull_behavior == (behavior or "default")
    assert row.nat_bytes_per_month == pytest.approx(row.task_starts_per_day * DAYS * manifest, abs=1)
    assert ("pull-behavior" in {f.fix for f in row.fixes}) == (manifest > 0)
    assert row.reasons[0].category == "oom"


def test_unexplained_pulls_per_repository():
    snap = crash_loop_snapshot()
    metrics = [PullMetric(A, R, "api", (NOW - timedelta(days=d)).date(), 400) for d in range(0, 8)]
    metrics += [PullMetric(A, R, "unused", (NOW - timedelta(days=d)).date(), 70) for d in range(1, 8)]
    by = {cls: snap.of(cls) for cls in (Vpc, Subnet, RouteTable, Route, NatGateway, Image, ImageLayer,
                                        EcsTaskDefinition, EcsContainerDefinition, EcsService, EcsServiceEvent)}
    by[PullMetric] = metrics
    report = analyse_pulls(Records(by), BOOK, now=NOW)
    repos = {r.repository: r for r in report.repositories}
    row = only(report)
    assert repos["api"].pulls_per_day == 400  # today's partial day is not counted
    assert repos["api"].explained_per_day == pytest.approx(row.task_starts_per_day)
    assert repos["api"].unexplained_per_day == pytest.approx(400 - row.task_starts_per_day)
    assert repos["unused"].unexplained_per_day == 70 and repos["unused"].services == []
    assert row.starts_detail["repository_pull_count_per_day"] == {"api": 400.0}


def test_no_network_records_leaves_the_path_unknown_and_warns():
    svc = service()
    report = analyse_pulls(records(image("api", "sha256:img1", ["v1"], MB600), task_def(), svc,
                                   start_events(svc, 50, timedelta(days=1) / 300)), BOOK, now=NOW)
    row = only(report)
    assert row.nat_bytes_per_month is None and row.nat_cost_per_month is None and row.path == "unknown"
    assert report.warnings and row.crash_loop


def test_public_subnet_without_public_ip_cannot_pull():
    recs = network()
    recs = [r for r in recs if not (isinstance(r, Route) and r.destination == "0.0.0.0/0")]
    recs.append(Route(A, R, "rtb-1", "vpc-1", "0.0.0.0/0", "igw", "igw-1", "active"))
    svc = service()
    row = only(analyse_pulls(records(recs, task_def(), svc), BOOK, now=NOW))
    assert row.path == "none" and any("CannotPullContainerError" in n for n in row.notes)


@pytest.mark.parametrize("uri,expected", [
    (f"{REG}/team/api:v1", {"account": A, "region": R, "repository": "team/api", "tag": "v1", "digest": None}),
    (f"{REG}/api", {"account": A, "region": R, "repository": "api", "tag": "latest", "digest": None}),
    (f"{REG}/api@sha256:{'a' * 64}", {"account": A, "region": R, "repository": "api", "tag": None,
                                      "digest": "sha256:" + "a" * 64}),
    ("nginx", {"account": None, "region": None, "repository": "nginx", "tag": "latest", "digest": None}),
    ("registry.example.com:5000/x/y:2", {"account": None, "region": None, "repository": "registry.example.com:5000/x/y",
                                         "tag": "2", "digest": None}),
])
def test_parse_image(uri, expected):
    assert parse_image(uri) == expected


@pytest.mark.parametrize("text,category", [
    ("Task failed ELB health checks in (target-group x)", "health-check"),
    ("Essential container in task exited", "essential-exited"),
    ("CannotPullContainerError: pull image manifest has been retried 5 time(s)", "pull-error"),
    ("OutOfMemoryError: Container killed due to memory usage", "oom"),
    ("Scaling activity initiated by (deployment ecs-svc/1)", "other"),
])
def test_classify_reason(text, category):
    assert classify_reason(text) == category


@settings(max_examples=40, deadline=None)
@given(per_day=st.integers(1, 2000), desired=st.integers(1, 20), endpoints=st.sampled_from([None, "s3", "all"]),
       threshold=st.floats(0.5, 500))
def test_invariants(per_day, desired, endpoints, threshold):
    """NAT bytes never exceed pulled bytes; the crash-loop flag is exactly the threshold rule."""
    report = analyse_pulls(crash_loop_snapshot(endpoints, per_day, desired), BOOK, now=NOW,
                           crash_loop_threshold=threshold)
    row = only(report)
    assert 0 <= (row.nat_bytes_per_month or 0) <= row.pulled_bytes_per_month + 1
    assert row.crash_loop == (row.task_starts_per_day / desired > threshold)
    assert report.totals["monthly_savings"] <= (row.nat_cost_per_month or 0) + 1e-9
