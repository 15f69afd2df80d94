"""Registry checks (family "registry"): replication and the repositories ECR creates itself. Pure.

The arithmetic is in `analysis.replication`; stored bytes come from the inventory.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from ecrwise.analysis.checks import CheckContext, Finding, check, fact
from ecrwise.analysis.facts import STANDARD_ITEM, inventory
from ecrwise.analysis.replication import CreatedRepository, Replica, created_repositories, replicas
from ecrwise.analysis.repository_images import repository_pass
from ecrwise.analysis.storage_checks import image_pass
from ecrwise.pricing.book import GIB
from ecrwise.pricing.money import storage_month
from ecrwise.records.ecr import Repository
from ecrwise.records.registry import CreationTemplate, PullThroughCacheRule, ReplicationDestination

DOCS = "docs/reports.md"
TRANSFER_ITEM = "ecr_replication_transfer_gb"
# The policy a suggested creation template carries: the shipped untagged-only template's rule plus a cap.
SUGGESTED_TEMPLATE_POLICY = {"rules": [
    {"rulePriority": 1, "description": "Expire untagged images 14 days after push",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "Keep the 30 most recent images",
     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
     "action": {"type": "expire"}},
]}


@dataclass
class RegistryFacts:
    replicas: list[Replica]
    created: list[CreatedRepository]


@fact(reads=("repositories", "ecr_replication_destinations", "ecr_pull_through_cache_rules",
             "ecr_creation_templates"), uses=(inventory, repository_pass))
def registry_facts(ctx: Any) -> RegistryFacts:
    """Replicated copies per destination and the repositories ECR creates itself (`analysis.replication`)."""
    r = ctx.records
    repos, destinations = r.of(Repository), r.of(ReplicationDestination)
    stored = {row.key: row.stored_bytes for row in inventory(ctx).rows}
    scanned = {(x.account, x.region) for x in repos} | {(d.account, d.region) for d in destinations}
    # New-layer bytes (what replication copies) need every repository's images: read only when a rule exists.
    new = ({k: s.new_layer_bytes_30d for k, s in image_pass(ctx).images.items() if s.new_layer_bytes_30d}
           if destinations else {})
    reps = replicas(repos, destinations, stored, new, scanned)
    return RegistryFacts(reps, created_repositories(repos, r.of(PullThroughCacheRule), reps, r.of(CreationTemplate)))


@check("ecr.replica-without-lifecycle-policy", severity="medium",
       title="Replicated repository whose destination copy has no lifecycle policy",
       facts=(registry_facts,), docs=f"{DOCS}#ecr-replica-without-lifecycle-policy",
       risk="Each replicated copy is stored and billed in its destination region, and the source's lifecycle "
            "policy does not act there: the copy keeps every image ever replicated.",
       recommendation="Put a lifecycle policy on the copy in each destination region (or a repository creation "
                      "template for REPLICATION that carries one, so new copies get it).")
def replica_without_lifecycle_policy(ctx: CheckContext) -> Iterable[Finding]:
    reps = registry_facts(ctx).replicas
    # Replicated storage per destination (account, region), over every copy, with or without a policy.
    per_destination: dict[tuple[str, str], int] = defaultdict(int)
    for rep in reps:
        per_destination[(rep.destination_account, rep.destination_region)] += (
            rep.copy_bytes if rep.copy_bytes is not None else rep.source_bytes)
    for rep in reps:
        src = rep.source
        nbytes = rep.copy_bytes if rep.copy_bytes is not None else rep.source_bytes
        dest_total = per_destination[(rep.destination_account, rep.destination_region)]
        dest_cost, _ = storage_month(dest_total, ctx.book.price(rep.destination_region, STANDARD_ITEM))
        cost, arithmetic = storage_month(nbytes, ctx.book.price(rep.destination_region, STANDARD_ITEM))
        transfer = ctx.book.price(src.region, TRANSFER_ITEM)
        t_usd = rep.transfer_bytes_30d / GIB * transfer.usd
        arithmetic = {"storage": arithmetic, "replication_transfer_30d": {
            "bytes": rep.transfer_bytes_30d, "price": transfer.as_dict(),
            "formula": f"{rep.transfer_bytes_30d} B / 2^30 × ${transfer.usd}/GB = ${t_usd:.4f}"}}
        evidence = {"repository": src.name, "source_region": src.region, "destination_region": rep.destination_region,
                    "destination_account": rep.destination_account, "replicated_bytes": nbytes,
                    "source_bytes": rep.source_bytes, "source_lifecycle_policy": src.lifecycle_policy is not None,
                    "destination_scanned": rep.destination_scanned, "copy_found": rep.copy is not None,
                    "replication_transfer_usd_30d": round(t_usd, 2),
                    "destination_replicated_bytes": dest_total,
                    "destination_replicated_monthly_usd": round(dest_cost, 2)}
        if rep.copy is not None:
            if rep.copy.lifecycle_policy is not None:
                continue
            yield ctx.finding(
                rep.copy, resource=rep.copy.arn,
                message=f"{src.name}: replicated from {src.region} to {rep.destination_region}, where its copy has no "
                        f"lifecycle policy and holds {nbytes / GIB:,.2f} GiB",
                monthly_cost_usd=cost, evidence=evidence, arithmetic=arithmetic,
                fix=f"aws ecr put-lifecycle-policy --repository-name {src.name} --region {rep.destination_region} "
                    f"--lifecycle-policy-text file://policy.json")
        else:
            # Not scanned there (or not yet created): the copy's policy is unknown, never assumed present.
            # "Scanned" is inferred from the records (a repository or a replication setting of that region):
            # a scanned region holding neither reads as not scanned, which says no more than is known.
            why = ("is not in this snapshot (no repository of it was scanned)" if not rep.destination_scanned
                   else "holds no copy yet")
            yield ctx.finding(
                src, resource=src.arn, severity="low", account=rep.destination_account,
                region=rep.destination_region,
                message=f"{src.name}: replicated from {src.region} to {rep.destination_region}, which {why}; the "
                        f"copy's lifecycle policy is unknown (it will hold up to {nbytes / GIB:,.2f} GiB)",
                monthly_cost_usd=cost, evidence=evidence, arithmetic=arithmetic,
                fix=f"ecrwise scan --region {src.region} --region {rep.destination_region}")


def suggested_template(purpose: str, prefix: str) -> dict[str, Any]:
    """The creation template ecrwise suggests, in CreateRepositoryCreationTemplate's request shape."""
    return {"prefix": prefix, "appliedFor": [purpose],
            "description": "ecrwise: a lifecycle policy for repositories ECR creates",
            "imageTagMutability": "MUTABLE" if purpose == "PULL_THROUGH_CACHE" else "IMMUTABLE",
            "lifecyclePolicy": json.dumps(SUGGESTED_TEMPLATE_POLICY, separators=(",", ":"))}


@check("ecr.created-repository-without-lifecycle-policy", severity="medium",
       title="Pull-through cache or replica repository with no lifecycle policy and no template that gives one",
       facts=(registry_facts, inventory), docs=f"{DOCS}#ecr-created-repository-without-lifecycle-policy",
       risk="ECR creates these repositories itself; without a creation template carrying a lifecycle policy every "
            "new one starts with none, and cached or replicated images stay and are billed.",
       recommendation="Create a repository creation template for the purpose (PULL_THROUGH_CACHE, REPLICATION) with "
                      "a lifecycle policy (`ecrwise registry template` prints one as JSON, Terraform or "
                      "CloudFormation), and put a policy on the repositories that already exist.")
def created_repository_without_lifecycle_policy(ctx: CheckContext) -> Iterable[Finding]:
    stored = {row.key: row for row in inventory(ctx).rows}
    by_group: dict[tuple[str, str, str, str], list[CreatedRepository]] = defaultdict(list)
    for c in registry_facts(ctx).created:
        if c.repository.lifecycle_policy is not None or c.template_has_policy:
            continue
        r = c.repository
        by_group[(r.account, r.region, c.purpose, c.via)].append(c)
    for (account, region, purpose, via), group in sorted(by_group.items()):
        for c in group:
            r = c.repository
            row = stored.get((r.account, r.region, r.name))
            prefix = via if purpose == "PULL_THROUGH_CACHE" else "ROOT"
            template = suggested_template(purpose, prefix)
            yield ctx.finding(
                r, resource=r.arn,
                message=f"{r.name}: created by ECR ({purpose.lower().replace('_', ' ')}, via {via}) with no lifecycle "
                        f"policy, and {'no creation template applies' if c.template is None else 'its creation template ' + repr(c.template.prefix) + ' carries no lifecycle policy'}",
                monthly_cost_usd=row.monthly_cost if row else None,
                evidence={"repository": r.name, "purpose": purpose, "via": via,
                          "template": c.template.prefix if c.template else None,
                          "stored_bytes": row.stored_bytes if row else 0, "suggested_template": template},
                arithmetic=dict(row.arithmetic) if row else {},
                fix=f"ecrwise registry template --purpose {purpose} --prefix {prefix} --format json > template.json && "
                    f"aws ecr create-repository-creation-template --region {region} --cli-input-json file://template.json")
