"""ECS records: clusters, services, deployments and their events, task definitions and containers, running
and recently stopped tasks, container instances, their EC2 instances, and the ECS agent's configuration.

The agent configuration is read from EC2 user data, where teams sometimes write registry credentials
(`ECS_ENGINE_AUTH_DATA`). `parse_agent_config` redacts every secret-looking value *as it parses*, so a
secret never reaches a record, the store or any output; raw user data is never kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from ecrwise.inputs import InputError, decode_utf8, gunzip, maybe_base64


@dataclass(frozen=True, slots=True)
class EcsCluster:
    __table__ = "ecs_clusters"
    account: str
    region: str
    cluster_arn: str
    name: str
    status: str
    capacity_providers: list[str] = field(default_factory=list)
    default_capacity_provider_strategy: list[str] = field(default_factory=list)  # provider names, in order
    running_tasks: int = 0
    active_services: int = 0
    registered_container_instances: int = 0


@dataclass(frozen=True, slots=True)
class EcsService:
    __table__ = "ecs_services"
    account: str
    region: str
    cluster_arn: str
    cluster_name: str
    service_arn: str
    name: str
    status: str
    launch_type: str | None  # FARGATE | EC2 | EXTERNAL | None when a capacity provider strategy is used
    capacity_provider_strategy: list[str]  # provider names (FARGATE, FARGATE_SPOT, an ASG provider)
    scheduling_strategy: str  # REPLICA | DAEMON
    desired_count: int
    running_count: int
    pending_count: int
    task_definition_arn: str | None
    deployment_controller: str  # ECS | CODE_DEPLOY | EXTERNAL
    # deploymentConfiguration.deploymentCircuitBreaker; None when the service does not report one.
    circuit_breaker_enable: bool | None
    circuit_breaker_rollback: bool | None
    minimum_healthy_percent: int | None
    maximum_percent: int | None
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    assign_public_ip: str | None = None  # ENABLED | DISABLED | None (not awsvpc)
    target_groups: list[str] = field(default_factory=list)
    health_check_grace_period: int | None = None
    platform_version: str | None = None
    created_at: datetime | None = None

    @property
    def compute(self) -> str:
        """FARGATE or EC2 (EXTERNAL counts as EC2: the host pulls and caches images)."""
        if self.launch_type == "FARGATE":
            return "FARGATE"
        if self.launch_type is None and any(p.startswith("FARGATE") for p in self.capacity_provider_strategy):
            return "FARGATE"
        return "EC2"


@dataclass(frozen=True, slots=True)
class EcsDeployment:
    __table__ = "ecs_deployments"
    account: str
    region: str
    service_arn: str
    deployment_id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition_arn: str | None
    desired_count: int
    running_count: int
    pending_count: int
    failed_tasks: int
    rollout_state: str | None  # COMPLETED | IN_PROGRESS | FAILED
    rollout_state_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class EcsServiceEvent:
    """One of the service's most recent events (ECS keeps the last 100), e.g. "has started 2 tasks"."""
    __table__ = "ecs_service_events"
    account: str
    region: str
    service_arn: str
    event_id: str
    created_at: datetime | None
    message: str


@dataclass(frozen=True, slots=True)
class EcsTaskDefinition:
    __table__ = "ecs_task_definitions"
    account: str
    region: str
    task_definition_arn: str
    family: str
    revision: int
    status: str
    network_mode: str | None
    requires_compatibilities: list[str]
    compatibilities: list[str]
    cpu: str | None  # as registered: "256", "1024" (ECS converts "1 vCPU" to units on registration)
    memory: str | None  # MiB as registered
    cpu_architecture: str | None = None  # runtimePlatform.cpuArchitecture: X86_64 | ARM64
    os_family: str | None = None
    container_count: int = 0


@dataclass(frozen=True, slots=True)
class EcsContainerDefinition:
    __table__ = "ecs_container_definitions"
    account: str
    region: str
    task_definition_arn: str
    name: str
    image: str
    cpu: int | None
    memory: int | None  # hard limit, MiB
    memory_reservation: int | None  # soft limit, MiB
    essential: bool
    log_driver: str | None = None
    has_health_check: bool = False
    # Registry credentials for a private non-ECR registry (Secrets Manager ARN; the secret is not read).
    repository_credentials: str | None = None


@dataclass(frozen=True, slots=True)
class EcsTask:
    __table__ = "ecs_tasks"
    account: str
    region: str
    cluster_arn: str
    task_arn: str
    task_definition_arn: str
    group: str | None  # "service:NAME" for a service's tasks
    started_by: str | None
    launch_type: str | None
    capacity_provider: str | None
    last_status: str
    desired_status: str
    created_at: datetime | None
    started_at: datetime | None
    stopping_at: datetime | None
    stopped_at: datetime | None
    pull_started_at: datetime | None
    pull_stopped_at: datetime | None
    stop_code: str | None
    stopped_reason: str | None
    container_instance_arn: str | None
    availability_zone: str | None
    subnet_id: str | None

    @property
    def service_name(self) -> str | None:
        return self.group.split(":", 1)[1] if self.group and self.group.startswith("service:") else None


@dataclass(frozen=True, slots=True)
class EcsTaskContainer:
    __table__ = "ecs_task_containers"
    account: str
    region: str
    task_arn: str
    name: str
    image: str | None
    image_digest: str | None  # the digest the task actually ran
    last_status: str | None
    exit_code: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class EcsContainerInstance:
    __table__ = "ecs_container_instances"
    account: str
    region: str
    cluster_arn: str
    container_instance_arn: str
    ec2_instance_id: str | None
    status: str  # ACTIVE | DRAINING | INACTIVE | REGISTERING | ...
    agent_connected: bool
    running_tasks: int
    pending_tasks: int
    agent_version: str | None
    instance_type: str | None
    availability_zone: str | None
    registered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ec2Instance:
    __table__ = "ec2_instances"
    account: str
    region: str
    instance_id: str
    state: str  # pending | running | stopping | stopped | shutting-down | terminated
    instance_type: str | None
    subnet_id: str | None
    vpc_id: str | None
    availability_zone: str | None
    public_ip: str | None
    launch_template_id: str | None
    launch_template_version: str | None
    launch_time: datetime | None


@dataclass(frozen=True, slots=True)
class EcsAgentConfig:
    """The ECS agent settings (/etc/ecs/ecs.config) that some user data writes. Secret values are redacted."""
    __table__ = "ecs_agent_configs"
    account: str
    region: str
    source: str  # instance-user-data | launch-template | file
    source_id: str  # instance id, "lt-…:VERSION", or a file path
    settings: dict[str, str] = field(default_factory=dict)
    redacted: list[str] = field(default_factory=list)  # keys whose values were redacted
    # Does the user data write /etc/ecs/ecs.config at all? (settings found elsewhere in the script still count)
    writes_ecs_config: bool = False
    instance_ids: list[str] = field(default_factory=list)  # the instances this configuration applies to


# -- agent configuration: parsing with redaction ----------------------------------------------------------

REDACTED = "<redacted>"
# Keys whose values are credentials. ECS_ENGINE_AUTH_DATA holds registry passwords in plain text.
_SECRET_KEY = re.compile(r"AUTH|PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|APIKEY|API_KEY", re.I)
# ECS_ENGINE_AUTH_TYPE names a format (docker | dockercfg), not a secret: kept when it is one of those.
_NOT_SECRET = {"ECS_ENGINE_AUTH_TYPE": {"docker", "dockercfg"}}
# A value that looks like credentials whatever its key (a docker config JSON, a basic-auth string).
_SECRET_VALUE = re.compile(r'"(password|auth|identitytoken|registrytoken)"\s*:|://[^/\s:@]+:[^/\s@]+@', re.I)
_SETTING = re.compile(r"(?<![A-Za-z0-9_])(ECS_[A-Z0-9_]+)=(.*)")
_ECS_CONFIG = "/etc/ecs/ecs.config"


def is_secret(key: str, value: str) -> bool:
    if key in _NOT_SECRET:
        return value.strip() not in _NOT_SECRET[key]
    return bool(_SECRET_KEY.search(key) or _SECRET_VALUE.search(value))


def decode_user_data(raw: str | bytes | None, *, source: str | None = None) -> str:
    """User data as text: base64 (as the EC2 API returns it) and gzip (as cloud-init accepts it) undone.

    With `source` (a file the user named), anything undecodable is an InputError (exit 2) naming it; without
    (user data read from AWS during a scan), it is read as no settings, so one odd instance cannot stop a scan."""
    if not raw:
        return ""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        data = maybe_base64(data, source=source or "user data")
        if data[:2] == b"\x1f\x8b":
            data = gunzip(data, source=source or "user data")
        if source is not None:
            return decode_utf8(data, source=source)
    except InputError:
        if source is not None:
            raise
        return ""
    return data.decode("utf-8", errors="replace")


def _value(raw: str, opener: str | None) -> str:
    """The value part of `KEY=VALUE…` on one line of a shell script, without redirections or quotes."""
    v = raw.rstrip()
    if opener:
        end = v.find(opener)
        if end >= 0:
            v = v[:end]
    else:
        v = re.split(r"\s+>>?\s*\S+|\s*\|\s*(sudo\s+)?tee\b", v)[0]
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]
    return v


def parse_agent_config(text: str) -> tuple[dict[str, str], list[str], bool]:
    """Agent settings (ECS_*) found in user data or an ecs.config file, as (settings, redacted_keys,
    writes_ecs_config). Secret values are replaced by REDACTED here, before anything else sees them.

    Reads heredocs (`cat <<'EOF' >> /etc/ecs/ecs.config`), `echo "KEY=VALUE" >> /etc/ecs/ecs.config` lines,
    and bare `KEY=VALUE` lines (an ecs.config file itself). The last assignment of a key wins, as it does
    for the agent reading the file top to bottom.
    """
    settings: dict[str, str] = {}
    redacted: list[str] = []
    writes = _ECS_CONFIG in text
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _SETTING.search(line)
        if not m:
            continue
        key, rest = m.group(1), m.group(2)
        before = line[:m.start()]
        # The quote that opened this KEY=VALUE on an echo/printf line, if any ("echo 'ECS_X=1' >> …").
        opener = before.rstrip()[-1:] if before.rstrip()[-1:] in ("'", '"') else None
        if before.strip() and not opener and not re.search(r"\b(echo|printf|export)\s*$", before.strip()):
            continue  # ECS_X=… inside some other command: not a setting
        value = _value(rest, opener)
        if is_secret(key, value):
            value = REDACTED
            if key not in redacted:
                redacted.append(key)
        settings[key] = value
    return settings, redacted, writes
