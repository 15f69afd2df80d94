"""The deployment circuit-breaker fix (`ecrwise ecs fix circuit-breaker`) and its restore (`ecrwise ecs restore`):
plan from each service's live deployment configuration, write the backup durably before the first change,
apply through `ecrwise.aws.ecs_apply`. Without `apply` nothing is changed and no backup is written.

A plan entry is a dict: service_arn, region, cluster, service, action (`update`, `none: already set`,
`skip: deployment controller …`), previous and planned deployment configurations; applying adds `result`
(what AWS then reports) or `error`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecrwise import __version__
from ecrwise.aws.ecs_apply import describe_service, parse_service_arn, update_deployment_configuration
from ecrwise.errors import AwsUnavailable, UserError
from ecrwise.inputs import load_document, validate
from ecrwise.remediate.backup import write_backup
from ecrwise.remediate.integrity import check_seal, seal
from ecrwise.timefmt import iso

BACKUP_KIND = "ecs-circuit-breaker-backup"
BACKUP_PREFIX = "ecs-circuit-breaker"  # backup files are BACKUP_DIR/ecs-circuit-breaker-TIMESTAMP.json
BACKUP_FIELDS = ("service_arn", "region", "cluster", "service", "previous", "planned")
RESTORE_FIELDS = ("service_arn", "region", "cluster", "service", "previous")

Target = tuple[str, str, str, str]  # (service ARN, region, cluster, service name)


@dataclass
class Outcome:
    plan: list[dict[str, Any]]
    applied: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    backup: Path | None = None

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [p for p in self.plan if p["action"] == "update"]


def plan_circuit_breaker(session: Any, targets: list[Target], *, rollback: bool) -> list[dict[str, Any]]:
    """One entry per service: turn the circuit breaker on (with `rollback`), keeping the rest of the
    deployment configuration; services on another deployment controller are skipped."""
    plan = []
    for arn, region, cluster, name in targets:
        live = describe_service(session, region, cluster, name)
        controller = (live.get("deploymentController") or {}).get("type", "ECS")
        previous = live.get("deploymentConfiguration") or {}
        new = dict(previous)
        new["deploymentCircuitBreaker"] = {"enable": True, "rollback": rollback}
        cb = previous.get("deploymentCircuitBreaker") or {}
        action = ("skip: deployment controller " + controller if controller != "ECS"
                  else "none: already set" if cb.get("enable") and bool(cb.get("rollback")) == rollback
                  else "update")
        plan.append({"service_arn": arn, "region": region, "cluster": cluster, "service": name, "action": action,
                     "previous": previous, "planned": new})
    return plan


def _apply(session: Any, entries: list[dict[str, Any]], outcome: Outcome) -> None:
    """Set each entry's planned configuration; a failure is recorded on the entry and the rest go on."""
    for p in entries:
        try:
            p["result"] = update_deployment_configuration(session, p["region"], p["cluster"], p["service"],
                                                          p["planned"])
            outcome.applied.append(p)
        except (UserError, AwsUnavailable) as e:
            p["error"] = str(e)
            outcome.failed.append(p)


def fix_circuit_breaker(session: Any, targets: list[Target], *, rollback: bool, apply: bool,
                        backup_dir: Path | None) -> Outcome:
    """Plan; with `apply`, back up the services that change (into `backup_dir`, default
    `remediate.backup.default_backup_dir()`), then change them."""
    outcome = Outcome(plan_circuit_breaker(session, targets, rollback=rollback))
    changes = outcome.changes
    if apply and changes:
        outcome.backup = write_backup(backup_dir, BACKUP_PREFIX, seal({
            "ecrwise": __version__, "kind": BACKUP_KIND, "created_at": iso(datetime.now(timezone.utc)),
            "services": [{k: p[k] for k in BACKUP_FIELDS} for p in changes]}))
    if apply:
        _apply(session, changes, outcome)
    return outcome


# What a backup entry must hold before anything of it is sent to AWS. The deployment configuration's known
# members are typed as the ECS API defines them (DeploymentConfiguration in the ECS API Reference); members
# a newer API added pass through, and botocore checks them when the request is built.
_REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"  # us-east-1, us-gov-west-1, cn-north-1, eu-isoe-west-1
# ECS cluster and service names: up to 255 letters, numbers, hyphens and underscores (ECS API Reference,
# CreateCluster clusterName and CreateService serviceName).
_NAME = r"^[A-Za-z0-9_-]{1,255}$"
_INT32 = {"ge": 0, "le": 2**31 - 1}


class _CircuitBreaker(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    enable: bool
    rollback: bool


class _Alarms(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    alarmNames: list[str]
    enable: bool
    rollback: bool


class _DeploymentConfiguration(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    deploymentCircuitBreaker: _CircuitBreaker | None = None
    maximumPercent: int | None = Field(None, **_INT32)
    minimumHealthyPercent: int | None = Field(None, **_INT32)
    alarms: _Alarms | None = None
    strategy: str | None = None
    bakeTimeInMinutes: int | None = Field(None, **_INT32)


class _BackupEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    service_arn: str = Field(min_length=1, max_length=2048)
    region: str = Field(pattern=_REGION)
    cluster: str = Field(pattern=_NAME)
    service: str = Field(pattern=_NAME)
    previous: _DeploymentConfiguration | None
    # What the fix put; `check_restore_entries` proves it differs from `previous` only in the circuit breaker.
    planned: _DeploymentConfiguration | None


class _Backup(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    kind: Literal["ecs-circuit-breaker-backup"]
    services: list[_BackupEntry] = Field(min_length=1)


def load_backup(path: Path) -> list[dict[str, Any]]:
    """The service entries of a backup written by `fix_circuit_breaker`, validated in full (types, region and
    name formats) before anything is sent to AWS."""
    doc = load_document(path, what="backup file")
    if not isinstance(doc, dict) or doc.get("kind") != BACKUP_KIND:
        raise UserError(f"{path}: kind: not an ecrwise ECS backup (expected \"{BACKUP_KIND}\")")
    check_seal(doc, path, "`ecrwise ecs fix`", RESTORE_INSTEAD)
    if not isinstance(doc.get("services"), list) or not doc["services"]:
        raise UserError(f"{path}: services: no services to restore")
    backup = validate(doc, _Backup, source=str(path))
    return [e.model_dump(exclude_unset=True) for e in backup.services]


RESTORE_INSTEAD = "restore from an unedited backup (`ecrwise ecs fix … --apply` writes one before every change)"


def check_restore_entries(path: Path, entries: list[dict[str, Any]]) -> None:
    """What every backup `fix_circuit_breaker` writes holds, digest or not, checked before any AWS call: each
    service once; its ARN names the same region, cluster and service as the entry (the call goes to those);
    and the fix changed only the circuit breaker (`planned` is `previous` with `deploymentCircuitBreaker`
    set), so a restore can put back nothing else. UserError (exit 2) names the JSON path."""
    seen: set[str] = set()
    for n, e in enumerate(entries):
        where = f"{path}: services[{n}]"
        if not isinstance(e, dict):
            raise UserError(f"{where}: expected an object; {RESTORE_INSTEAD}")
        missing = [k for k in BACKUP_FIELDS if k not in e]
        if missing:
            raise UserError(f"{where}.{missing[0]}: missing")
        try:
            region, _, cluster, name = parse_service_arn(str(e["service_arn"]))
        except UserError:
            raise UserError(f"{where}.service_arn: not an ECS service ARN; {RESTORE_INSTEAD}") from None
        if (region, name) != (e["region"], e["service"]) or cluster not in (None, e["cluster"]):
            raise UserError(f"{where}: service_arn {e['service_arn']} does not name {e['region']} "
                            f"{e['cluster']}/{e['service']}; {RESTORE_INSTEAD}")
        if e["service_arn"] in seen:
            raise UserError(f"{where}: {e['service_arn']} appears twice; {RESTORE_INSTEAD}")
        seen.add(e["service_arn"])
        previous, planned = e["previous"] or {}, e["planned"] or {}
        if not isinstance(previous, dict) or not isinstance(planned, dict):
            raise UserError(f"{where}: previous and planned must be objects; {RESTORE_INSTEAD}")
        strip = "deploymentCircuitBreaker"
        if {k: v for k, v in previous.items() if k != strip} != {k: v for k, v in planned.items() if k != strip}:
            raise UserError(f"{where}.previous: differs from what the fix planned in more than the circuit "
                            f"breaker; {RESTORE_INSTEAD}")


def restore(session: Any, path: Path, entries: list[dict[str, Any]], *, apply: bool) -> Outcome:
    """Plan putting back each entry's recorded configuration (against the live one); with `apply`, do it.
    Every entry is re-validated (`check_restore_entries`) before the first AWS call."""
    check_restore_entries(path, entries)
    plan = []
    for n, e in enumerate(entries):
        previous = dict(e["previous"] or {})
        # A service that reported no circuit breaker had it off (AWS's default): restore that explicitly.
        previous.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
        live = describe_service(session, e["region"], e["cluster"], e["service"])
        plan.append({"service_arn": e["service_arn"], "region": e["region"], "cluster": e["cluster"],
                     "service": e["service"], "action": "update", "previous": live.get("deploymentConfiguration") or {},
                     "planned": previous})
    outcome = Outcome(plan)
    if apply:
        _apply(session, plan, outcome)
    return outcome
