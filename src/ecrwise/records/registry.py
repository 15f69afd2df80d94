"""ECR registry-level settings: replication destinations, pull-through cache rules, repository creation
templates (DescribeRegistry, DescribePullThroughCacheRules, DescribeRepositoryCreationTemplates)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReplicationDestination:
    """One destination of one replication rule of the registry in `region` (the source)."""
    __table__ = "ecr_replication_destinations"
    account: str
    region: str
    rule: int  # the rule's position in the configuration
    destination_region: str
    destination_account: str
    # PREFIX_MATCH repository filters; empty: every repository of the region is replicated.
    repository_prefixes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PullThroughCacheRule:
    __table__ = "ecr_pull_through_cache_rules"
    account: str
    region: str
    prefix: str  # ecrRepositoryPrefix: cache repositories are named PREFIX/...
    upstream_url: str
    upstream_registry: str | None = None


@dataclass(frozen=True, slots=True)
class CreationTemplate:
    """A repository creation template: the settings ECR gives repositories it creates itself."""
    __table__ = "ecr_creation_templates"
    account: str
    region: str
    prefix: str  # "ROOT" matches every repository no other template's prefix matches
    applied_for: list[str] = field(default_factory=list)  # PULL_THROUGH_CACHE, REPLICATION, CREATE_ON_PUSH
    lifecycle_policy: str | None = None
    tag_mutability: str | None = None
