"""The demo estate's ECS part: clusters and services placed into the demo VPCs, running the demo images.

What it shows (seed 000 and seed 003):
- `prod/billing-api`: Fargate in the `nat-only` VPC's private subnets, crash-looping ~300 starts a day during a
  deployment (failing ELB health checks, essential container exiting) with a ~600 MB image, circuit breaker off.
  Every start downloads the whole image through the NAT gateway.
- `prod-endpoints/billing-api`: the same service in the `endpoints-ok` VPC (S3 gateway endpoint, ECR interface
  endpoints): it crash-loops too, but its layer bytes bypass the NAT. Circuit breaker on, without rollback.
- healthy Fargate services (`prod/checkout-web`, `prod/payments-api` with desired count 1 and a `latest` tag,
  `edge/edge-proxy` in the `endpoints-broken` VPC with a Docker Hub sidecar) and a task definition Fargate would
  reject (`reports-export`: 1 vCPU with 1 GB).
- an EC2 cluster `batch-ec2` in the `nat-only` VPC: two hosts whose user data writes an ecs.config with
  `ECS_ENGINE_AUTH_DATA` (a fake Docker Hub password), a healthy service, a crash-looping service on `latest`,
  a container limit above the task's, and a container instance left behind (agent disconnected, its EC2
  instance stopped then terminated). A third host, launched from a launch template whose user data sets no
  `ECS_CLUSTER`, registered into the `default` cluster.

Everything that the ECS and EC2 APIs can express is created through them. The stand-in cannot express some facts
a realistic estate needs (service events, task timestamps and stop codes, image digests of running containers,
deployments with failed tasks, a disconnected agent); those are set in the in-process stand-in's state, and
each spot says so.
"""
from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ecrwise.demo.estate_ecr import (DOCKER_MANIFEST, MB, NETWORK_REGION, Estate, EstateImage, EstateRepository,
                                     _base_layers, _client, _create_repository, _digest, _manifest,
                                     _put_pull_metrics, _set_times_in_state)

# Not a real credential: the demo shows that ecrwise redacts it everywhere.
FAKE_REGISTRY_PASSWORD = "demo-not-a-real-password-5d41402abc4b"
FAKE_AUTH_DATA = json.dumps({"https://index.docker.io/v1/": {
    "username": "ci-bot", "password": FAKE_REGISTRY_PASSWORD, "email": "ci@example.com"}}, separators=(",", ":"))
AMI = "ami-12c6146b"
DAY = 86400


@dataclass
class EstateService:
    cluster: str  # the cluster's ARN
    name: str
    arn: str
    launch_type: str
    desired_count: int
    vpc: str
    image_bytes: int  # distinct layer bytes of the task's images in ECR (0 for images outside ECR)
    starts_per_day: float  # as designed (events spaced evenly)
    crash_loop: bool
    task_definition_arn: str = ""


@dataclass
class EstateEcs:
    region: str
    clusters: dict[str, str] = field(default_factory=dict)  # name -> arn
    services: dict[str, EstateService] = field(default_factory=dict)  # "cluster/service" -> service
    task_definitions: dict[str, str] = field(default_factory=dict)  # family -> arn of the revision in use
    instances: dict[str, str] = field(default_factory=dict)  # label -> EC2 instance id
    container_instances: dict[str, str] = field(default_factory=dict)  # label -> container instance arn
    launch_template_id: str = ""
    fake_secret: str = FAKE_REGISTRY_PASSWORD
    repository: str = "billing-api"  # the repository with the ~600 MB image the crash loops pull

    def service(self, key: str) -> EstateService:
        return self.services[key]


# -- the ~600 MB image ---------------------------------------------------------------------------------

def _billing_repository(now: datetime) -> EstateRepository:
    """A JVM service with a fat image: ~600 MB compressed (the jdk base layers are shared with other repos)."""
    rng = random.Random(5)
    repo = EstateRepository(NETWORK_REGION, "billing-api", tags={"team": "billing", "cost-center": "cc-305"})
    base = _base_layers("jdk")
    base_bytes = sum(s for _, s in base)
    for i, version in enumerate(("v2.3.0", "v2.3.1", "v2.4.0", "v2.4.1")):
        deps = (_digest(f"deps:billing-api:{i // 2}"), 80 * MB)
        app_size = 600 * MB - base_bytes - deps[1] - (3 - i) * rng.randint(1, 5) * MB
        layers = base + [deps, (_digest(f"app:billing-api:{i}"), app_size)]
        text = _manifest(layers, f"billing-api:{i}", DOCKER_MANIFEST)
        pushed = (now - timedelta(days=40 - 10 * i, hours=rng.randint(0, 9))).replace(microsecond=0)
        repo.images.append(EstateImage(_digest(text), [version], pushed, layers, manifest=text))
    repo.images[-1].tags = ["latest", "v2.4.1"]
    # The crash loops began ten days ago: ~600 pulls a day since (two services), ~15 before (CI, developers).
    repo.daily_pulls = [rng.randint(10, 20) for _ in range(20)] + [600 + rng.randint(5, 25) for _ in range(10)]
    return repo


def _distinct_bytes(images: list[EstateImage]) -> int:
    seen: dict[str, int] = {}
    for img in images:
        for d, s in img.layers:
            seen[d] = s
    return sum(seen.values())


def _latest(estate: Estate, name: str) -> EstateImage:
    repo = estate.repository(NETWORK_REGION, name)
    return next(i for i in reversed(repo.images) if "latest" in i.tags)


# -- building ----------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, estate: Estate, url: str):
        self.estate = estate
        self.now = estate.now
        self.account = estate.account
        self.region = NETWORK_REGION
        self.registry = f"{estate.account}.dkr.ecr.{self.region}.amazonaws.com"
        self.ecs = _client("ecs", url, self.region)
        self.ec2 = _client("ec2", url, self.region)
        self.out = EstateEcs(self.region)
        from moto.backends import get_backend

        self.backend = get_backend("ecs")[self.account][self.region]
        self.security_groups: dict[str, str] = {}

    def uri(self, repo: str, image: EstateImage, by: str = "tag") -> str:
        if by == "digest":
            return f"{self.registry}/{repo}@{image.digest}"
        tag = next((t for t in image.tags if t != "latest"), "latest") if by == "tag" else by
        return f"{self.registry}/{repo}:{tag}"

    def tasks_sg(self, vpc: str) -> str:
        if vpc not in self.security_groups:
            net = self.estate.networks[vpc]
            self.security_groups[vpc] = self.ec2.create_security_group(
                GroupName=f"{vpc}-tasks", Description="ECS tasks", VpcId=net.vpc_id)["GroupId"]
        return self.security_groups[vpc]

    def cluster(self, name: str) -> str:
        arn = self.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
        self.out.clusters[name] = arn
        return arn

    def task_definition(self, family: str, containers: list[dict[str, Any]], *, fargate: bool,
                        cpu: str | None = None, memory: str | None = None, revisions: int = 1) -> str:
        kwargs: dict[str, Any] = {"family": family, "containerDefinitions": containers}
        if fargate:
            kwargs.update(requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                          runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"})
        else:
            kwargs.update(requiresCompatibilities=["EC2"], networkMode="bridge")
        if cpu:
            kwargs["cpu"] = cpu
        if memory:
            kwargs["memory"] = memory
        arn = ""
        for _ in range(revisions):
            arn = self.ecs.register_task_definition(**kwargs)["taskDefinition"]["taskDefinitionArn"]
        self.out.task_definitions[family] = arn
        return arn

    def service(self, cluster: str, name: str, td: str, *, desired: int, launch_type: str, vpc: str,
                image_bytes: int, starts_per_day: float, crash_loop: bool, circuit_breaker: tuple[bool, bool] | None,
                target_group: bool = True) -> EstateService:
        kwargs: dict[str, Any] = {"cluster": cluster, "serviceName": name, "taskDefinition": td,
                                  "desiredCount": desired, "launchType": launch_type,
                                  "schedulingStrategy": "REPLICA"}
        if launch_type == "FARGATE":
            net = self.estate.networks[vpc]
            kwargs["networkConfiguration"] = {"awsvpcConfiguration": {
                "subnets": net.private_subnets, "securityGroups": [self.tasks_sg(vpc)], "assignPublicIp": "DISABLED"}}
        if target_group:
            kwargs["loadBalancers"] = [{"targetGroupArn": self.target_group(name), "containerName": "app",
                                        "containerPort": 8080}]
        arn = self.ecs.create_service(**kwargs)["service"]["serviceArn"]
        if circuit_breaker is not None:
            # create_service in the stand-in drops deploymentConfiguration; update_service keeps it.
            enable, rollback = circuit_breaker
            self.ecs.update_service(cluster=cluster, service=name, deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": enable, "rollback": rollback},
                "maximumPercent": 200, "minimumHealthyPercent": 100})
        svc = EstateService(cluster, name, arn, launch_type, desired, vpc, image_bytes, starts_per_day, crash_loop,
                            td)
        self.out.services[f"{cluster.rsplit('/', 1)[-1]}/{name}"] = svc
        return svc

    def target_group(self, name: str) -> str:
        return (f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:targetgroup/{name}-tg/"
                f"{_digest(name)[7:23]}")

    def moto_service(self, cluster: str, name: str) -> Any:
        return self.backend.services[f"{cluster.rsplit('/', 1)[-1]}:{name}"]

    # -- tasks and their history ------------------------------------------------------------------

    def run_tasks(self, svc: EstateService, *, running: int, stopped: int, interval: float,
                  reasons: list[tuple[str, str, int | None]], digest: str | None,
                  container_instances: list[str] | None = None) -> list[Any]:
        """Start `running + stopped` tasks for the service through the API (newest first, one every `interval`
        seconds), stop the older ones with a reason, then set what the stand-in cannot: timestamps, stop codes,
        the image digest each container ran."""
        created = []
        for k in range(running + stopped):
            kwargs: dict[str, Any] = {"cluster": svc.cluster, "taskDefinition": svc.task_definition_arn,
                                      "group": f"service:{svc.name}", "startedBy": "ecs-svc/9180417736912354172"}
            if svc.launch_type == "FARGATE":
                net = self.estate.networks[svc.vpc]
                subnets = net.private_subnets[k % len(net.private_subnets):] + net.private_subnets[:k % len(net.private_subnets)]
                resp = self.ecs.run_task(launchType="FARGATE", count=1, networkConfiguration={"awsvpcConfiguration": {
                    "subnets": subnets, "securityGroups": [self.tasks_sg(svc.vpc)], "assignPublicIp": "DISABLED"}},
                    **kwargs)
            else:
                assert container_instances
                resp = self.ecs.start_task(containerInstances=[container_instances[k % len(container_instances)]],
                                           **kwargs)
            arn = resp["tasks"][0]["taskArn"]
            if k >= running:
                reason, _, _ = reasons[(k - running) % len(reasons)]
                self.ecs.stop_task(cluster=svc.cluster, task=arn, reason=reason)
            created.append(arn)
        tasks = self.backend.tasks[svc.cluster.rsplit("/", 1)[-1]]
        for k, arn in enumerate(created):
            t = tasks[arn]
            # The stand-in's tasks have no timestamps, stop codes or image digests: set in its state here.
            start = self.now - timedelta(seconds=interval * k + 40)
            t.created_at = start - timedelta(seconds=35)
            t.pull_started_at = start - timedelta(seconds=30)
            t.pull_stopped_at = start - timedelta(seconds=8)
            t.started_at = start
            t.launch_type = svc.launch_type
            t.availability_zone = f"{self.region}{'abc'[k % 3]}"
            for c in t.containers:
                c.image_digest = digest
            if k < running:
                # Keep running tasks RUNNING: the stand-in otherwise advances a task's status on every describe.
                t._transitions = [("RUNNING", "RUNNING")]
                for c in t.containers:
                    c.last_status = "RUNNING"
            else:
                _, code, exit_code = reasons[(k - running) % len(reasons)]
                t.stop_code = code
                t.stopping_at = start + timedelta(seconds=min(interval * 0.6, 180))
                t.stopped_at = t.stopping_at + timedelta(seconds=30)
                for c in t.containers:
                    c.last_status = "STOPPED"
                    c.exitCode = exit_code
                    c.exit_code = exit_code
        return created

    def history(self, svc: EstateService, *, task_ids: list[str], interval: float | None, cycles: int,
                failure: str | None, deployments: list[dict[str, Any]], created_days_ago: int,
                running: int) -> None:
        """Service events, deployments, created time and counts, set in the stand-in's state: its API has no
        service events, creates one deployment without failed tasks and leaves running counts at zero."""
        s = self.moto_service(svc.cluster, svc.name)
        events: list[dict[str, Any]] = []
        ids = list(task_ids) + [_digest(f"{svc.cluster}/{svc.name}/{k}")[7:39] for k in range(cycles)]
        if interval is not None and failure is not None:
            # A crash loop: each cycle a task is started, fails, is stopped and replaced (newest first, 100 at most).
            for k in range(cycles):
                task = ids[k].rsplit("/", 1)[-1]
                at = self.now - timedelta(seconds=interval * k + 40)
                events.append({"createdAt": at, "message": f"(service {svc.name}) has started 1 tasks: (task {task})."})
                fail_at = at - timedelta(seconds=interval / 2)
                msg = (f"(service {svc.name}) (task {ids[k + 1].rsplit('/', 1)[-1]}) failed ELB health checks in "
                       f"(target-group {self.target_group(svc.name)})" if failure == "elb" else
                       f"(service {svc.name}) has stopped 1 running tasks: (task {ids[k + 1].rsplit('/', 1)[-1]}).")
                events.append({"createdAt": fail_at, "message": msg})
        else:
            for k in range(8):
                events.append({"createdAt": self.now - timedelta(hours=6 * k + 1),
                               "message": f"(service {svc.name}) has reached a steady state."})
            events.append({"createdAt": self.now - timedelta(days=3),
                           "message": f"(service {svc.name}) has started {svc.desired_count} tasks: "
                                      + " ".join(f"(task {t.rsplit('/', 1)[-1]})" for t in task_ids[:svc.desired_count])
                                      + "."})
        events = sorted(events, key=lambda e: e["createdAt"], reverse=True)[:100]
        s.events = [{"id": _digest(f"{svc.arn}:{i}")[7:43], **e} for i, e in enumerate(events)]
        s.created_at = self.now - timedelta(days=created_days_ago)
        s.running_count = running
        s.pending_count = max(0, svc.desired_count - running)
        s.deployments = deployments

    def deployment(self, svc: EstateService, *, status: str, td: str, rollout: str, failed: int, running: int,
                   days_ago: float) -> dict[str, Any]:
        created = self.now - timedelta(days=days_ago)
        reason = {"COMPLETED": "ECS deployment completed.", "IN_PROGRESS": "ECS deployment in progress.",
                  "FAILED": "ECS deployment failed."}[rollout]
        return {"id": f"ecs-svc/{int(_digest(svc.arn + td + status)[7:22], 16)}", "status": status,
                "taskDefinition": td, "desiredCount": svc.desired_count, "pendingCount": 0,
                "runningCount": running, "failedTasks": failed, "createdAt": created,
                "updatedAt": self.now - timedelta(minutes=3), "launchType": svc.launch_type,
                "rolloutState": rollout, "rolloutStateReason": reason}

    def healthy_fargate(self, cluster: str, name: str, containers: list[dict[str, Any]], image: EstateImage, *,
                        vpc: str, desired: int, cpu: str, memory: str, revisions: int,
                        created_days_ago: float) -> EstateService:
        """A Fargate service that runs steadily: circuit breaker on, every desired task running, none stopped,
        one deployment completed three days ago."""
        td = self.task_definition(name, containers, fargate=True, cpu=cpu, memory=memory, revisions=revisions)
        svc = self.service(cluster, name, td, desired=desired, launch_type="FARGATE", vpc=vpc,
                           image_bytes=_distinct_bytes([image]), starts_per_day=0.0, crash_loop=False,
                           circuit_breaker=(True, True))
        ids = self.run_tasks(svc, running=desired, stopped=0, interval=600, reasons=[], digest=image.digest)
        self.history(svc, task_ids=ids, interval=None, cycles=0, failure=None, created_days_ago=created_days_ago,
                     running=desired, deployments=[self.deployment(svc, status="PRIMARY", td=td, rollout="COMPLETED",
                                                                   failed=0, running=desired, days_ago=3)])
        return svc

    # -- EC2 hosts ------------------------------------------------------------------------------------

    def host(self, label: str, subnet: str, user_data: str | None = None, launch_template: str | None = None) -> str:
        kwargs: dict[str, Any] = {"ImageId": AMI, "MinCount": 1, "MaxCount": 1, "SubnetId": subnet,
                                  "InstanceType": "m5.large",
                                  "TagSpecifications": [{"ResourceType": "instance",
                                                         "Tags": [{"Key": "Name", "Value": label}]}]}
        if user_data is not None:
            kwargs["UserData"] = user_data
        if launch_template:
            kwargs["LaunchTemplate"] = {"LaunchTemplateId": launch_template, "Version": "1"}
        instance_id = self.ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]
        self.out.instances[label] = instance_id
        return instance_id

    def register(self, cluster: str, label: str, instance_id: str) -> str:
        doc = json.dumps({"instanceId": instance_id, "region": self.region, "accountId": self.account})
        arn = self.ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=doc)[
            "containerInstance"]["containerInstanceArn"]
        self.out.container_instances[label] = arn
        return arn


def _ecs_config(lines: list[str]) -> str:
    return "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\n" + "\n".join(lines) + "\nEOF\n"


def build_ecs(estate: Estate, url: str) -> EstateEcs:
    """Build the ECS part of the demo estate (needs `estate.networks`)."""
    b = _Builder(estate, url)
    now = estate.now

    billing = _billing_repository(now)
    _create_repository(_client("ecr", url, NETWORK_REGION), billing)
    _put_pull_metrics(_client("cloudwatch", url, NETWORK_REGION), [billing], now)
    _set_times_in_state(Estate(estate.account, (NETWORK_REGION,), [billing], now))
    estate.repositories.append(billing)
    fat, previous = billing.images[-1], billing.images[-2]
    fat_bytes = _distinct_bytes([fat])

    def app(image: str, **extra: Any) -> dict[str, Any]:
        c = {"name": "app", "image": image, "essential": True, "portMappings": [{"containerPort": 8080}],
             "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/demo",
                                                                      "awslogs-region": NETWORK_REGION,
                                                                      "awslogs-stream-prefix": "app"}}}
        c.update(extra)
        if "memory" not in c:
            c.setdefault("memoryReservation", 256)  # the stand-in needs a container memory figure to place tasks
        return c

    health = {"healthCheck": {"command": ["CMD-SHELL", "curl -fs localhost:8080/health || exit 1"],
                              "interval": 30, "retries": 3, "timeout": 5}}
    crash_reasons = [
        ("Task failed ELB health checks in (target-group billing-api-tg)", "ServiceSchedulerInitiated", 143),
        ("Essential container in task exited", "EssentialContainerExited", 1),
    ]

    # -- prod (nat-only): the seed-000 crash loop, healthy neighbours, a definition Fargate would reject ------
    prod = b.cluster("prod")
    td_prev = b.task_definition("billing-api", [app(b.uri("billing-api", previous), **health)], fargate=True,
                                cpu="1024", memory="2048", revisions=6)
    td_bill = b.task_definition("billing-api", [app(b.uri("billing-api", fat), **health)], fargate=True,
                                cpu="1024", memory="2048")
    bill = b.service(prod, "billing-api", td_bill, desired=2, launch_type="FARGATE", vpc="nat-only",
                     image_bytes=fat_bytes, starts_per_day=300.0, crash_loop=True, circuit_breaker=(False, False))
    interval = DAY / 300
    ids = b.run_tasks(bill, running=2, stopped=12, interval=interval, reasons=crash_reasons, digest=fat.digest)
    b.history(bill, task_ids=ids, interval=interval, cycles=50, failure="elb", created_days_ago=200, running=1,
              deployments=[
                  b.deployment(bill, status="PRIMARY", td=td_bill, rollout="IN_PROGRESS", failed=2996, running=1,
                               days_ago=10),
                  b.deployment(bill, status="ACTIVE", td=td_prev, rollout="COMPLETED", failed=0, running=0,
                               days_ago=30)])
    # The crash loop began with the deployment ten days ago (moto's own deployment is replaced above).

    checkout = _latest(estate, "checkout-web")
    b.healthy_fargate(prod, "checkout-web", [app(b.uri("checkout-web", checkout), **health)], checkout,
                      vpc="nat-only", desired=3, cpu="512", memory="1024", revisions=3, created_days_ago=120)

    payments = _latest(estate, "payments-api")
    b.healthy_fargate(prod, "payments-api", [app(b.uri("payments-api", payments, by="latest"))], payments,
                      vpc="nat-only", desired=1, cpu="256", memory="512", revisions=2, created_days_ago=90)

    # Fargate would refuse 1 vCPU with 1 GB (the stand-in registers it anyway); the service is scaled to zero.
    td = b.task_definition("reports-export", [app(b.uri("reporting-batch", _latest(estate, "reporting-batch")))],
                           fargate=True, cpu="1024", memory="1024")
    b.service(prod, "reports-export", td, desired=0, launch_type="FARGATE", vpc="nat-only",
              image_bytes=_distinct_bytes([_latest(estate, "reporting-batch")]), starts_per_day=0.0,
              crash_loop=False, circuit_breaker=None, target_group=False)

    # -- prod-endpoints (endpoints-ok): the same crash loop; layers come through the S3 gateway endpoint ----
    prod_ep = b.cluster("prod-endpoints")
    td = b.task_definition("billing-api-ep", [app(b.uri("billing-api", fat, by="digest"), **health)],
                           fargate=True, cpu="1024", memory="2048")
    svc = b.service(prod_ep, "billing-api", td, desired=2, launch_type="FARGATE", vpc="endpoints-ok",
                    image_bytes=fat_bytes, starts_per_day=300.0, crash_loop=True, circuit_breaker=(True, False))
    ids = b.run_tasks(svc, running=2, stopped=12, interval=interval, reasons=crash_reasons, digest=fat.digest)
    # Deployed cleanly ten days ago; the loop started after it (a dependency failing health checks), so the
    # circuit breaker, which watches deployments only, does not stop it.
    b.history(svc, task_ids=ids, interval=interval, cycles=50, failure="stop", created_days_ago=200, running=1,
              deployments=[b.deployment(svc, status="PRIMARY", td=td, rollout="COMPLETED", failed=0, running=1,
                                        days_ago=11)])

    # -- edge (endpoints-broken): healthy, with a sidecar pulled from Docker Hub -------------------------
    edge = b.cluster("edge")
    proxy = _latest(estate, "edge-proxy")
    sidecar = {"name": "nginx", "image": "docker.io/library/nginx:1.27-alpine", "essential": False,
               "memoryReservation": 64}
    b.healthy_fargate(edge, "edge-proxy", [app(b.uri("edge-proxy", proxy, by="digest")), sidecar], proxy,
                      vpc="endpoints-broken", desired=2, cpu="512", memory="1024", revisions=4, created_days_ago=60)

    # -- batch-ec2 (nat-only): EC2 hosts, the agent config in user data, one host left behind ---------------
    net = estate.networks["nat-only"]
    batch = b.cluster("batch-ec2")
    config = _ecs_config(["ECS_CLUSTER=batch-ec2", "ECS_ENGINE_AUTH_TYPE=docker",
                          f"ECS_ENGINE_AUTH_DATA={FAKE_AUTH_DATA}", "ECS_IMAGE_PULL_BEHAVIOR=default",
                          "ECS_ENABLE_TASK_IAM_ROLE=true", "ECS_LOGLEVEL=info"])
    hosts = []
    for i, label in enumerate(("batch-a", "batch-b", "batch-old")):
        iid = b.host(label, net.private_subnets[i], user_data=config)
        hosts.append(b.register(batch, label, iid))
    # A host from a launch template whose user data sets no ECS_CLUSTER: the agent joins the `default` cluster.
    stray_data = ("#!/bin/bash\necho \"ECS_IMAGE_PULL_BEHAVIOR=prefer-cached\" >> /etc/ecs/ecs.config\n"
                  "echo \"ECS_ENABLE_TASK_IAM_ROLE=true\" >> /etc/ecs/ecs.config\n")
    lt = b.ec2.create_launch_template(LaunchTemplateName="ecs-batch-hosts", LaunchTemplateData={
        "ImageId": AMI, "InstanceType": "m5.large",
        "UserData": base64.b64encode(stray_data.encode()).decode()})["LaunchTemplate"]["LaunchTemplateId"]
    b.out.launch_template_id = lt
    default = b.cluster("default")
    b.register(default, "stray", b.host("stray", net.private_subnets[0], launch_template=lt))

    search = _latest(estate, "search-indexer")
    td = b.task_definition("search-indexer", [app(b.uri("search-indexer", search, by="digest"), cpu=512,
                                                  memory=1024)], fargate=False, revisions=5)
    svc = b.service(batch, "search-indexer", td, desired=2, launch_type="EC2", vpc="nat-only",
                    image_bytes=_distinct_bytes([search]), starts_per_day=0.0, crash_loop=False,
                    circuit_breaker=(True, True), target_group=False)
    ids = b.run_tasks(svc, running=2, stopped=0, interval=600, reasons=[], digest=search.digest,
                      container_instances=hosts[:2])
    b.history(svc, task_ids=ids, interval=None, cycles=0, failure=None, created_days_ago=150, running=2,
              deployments=[b.deployment(svc, status="PRIMARY", td=td, rollout="COMPLETED", failed=0, running=2,
                                        days_ago=3)])

    worker = _latest(estate, "inventory-worker")
    td = b.task_definition("inventory-worker", [app(b.uri("inventory-worker", worker, by="latest"),
                                                    memory=512, memoryReservation=256)], fargate=False, revisions=9)
    svc = b.service(batch, "inventory-worker", td, desired=1, launch_type="EC2", vpc="nat-only",
                    image_bytes=_distinct_bytes([worker]), starts_per_day=96.0, crash_loop=True,
                    circuit_breaker=(False, False), target_group=False)
    ec2_interval = DAY / 96
    oom = [("Essential container in task exited", "EssentialContainerExited", 137),
           ("OutOfMemoryError: Container killed due to memory usage", "EssentialContainerExited", 137)]
    ids = b.run_tasks(svc, running=1, stopped=6, interval=ec2_interval, reasons=oom, digest=worker.digest,
                      container_instances=hosts[:2])
    b.history(svc, task_ids=ids, interval=ec2_interval, cycles=50, failure="stop", created_days_ago=100, running=1,
              deployments=[b.deployment(svc, status="PRIMARY", td=td, rollout="COMPLETED", failed=0, running=1,
                                        days_ago=20)])

    cron = _latest(estate, "cron-runner")
    # The container's hard limit (1024 MiB) is above the task's (512 MiB): AWS refuses it, the stand-in does not.
    td = b.task_definition("cron-runner", [app(b.uri("cron-runner", cron, by="digest"), memory=1024)],
                           fargate=False, cpu="256", memory="512", revisions=2)
    svc = b.service(batch, "cron-runner", td, desired=1, launch_type="EC2", vpc="nat-only",
                    image_bytes=_distinct_bytes([cron]), starts_per_day=0.0, crash_loop=False, circuit_breaker=None,
                    target_group=False)
    ids = b.run_tasks(svc, running=1, stopped=0, interval=600, reasons=[], digest=cron.digest,
                      container_instances=hosts[1:2])
    b.history(svc, task_ids=ids, interval=None, cycles=0, failure=None, created_days_ago=300, running=1,
              deployments=[b.deployment(svc, status="PRIMARY", td=td, rollout="COMPLETED", failed=0, running=1,
                                        days_ago=40)])

    # The seed-003 case: a host stopped, then terminated while stopped, stays registered and ACTIVE.
    old = b.out.instances["batch-old"]
    b.ec2.stop_instances(InstanceIds=[old])
    b.ec2.terminate_instances(InstanceIds=[old])
    ci_id = b.out.container_instances["batch-old"].rsplit("/", 1)[-1]
    # The stand-in keeps the agent "connected" whatever happens to the instance: set in its state.
    b.backend.container_instances["batch-ec2"][ci_id].agent_connected = False
    return b.out
