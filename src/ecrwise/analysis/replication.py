"""Replication and repositories ECR creates itself: pure functions over the registry records and the inventory.

- Each replicated copy is stored and billed in its destination region ("a lifecycle policy can only take an
  action on repositories in the Region it was created in. Therefore, if you have replication turned on you
  may want to create a lifecycle policy in each Region and account you are replicating your repositories
  to", https://docs.aws.amazon.com/AmazonECR/latest/userguide/lp_creation.html).
- A replication rule's repository filters are name prefixes (PREFIX_MATCH); a rule without filters replicates
  every repository of the region (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_RepositoryFilter.html).
- Replication moves, each month, the layers of the images pushed that month that the repository did not
  already hold; they are priced as inter-Region data transfer (`ecr_replication_transfer_gb`).
- A repository creation template applies to repositories whose name starts with its prefix (`ROOT`: every
  repository no other template matches) and that ECR creates for the purposes in `appliedFor`
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates.html).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ecrwise.records.ecr import Repository
from ecrwise.records.registry import CreationTemplate, PullThroughCacheRule, ReplicationDestination

Key = tuple[str, str, str]


def filter_matches(prefixes: list[str], name: str) -> bool:
    return not prefixes or any(name.startswith(p) for p in prefixes)


@dataclass(frozen=True)
class Replica:
    source: Repository
    destination_account: str
    destination_region: str
    source_bytes: int  # what the source stores: the copy holds the same layers
    # The destination copy as scanned; None when that account and region were not scanned or it is absent.
    copy: Repository | None
    copy_bytes: int | None
    destination_scanned: bool
    transfer_bytes_30d: int  # layers first stored in the source in the last 30 days

    @property
    def key(self) -> Key:
        return (self.destination_account, self.destination_region, self.source.name)


def replicas(repos: list[Repository], destinations: list[ReplicationDestination], stored: dict[Key, int],
             new: dict[Key, int], scanned: set[tuple[str, str]]) -> list[Replica]:
    """Every (source repository, destination) a replication rule covers, one per pair (several rules naming
    the same destination replicate once). `new`: per repository, the bytes of distinct layers only images
    pushed in the last 30 days reference (`repository_images.new_layer_bytes`), what replication copied."""
    by_key = {(r.account, r.region, r.name): r for r in repos}
    out: dict[tuple[Key, str, str], Replica] = {}
    for d in destinations:
        for r in repos:
            if (r.account, r.region) != (d.account, d.region) or not filter_matches(d.repository_prefixes, r.name):
                continue
            if (d.destination_account, d.destination_region) == (r.account, r.region):
                continue
            pair = ((r.account, r.region, r.name), d.destination_account, d.destination_region)
            if pair in out:
                continue
            copy = by_key.get((d.destination_account, d.destination_region, r.name))
            out[pair] = Replica(r, d.destination_account, d.destination_region,
                                stored.get((r.account, r.region, r.name), 0), copy,
                                stored.get((copy.account, copy.region, copy.name)) if copy else None,
                                (d.destination_account, d.destination_region) in scanned,
                                new.get((r.account, r.region, r.name), 0))
    return sorted(out.values(), key=lambda x: (x.source.region, x.source.name, x.destination_region))


@dataclass(frozen=True)
class CreatedRepository:
    """A repository ECR creates itself (a pull-through cache or a replica), and whether a creation template
    would give new ones like it a lifecycle policy."""
    repository: Repository
    purpose: str  # PULL_THROUGH_CACHE or REPLICATION
    via: str  # the cache rule's prefix, or the source region
    template: CreationTemplate | None  # the template ECR would apply to it
    reasons: list[str] = field(default_factory=list)

    @property
    def template_has_policy(self) -> bool:
        return self.template is not None and bool(self.template.lifecycle_policy)


def template_for(templates: list[CreationTemplate], account: str, region: str, name: str,
                 purpose: str) -> CreationTemplate | None:
    """The template ECR applies: the longest matching prefix for that purpose, else ROOT."""
    mine = [t for t in templates if (t.account, t.region) == (account, region) and purpose in t.applied_for]
    named = [t for t in mine if t.prefix != "ROOT" and (name == t.prefix or name.startswith(t.prefix.rstrip("/") + "/"))]
    if named:
        return max(named, key=lambda t: len(t.prefix))
    return next((t for t in mine if t.prefix == "ROOT"), None)


def created_repositories(repos: list[Repository], cache_rules: list[PullThroughCacheRule],
                         replica_list: list[Replica], templates: list[CreationTemplate]) -> list[CreatedRepository]:
    out: dict[Key, CreatedRepository] = {}
    for r in repos:
        for rule in cache_rules:
            if (rule.account, rule.region) == (r.account, r.region) and r.name.startswith(rule.prefix.rstrip("/") + "/"):
                out[(r.account, r.region, r.name)] = CreatedRepository(
                    r, "PULL_THROUGH_CACHE", rule.prefix,
                    template_for(templates, r.account, r.region, r.name, "PULL_THROUGH_CACHE"))
    for rep in replica_list:
        if rep.copy is None:
            continue
        c = rep.copy
        out.setdefault((c.account, c.region, c.name), CreatedRepository(
            c, "REPLICATION", rep.source.region, template_for(templates, c.account, c.region, c.name, "REPLICATION")))
    return sorted(out.values(), key=lambda x: (x.repository.region, x.repository.name))
