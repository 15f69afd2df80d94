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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr
from pydantic import Field as PydanticField

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
class EcsEnvironmentSecret:
    """A container environment variable (`environment`, plain text in the task definition) whose name or value
    looks like a credential. Only the variable's name and why it looks secret are kept, never its value."""
    __table__ = "ecs_environment_secrets"
    account: str
    region: str
    task_definition_arn: str
    container: str
    name: str
    reason: str  # "name" (PASSWORD, TOKEN, …) | "aws-access-key-id" | "aws-secret-access-key" | "credentials"


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
    source: str  # instance-user-data | launch-template | user-data (a file) | ecs.config (a file)
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
# Keys that name a setting, not a secret, though their names match: ECS_ENGINE_AUTH_TYPE is the format of
# ECS_ENGINE_AUTH_DATA (docker | dockercfg). Their values are redacted only when they hold a credential.
_NOT_SECRET = frozenset({"ECS_ENGINE_AUTH_TYPE"})
# A value that looks like credentials whatever its key (a docker config JSON, a basic-auth string).
_SECRET_VALUE = re.compile(r'"(password|auth|identitytoken|registrytoken)"\s*:|://[^/\s:@]+:[^/\s@]+@', re.I)
# AWS access key ids begin AKIA (long-term) or ASIA (temporary, from STS) and are 20 characters; secret access
# keys are 40 (STS API reference, GetAccessKeyInfo, and its examples AKIAIOSFODNN7EXAMPLE and
# wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html).
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_SECRET_ACCESS_KEY = re.compile(r"AWS_SECRET_ACCESS_KEY\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", re.I)
# `aws configure set aws_secret_access_key VALUE` (or aws_session_token) in a boot script.
_CONFIGURE_SECRET = re.compile(r"\baws\s+configure\s+set\s+(\S*\.)?(aws_secret_access_key|aws_session_token)\s+\S",
                               re.I)
# Environment variable names that say they hold a credential (a value in a task definition's `environment` is
# plain text; `secrets` is the place for these).
_SECRET_ENV_NAME = re.compile(r"PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|APIKEY|API_KEY|AUTH", re.I)
# Agent settings (ECS_*), and the AWS SDK variables (AWS_*) a script exports or writes beside them.
_SETTING = re.compile(r"(?<![A-Za-z0-9_])((?:ECS|AWS)_[A-Z0-9_]+)=(.*)")
_ECS_CONFIG = "/etc/ecs/ecs.config"
# A shell variable reference: the script sets the value at boot, so the text does not say what it is.
_VARIABLE = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
# KEY=VALUE lines and comments only: an ecs.config file itself, not a script that writes one.
_CONFIG_LINE = re.compile(r"\s*(#.*|[A-Za-z_][A-Za-z0-9_]*=.*)?")


def credential_in(value: str) -> str | None:
    """What kind of credential `value` holds, if it plainly holds one: an AWS access key id, an AWS secret
    access key (after AWS_SECRET_ACCESS_KEY= or `aws configure set`), a docker config JSON or a URL with a
    password. None otherwise."""
    if _ACCESS_KEY_ID.search(value):
        return "aws-access-key-id"
    if _SECRET_ACCESS_KEY.search(value) or _CONFIGURE_SECRET.search(value):
        return "aws-secret-access-key"
    if _SECRET_VALUE.search(value):
        return "credentials"
    return None


def unresolved(value: str) -> bool:
    """Does the value refer to a shell variable (`$VAR`, `${VAR}`) that the script resolves at boot?"""
    return bool(_VARIABLE.search(value))


def is_secret(key: str, value: str) -> bool:
    if credential_in(value):
        return True
    if key in _NOT_SECRET or unresolved(value):
        return False  # a format name, or a reference to a variable (reported as unresolved), not the secret
    return bool(_SECRET_KEY.search(key))


def is_plain_config(text: str) -> bool:
    """Is this an ecs.config file itself (KEY=VALUE lines and comments), rather than a script that writes one?"""
    return all(_CONFIG_LINE.fullmatch(line) for line in text.splitlines())


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
    """Agent settings (ECS_*, and AWS_* variables) found in user data or an ecs.config file, as (settings,
    redacted_keys, writes_ecs_config). Secret values are replaced by REDACTED here, before anything else sees
    them. A credential anywhere else in the text (an access key in a comment, `aws configure set
    aws_secret_access_key …`) is kept as the key `credential (line N)` with a REDACTED value. A value that is a
    shell variable (`$VAR`, `${VAR}`) is kept as written: see `unresolved`.

    Reads heredocs (`cat <<'EOF' >> /etc/ecs/ecs.config`), `echo "KEY=VALUE" >> /etc/ecs/ecs.config` lines,
    and bare `KEY=VALUE` lines (an ecs.config file itself). The last assignment of a key wins, as it does
    for the agent reading the file top to bottom.
    """
    settings: dict[str, str] = {}
    redacted: list[str] = []

    def redact(key: str) -> None:
        settings[key] = REDACTED
        if key not in redacted:
            redacted.append(key)

    writes = _ECS_CONFIG in text
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = _SETTING.search(line) if stripped and not stripped.startswith("#") else None
        before = line[:m.start()] if m else ""
        # The quote that opened this KEY=VALUE on an echo/printf line, if any ("echo 'ECS_X=1' >> …").
        opener = before.rstrip()[-1:] if before.rstrip()[-1:] in ("'", '"') else None
        if m and before.strip() and not opener and not re.search(r"\b(echo|printf|export)\s*$", before.strip()):
            m = None  # ECS_X=… inside some other command: not a setting
        if m is None:
            if credential_in(line):
                redact(f"credential (line {n})")
            continue
        key = m.group(1)
        value = _value(m.group(2), opener)
        if is_secret(key, value):
            redact(key)
        else:
            settings[key] = value
            if credential_in(line):  # a credential elsewhere on the line ("… && export AWS_SECRET_…")
                redact(f"credential (line {n})")
    return settings, redacted, writes


# -- task definitions: DescribeTaskDefinition's (and register-task-definition's) shape → records ------------

def task_definition_records(td: dict[str, Any], *, account: str, region: str,
                            arn: str | None = None) -> list[Any]:
    """The records of one task definition as DescribeTaskDefinition returns it (`taskDefinition`) or as
    `register-task-definition --cli-input-json` takes it. `arn` names a definition that has none yet (a file).

    Environment variable values are read only to judge whether they look like credentials; none is kept."""
    arn = td.get("taskDefinitionArn") or arn or td.get("family", "")
    containers = td.get("containerDefinitions") or []
    platform = td.get("runtimePlatform") or {}
    out: list[Any] = [EcsTaskDefinition(
        account=account, region=region, task_definition_arn=arn, family=td.get("family", ""),
        revision=int(td.get("revision") or 0), status=td.get("status", ""), network_mode=td.get("networkMode"),
        requires_compatibilities=list(td.get("requiresCompatibilities") or []),
        compatibilities=list(td.get("compatibilities") or []),
        cpu=str(td["cpu"]) if td.get("cpu") is not None else None,
        memory=str(td["memory"]) if td.get("memory") is not None else None,
        cpu_architecture=platform.get("cpuArchitecture"), os_family=platform.get("operatingSystemFamily"),
        container_count=len(containers))]
    for c in containers:
        out.append(EcsContainerDefinition(
            account=account, region=region, task_definition_arn=arn, name=c.get("name", ""),
            image=c.get("image", ""), cpu=c.get("cpu"), memory=c.get("memory"),
            memory_reservation=c.get("memoryReservation"), essential=bool(c.get("essential", True)),
            log_driver=(c.get("logConfiguration") or {}).get("logDriver"),
            has_health_check=bool(c.get("healthCheck")),
            repository_credentials=(c.get("repositoryCredentials") or {}).get("credentialsParameter")))
        for env in c.get("environment") or []:
            name, value = str(env.get("name") or ""), str(env.get("value") or "")
            reason = credential_in(value) or ("name" if value and _SECRET_ENV_NAME.search(name) else None)
            if reason:
                out.append(EcsEnvironmentSecret(account, region, arn, c.get("name", ""), name, reason))
    return out


# -- task definition files (`ecrwise ecs lint`) --------------------------------------------------------------
# The fields the checks read, in the types RegisterTaskDefinition takes (API reference,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html); every other
# field is allowed and ignored, so any definition the AWS CLI accepts loads.

class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class _EnvironmentVariable(_Model):
    name: StrictStr
    value: StrictStr


class _ContainerDefinition(_Model):
    name: StrictStr
    image: StrictStr
    cpu: StrictInt | None = None
    memory: StrictInt | None = None
    memoryReservation: StrictInt | None = None
    essential: StrictBool | None = None
    environment: list[_EnvironmentVariable] | None = None


class _RuntimePlatform(_Model):
    operatingSystemFamily: StrictStr | None = None
    cpuArchitecture: StrictStr | None = None


class TaskDefinitionDocument(_Model):
    family: StrictStr = PydanticField(min_length=1)
    containerDefinitions: list[_ContainerDefinition] = PydanticField(min_length=1)
    # The task's cpu and memory are strings in the API ("1024", "1 vCPU", "2 GB"); JSON numbers pass too.
    cpu: StrictStr | StrictInt | None = None
    memory: StrictStr | StrictInt | None = None
    networkMode: StrictStr | None = None
    requiresCompatibilities: list[StrictStr] | None = None
    runtimePlatform: _RuntimePlatform | None = None


class DescribeTaskDefinitionDocument(_Model):
    taskDefinition: TaskDefinitionDocument


def load_task_definition(path: str | Path) -> list[Any]:
    """The records of one task-definition file: `register-task-definition --cli-input-json` input or
    `describe-task-definition` output. Any problem is an InputError naming the file and the JSON path."""
    from ecrwise.inputs import load_document, validate

    doc = load_document(path, what="task definition")
    if isinstance(doc, dict) and "taskDefinition" in doc:
        validate(doc, DescribeTaskDefinitionDocument, source=str(path))
        doc = doc["taskDefinition"]
    else:
        validate(doc, TaskDefinitionDocument, source=str(path))
    return task_definition_records(doc, account="", region="", arn=f"{path}#{doc['family']}")
