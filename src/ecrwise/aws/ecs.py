"""ECS collector: clusters, services (with deployments and recent events), the task definitions in use,
running and recently stopped tasks, container instances, their EC2 instances and the agent configuration in
their user data. Read-only; it never computes money.

Per cluster: ListServices + DescribeServices (10 a call), ListTasks for RUNNING and STOPPED (ECS shows stopped
tasks for about an hour) + DescribeTasks (100 a call), ListContainerInstances + DescribeContainerInstances
(100 a call), DescribeInstances for their EC2 instances, and the user data of each instance (or once per
launch-template version). DescribeTaskDefinition runs once per distinct ARN per region. Of task definitions'
environment variables only the names of those that look like credentials are kept, never a value; agent
settings that look like credentials are redacted while user data is parsed (see `ecrwise.records.ecs.parse_agent_config`), and raw user data is never kept.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Iterable

import botocore.exceptions

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account, error_code
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import ecs as ecs_records
from ecrwise.records.ecs import (Ec2Instance, EcsAgentConfig, EcsCluster,
                                 EcsContainerInstance, EcsDeployment, EcsService, EcsServiceEvent, EcsTask,
                                 EcsTaskContainer, decode_user_data, parse_agent_config,
                                 task_definition_records)

IAM_ACTIONS = [
    "ecs:ListClusters",
    "ecs:DescribeClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:ListContainerInstances",
    "ecs:DescribeContainerInstances",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceAttribute",
    "ec2:DescribeLaunchTemplateVersions",
]

DESCRIBE_CLUSTERS_MAX = 100
DESCRIBE_SERVICES_MAX = 10
DESCRIBE_TASKS_MAX = 100
DESCRIBE_CONTAINER_INSTANCES_MAX = 100
DESCRIBE_INSTANCES_MAX = 1000  # instance ids per DescribeInstances filter
# Revisions of each service's family collected besides the ones in use: rollback targets, which lifecycle
# rollout protects (the newest ROLLBACK_REVISIONS active revisions of the family).
ROLLBACK_REVISIONS = 3


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _utc(t: datetime | None) -> datetime | None:
    return t.astimezone(timezone.utc) if t is not None else None


class _RegionState:
    """What the tasks of one account/region share: the task definitions already being described."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.task_definitions: set[str] = set()

    def claim(self, arns: Iterable[str]) -> list[str]:
        with self.lock:
            new = [a for a in dict.fromkeys(arns) if a and a not in self.task_definitions]
            self.task_definitions.update(new)
            return new


def region_task(account: Account, region: str) -> Task:
    state = _RegionState()

    def run() -> TaskResult:
        client = account.client("ecs", region)
        arns: list[str] = []
        for page in client.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 100}):
            arns.extend(page.get("clusterArns", []))
        result = TaskResult()
        for chunk in _chunks(arns, DESCRIBE_CLUSTERS_MAX):
            resp = client.describe_clusters(clusters=chunk)
            for c in resp.get("clusters", []):
                cluster = EcsCluster(
                    account=account.account_id, region=region, cluster_arn=c["clusterArn"], name=c["clusterName"],
                    status=c.get("status", "ACTIVE"), capacity_providers=list(c.get("capacityProviders") or []),
                    default_capacity_provider_strategy=[s["capacityProvider"] for s in
                                                        c.get("defaultCapacityProviderStrategy") or []],
                    running_tasks=int(c.get("runningTasksCount") or 0),
                    active_services=int(c.get("activeServicesCount") or 0),
                    registered_container_instances=int(c.get("registeredContainerInstancesCount") or 0))
                result.records.append(cluster)
                result.tasks.append(Task("ecs", account.account_id, region, f"{region}/{cluster.name}",
                                         lambda cluster=cluster: collect_cluster(account, region, cluster, state)))
            for f in resp.get("failures", []):
                result.problems.append((f.get("reason", "ClusterFailure"), f"{f.get('arn')}: {f.get('detail', '')}"))
        return result

    return Task("ecs", account.account_id, region, f"{account.account_id}/{region} ecs", run, region_root=True)


def collect_cluster(account: Account, region: str, cluster: EcsCluster, state: _RegionState) -> TaskResult:
    ecs = account.client("ecs", region)
    result = TaskResult()
    acct = account.account_id
    task_definition_arns: list[str] = []

    # Services, their deployments and their recent events.
    service_arns: list[str] = []
    service_task_definitions: list[str] = []
    for page in ecs.get_paginator("list_services").paginate(cluster=cluster.cluster_arn,
                                                             PaginationConfig={"PageSize": 100}):
        service_arns.extend(page.get("serviceArns", []))
    for chunk in _chunks(service_arns, DESCRIBE_SERVICES_MAX):
        resp = ecs.describe_services(cluster=cluster.cluster_arn, services=chunk)
        for s in resp.get("services", []):
            result.records.extend(_service_records(acct, region, cluster, s))
            service_task_definitions.append(s.get("taskDefinition") or "")
            task_definition_arns.append(s.get("taskDefinition") or "")
            task_definition_arns.extend(d.get("taskDefinition") or "" for d in s.get("deployments") or [])
        for f in resp.get("failures", []):
            result.problems.append((f.get("reason", "ServiceFailure"), f"{f.get('arn')}: {f.get('detail', '')}"))

    # Running and recently stopped tasks: the stopped ones (and why they stopped) are the crash-loop evidence.
    task_arns: list[str] = []
    for desired in ("RUNNING", "STOPPED"):
        for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster.cluster_arn, desiredStatus=desired,
                                                              PaginationConfig={"PageSize": 100}):
            task_arns.extend(page.get("taskArns", []))
    for chunk in _chunks(list(dict.fromkeys(task_arns)), DESCRIBE_TASKS_MAX):
        resp = ecs.describe_tasks(cluster=cluster.cluster_arn, tasks=chunk)
        for t in resp.get("tasks", []):
            if t.get("clusterArn", cluster.cluster_arn) != cluster.cluster_arn:
                continue  # listed under another cluster (the stand-in matches cluster names by prefix)
            result.records.extend(_task_records(acct, region, cluster, t))
            task_definition_arns.append(t.get("taskDefinitionArn") or "")

    # Container instances, and the EC2 instances behind them.
    ci_arns: list[str] = []
    for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster.cluster_arn,
                                                                        PaginationConfig={"PageSize": 100}):
        ci_arns.extend(page.get("containerInstanceArns", []))
    instance_ids: list[str] = []
    for chunk in _chunks(ci_arns, DESCRIBE_CONTAINER_INSTANCES_MAX):
        resp = ecs.describe_container_instances(cluster=cluster.cluster_arn, containerInstances=chunk)
        for ci in resp.get("containerInstances", []):
            attrs = {a["name"]: a.get("value") for a in ci.get("attributes") or []}
            result.records.append(EcsContainerInstance(
                account=acct, region=region, cluster_arn=cluster.cluster_arn,
                container_instance_arn=ci["containerInstanceArn"], ec2_instance_id=ci.get("ec2InstanceId"),
                status=ci.get("status", ""), agent_connected=bool(ci.get("agentConnected")),
                running_tasks=int(ci.get("runningTasksCount") or 0),
                pending_tasks=int(ci.get("pendingTasksCount") or 0),
                agent_version=(ci.get("versionInfo") or {}).get("agentVersion"),
                instance_type=attrs.get("ecs.instance-type"),
                availability_zone=attrs.get("ecs.availability-zone"),
                registered_at=_utc(ci.get("registeredAt"))))
            if ci.get("ec2InstanceId"):
                instance_ids.append(ci["ec2InstanceId"])
    if instance_ids:
        _collect_instances(account, region, instance_ids, result)

    task_definition_arns.extend(_rollback_revisions(ecs, service_task_definitions))
    for arn in state.claim(task_definition_arns):
        result.tasks.append(Task("ecs", acct, region, f"{region} {arn.rsplit('/', 1)[-1]}",
                                 lambda arn=arn: collect_task_definition(account, region, arn)))
    return result


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _rollback_revisions(ecs: Any, service_task_definitions: list[str]) -> list[str]:
    """The newest active revisions of each service's task-definition family.

    ListTaskDefinitions returns at most 100 ARNs a page and a nextToken for the rest (API reference,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTaskDefinitions.html), so every page is
    read: a family with more revisions than one page must not lose its newest ones. Every page is read even
    with sort=DESC, and the revisions are sorted here, so the result does not depend on the server's order.
    """
    out: list[str] = []
    paginator = ecs.get_paginator("list_task_definitions")
    for family in sorted({_family(a) for a in service_task_definitions if a}):
        exact: list[str] = []
        for page in paginator.paginate(familyPrefix=family, status="ACTIVE", sort="DESC",
                                       PaginationConfig={"PageSize": 100}):
            # Keep the exact family only: a prefix match ("api" and "api-worker") must not leak in.
            exact.extend(a for a in page.get("taskDefinitionArns", []) if _family(a) == family)
        exact.sort(key=lambda a: int(a.rsplit(":", 1)[-1]), reverse=True)
        out.extend(exact[:ROLLBACK_REVISIONS])
    return out


def _service_records(acct: str, region: str, cluster: EcsCluster, s: dict[str, Any]) -> list[Any]:
    dc = s.get("deploymentConfiguration") or {}
    cb = dc.get("deploymentCircuitBreaker")
    net = (s.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    arn = s["serviceArn"]
    out: list[Any] = [EcsService(
        account=acct, region=region, cluster_arn=cluster.cluster_arn, cluster_name=cluster.name, service_arn=arn,
        name=s["serviceName"], status=s.get("status", ""), launch_type=s.get("launchType"),
        capacity_provider_strategy=[p["capacityProvider"] for p in s.get("capacityProviderStrategy") or []],
        scheduling_strategy=s.get("schedulingStrategy") or "REPLICA",
        desired_count=int(s.get("desiredCount") or 0), running_count=int(s.get("runningCount") or 0),
        pending_count=int(s.get("pendingCount") or 0), task_definition_arn=s.get("taskDefinition"),
        deployment_controller=(s.get("deploymentController") or {}).get("type", "ECS"),
        circuit_breaker_enable=cb.get("enable") if cb else None,
        circuit_breaker_rollback=cb.get("rollback") if cb else None,
        minimum_healthy_percent=dc.get("minimumHealthyPercent"), maximum_percent=dc.get("maximumPercent"),
        subnets=list(net.get("subnets") or []), security_groups=list(net.get("securityGroups") or []),
        assign_public_ip=net.get("assignPublicIp"),
        target_groups=[lb["targetGroupArn"] for lb in s.get("loadBalancers") or [] if lb.get("targetGroupArn")],
        health_check_grace_period=s.get("healthCheckGracePeriodSeconds"),
        platform_version=s.get("platformVersion"), created_at=_utc(s.get("createdAt")))]
    for d in s.get("deployments") or []:
        out.append(EcsDeployment(
            account=acct, region=region, service_arn=arn, deployment_id=d.get("id", ""),
            status=d.get("status", ""), task_definition_arn=d.get("taskDefinition"),
            desired_count=int(d.get("desiredCount") or 0), running_count=int(d.get("runningCount") or 0),
            pending_count=int(d.get("pendingCount") or 0), failed_tasks=int(d.get("failedTasks") or 0),
            rollout_state=d.get("rolloutState"), rollout_state_reason=d.get("rolloutStateReason"),
            created_at=_utc(d.get("createdAt")), updated_at=_utc(d.get("updatedAt"))))
    for e in s.get("events") or []:
        out.append(EcsServiceEvent(acct, region, arn, e.get("id", ""), _utc(e.get("createdAt")),
                                   e.get("message", "")))
    return out


def _task_records(acct: str, region: str, cluster: EcsCluster, t: dict[str, Any]) -> list[Any]:
    subnet = None
    for att in t.get("attachments") or []:
        for d in att.get("details") or []:
            if d.get("name") == "subnetId":
                subnet = d.get("value")
    arn = t["taskArn"]
    out: list[Any] = [EcsTask(
        account=acct, region=region, cluster_arn=cluster.cluster_arn, task_arn=arn,
        task_definition_arn=t.get("taskDefinitionArn", ""), group=t.get("group"), started_by=t.get("startedBy"),
        launch_type=t.get("launchType") or None, capacity_provider=t.get("capacityProviderName"),
        last_status=t.get("lastStatus", ""), desired_status=t.get("desiredStatus", ""),
        created_at=_utc(t.get("createdAt")), started_at=_utc(t.get("startedAt")),
        stopping_at=_utc(t.get("stoppingAt")), stopped_at=_utc(t.get("stoppedAt")),
        pull_started_at=_utc(t.get("pullStartedAt")), pull_stopped_at=_utc(t.get("pullStoppedAt")),
        stop_code=t.get("stopCode"), stopped_reason=t.get("stoppedReason") or None,
        container_instance_arn=t.get("containerInstanceArn"), availability_zone=t.get("availabilityZone"),
        subnet_id=subnet)]
    for c in t.get("containers") or []:
        exit_code = c.get("exitCode")
        out.append(EcsTaskContainer(acct, region, arn, c.get("name", ""), c.get("image"), c.get("imageDigest"),
                                    c.get("lastStatus"), int(exit_code) if exit_code is not None else None,
                                    c.get("reason")))
    return out


def collect_task_definition(account: Account, region: str, arn: str) -> TaskResult:
    ecs = account.client("ecs", region)
    td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    # The conversion is the one `ecrwise ecs lint` uses on files (records/ecs.py).
    return TaskResult(records=task_definition_records(td, account=account.account_id, region=region))


def _collect_instances(account: Account, region: str, instance_ids: list[str], result: TaskResult) -> None:
    ec2 = account.client("ec2", region)
    acct = account.account_id
    instances: list[Ec2Instance] = []
    for chunk in _chunks(list(dict.fromkeys(instance_ids)), DESCRIBE_INSTANCES_MAX):
        try:
            pages = list(ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": chunk}]))
        except botocore.exceptions.ClientError as e:
            result.problems.append((error_code(e), f"ec2 instances of {len(chunk)} container instances: {e}"))
            continue
        for page in pages:
            for res in page.get("Reservations", []):
                for i in res.get("Instances", []):
                    tags = {t["Key"]: t["Value"] for t in i.get("Tags") or []}
                    instances.append(Ec2Instance(
                        account=acct, region=region, instance_id=i["InstanceId"],
                        state=(i.get("State") or {}).get("Name", ""), instance_type=i.get("InstanceType"),
                        subnet_id=i.get("SubnetId"), vpc_id=i.get("VpcId"),
                        availability_zone=(i.get("Placement") or {}).get("AvailabilityZone"),
                        public_ip=i.get("PublicIpAddress"),
                        launch_template_id=tags.get("aws:ec2launchtemplate:id"),
                        launch_template_version=tags.get("aws:ec2launchtemplate:version"),
                        launch_time=_utc(i.get("LaunchTime"))))
    result.records.extend(instances)

    # The agent's configuration: once per launch-template version, else from each instance's user data.
    by_template: dict[tuple[str, str], list[str]] = {}
    for inst in instances:
        if inst.launch_template_id and inst.launch_template_version:
            by_template.setdefault((inst.launch_template_id, inst.launch_template_version), []).append(inst.instance_id)
    templated = {i for ids in by_template.values() for i in ids}
    for (lt_id, version), ids in sorted(by_template.items()):
        try:
            # DescribeLaunchTemplateVersions pages its answer (NextToken); one version asked, all pages read.
            versions = [v for page in ec2.get_paginator("describe_launch_template_versions").paginate(
                LaunchTemplateId=lt_id, Versions=[version]) for v in page.get("LaunchTemplateVersions", [])]
            raw = (versions[0].get("LaunchTemplateData") or {}).get("UserData")
        except (botocore.exceptions.ClientError, IndexError, KeyError) as e:
            result.problems.append((error_code(e), f"launch template {lt_id}:{version}: user data unavailable"))
            continue
        _agent_config(acct, region, "launch-template", f"{lt_id}:{version}", raw, ids, result)
    for inst in instances:
        if inst.instance_id in templated or inst.state == "terminated":
            continue  # terminated instances no longer have user data to read
        try:
            attr = ec2.describe_instance_attribute(InstanceId=inst.instance_id, Attribute="userData")
        except botocore.exceptions.ClientError as e:
            result.problems.append((error_code(e), f"{inst.instance_id}: user data unavailable"))
            continue
        raw = (attr.get("UserData") or {}).get("Value")
        _agent_config(acct, region, "instance-user-data", inst.instance_id, raw, [inst.instance_id], result)


def _agent_config(acct: str, region: str, source: str, source_id: str, raw: str | None, instance_ids: list[str],
                  result: TaskResult) -> None:
    text = decode_user_data(raw)
    settings, redacted, writes = parse_agent_config(text)
    del text, raw  # the raw user data (which may hold secrets) goes no further
    result.records.append(EcsAgentConfig(acct, region, source, source_id, settings, redacted, writes,
                                         sorted(instance_ids)))


FAMILY = CollectorFamily(name="ecs", records=(ecs_records,), iam_actions=tuple(IAM_ACTIONS), region_task=region_task,
                         warn=("ecs",), summary=(EcsService, EcsTask))
