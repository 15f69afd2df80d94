"""ECR registry settings collector (family "registry"): the replication configuration (DescribeRegistry),
pull-through cache rules and repository creation templates of each scanned region. Three requests a region.

A call the endpoint does not answer (denied, or an API the stand-in lacks) is a recorded problem, never a
silent "none configured".
"""
from __future__ import annotations

from typing import Any, Callable

import botocore.exceptions

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.records import registry as registry_records
from ecrwise.records.registry import CreationTemplate, PullThroughCacheRule, ReplicationDestination

IAM_ACTIONS = [
    "ecr:DescribeRegistry",
    "ecr:DescribePullThroughCacheRules",
    "ecr:DescribeRepositoryCreationTemplates",
]


def region_task(account: Account, region: str) -> Task:
    return Task("registry", account.account_id, region, f"{account.account_id}/{region}/registry",
                lambda: collect_registry(account, region))


def _call(result: TaskResult, what: str, fn: Any) -> Any:
    try:
        return fn()
    except botocore.exceptions.ClientError as e:
        result.problems.append((e.response["Error"].get("Code", "ClientError"), f"registry: {what}: {e}"))
    except botocore.exceptions.BotoCoreError as e:
        result.problems.append(("Unreachable", f"registry: {what}: {e}"))
    return None


def collect_registry(account: Account, region: str) -> TaskResult:
    client = account.client("ecr", region)
    result = TaskResult()
    acct = account.account_id

    reg = _call(result, "DescribeRegistry", client.describe_registry)
    if reg is not None:
        for n, rule in enumerate((reg.get("replicationConfiguration") or {}).get("rules", [])):
            prefixes = [f["filter"] for f in rule.get("repositoryFilters", [])
                        if f.get("filterType", "PREFIX_MATCH") == "PREFIX_MATCH"]
            for dest in rule.get("destinations", []):
                result.records.append(ReplicationDestination(
                    acct, region, n, dest["region"], dest.get("registryId", acct), prefixes))

    def every(operation: str, key: str) -> Callable[[], list[dict[str, Any]]]:
        return lambda: [item for page in client.get_paginator(operation).paginate() for item in page.get(key, [])]

    cache_rules = every("describe_pull_through_cache_rules", "pullThroughCacheRules")
    for r in _call(result, "DescribePullThroughCacheRules", cache_rules) or []:
        result.records.append(PullThroughCacheRule(acct, region, r["ecrRepositoryPrefix"], r.get("upstreamRegistryUrl", ""),
                                                   r.get("upstreamRegistry")))

    templates = every("describe_repository_creation_templates", "repositoryCreationTemplates")
    for t in _call(result, "DescribeRepositoryCreationTemplates", templates) or []:
        result.records.append(CreationTemplate(acct, region, t["prefix"], list(t.get("appliedFor", [])),
                                               t.get("lifecyclePolicy") or None, t.get("imageTagMutability")))
    return result


FAMILY = CollectorFamily(name="registry", records=(registry_records,), iam_actions=tuple(IAM_ACTIONS),
                         region_task=region_task, warn=("registry",))
