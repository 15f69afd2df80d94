"""Image pulls per ECS service: how often tasks start, what each start downloads, which way the bytes go, what the
NAT gateway charges for them, which services crash-loop, and what each fix saves. Pure.

The model (see docs/pulls.md):
- **Starts per day** come from the best evidence the snapshot has, in this order: the service's events ("has
  started N tasks", ECS keeps the last 100), its recently stopped tasks (ECS lists them for about an hour), its
  deployments' failed-task counts, and last the repository's `RepositoryPullCount` (an upper bound, when one
  service is the repository's only user). Every figure says which evidence it came from, and is cross-checked
  against `RepositoryPullCount`.
- **Bytes per start.** Fargate keeps no image cache: every start downloads every layer of every container
  image (counted once per distinct layer across the task's images) plus a manifest round trip per image. On EC2
  the host's Docker keeps layers: a start downloads only layers the host does not have, so once a host has the
  image, `default`/`always` cost a manifest round trip per start and `once`/`prefer-cached` nothing.
- **Path**, from the task's subnets (Fargate, awsvpc) or its host's subnet (EC2): layers come from S3, so an S3
  gateway endpoint on the route table takes them off the NAT gateway; manifests come from ECR, through the
  ECR interface endpoints when they serve the subnet; images outside ECR come over the internet.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Callable

from ecrwise.records import Records
from ecrwise.analysis.egress import EgressPath, NetworkIndex, egress_path
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.pricing.network_cost import MANIFEST_BYTES_PER_PULL
from ecrwise.lifecycle.from_records import LayerIndex, layer_index, layer_rows
from ecrwise.records.ecr import Image, ImageLayer, PullMetric
from ecrwise.records.ecs import (Ec2Instance, EcsAgentConfig, EcsContainerDefinition, EcsContainerInstance,
                                 EcsDeployment, EcsService, EcsServiceEvent, EcsTask, EcsTaskContainer,
                                 EcsTaskDefinition)
from ecrwise.records.image_ref import split_image_ref
from ecrwise.records.network import (NatGateway, Route, RouteTable, SecurityGroupRule, Subnet, Vpc,
                                     VpcEndpoint)

DEFAULT_CRASH_LOOP_THRESHOLD = 12.0  # starts per desired task per day
# The registry round trip of one image per start (token, manifest, one redirect per blob), as `network cost`
# counts it: the one estimate, documented at `pricing.network_cost.MANIFEST_BYTES_PER_PULL`. It matters only
# where nothing else is downloaded.
MANIFEST_BYTES_PER_IMAGE = MANIFEST_BYTES_PER_PULL
EVENTS_KEPT = 100  # ECS returns a service's 100 most recent events
MIN_WINDOW = timedelta(hours=1)
METRIC_DAYS = 7  # RepositoryPullCount: the mean of the last 7 complete days
PULL_BEHAVIORS = ("default", "always", "once", "prefer-cached")

_STARTED = re.compile(r"has started (\d+) tasks?")
_FAILURE_EVENT = re.compile(r"unhealthy|failed (ELB|container) health checks|health checks? failed|"
                            r"is unable to consistently start tasks|CannotPullContainer", re.I)

FIX_COMMANDS = {
    "circuit-breaker-rollback": "ecrwise ecs fix circuit-breaker --service {arn} --apply",
    "s3-gateway-endpoint": "ecrwise network",
    "ecr-interface-endpoints": "ecrwise network",
    "pull-behavior": "ecrwise ecs user-data --pull-behavior prefer-cached --image {image}",
}


@dataclass
class ImageUse:
    """One container's image and what ecrwise knows of it."""
    container: str
    image: str  # as the task definition names it
    registry: str  # ecr | ecr-other (another account or region) | external
    repository: str | None
    digest: str | None
    resolved_by: str | None  # task-digest | uri-digest | tag | None (not found in the snapshot)
    bytes: int | None  # distinct compressed layer bytes; None when unknown
    layers: dict[str, int] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"container": self.container, "image": self.image, "registry": self.registry,
                "repository": self.repository, "digest": self.digest, "resolved_by": self.resolved_by,
                "bytes": self.bytes}


@dataclass
class Fix:
    fix: str
    monthly_savings: float | None  # unrounded; None when it cannot be priced from the snapshot
    detail: str
    command: str | None = None
    arithmetic: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reason:
    reason: str
    category: str  # health-check | essential-exited | pull-error | oom | other
    count: int
    source: str  # stopped-tasks | service-events


@dataclass
class ServicePulls:
    account: str
    region: str
    cluster: str
    service: str
    service_arn: str
    launch_type: str  # FARGATE | EC2
    desired_count: int
    images: list[ImageUse]
    task_starts_per_day: float
    starts_evidence: str  # service-events | stopped-tasks | deployment-failed-tasks | repository-pull-count | none
    starts_detail: dict[str, Any]
    crash_loop: bool
    starts_per_desired_task_per_day: float
    reasons: list[Reason]
    layer_bytes_per_start: int
    manifest_bytes_per_start: int
    pulled_bytes_per_month: int
    nat_bytes_per_month: int | None  # None when the snapshot has no network records for the service
    nat_cost_per_month: float | None
    path: str
    path_detail: dict[str, Any]
    vpc_id: str | None
    nat_gateway_id: str | None
    pull_behavior: str | None  # EC2 only
    fixes: list[Fix]
    arithmetic: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def bytes_per_start(self) -> int:
        return self.layer_bytes_per_start + self.manifest_bytes_per_start

    @property
    def best_fix(self) -> Fix | None:
        priced = [f for f in self.fixes if f.monthly_savings]
        return max(priced, key=lambda f: f.monthly_savings or 0.0) if priced else None


@dataclass
class RepositoryPulls:
    account: str
    region: str
    repository: str
    pulls_per_day: float  # RepositoryPullCount, mean of the last complete days
    days: int
    explained_per_day: float
    services: list[str]

    @property
    def unexplained_per_day(self) -> float:
        return max(0.0, self.pulls_per_day - self.explained_per_day)


@dataclass
class PullsReport:
    services: list[ServicePulls]
    repositories: list[RepositoryPulls]
    threshold: float
    now: datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "services": len(self.services),
            "crash_looping": sum(1 for s in self.services if s.crash_loop),
            "task_starts_per_day": sum(s.task_starts_per_day for s in self.services),
            "pulled_bytes_per_month": sum(s.pulled_bytes_per_month for s in self.services),
            "nat_bytes_per_month": sum(s.nat_bytes_per_month or 0 for s in self.services),
            "nat_cost_per_month": sum(s.nat_cost_per_month or 0.0 for s in self.services),
            # Fixes overlap (an endpoint and a stopped loop save the same bytes): count each service's best one.
            "monthly_savings": sum((s.best_fix.monthly_savings or 0.0) if s.best_fix else 0.0
                                   for s in self.services),
            "unexplained_pulls_per_day": sum(r.unexplained_per_day for r in self.repositories),
        }


# -- helpers -------------------------------------------------------------------------------------------

def parse_image(uri: str) -> dict[str, str | None]:
    """An image reference split into account, region, repository, tag, digest (account None outside ECR;
    outside ECR the repository keeps its registry: `ghcr.io/a/b`). The parts are what a client would ask
    for (`records.image_ref.split_image_ref`), checked or not: a malformed name still says where its pull
    goes, and fails there."""
    ref = split_image_ref(uri)
    return {"account": ref.account, "region": ref.region, "repository": ref.repository if ref.is_ecr else ref.name,
            "tag": ref.tag, "digest": ref.digest}


def classify_reason(text: str) -> str:
    t = text.lower()
    if "cannotpull" in t or "pull image" in t or "pull access" in t or "manifest" in t:
        return "pull-error"
    if "outofmemory" in t or "out of memory" in t or "oom" in t:
        return "oom"
    if "health check" in t or "unhealthy" in t:
        return "health-check"
    if "essential container" in t and "exited" in t:
        return "essential-exited"
    return "other"


def _days_per_month(book: PriceBook) -> float:
    return book.hours_per_month / 24.0


class _Snapshot:
    """Indexes over the records one analysis needs."""

    def __init__(self, records: Records, layers: Callable[[], LayerIndex] | None = None):
        self.services = [s for s in records.of(EcsService) if s.status.upper() != "INACTIVE"]
        self.task_definitions = {t.task_definition_arn: t for t in records.of(EcsTaskDefinition)}
        self.containers: dict[str, list[EcsContainerDefinition]] = defaultdict(list)
        for c in records.of(EcsContainerDefinition):
            self.containers[c.task_definition_arn].append(c)
        self.deployments: dict[str, list[EcsDeployment]] = defaultdict(list)
        for d in records.of(EcsDeployment):
            self.deployments[d.service_arn].append(d)
        self.events: dict[str, list[EcsServiceEvent]] = defaultdict(list)
        for e in records.of(EcsServiceEvent):
            self.events[e.service_arn].append(e)
        self.tasks: dict[tuple[str, str], list[EcsTask]] = defaultdict(list)
        for t in records.of(EcsTask):
            if t.service_name:
                self.tasks[(t.cluster_arn, t.service_name)].append(t)
        self.task_containers: dict[str, list[EcsTaskContainer]] = defaultdict(list)
        for c in records.of(EcsTaskContainer):
            self.task_containers[c.task_arn].append(c)
        self.container_instances = {c.container_instance_arn: c for c in records.of(EcsContainerInstance)}
        self.instances = {(i.account, i.region, i.instance_id): i for i in records.of(Ec2Instance)}
        self.agent_configs: dict[tuple[str, str, str], EcsAgentConfig] = {}
        for a in records.of(EcsAgentConfig):
            for iid in a.instance_ids:
                self.agent_configs[(a.account, a.region, iid)] = a
        self._records = records
        self._layers = layers
        self.pull_metrics: dict[tuple[str, str, str], list[PullMetric]] = defaultdict(list)
        for p in records.of(PullMetric):
            self.pull_metrics[(p.account, p.region, p.repository)].append(p)
        net = [records.of(c) for c in (Vpc, Subnet, RouteTable, Route, VpcEndpoint, SecurityGroupRule, NatGateway)]
        self.has_network = bool(net[1])
        self.network = NetworkIndex.build(*net)

    # The image indexes are built when a service's image is first looked up: a snapshot without ECS services
    # (a registry-only scan of a million images) never pays for them.
    @cached_property
    def images(self) -> dict[tuple[str, str, str], dict[str, Image]]:
        out: dict[tuple[str, str, str], dict[str, Image]] = defaultdict(dict)
        for img in self._records.of(Image):
            out[(img.account, img.region, img.repository)][img.digest] = img
        return out

    @cached_property
    def tags(self) -> dict[tuple[str, str, str], dict[str, str]]:
        out: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        for img in self._records.of(Image):
            for tag in img.tags:
                out[(img.account, img.region, img.repository)][tag] = img.digest
        return out

    @cached_property
    def layers(self) -> LayerIndex:
        return self._layers() if self._layers is not None else layer_index(layer_rows(self._records.of(ImageLayer)))

    def latest_time(self) -> datetime:
        times = [e.created_at for es in self.events.values() for e in es if e.created_at]
        times += [t for ts in self.tasks.values() for x in ts for t in (x.created_at, x.stopped_at) if t]
        times += [d.updated_at for ds in self.deployments.values() for d in ds if d.updated_at]
        return max(times) if times else datetime.now(timezone.utc)


# -- images -------------------------------------------------------------------------------------------

def _images(snap: _Snapshot, svc: EcsService, tasks: list[EcsTask]) -> list[ImageUse]:
    containers = snap.containers.get(svc.task_definition_arn or "", [])
    # The digest each container actually ran, from the service's newest task on the current definition.
    ran: dict[str, str] = {}
    for t in sorted(tasks, key=lambda t: t.created_at or datetime.min.replace(tzinfo=timezone.utc)):
        if t.task_definition_arn == svc.task_definition_arn:
            for c in snap.task_containers.get(t.task_arn, []):
                if c.image_digest:
                    ran[c.name] = c.image_digest
    uses = []
    for c in containers:
        ref = parse_image(c.image)
        if ref["account"] is None:
            uses.append(ImageUse(c.name, c.image, "external", ref["repository"], ref["digest"], None, None))
            continue
        key = (str(ref["account"]), str(ref["region"]), str(ref["repository"]))
        registry = "ecr" if (key[0], key[1]) == (svc.account, svc.region) else "ecr-other"
        digest, how = ran.get(c.name), "task-digest"
        if digest is None and ref["digest"]:
            digest, how = ref["digest"], "uri-digest"
        if digest is None and ref["tag"]:
            digest, how = snap.tags.get(key, {}).get(str(ref["tag"])), "tag"
        image = snap.images.get(key, {}).get(digest or "")
        if image is not None and image.is_index and image.children:
            # A multi-arch index: a task pulls one platform's manifest; take the first (usually amd64).
            digest = image.children[0]
        layers = dict(snap.layers.get(key, {}).get(digest or "", ()))
        known = digest is not None and (image is not None or bool(layers))
        uses.append(ImageUse(c.name, c.image, registry, key[2], digest, how if known else None,
                             sum(layers.values()) if known else None, layers))
    return uses


# -- starts per day ------------------------------------------------------------------------------------

def _per_day(count: float, window: timedelta) -> float:
    return count / (max(window, MIN_WINDOW).total_seconds() / 86400.0)


def _starts_from_events(events: list[EcsServiceEvent], svc: EcsService, now: datetime) -> dict[str, Any] | None:
    dated = [e for e in events if e.created_at]
    if not dated:
        return None
    oldest = min(e.created_at for e in dated)  # type: ignore[type-var]
    # With fewer than 100 events ECS still holds every event since the service was created.
    start = oldest if len(events) >= EVENTS_KEPT or svc.created_at is None else min(svc.created_at, oldest)
    started = sum(int(m.group(1)) for e in dated for m in [_STARTED.search(e.message)] if m)
    window = now - start
    return {"per_day": _per_day(started, window), "started": started, "events": len(events),
            "window_hours": round(max(window, MIN_WINDOW).total_seconds() / 3600, 2), "window_start": start}


def _starts_from_tasks(tasks: list[EcsTask], now: datetime) -> dict[str, Any] | None:
    stopped = [t for t in tasks if t.desired_status == "STOPPED"]
    if not stopped:
        return None
    def born(t: EcsTask) -> datetime | None:
        return t.created_at or t.started_at
    times = [born(t) for t in stopped if born(t)]
    if not times:
        return None
    start = min(times)  # type: ignore[type-var]
    started = sum(1 for t in tasks if born(t) and born(t) >= start)  # type: ignore[operator]
    window = now - start
    return {"per_day": _per_day(started, window), "started": started, "stopped": len(stopped),
            "window_hours": round(max(window, MIN_WINDOW).total_seconds() / 3600, 2), "window_start": start}


def _starts_from_deployments(deployments: list[EcsDeployment], now: datetime) -> dict[str, Any] | None:
    failing = [d for d in deployments if d.failed_tasks > 0 and d.created_at and d.status != "INACTIVE"]
    if not failing:
        return None
    d = max(failing, key=lambda d: d.failed_tasks)
    started = d.failed_tasks + d.running_count
    window = now - d.created_at  # type: ignore[operator]
    return {"per_day": _per_day(started, window), "started": started, "failed_tasks": d.failed_tasks,
            "deployment": d.deployment_id, "window_hours": round(max(window, MIN_WINDOW).total_seconds() / 3600, 2)}


def _metric_per_day(metrics: list[PullMetric], now: datetime) -> tuple[float, int] | None:
    """Mean daily RepositoryPullCount over the last complete days (today is partial); None without data."""
    if not metrics:
        return None
    today = now.astimezone(timezone.utc).date()
    window = {today - timedelta(days=k) for k in range(1, METRIC_DAYS + 1)}
    days = [p for p in metrics if p.day in window]
    if not days:
        return None
    return sum(p.pulls for p in days) / METRIC_DAYS, len(days)


def _reasons(tasks: list[EcsTask], events: list[EcsServiceEvent], containers: dict[str, list[EcsTaskContainer]],
             ) -> list[Reason]:
    counts: Counter[tuple[str, str]] = Counter()
    for t in tasks:
        if t.desired_status != "STOPPED":
            continue
        text = t.stopped_reason or t.stop_code or "stopped"
        pulls = [c.reason for c in containers.get(t.task_arn, []) if c.reason and "CannotPull" in c.reason]
        if pulls:
            text = pulls[0]
        counts[(text, "stopped-tasks")] += 1
    for e in events:
        if _FAILURE_EVENT.search(e.message):
            # Task ids and target groups vary; keep the message's shape.
            shape = re.sub(r"\(task [^)]+\)", "(task …)", re.sub(r"\(target-group [^)]+\)", "(target-group …)",
                                                                e.message))
            shape = re.sub(r"^\(service [^)]+\)\s*", "", shape)
            counts[(shape, "service-events")] += 1
    return [Reason(text, classify_reason(text), n, src) for (text, src), n in counts.most_common()]


# -- path ----------------------------------------------------------------------------------------------

@dataclass
class _Route:
    share: float
    layers_via: str
    manifests_via: str
    path: EgressPath | None
    subnet_id: str | None


def _routes(snap: _Snapshot, svc: EcsService, tasks: list[EcsTask]) -> tuple[list[_Route], list[str]]:
    notes: list[str] = []
    subnets: Counter[str] = Counter()
    public_ip = False
    if svc.compute == "FARGATE":
        for t in tasks:
            if t.subnet_id:
                subnets[t.subnet_id] += 1
        if not subnets:
            subnets.update({s: 1 for s in svc.subnets})
        public_ip = (svc.assign_public_ip or "").upper() == "ENABLED"
    else:
        # On EC2 the host's Docker pulls the image, through the host's network interface (even for awsvpc tasks).
        for t in tasks:
            inst = _host(snap, t)
            if inst and inst.subnet_id:
                subnets[inst.subnet_id] += 1
                public_ip = public_ip or bool(inst.public_ip)
        if not subnets:
            for ci in snap.container_instances.values():
                if ci.cluster_arn == svc.cluster_arn and ci.ec2_instance_id:
                    inst = snap.instances.get((svc.account, svc.region, ci.ec2_instance_id))
                    if inst and inst.subnet_id and inst.state == "running":
                        subnets[inst.subnet_id] += 1
                        public_ip = public_ip or bool(inst.public_ip)
    total = sum(subnets.values())
    if not total:
        return [], ["no subnet known for this service's tasks: path unknown"]
    routes = []
    for subnet_id, n in sorted(subnets.items()):
        path = egress_path(snap.network, svc.account, svc.region, subnet_id) if snap.has_network else None
        if path is None:
            routes.append(_Route(n / total, "unknown", "unknown", None, subnet_id))
            continue
        default = path.default_route
        if default == "igw":
            default = "public-ip" if public_ip else "none"
        layers = "s3-gateway-endpoint" if path.s3_gateway_endpoint_id else default
        manifests = path.manifests_via if path.manifests_via == "interface-endpoint" else default
        routes.append(_Route(n / total, layers, manifests, path, subnet_id))
    if any(r.layers_via == "none" or r.manifests_via == "none" for r in routes):
        notes.append("a subnet routes to an internet gateway but the tasks get no public IP: pulls cannot reach ECR "
                     "(CannotPullContainerError)")
    return routes, notes


def _host(snap: _Snapshot, t: EcsTask) -> Ec2Instance | None:
    ci = snap.container_instances.get(t.container_instance_arn or "")
    if ci is None or not ci.ec2_instance_id:
        return None
    return snap.instances.get((t.account, t.region, ci.ec2_instance_id))


def _pull_behavior(snap: _Snapshot, svc: EcsService, tasks: list[EcsTask]) -> tuple[str, str]:
    """The agent's ECS_IMAGE_PULL_BEHAVIOR on the service's hosts (the most common), and where it came from."""
    seen: Counter[str] = Counter()
    hosts = {(_host(snap, t) or None) for t in tasks}
    hosts.discard(None)
    if not hosts:
        hosts = {snap.instances.get((svc.account, svc.region, ci.ec2_instance_id or ""))
                 for ci in snap.container_instances.values() if ci.cluster_arn == svc.cluster_arn}
        hosts.discard(None)
    for inst in hosts:
        cfg = snap.agent_configs.get((inst.account, inst.region, inst.instance_id))  # type: ignore[union-attr]
        if cfg is not None:
            seen[cfg.settings.get("ECS_IMAGE_PULL_BEHAVIOR", "default").strip().lower() or "default"] += 1
    if not seen:
        return "default", "assumed (no agent configuration found for the hosts; the agent's default)"
    behavior = seen.most_common(1)[0][0]
    return behavior, f"agent configuration of {sum(seen.values())} host(s)"


# -- the analysis ----------------------------------------------------------------------------------------

def analyse_pulls(records: Records, book: PriceBook, *, crash_loop_threshold: float = DEFAULT_CRASH_LOOP_THRESHOLD,
                  now: datetime | None = None, layers: Callable[[], LayerIndex] | None = None) -> PullsReport:
    """Per-service pull traffic and cost, crash loops, fixes and their savings; per-repository unexplained pulls.

    `now` is the snapshot's time; without it, the newest timestamp among the ECS records stands in. `layers`
    gives the snapshot's layer index when the caller has one (the checks' shared fact); else it is built from the
    records. Either way only when a service's image is looked up."""
    if crash_loop_threshold <= 0:
        raise ValueError("crash_loop_threshold must be positive")
    snap = _Snapshot(records, layers)
    now = now or snap.latest_time()
    days_month = _days_per_month(book)
    warnings: list[str] = []
    if snap.services and not snap.has_network:
        warnings.append("the snapshot has no network records (scan with --only ecs,network or a full scan): "
                        "pull paths and NAT bytes are unknown")
    rows = [_service(snap, svc, book, crash_loop_threshold, now, days_month) for svc in snap.services]
    rows.sort(key=lambda r: (-(r.nat_cost_per_month or 0.0), -r.pulled_bytes_per_month, r.cluster, r.service))

    # Per repository: pulls the services explain against the metric.
    explained: dict[tuple[str, str, str], float] = defaultdict(float)
    users: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in rows:
        per_start = 0.0 if r.pull_behavior in ("once", "prefer-cached") else 1.0
        for use in r.images:
            if use.registry == "ecr" and use.repository:
                key = (r.account, r.region, use.repository)
                explained[key] += r.task_starts_per_day * per_start
                users[key].append(f"{r.cluster}/{r.service}")
    repos = []
    for key in sorted(set(users) | {k for k in snap.pull_metrics}):
        m = _metric_per_day(snap.pull_metrics.get(key, []), now)
        if m is None:
            continue
        repos.append(RepositoryPulls(*key, pulls_per_day=m[0], days=m[1], explained_per_day=explained.get(key, 0.0),
                                     services=sorted(set(users.get(key, [])))))
    repos.sort(key=lambda r: (-r.unexplained_per_day, r.repository, r.region))
    for r in rows:
        for use in r.images:
            if use.registry == "ecr" and use.repository:
                m = _metric_per_day(snap.pull_metrics.get((r.account, r.region, use.repository), []), now)
                if m is not None:
                    r.starts_detail.setdefault("repository_pull_count_per_day", {})[use.repository] = round(m[0], 1)
    return PullsReport(rows, repos, crash_loop_threshold, now, warnings)


def _service(snap: _Snapshot, svc: EcsService, book: PriceBook, threshold: float, now: datetime,
             days_month: float) -> ServicePulls:
    tasks = snap.tasks.get((svc.cluster_arn, svc.name), [])
    events = snap.events.get(svc.service_arn, [])
    deployments = snap.deployments.get(svc.service_arn, [])
    images = _images(snap, svc, tasks)
    notes: list[str] = []

    # Starts per day: the best evidence first; the others are kept for comparison.
    evidence = {"service-events": _starts_from_events(events, svc, now),
                "stopped-tasks": _starts_from_tasks(tasks, now),
                "deployment-failed-tasks": _starts_from_deployments(deployments, now)}
    source, chosen = next(((k, v) for k, v in evidence.items() if v is not None), ("none", None))
    if chosen is None and svc.desired_count > 0:
        ecr_repos = {u.repository for u in images if u.registry == "ecr"}
        if len(ecr_repos) == 1:
            repo = next(iter(ecr_repos))
            others = [s for s in snap.services if s is not svc and any(
                parse_image(c.image)["repository"] == repo for c in snap.containers.get(s.task_definition_arn or "", []))]
            m = _metric_per_day(snap.pull_metrics.get((svc.account, svc.region, str(repo)), []), now)
            if m is not None and not others:
                source, chosen = "repository-pull-count", {"per_day": m[0], "repository": repo, "days": m[1],
                                                           "upper_bound": True}
    starts = float(chosen["per_day"]) if chosen else 0.0
    detail: dict[str, Any] = {"chosen": source}
    for k, v in evidence.items():
        if v is not None:
            detail[k] = {kk: (round(vv, 2) if isinstance(vv, float) else vv) for kk, vv in v.items()}
    if source == "repository-pull-count" and chosen:
        detail[source] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in chosen.items()}

    per_task = starts / max(svc.desired_count, 1)
    # An upper bound (the repository's pulls, no ECS evidence) is reported, but flags nothing on its own.
    crash = per_task > threshold and source != "repository-pull-count"
    if source == "repository-pull-count":
        notes.append("no ECS evidence of task starts: RepositoryPullCount of the service's only repository is an "
                     "upper bound (other clients may pull it too)")
    reasons = _reasons(tasks, events, snap.task_containers)

    # Bytes per start.
    ecr_layers: dict[str, int] = {}
    for u in images:
        if u.registry != "external":
            ecr_layers.update(u.layers)
    unknown = [u for u in images if u.bytes is None]
    for u in unknown:
        notes.append(f"{u.image}: size unknown ({'outside ECR' if u.registry == 'external' else 'not in the snapshot'})")
    behavior, behavior_source = (None, None)
    if svc.compute == "FARGATE":
        layer_bytes = sum(ecr_layers.values())
        manifest_bytes = MANIFEST_BYTES_PER_IMAGE * len(images)
    else:
        behavior, behavior_source = _pull_behavior(snap, svc, tasks)
        layer_bytes = 0  # the host has the layers after its first pull
        manifest_bytes = MANIFEST_BYTES_PER_IMAGE * len(images) if behavior in ("default", "always") else 0
        hosts = len({t.container_instance_arn for t in tasks if t.container_instance_arn}) or None
        notes.append(f"EC2: layers are downloaded once per host ({_human(sum(ecr_layers.values()))}"
                     f"{f' × {hosts} host(s)' if hosts else ''}), not per start; ECS_IMAGE_PULL_BEHAVIOR={behavior} "
                     f"({behavior_source})")

    # Path and NAT bytes.
    routes, route_notes = _routes(snap, svc, tasks)
    notes.extend(route_notes)
    external = [u for u in images if u.registry != "ecr"]
    starts_month = starts * days_month
    pulled = int(round(starts_month * (layer_bytes + manifest_bytes)))
    nat_bytes: int | None = None
    nat_by_gateway: dict[str, float] = defaultdict(float)
    nat_layer = nat_manifest = 0.0
    if routes and all(r.path is not None for r in routes):
        nat_bytes_f = 0.0
        for r in routes:
            nat_id = r.path.nat_gateway_id if r.path else None
            lb = layer_bytes * r.share * starts_month
            mb = manifest_bytes * r.share * starts_month
            # Images outside ECR (or another region's ECR) come over the internet whatever the endpoints.
            ext_mb = MANIFEST_BYTES_PER_IMAGE * len(external) * r.share * starts_month if svc.compute == "FARGATE" else 0
            via_nat = 0.0
            if r.layers_via == "nat":
                via_nat += lb
                nat_layer += lb
            if r.manifests_via == "nat":
                own = mb - ext_mb
                via_nat += own
                nat_manifest += own
            if r.path and r.path.default_route == "nat":
                via_nat += ext_mb
                nat_manifest += ext_mb
            nat_bytes_f += via_nat
            if nat_id:
                nat_by_gateway[nat_id] += via_nat
        nat_bytes = int(round(nat_bytes_f))
    nat_price = book.price(svc.region, "nat_gateway_gb")
    nat_cost = (nat_bytes / GIB * nat_price.usd) if nat_bytes is not None else None
    nat_id = max(nat_by_gateway, key=lambda k: nat_by_gateway[k]) if nat_by_gateway else (
        next((r.path.nat_gateway_id for r in routes if r.path and r.path.nat_gateway_id), None))
    vpc_id = next((r.path.vpc_id for r in routes if r.path), None)
    layers_via = sorted({r.layers_via for r in routes}) or ["unknown"]
    manifests_via = sorted({r.manifests_via for r in routes}) or ["unknown"]
    path = layers_via[0] if layers_via == manifests_via and len(layers_via) == 1 else (
        f"layers:{'+'.join(layers_via)} manifests:{'+'.join(manifests_via)}")

    arithmetic: dict[str, Any] = {
        "task_starts_per_day": round(starts, 4),
        "days_per_month": round(days_month, 4),
        "layer_bytes_per_start": layer_bytes,
        "manifest_bytes_per_start": manifest_bytes,
        "pulled_bytes_per_month": pulled,
        "formula": f"{starts:.2f} starts/day × {days_month:.4f} days × {layer_bytes + manifest_bytes} B = {pulled} B",
    }
    if nat_bytes is not None:
        arithmetic.update({
            "nat_bytes_per_month": nat_bytes,
            "nat_price": nat_price.as_dict(),
            "nat_formula": f"{nat_bytes} B / 2^30 × ${nat_price.usd}/GB = ${(nat_cost or 0.0):.4f}",
        })

    row = ServicePulls(
        account=svc.account, region=svc.region, cluster=svc.cluster_name, service=svc.name,
        service_arn=svc.service_arn, launch_type=svc.compute, desired_count=svc.desired_count, images=images,
        task_starts_per_day=starts, starts_evidence=source, starts_detail=detail, crash_loop=crash,
        starts_per_desired_task_per_day=per_task, reasons=reasons, layer_bytes_per_start=layer_bytes,
        manifest_bytes_per_start=manifest_bytes, pulled_bytes_per_month=pulled, nat_bytes_per_month=nat_bytes,
        nat_cost_per_month=nat_cost, path=path,
        path_detail={"layers_via": layers_via, "manifests_via": manifests_via,
                     "subnets": {r.subnet_id: round(r.share, 4) for r in routes},
                     "nat_gateways": {k: int(round(v)) for k, v in sorted(nat_by_gateway.items())}},
        vpc_id=vpc_id, nat_gateway_id=nat_id, pull_behavior=behavior, fixes=[], arithmetic=arithmetic, notes=notes)
    row.fixes = _fixes(row, svc, deployments, book, nat_layer, nat_manifest, days_month, external)
    return row


def _fixes(row: ServicePulls, svc: EcsService, deployments: list[EcsDeployment], book: PriceBook,
           nat_layer: float, nat_manifest: float, days_month: float, external: list[ImageUse]) -> list[Fix]:
    fixes: list[Fix] = []
    nat = book.price(svc.region, "nat_gateway_gb")
    nat_total = nat_layer + nat_manifest

    def priced(nbytes: float, usd_per_gb: float) -> float:
        return nbytes / GIB * usd_per_gb

    excess = max(0.0, row.task_starts_per_day - max(svc.desired_count, 1))
    share = excess / row.task_starts_per_day if row.task_starts_per_day else 0.0
    if row.crash_loop and nat_total:
        saved = priced(nat_total * share, nat.usd)
        fixes.append(Fix("stop-crash-loop", saved,
                         f"fix what fails ({', '.join(sorted({r.category for r in row.reasons})) or 'see the service events'}): "
                         f"{excess:.0f} of {row.task_starts_per_day:.0f} starts a day are restarts beyond one per "
                         f"desired task",
                         arithmetic={"excess_starts_per_day": round(excess, 2), "nat_bytes": int(nat_total * share),
                                     "price": nat.as_dict()}))
    if row.crash_loop and svc.deployment_controller == "ECS" and not (
            svc.circuit_breaker_enable and svc.circuit_breaker_rollback):
        rolling = [d for d in deployments if d.rollout_state == "IN_PROGRESS" and d.failed_tasks > 0]
        state = ("off" if not svc.circuit_breaker_enable else "on without rollback")
        if rolling:
            saved = priced(nat_total * share, nat.usd) if row.nat_bytes_per_month is not None else None
            detail = (f"circuit breaker {state}; the loop is a failing deployment ({rolling[0].failed_tasks} failed "
                      f"tasks): the breaker fails it after at most 200 failed tasks and rolls back to the last "
                      f"completed deployment")
        else:
            saved = None
            detail = (f"circuit breaker {state}; the loop is not during a deployment, so the breaker would not stop "
                      f"this one, but it stops the next bad rollout")
        fixes.append(Fix("circuit-breaker-rollback", saved, detail,
                         FIX_COMMANDS["circuit-breaker-rollback"].format(arn=svc.service_arn)))
    if nat_layer:
        fixes.append(Fix("s3-gateway-endpoint", priced(nat_layer, nat.usd),
                         "image layers come from S3: an S3 gateway endpoint (free) on the subnets' route tables takes "
                         "them off the NAT gateway", FIX_COMMANDS["s3-gateway-endpoint"],
                         {"nat_bytes": int(nat_layer), "price": nat.as_dict()}))
    own_manifests = nat_manifest - (MANIFEST_BYTES_PER_IMAGE * len(external) * row.task_starts_per_day * days_month
                                    if svc.compute == "FARGATE" else 0)
    if own_manifests > 0 and "interface-endpoint" not in row.path_detail.get("manifests_via", []):
        vpce = book.price(svc.region, "vpc_interface_endpoint_gb")
        fixes.append(Fix("ecr-interface-endpoints", priced(own_manifests, nat.usd - vpce.usd),
                         "ecr.api and ecr.dkr interface endpoints carry the manifest traffic at the endpoint rate; "
                         "their hourly cost is per VPC and AZ (see `ecrwise network`)", FIX_COMMANDS["ecr-interface-endpoints"],
                         {"nat_bytes": int(own_manifests), "price": nat.as_dict(), "endpoint_price": vpce.as_dict()}))
    if row.launch_type == "EC2" and row.pull_behavior in ("default", "always") and row.crash_loop:
        first = next((u.image for u in row.images if u.registry == "ecr"), "IMAGE")
        fixes.append(Fix("pull-behavior", priced(nat_manifest, nat.usd) if nat_manifest else 0.0,
                         f"ECS_IMAGE_PULL_BEHAVIOR={row.pull_behavior} asks the registry on every start; prefer-cached "
                         f"(or once) starts from the host's copy, and restarts keep working if the registry or the "
                         f"path to it is down", FIX_COMMANDS["pull-behavior"].format(image=first)))
    if nat_layer and row.layer_bytes_per_start:
        per_100mb = priced(nat_layer * (100 * 2**20) / row.layer_bytes_per_start, nat.usd)
        fixes.append(Fix("smaller-image", priced(nat_layer / 2, nat.usd),
                         f"every start downloads {_human(row.layer_bytes_per_start)}; halving the image halves the "
                         f"layer bytes (each 100 MiB less saves ${per_100mb:,.2f}/month)",
                         arithmetic={"per_100_mib_usd": round(per_100mb, 4)}))
    if any(u.registry == "external" for u in external):
        names = ", ".join(sorted({u.image for u in external if u.registry == "external"}))
        fixes.append(Fix("pull-through-cache", None,
                         f"{names} come from outside ECR over the internet (size unknown to ecrwise); an ECR "
                         f"pull-through cache rule serves them from ECR, so their layers can use the S3 gateway "
                         f"endpoint, and avoids the upstream registry's rate limits", None))
    # A priced fix worth less than a cent a month is noise, except the pull behaviour of a crash-looping EC2
    # service (its point is resilience: restarts that do not need the registry).
    return [f for f in fixes if f.monthly_savings is None or f.monthly_savings >= 0.005 or f.fix == "pull-behavior"]


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"
