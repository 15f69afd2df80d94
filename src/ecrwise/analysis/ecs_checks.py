"""ECS audits as registered checks: deployment safety, availability, task definitions, hosts left behind, the
agent's configuration, crash loops, and what each service would cost on Fargate versus EC2. Pure.

Agent settings reach these checks already redacted (see `ecrwise.records.ecs.parse_agent_config`): a finding
names the key that held a secret, never its value.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable

from ecrwise.analysis.checks import CheckContext, CheckOptions, CheckSession, Finding, check, option
from ecrwise.analysis.facts import pulls
from ecrwise.analysis.pulls import DEFAULT_CRASH_LOOP_THRESHOLD, PULL_BEHAVIORS, PullsReport, parse_image
from ecrwise.records import Records
from ecrwise.records.ecr import Repository
from ecrwise.records.ecs import (REDACTED, Ec2Instance, EcsAgentConfig, EcsContainerDefinition, EcsContainerInstance,
                                 EcsEnvironmentSecret, EcsService, EcsTask, EcsTaskDefinition, unresolved)

DOCS = "docs/ecs.md"

# Fargate's task CPU (units) → valid task memory (MiB), Linux. 8 and 16 vCPU need platform version 1.4.0.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# Windows containers on Fargate: task CPU at least 1 vCPU, and 8 and 16 vCPU are Linux-only (RegisterTaskDefinition
# `cpu`/`memory`, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html, and the
# Developer Guide's task size table, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
FARGATE_WINDOWS_CPU = (1024, 2048, 4096)
MAX_CONTAINERS = 10
MUTABLE_TAGS = {"latest", "stable", "main", "master", "prod", "production", "staging", "dev", "develop", "edge",
                "current", "release", "nightly"}
REFERENCE_HOST = {"vcpu": 2, "gib": 8, "item": "ec2_m5_large_hour", "type": "m5.large"}


def _units(value: str | int | None, big_unit: str) -> int | None:
    """A number as registered ("1024", 1024), or in the big unit ("1 vCPU", "0.5 GB") times 1024."""
    if value is None:
        return None
    text = str(value).strip().lower()
    m = re.fullmatch(rf"([0-9.]+)\s*{big_unit}", text)
    try:
        return int(round(float(m.group(1)) * 1024)) if m else int(float(text))
    except ValueError:
        return None


def parse_cpu(value: str | int | None) -> int | None:
    """Task CPU as units: "1024", 1024, "1 vCPU", "0.25 vcpu"."""
    return _units(value, "vcpus?")


def parse_memory(value: str | int | None) -> int | None:
    """Task memory as MiB: "2048", 2048, "2GB", "2 gb", "0.5 GB"."""
    return _units(value, "gb")


def is_windows(os_family: str | None) -> bool:
    return (os_family or "").upper().startswith("WINDOWS")


def fargate_size_valid(cpu: int | None, memory: int | None, *, windows: bool = False) -> bool:
    if windows and cpu not in FARGATE_WINDOWS_CPU:
        return False
    return cpu in FARGATE_SIZES and memory in FARGATE_SIZES[cpu]


def smallest_fargate_size(cpu: int, memory: int, *, windows: bool = False) -> tuple[int, int] | None:
    """The cheapest valid Fargate (cpu, memory) that holds `cpu` units and `memory` MiB."""
    fits = [(c, m) for c, mems in FARGATE_SIZES.items() for m in mems if c >= cpu and m >= memory
            and (not windows or c in FARGATE_WINDOWS_CPU)]
    return min(fits, key=lambda cm: (cm[0], cm[1])) if fits else None


def _fargate_tds(records: Any) -> set[str]:
    """Task definitions that run (or must run) on Fargate."""
    arns = {t.task_definition_arn for t in records.of(EcsTaskDefinition) if "FARGATE" in t.requires_compatibilities}
    arns |= {s.task_definition_arn for s in records.of(EcsService) if s.compute == "FARGATE" and s.task_definition_arn}
    return arns


def _in_use(records: Any) -> set[str]:
    return {s.task_definition_arn for s in records.of(EcsService) if s.task_definition_arn}


def _containers(records: Any) -> dict[str, list[EcsContainerDefinition]]:
    out: dict[str, list[EcsContainerDefinition]] = defaultdict(list)
    for c in records.of(EcsContainerDefinition):
        out[c.task_definition_arn].append(c)
    return out


def td_name(td: EcsTaskDefinition) -> str:
    """FAMILY:REVISION, or FAMILY for a definition read from a file (not registered: no revision yet)."""
    return f"{td.family}:{td.revision}" if td.revision else td.family


def _td_finding(ctx: CheckContext, td: EcsTaskDefinition, message: str, evidence: dict[str, Any]) -> Finding:
    return ctx.finding(td, resource=td.task_definition_arn, message=message, evidence=evidence)


# -- crash loops: the pull analysis the ECS checks share -------------------------------------------------

class CrashLoopOptions(CheckOptions):
    crash_loop_threshold: float = option(DEFAULT_CRASH_LOOP_THRESHOLD,
                                         "Starts per desired task per day above which a service crash-loops.",
                                         flag="--crash-loop-threshold", gt=0, le=1_000_000)


def service_pulls(ctx: CheckContext) -> PullsReport:
    """`ecrwise pulls`' analysis at this check's crash-loop threshold and the snapshot's time (one run per
    session, shared by the ECS checks, the findings overlap and the HTML report)."""
    return pulls(ctx, ctx.options.crash_loop_threshold, ctx.raw_now)


def crash_loop_pulls(session: CheckSession) -> PullsReport:
    """The same run, for callers that hold a session rather than a check's context."""
    from ecrwise.analysis.checks import REGISTRY

    return service_pulls(session.context(REGISTRY["ecs.crash-loop"]))


# -- services --------------------------------------------------------------------------------------------

@check("ecs.circuit-breaker-off", title="Deployment circuit breaker off", severity="medium",
       reads=("ecs_services",), facts=(pulls,), options=CrashLoopOptions, docs=f"{DOCS}#circuit-breaker",
       risk="A deployment whose tasks keep failing restarts (and pulls its image) all day instead of rolling back.",
       recommendation="Turn on the deployment circuit breaker with rollback: a deployment whose tasks keep failing "
                      "then stops and rolls back instead of restarting (and pulling) all day.")
def circuit_breaker_off(ctx: CheckContext) -> Iterable[Finding]:
    crash = {s.service_arn for s in service_pulls(ctx).services if s.crash_loop}
    for s in ctx.records.of(EcsService):
        if s.deployment_controller != "ECS" or s.status.upper() == "INACTIVE" or s.circuit_breaker_enable:
            continue
        looping = s.service_arn in crash
        yield ctx.finding(
            s, resource=s.service_arn, severity="high" if looping else None,
            message=f"{s.cluster_name}/{s.name}: deployment circuit breaker "
                    f"{'not reported (off by default)' if s.circuit_breaker_enable is None else 'off'}"
                    f"{' and the service is crash-looping' if looping else ''}",
            evidence={"circuit_breaker_enable": s.circuit_breaker_enable,
                      "circuit_breaker_rollback": s.circuit_breaker_rollback, "crash_loop": looping},
            fix=f"ecrwise ecs fix circuit-breaker --service {s.service_arn} --apply")


@check("ecs.circuit-breaker-no-rollback", title="Circuit breaker on without rollback", severity="low",
       reads=("ecs_services",), docs=f"{DOCS}#circuit-breaker",
       risk="A failed deployment stops with too few healthy tasks instead of returning to the last good one.",
       recommendation="Set rollback: a failed deployment then returns to the last completed one instead of "
                      "stopping with too few healthy tasks.")
def circuit_breaker_no_rollback(ctx: CheckContext) -> Iterable[Finding]:
    for s in ctx.records.of(EcsService):
        if s.deployment_controller == "ECS" and s.circuit_breaker_enable and not s.circuit_breaker_rollback:
            yield ctx.finding(s, resource=s.service_arn,
                              message=f"{s.cluster_name}/{s.name}: circuit breaker on, rollback off",
                              evidence={"circuit_breaker_enable": True, "circuit_breaker_rollback": False},
                              fix=f"ecrwise ecs fix circuit-breaker --service {s.service_arn} --apply")


@check("ecs.single-replica", title="REPLICA service with one task", severity="medium",
       reads=("ecs_services",), docs=f"{DOCS}#single-replica",
       risk="Every deployment, host failure or crash of its one task is an outage.",
       recommendation="Run at least two tasks (spread over Availability Zones) for anything that must stay up: "
                      "with one, every deployment, host failure or crash is an outage.")
def single_replica(ctx: CheckContext) -> Iterable[Finding]:
    for s in ctx.records.of(EcsService):
        if s.scheduling_strategy == "REPLICA" and s.desired_count == 1 and s.status.upper() != "INACTIVE":
            yield ctx.finding(s, resource=s.service_arn,
                              message=f"{s.cluster_name}/{s.name}: desired count 1 (no high availability)",
                              evidence={"desired_count": 1, "scheduling_strategy": s.scheduling_strategy},
                              fix=f"aws ecs update-service --cluster {s.cluster_name} --service {s.name} "
                                  f"--desired-count 2 --region {s.region}")


# -- task definitions ------------------------------------------------------------------------------------

@check("ecs.fargate-invalid-size", title="Task size Fargate does not offer", severity="high",
       reads=("ecs_task_definitions", "ecs_services"), docs=f"{DOCS}#fargate-sizes",
       risk="Fargate refuses to run the task.",
       recommendation="Use a CPU/memory pair from Fargate's table (docs/ecs.md#fargate-sizes); Fargate refuses "
                      "any other.")
def fargate_invalid_size(ctx: CheckContext) -> Iterable[Finding]:
    fargate = _fargate_tds(ctx.records)
    for td in ctx.records.of(EcsTaskDefinition):
        if td.task_definition_arn not in fargate:
            continue
        cpu, mem = parse_cpu(td.cpu), parse_memory(td.memory)
        windows = is_windows(td.os_family)
        if fargate_size_valid(cpu, mem, windows=windows):
            continue
        valid = ", ".join(str(m) for m in FARGATE_SIZES.get(cpu or 0, ())) or "none (not a Fargate CPU size)"
        if windows and cpu in FARGATE_SIZES and cpu not in FARGATE_WINDOWS_CPU:
            valid = "none: Windows on Fargate takes cpu " + ", ".join(map(str, FARGATE_WINDOWS_CPU))
        suggestion = smallest_fargate_size(cpu or 256, mem or 512, windows=windows)
        yield _td_finding(ctx, td,
                          f"{td_name(td)}: cpu {td.cpu} with memory {td.memory} is not a Fargate size"
                          + (f" for Windows ({td.os_family}: 1, 2 or 4 vCPU)" if windows else ""),
                          {"cpu": td.cpu, "memory": td.memory, "os_family": td.os_family,
                           "valid_memory_for_cpu": valid,
                           "smallest_valid": {"cpu": suggestion[0], "memory": suggestion[1]} if suggestion else None})


@check("ecs.secret-in-environment", title="Credential in a container's environment", severity="high",
       reads=("ecs_environment_secrets", "ecs_task_definitions"), docs=f"{DOCS}#secrets-in-environment",
       risk="`environment` values are plain text in the task definition: anyone with ecs:DescribeTaskDefinition "
            "reads them, and every revision keeps them.",
       recommendation="Move the value to Secrets Manager or SSM Parameter Store and reference it under the "
                      "container's `secrets` (valueFrom); rotate the credential, since old revisions still hold it.")
def secret_in_environment(ctx: CheckContext) -> Iterable[Finding]:
    tds = {t.task_definition_arn: t for t in ctx.records.of(EcsTaskDefinition)}
    for e in ctx.records.of(EcsEnvironmentSecret):
        td = tds.get(e.task_definition_arn)
        what = {"name": "named like a credential", "aws-access-key-id": "an AWS access key id",
                "aws-secret-access-key": "an AWS secret access key"}.get(e.reason, "credentials")
        yield ctx.finding(
            e, resource=e.task_definition_arn,
            message=f"{td_name(td) if td else e.task_definition_arn}: container "
                    f"{e.container} environment {e.name} ({what}) in plain text (value not shown)",
            evidence={"container": e.container, "variable": e.name, "reason": e.reason, "value": REDACTED})


@check("ecs.container-limits", title="Container limits above the task's", severity="high",
       reads=("ecs_task_definitions", "ecs_container_definitions"), docs=f"{DOCS}#container-limits",
       risk="ECS refuses the task definition or cannot place its tasks.",
       recommendation="Keep each container's memory, the sum of memory reservations and the sum of container CPU "
                      "within the task-level values.")
def container_limits(ctx: CheckContext) -> Iterable[Finding]:
    containers = _containers(ctx.records)
    for td in ctx.records.of(EcsTaskDefinition):
        cpu, mem = parse_cpu(td.cpu), parse_memory(td.memory)
        cs = containers.get(td.task_definition_arn, [])
        problems = []
        if mem is not None:
            for c in cs:
                if c.memory is not None and c.memory > mem:
                    problems.append(f"container {c.name} memory {c.memory} MiB > task memory {mem} MiB")
            reserved = sum(c.memory_reservation or c.memory or 0 for c in cs)
            if reserved > mem:
                problems.append(f"containers reserve {reserved} MiB > task memory {mem} MiB")
        if cpu is not None:
            total = sum(c.cpu or 0 for c in cs)
            if total > cpu:
                problems.append(f"containers' cpu {total} units > task cpu {cpu}")
        if problems:
            yield _td_finding(ctx, td, f"{td_name(td)}: " + "; ".join(problems),
                              {"task_cpu": cpu, "task_memory": mem, "problems": problems})


@check("ecs.too-many-containers", title="More than 10 containers in a task", severity="high",
       reads=("ecs_task_definitions",), docs=f"{DOCS}#task-definitions",
       risk="ECS refuses a task definition with more than 10 containers.",
       recommendation="A task definition holds at most 10 containers; split containers that do not share a "
                      "lifecycle into their own task definitions and services.")
def too_many_containers(ctx: CheckContext) -> Iterable[Finding]:
    for td in ctx.records.of(EcsTaskDefinition):
        if td.container_count > MAX_CONTAINERS:
            yield _td_finding(ctx, td,
                              f"{td_name(td)}: {td.container_count} containers (at most {MAX_CONTAINERS})",
                              {"containers": td.container_count})


@check("ecs.fargate-network-mode", title="Fargate task not in awsvpc mode", severity="high",
       reads=("ecs_task_definitions", "ecs_services"), docs=f"{DOCS}#task-definitions",
       risk="Fargate refuses to run the task.",
       recommendation="Fargate tasks must use networkMode awsvpc.")
def fargate_network_mode(ctx: CheckContext) -> Iterable[Finding]:
    fargate = _fargate_tds(ctx.records)
    for td in ctx.records.of(EcsTaskDefinition):
        if td.task_definition_arn in fargate and (td.network_mode or "") != "awsvpc":
            yield _td_finding(ctx, td,
                              f"{td_name(td)}: network mode {td.network_mode or 'unset'} on Fargate",
                              {"network_mode": td.network_mode})


@check("ecs.mutable-image-tag", title="Image referenced by a moving tag", severity="medium",
       reads=("ecs_container_definitions", "ecs_services", "ecs_task_definitions", "repositories"),
       docs=f"{DOCS}#image-tags",
       risk="Two tasks of one deployment can run different code, and a rollback does not roll the image back.",
       recommendation="Reference an immutable tag (a version or git SHA) or a digest, and make ECR tags immutable: "
                      "with `latest`, two tasks of one deployment can run different code, and a rollback does not "
                      "roll the image back.")
def mutable_image_tag(ctx: CheckContext) -> Iterable[Finding]:
    in_use = _in_use(ctx.records)
    tds = {t.task_definition_arn: t for t in ctx.records.of(EcsTaskDefinition)}
    mutability = {(r.account, r.region, r.name): r.tag_mutability for r in ctx.records.of(Repository)}
    for c in ctx.records.of(EcsContainerDefinition):
        if in_use and c.task_definition_arn not in in_use:
            continue
        ref = parse_image(c.image)
        tag = ref["tag"]
        if ref["digest"] or not tag or tag.lower() not in MUTABLE_TAGS:
            continue
        td = tds.get(c.task_definition_arn)
        repo_mut = mutability.get((str(ref["account"]), str(ref["region"]), str(ref["repository"])))
        yield ctx.finding(
            c, resource=c.task_definition_arn,
            message=f"{td_name(td) if td else c.task_definition_arn}: container {c.name} "
                    f"runs {c.image}" + ("" if ":" in c.image.rsplit("/", 1)[-1] else " (no tag means latest)"),
            evidence={"container": c.name, "image": c.image, "tag": tag, "repository_tag_mutability": repo_mut})


@check("ecs.image-outside-ecr", title="Image pulled from outside ECR", severity="low",
       reads=("ecs_container_definitions", "ecs_services"), docs=f"{DOCS}#outside-ecr",
       risk="Pulls leave AWS's network (through the NAT gateway) and depend on the upstream registry's rate limits "
            "and uptime.",
       recommendation="Serve it through an ECR pull-through cache rule (or copy it into ECR): pulls then stay on "
                      "AWS's network (layers through the free S3 gateway endpoint) and avoid the upstream "
                      "registry's rate limits and outages.")
def image_outside_ecr(ctx: CheckContext) -> Iterable[Finding]:
    in_use = _in_use(ctx.records)
    for c in ctx.records.of(EcsContainerDefinition):
        if in_use and c.task_definition_arn not in in_use:
            continue
        ref = parse_image(c.image)
        if ref["account"] is not None:
            continue
        first = c.image.split("/", 1)[0]
        registry = first if "/" in c.image and ("." in first or ":" in first) else "docker.io"
        yield ctx.finding(
            c, resource=c.task_definition_arn, message=f"container {c.name} pulls {c.image} from {registry}",
            evidence={"container": c.name, "image": c.image, "registry": registry,
                      "repository_credentials": bool(c.repository_credentials)},
            fix=f"aws ecr create-pull-through-cache-rule --ecr-repository-prefix "
                f"{'docker-hub' if registry == 'docker.io' else registry.split('.')[0]} --upstream-registry-url "
                f"{'registry-1.docker.io' if registry == 'docker.io' else registry} --region {c.region}")


# -- hosts and the agent ---------------------------------------------------------------------------------

@check("ecs.container-instance-left-behind", title="Container instance left behind", severity="medium",
       reads=("ecs_container_instances", "ec2_instances"), docs=f"{DOCS}#left-behind",
       risk="The scheduler may still try to place tasks on a host that is gone.",
       recommendation="Deregister it: an instance terminated while stopped stays registered with its agent "
                      "disconnected, and the scheduler may still try to place tasks on it.")
def container_instance_left_behind(ctx: CheckContext) -> Iterable[Finding]:
    instances = {(i.account, i.region, i.instance_id): i for i in ctx.records.of(Ec2Instance)}
    for ci in ctx.records.of(EcsContainerInstance):
        if ci.agent_connected or ci.status.upper() in ("INACTIVE", "DEREGISTERING"):
            continue
        inst = instances.get((ci.account, ci.region, ci.ec2_instance_id or ""))
        state = inst.state if inst else "not found"
        if state not in ("stopped", "stopping", "terminated", "shutting-down", "not found"):
            continue  # a running host whose agent dropped: an agent problem, not a leftover
        cluster = ci.cluster_arn.rsplit("/", 1)[-1]
        yield ctx.finding(
            ci, resource=ci.container_instance_arn,
            message=f"{cluster}: container instance of {ci.ec2_instance_id} is {ci.status} with its agent "
                    f"disconnected; the EC2 instance is {state}",
            evidence={"cluster": cluster, "ec2_instance_id": ci.ec2_instance_id, "ec2_state": state,
                      "status": ci.status, "agent_connected": False, "running_tasks": ci.running_tasks},
            fix=f"aws ecs deregister-container-instance --cluster {cluster} --container-instance "
                f"{ci.container_instance_arn} --force --region {ci.region}")


# Where agent settings come from: a plain ecs.config file is not user data.
def agent_source(cfg: EcsAgentConfig) -> str:
    """"instance-user-data i-…", "launch-template lt-…:1", "user data FILE" or "ecs.config FILE"."""
    return f"{'user data' if cfg.source == 'user-data' else cfg.source} {cfg.source_id}"


def _auth_evidence(cfg: EcsAgentConfig, keys: list[str], value: str) -> dict[str, Any]:
    return {"source": cfg.source, "keys": keys, "value": value, "auth_type": cfg.settings.get("ECS_ENGINE_AUTH_TYPE"),
            "instances": cfg.instance_ids}


def is_user_data(cfg: EcsAgentConfig) -> bool:
    return cfg.source != "ecs.config"


@check("ecs.agent-auth-data-plaintext", title="Credentials in plain text in user data or ecs.config",
       severity="critical", reads=("ecs_agent_configs",), docs=f"{DOCS}#agent-auth-data",
       risk="Anyone who can read the instance's user data or its ecs.config reads the registry password or AWS key.",
       recommendation="Remove ECS_ENGINE_AUTH_DATA and any AWS access key from user data and ecs.config, and rotate "
                      "the credential: anyone who can read the instance's user data (ec2:DescribeInstanceAttribute, "
                      "the instance metadata service) reads it. Use repositoryCredentials with a Secrets Manager "
                      "secret or an ECR pull-through cache rule for registries, and the instance role for AWS.")
def agent_auth_data(ctx: CheckContext) -> Iterable[Finding]:
    for cfg in ctx.records.of(EcsAgentConfig):
        secret_keys = [k for k in cfg.redacted if k in cfg.settings]
        auth = cfg.settings.get("ECS_ENGINE_AUTH_DATA")
        where = agent_source(cfg)
        if secret_keys or (auth is not None and not unresolved(auth)):
            keys = sorted(set(secret_keys) | ({"ECS_ENGINE_AUTH_DATA"} if auth is not None and not unresolved(auth)
                                              else set()))
            yield ctx.finding(cfg, resource=cfg.source_id,
                              message=f"{where}: {', '.join(keys)} in plain text (value redacted)",
                              evidence=_auth_evidence(cfg, keys, REDACTED))
        elif auth is not None:
            # Set from a shell variable at boot: the value is not in the text, but ecs.config on the host holds it.
            yield ctx.finding(cfg, resource=cfg.source_id, severity="medium",
                              message=f"{where}: ECS_ENGINE_AUTH_DATA is set from {auth} at boot (unresolved: the "
                                      f"value is not in the text; /etc/ecs/ecs.config on the host holds it)",
                              evidence=_auth_evidence(cfg, ["ECS_ENGINE_AUTH_DATA"], auth) | {"unresolved": True})


@check("ecs.agent-missing-cluster", title="Agent configuration without ECS_CLUSTER", severity="medium",
       reads=("ecs_agent_configs",), docs=f"{DOCS}#agent-cluster",
       risk="The host joins the `default` cluster, where no service of yours places tasks: it is paid for idle.",
       recommendation="Set ECS_CLUSTER in /etc/ecs/ecs.config: without it the agent registers the host in the "
                      "`default` cluster, where no service of yours places tasks.")
def agent_missing_cluster(ctx: CheckContext) -> Iterable[Finding]:
    for cfg in ctx.records.of(EcsAgentConfig):
        if cfg.settings.get("ECS_CLUSTER", "").strip():
            continue  # set (an unresolved ${VAR} is set too: the script chooses it at boot)
        yield ctx.finding(
            cfg, resource=cfg.source_id,
            message=f"{agent_source(cfg)}: no ECS_CLUSTER"
                    + ("" if cfg.writes_ecs_config or not is_user_data(cfg)
                       else " (the user data does not write /etc/ecs/ecs.config)"),
            evidence={"source": cfg.source, "settings": sorted(cfg.settings), "instances": cfg.instance_ids})


@check("ecs.agent-pull-behavior", title="Agent pulls the image on every start", severity="low",
       reads=("ecs_agent_configs", "ecs_tasks", "ecs_container_instances"), facts=(pulls,),
       options=CrashLoopOptions, docs=f"{DOCS}#pull-behavior",
       risk="Every task start asks the registry, and fails when it cannot be reached.",
       recommendation="Set ECS_IMAGE_PULL_BEHAVIOR=prefer-cached (or once) where tags are immutable: restarts use "
                      "the host's copy instead of asking the registry, and keep working when it is unreachable.")
def agent_pull_behavior(ctx: CheckContext) -> Iterable[Finding]:
    report = service_pulls(ctx)
    looping_hosts: set[str] = set()
    instance_of = {ci.container_instance_arn: ci.ec2_instance_id for ci in ctx.records.of(EcsContainerInstance)}
    looping = {(s.account, s.region, s.cluster, s.service) for s in report.services
               if s.crash_loop and s.launch_type == "EC2"}
    for t in ctx.records.of(EcsTask):
        cluster = t.cluster_arn.rsplit("/", 1)[-1]
        if (t.account, t.region, cluster, t.service_name) in looping and t.container_instance_arn:
            looping_hosts.add(instance_of.get(t.container_instance_arn) or "")
    for cfg in ctx.records.of(EcsAgentConfig):
        value = cfg.settings.get("ECS_IMAGE_PULL_BEHAVIOR", "default").strip().lower() or "default"
        on_loop = bool(looping_hosts & set(cfg.instance_ids))
        if unresolved(value):
            continue  # chosen by the script at boot: not known here
        if value not in PULL_BEHAVIORS:
            msg, severity = f"ECS_IMAGE_PULL_BEHAVIOR={value} is not a value the agent knows", "medium"
        elif value == "always":
            msg, severity = "ECS_IMAGE_PULL_BEHAVIOR=always: every start asks the registry and fails if it cannot", "low"
        elif value == "default" and on_loop:
            msg, severity = ("ECS_IMAGE_PULL_BEHAVIOR=default on hosts running a crash-looping service: every restart "
                             "asks the registry"), "low"
        else:
            continue
        yield ctx.finding(cfg, resource=cfg.source_id, severity=severity,
                          message=f"{agent_source(cfg)}: {msg}",
                          evidence={"ECS_IMAGE_PULL_BEHAVIOR": value, "instances": cfg.instance_ids,
                                    "crash_looping_service_on_hosts": on_loop},
                          fix="ecrwise ecs user-data --pull-behavior prefer-cached --image IMAGE_URI")


# -- crash loops and cost ---------------------------------------------------------------------------------

@check("ecs.crash-loop", title="Crash-looping service", severity="high", facts=(pulls,), options=CrashLoopOptions,
       docs=f"{DOCS}#crash-loop",
       risk="Every restart downloads the image again: NAT gateway bytes and registry requests all day, and the "
            "service is not serving.",
       recommendation="Fix what makes the tasks fail (the stop reasons say what), turn on the circuit breaker with "
                      "rollback, and take image layers off the NAT gateway with an S3 gateway endpoint.")
def crash_loop(ctx: CheckContext) -> Iterable[Finding]:
    report = service_pulls(ctx)
    for s in report.services:
        if not s.crash_loop:
            continue
        best = s.best_fix
        yield ctx.finding(
            s, resource=s.service_arn,
            message=f"{s.cluster}/{s.service}: {s.task_starts_per_day:,.0f} task starts a day for "
                    f"{s.desired_count} desired task(s) ({s.starts_evidence}); each start pulls "
                    f"{s.bytes_per_start:,} B, path {s.path}",
            monthly_cost_usd=s.nat_cost_per_month, monthly_savings_usd=best.monthly_savings if best else None,
            evidence={"task_starts_per_day": round(s.task_starts_per_day, 1),
                      "starts_per_desired_task_per_day": round(s.starts_per_desired_task_per_day, 1),
                      "threshold": report.threshold, "starts_evidence": s.starts_evidence,
                      "reasons": [{"reason": r.reason, "category": r.category, "count": r.count,
                                   "source": r.source} for r in s.reasons[:5]],
                      "path": s.path, "bytes_per_start": s.bytes_per_start},
            arithmetic=s.arithmetic, fix=f"ecrwise ecs fix circuit-breaker --service {s.service_arn} --apply")


def task_size(td: EcsTaskDefinition, containers: list[EcsContainerDefinition]) -> tuple[int, int]:
    """(cpu units, memory MiB) a task needs: task-level values, else the containers' sums."""
    cpu = parse_cpu(td.cpu) or sum(c.cpu or 0 for c in containers)
    mem = parse_memory(td.memory) or sum(c.memory or c.memory_reservation or 0 for c in containers)
    return cpu, mem


@check("ecs.fargate-vs-ec2", title="Fargate versus EC2 monthly cost", severity="info",
       reads=("ecs_services", "ecs_task_definitions", "ecs_container_definitions"), docs=f"{DOCS}#fargate-vs-ec2",
       risk="Information only: a steady service on the dearer of the two pays the difference every month.",
       recommendation="Information: steady, well-packed services cost less on EC2 (or Fargate Spot); spiky or small "
                      "ones cost less on Fargate, which also needs no host patching.")
def fargate_vs_ec2(ctx: CheckContext) -> Iterable[Finding]:
    book = ctx.book
    tds = {t.task_definition_arn: t for t in ctx.records.of(EcsTaskDefinition)}
    containers = _containers(ctx.records)
    hours = book.hours_per_month
    for s in ctx.records.of(EcsService):
        td = tds.get(s.task_definition_arn or "")
        if td is None or s.desired_count <= 0 or s.status.upper() == "INACTIVE":
            continue
        cpu, mem = task_size(td, containers.get(td.task_definition_arn, []))
        size = (cpu, mem) if fargate_size_valid(cpu, mem) else smallest_fargate_size(max(cpu, 256), max(mem, 512))
        if size is None:
            continue
        vcpu_p = book.price(s.region, "fargate_vcpu_hour")
        gb_p = book.price(s.region, "fargate_gb_hour")
        host_p = book.price(s.region, REFERENCE_HOST["item"])
        vcpu, gib = size[0] / 1024, size[1] / 1024
        fargate = s.desired_count * (vcpu * vcpu_p.usd + gib * gb_p.usd) * hours
        share = max((cpu or 256) / 1024 / REFERENCE_HOST["vcpu"], (mem or 512) / 1024 / REFERENCE_HOST["gib"])
        ec2 = s.desired_count * share * host_p.usd * hours
        cheaper = "EC2" if ec2 < fargate else "FARGATE"
        yield ctx.finding(
            s, resource=s.service_arn,
            message=f"{s.cluster_name}/{s.name} ({s.compute}): ${fargate:,.2f}/month on Fargate, "
                    f"${ec2:,.2f}/month as a share of {REFERENCE_HOST['type']} hosts",
            monthly_cost_usd=fargate if s.compute == "FARGATE" else ec2,
            monthly_savings_usd=abs(fargate - ec2) if cheaper != s.compute else None,
            evidence={"runs_on": s.compute, "desired_count": s.desired_count, "task_cpu": cpu,
                      "task_memory": mem, "fargate_size": {"cpu": size[0], "memory": size[1]},
                      "fargate_usd": round(fargate, 2), "ec2_usd": round(ec2, 2), "cheaper": cheaper},
            arithmetic={
                "hours": hours, "fargate_vcpu_price": vcpu_p.as_dict(), "fargate_gb_price": gb_p.as_dict(),
                "host_price": host_p.as_dict(), "host_share": round(share, 4),
                "fargate_formula": f"{s.desired_count} × ({vcpu:g} vCPU × ${vcpu_p.usd} + {gib:g} GB × "
                                   f"${gb_p.usd}) × {hours} h = ${fargate:.2f}",
                "ec2_formula": f"{s.desired_count} × {share:.4f} of a {REFERENCE_HOST['type']} × "
                               f"${host_p.usd} × {hours} h = ${ec2:.2f} (bin-packed by the larger of the "
                               f"CPU and memory shares; no idle capacity, EBS or host overhead)"})


# -- ecrwise ecs agent-config FILE ------------------------------------------------------------------------

def audit_agent_config(cfg: EcsAgentConfig) -> list[Finding]:
    """The agent checks for one configuration (an ecs.config file given on the command line)."""
    from ecrwise.analysis.checks import REGISTRY

    session = CheckSession(Records({EcsAgentConfig: [cfg]}), None)  # type: ignore[arg-type]  # no prices needed
    findings: list[Finding] = []
    for check_id in ("ecs.agent-auth-data-plaintext", "ecs.agent-missing-cluster"):
        findings.extend(session.run(REGISTRY[check_id]))
    value = cfg.settings.get("ECS_IMAGE_PULL_BEHAVIOR", "default").strip().lower() or "default"
    if unresolved(value):
        ctx = session.context(REGISTRY["ecs.agent-pull-behavior"])
        findings.append(ctx.finding(cfg, resource=cfg.source_id, severity="info",
                                    message=f"{cfg.source_id}: ECS_IMAGE_PULL_BEHAVIOR is set from "
                                            f"{cfg.settings['ECS_IMAGE_PULL_BEHAVIOR']} at boot (unresolved: not judged)",
                                    evidence={"ECS_IMAGE_PULL_BEHAVIOR": cfg.settings["ECS_IMAGE_PULL_BEHAVIOR"],
                                              "unresolved": True}))
    elif value not in PULL_BEHAVIORS or value in ("always", "default"):
        severity = "medium" if value not in PULL_BEHAVIORS else "low" if value == "always" else "info"
        msg = (f"ECS_IMAGE_PULL_BEHAVIOR={value} is not a value the agent knows" if value not in PULL_BEHAVIORS
               else f"ECS_IMAGE_PULL_BEHAVIOR={value}" + (" (not set)" if "ECS_IMAGE_PULL_BEHAVIOR" not in cfg.settings
                                                          else "") + ": every task start asks the registry")
        # Not the registered check's judgement (that one needs the pull analysis), but its finding.
        ctx = session.context(REGISTRY["ecs.agent-pull-behavior"])
        findings.append(ctx.finding(cfg, resource=cfg.source_id, severity=severity, message=f"{cfg.source_id}: {msg}",
                                    evidence={"ECS_IMAGE_PULL_BEHAVIOR": value},
                                    fix="ecrwise ecs user-data --pull-behavior prefer-cached --image IMAGE_URI"))
    return findings


# -- ecrwise ecs lint FILE… -------------------------------------------------------------------------------

# The task-definition checks `ecs lint` runs, and those whose findings mean ECS refuses the definition
# (RegisterTaskDefinition, or Fargate at run time): errors, exit 2. The others are warnings.
TASK_DEFINITION_CHECKS = ("ecs.fargate-invalid-size", "ecs.container-limits", "ecs.too-many-containers",
                          "ecs.fargate-network-mode", "ecs.secret-in-environment", "ecs.mutable-image-tag",
                          "ecs.image-outside-ecr")
REJECTED_BY_ECS = frozenset({"ecs.fargate-invalid-size", "ecs.container-limits", "ecs.too-many-containers",
                             "ecs.fargate-network-mode"})


def lint_task_definitions(records: Records) -> list[Finding]:
    """Every task-definition check over task definitions read from files (no snapshot, no prices)."""
    from ecrwise.analysis.checks import REGISTRY

    session = CheckSession(records, None)  # type: ignore[arg-type]  # no task-definition check prices anything
    return [f for check_id in TASK_DEFINITION_CHECKS for f in session.run(REGISTRY[check_id])]
