"""ECS: the image a running task runs (by the digest the task reports, and by tag), the images of the task
definitions of every current service deployment, and the newest N revisions of each service's family
(rollback targets)."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.ecs import (EcsContainerDefinition, EcsDeployment, EcsService, EcsTask, EcsTaskContainer,
                                 EcsTaskDefinition)

# A task in any of these states has (or is about to have) its image on a host.
LIVE_STATUSES = ("RUNNING", "PENDING", "PROVISIONING", "ACTIVATING")


def references(query: InUseQuery) -> Iterator[Reference]:
    records = query.records
    services = records.of(EcsService)
    images_of: dict[str, list[str]] = defaultdict(list)
    for c in records.of(EcsContainerDefinition):
        images_of[c.task_definition_arn].append(c.image)

    # Running tasks: the digest they report is what they run, whatever the tag now points to.
    running = {t.task_arn: t for t in records.of(EcsTask)
               if t.last_status in LIVE_STATUSES or t.desired_status == "RUNNING"}
    for c in records.of(EcsTaskContainer):
        task = running.get(c.task_arn)
        if task is None or not c.image:
            continue
        yield c.image, f"running task {task.task_arn.rsplit('/', 1)[-1]}", c.image_digest

    # Current deployments of every service.
    service_names = {s.service_arn: s.name for s in services}
    for d in records.of(EcsDeployment):
        if d.status in ("PRIMARY", "ACTIVE") and d.task_definition_arn:
            for ref in images_of.get(d.task_definition_arn, []):
                yield (ref, f"service {service_names.get(d.service_arn, d.service_arn)} deployment "
                            f"{d.task_definition_arn.rsplit('/', 1)[-1]}", None)

    # Rollback targets: the newest revisions of each service's family.
    families = {s.task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]: s.name
                for s in services if s.task_definition_arn}
    revisions: dict[tuple[str, str, str], list[EcsTaskDefinition]] = defaultdict(list)
    for td in records.of(EcsTaskDefinition):
        if td.family in families and td.status == "ACTIVE":
            revisions[(td.account, td.region, td.family)].append(td)
    for (_, _, family), tds in revisions.items():
        for td in sorted(tds, key=lambda t: t.revision, reverse=True)[:query.rollback_revisions]:
            for ref in images_of.get(td.task_definition_arn, []):
                yield ref, f"rollback target {family}:{td.revision} of service {families[family]}", None


SOURCE = InUseSource(name="ecs", references=references, reads=(
    "ecs_services", "ecs_deployments", "ecs_task_definitions", "ecs_container_definitions", "ecs_tasks",
    "ecs_task_containers"))
