"""ECR registry APIs moto 5.2 lacks, added to the stand-in's ECR service so it answers them over HTTP.

moto answers DescribeRegistry / PutReplicationConfiguration, but DescribePullThroughCacheRules and
DescribeRepositoryCreationTemplates (and their Create calls) end in a 500. These handlers serve them in the
botocore model's shape (`PullThroughCacheRule`, `RepositoryCreationTemplate`; API reference
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribePullThroughCacheRules.html and
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRepositoryCreationTemplates.html),
keeping their state on moto's per-account, per-region ECR backend so the stand-in's reset forgets it. This
changes the stand-in's server side only; the client ecrwise uses is untouched and parses real wire responses.
"""
from __future__ import annotations

import time
from typing import Any

_INSTALLED = False


def _state(resp: Any, name: str) -> dict[str, dict[str, Any]]:
    return resp.ecr_backend.__dict__.setdefault(f"_ecrwise_{name}", {})


def _create_pull_through_cache_rule(self: Any) -> Any:
    from moto.core.responses import ActionResult

    rule = {"ecrRepositoryPrefix": self._get_param("ecrRepositoryPrefix"),
            "upstreamRegistryUrl": self._get_param("upstreamRegistryUrl"),
            "registryId": self.current_account, "createdAt": time.time()}
    if self._get_param("upstreamRegistry"):
        rule["upstreamRegistry"] = self._get_param("upstreamRegistry")
    _state(self, "cache_rules")[rule["ecrRepositoryPrefix"]] = rule
    return ActionResult(dict(rule))


def _describe_pull_through_cache_rules(self: Any) -> Any:
    from moto.core.responses import ActionResult

    rules = list(_state(self, "cache_rules").values())
    wanted = self._get_param("ecrRepositoryPrefixes")
    if wanted:
        rules = [r for r in rules if r["ecrRepositoryPrefix"] in wanted]
    return ActionResult({"pullThroughCacheRules": rules})


def _create_repository_creation_template(self: Any) -> Any:
    from moto.core.responses import ActionResult

    template = {"prefix": self._get_param("prefix"), "appliedFor": self._get_param("appliedFor"),
                "createdAt": time.time(), "updatedAt": time.time()}
    for key in ("description", "lifecyclePolicy", "imageTagMutability", "repositoryPolicy", "resourceTags",
                "encryptionConfiguration", "customRoleArn"):
        if self._get_param(key) is not None:
            template[key] = self._get_param(key)
    _state(self, "templates")[template["prefix"]] = template
    return ActionResult({"registryId": self.current_account, "repositoryCreationTemplate": dict(template)})


def _describe_repository_creation_templates(self: Any) -> Any:
    from moto.core.responses import ActionResult

    templates = list(_state(self, "templates").values())
    wanted = self._get_param("prefixes")
    if wanted:
        templates = [t for t in templates if t["prefix"] in wanted]
    return ActionResult({"registryId": self.current_account, "repositoryCreationTemplates": templates})


def install() -> None:
    """Add the handlers to moto's ECR responses (idempotent; the stand-in calls it when it starts)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.ecr.responses import ECRResponse

    for name, fn in (("create_pull_through_cache_rule", _create_pull_through_cache_rule),
                     ("describe_pull_through_cache_rules", _describe_pull_through_cache_rules),
                     ("create_repository_creation_template", _create_repository_creation_template),
                     ("describe_repository_creation_templates", _describe_repository_creation_templates)):
        if not hasattr(ECRResponse, name):
            setattr(ECRResponse, name, fn)
    _INSTALLED = True
