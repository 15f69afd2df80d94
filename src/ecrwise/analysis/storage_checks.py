"""ECR storage checks (family "storage"). Pure.

Every figure comes from the analyses that own it, never recomputed here: stored bytes, monthly cost and last
push/pull per repository from `analysis.inventory` (the `inventory` fact); what a lifecycle policy would expire
and the bytes it frees from the lifecycle engine, and what each repository's images hold, from the one pass
over the images (`analysis.repository_images`, read through `image_pass`); images that ECS runs or may
roll back to from `analysis.in_use` (the `in_use` fact). What is left here is the judgement: which repositories
deserve a finding, and the money it is worth. Each check's options are its model below (`--list-checks`).

Repositories tagged `ecrwise:retain` are kept on purpose: no finding tells anyone to prune or delete them.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from pydantic import field_validator

from ecrwise.analysis.checks import CheckContext, CheckOptions, Finding, check, fact, option
from ecrwise.analysis.facts import STANDARD_ITEM, Key, in_use, inventory
from ecrwise.analysis.inventory import RepoRow
from ecrwise.analysis.repository_images import RepositoryPass, repository_pass
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.pricing.money import storage_month
from ecrwise.records.ecr import ImageLayer, Repository

DOCS = "docs/reports.md"
# The tag lifecycle rollout honours (remediate/lifecycle_rollout.py RETAIN_TAG; a test keeps them equal):
# a repository tagged so is kept on purpose, so no finding tells anyone to prune or delete it.
RETAIN_TAG = "ecrwise:retain"


def retained(repo: Repository) -> bool:
    return str(repo.tags.get(RETAIN_TAG, "")).strip().lower() in ("true", "yes", "1")


def normalise_tag_key(key: str) -> str:
    """`Cost-Center`, `cost_center`, `CostCenter` and `cost center` are one key to a FinOps team."""
    return re.sub(r"[\s_\-:.]", "", key).lower()


# -- what the storage checks share ---------------------------------------------------------------------------

@dataclass
class StorageIndex:
    rows: dict[Key, RepoRow]
    repos: dict[Key, Repository]


@fact(reads=("repositories",), uses=(inventory,))
def storage_index(ctx: Any) -> StorageIndex:
    """The inventory's rows and the repositories, by repository."""
    return StorageIndex({r.key: r for r in inventory(ctx).rows},
                        {(r.account, r.region, r.name): r for r in ctx.records.of(Repository)})


@fact(reads=("image_layers",))
def repositories_storing(ctx: Any, layers: frozenset[str]) -> dict[str, int]:
    """How many repositories reference each of `layers` (none asked: nothing read). From a store, the layer
    references stream past (store/sql/image_layer_rows.sql) and only those of `layers` are counted."""
    if not layers:
        return {}
    seen: dict[str, set[Key]] = defaultdict(set)
    r = ctx.records
    if r.stored:
        for rows in r.fact_batches("image_layer_rows", [ImageLayer]):
            for account, region, repository, _, ld, _ in rows:
                if ld in layers:
                    seen[ld].add((account, region, repository))
    else:
        for x in r.of(ImageLayer):  # records in memory: read as the store's path reads, so the reads match
            if x.layer_digest in layers:
                seen[x.layer_digest].add((x.account, x.region, x.repository))
    return {ld: len(keys) for ld, keys in seen.items()}


def image_pass(ctx: Any) -> RepositoryPass:
    """The one pass over the snapshot's images (`analysis.repository_images`) with this session's storage
    options, whichever check asks first: the template no-lifecycle-policy simulates and the large-image
    threshold are its arguments, so every check that reads the pass shares one."""
    values = ctx.session.values
    template = values.get("storage.lifecycle_template", NoLifecyclePolicyOptions.model_fields["lifecycle_template"].default)
    gib = values.get("storage.large_image_gib", LargeImageOptions.model_fields["large_image_gib"].default)
    return repository_pass(ctx, template, int(gib * GIB))


def money(nbytes: int, book: PriceBook, region: str, what: str) -> tuple[float, dict[str, Any]]:
    cost, arithmetic = storage_month(nbytes, book.price(region, STANDARD_ITEM))
    return cost, {"what": what, **arithmetic}


def rollout_fix(template: str, repository: str) -> str:
    """Lifecycle rollout (plan, backup, protect what ECS runs, apply) of a shipped template to one repository."""
    return (f"ecrwise lifecycle template {template} > {template}.json && ecrwise lifecycle plan --policy "
            f"{template}.json --repository {repository} --out plan.json && ecrwise lifecycle apply plan.json --apply")


def amend_fix(repo: Repository) -> str:
    """A repository that has a policy: add an untagged rule to it, then roll the amended policy out."""
    return (f"aws ecr get-lifecycle-policy --repository-name {repo.name} --region {repo.region} "
            f"--query lifecyclePolicyText --output text > policy.json  # add an untagged rule, then: "
            f"ecrwise lifecycle plan --policy policy.json --repository {repo.name} --out plan.json")


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _days(now: datetime, t: datetime | None) -> int | None:
    return None if t is None else max(0, (now - t).days)


# -- ecr.no-lifecycle-policy -----------------------------------------------------------------------------

class NoLifecyclePolicyOptions(CheckOptions):
    lifecycle_template: str = option("playbook-base", "Policy the no-lifecycle-policy savings are simulated with.",
                                     flag="--lifecycle-template")

    @field_validator("lifecycle_template")
    @classmethod
    def _known(cls, v: str) -> str:
        from ecrwise.lifecycle.templates import TEMPLATES

        if v not in TEMPLATES:
            raise ValueError(f"choose one of {', '.join(TEMPLATES)}")
        return v


@check("ecr.no-lifecycle-policy", severity="medium",
       title=f"Repository without a lifecycle policy (repositories tagged {RETAIN_TAG} are excluded)",
       facts=(storage_index, repository_pass), options=NoLifecyclePolicyOptions,
       docs=f"{DOCS}#ecr-no-lifecycle-policy",
       risk="Every image ever pushed stays, and is billed, until someone deletes it by hand.",
       recommendation="Put a lifecycle policy on the repository (the FinOps playbook's base policy is a start: "
                      "untagged > 1, latest* > 1, v* > 9, any > 20): old and untagged images then go by themselves. "
                      "Back up any images you must keep first, and protect what ECS runs.")
def no_lifecycle_policy(ctx: CheckContext) -> Iterable[Finding]:
    sh = storage_index(ctx)
    template = ctx.options.lifecycle_template
    results = image_pass(ctx).template
    targets = sorted(k for k, r in sh.repos.items() if r.lifecycle_policy is None and not retained(r))
    for key in targets:
        repo, row, res = sh.repos[key], sh.rows.get(key), results[key]
        ev = res.evaluation
        arithmetic = {"what": f"layers no surviving image references once {template} has run", **res.arithmetic(),
                      "price": ctx.book.price(repo.region, STANDARD_ITEM).as_dict()}
        message = (f"{repo.name}: no lifecycle policy; the {template} policy would expire {len(ev.expire)} of "
                   f"{len(ev.expire) + ev.kept_count} images and free {ev.freed_bytes / GIB:,.2f} GiB")
        if ev.transition and res.archive is not None:
            # A transition is priced net of the archive class's 90-day minimum and the restores of images
            # pulled recently (lifecycle.simulate.archive_economics), not at the price difference alone.
            arithmetic["archive_economics"] = res.archive.to_dict()
            arithmetic["net_monthly_savings"] = res.net_arithmetic()
            message += f", and archive {len(ev.transition)}"
            if res.archive.net_window_usd < 0:
                message += (f" (archiving costs ${-res.archive.net_window_usd:.2f} more than it saves over the "
                            f"{res.archive.minimum_days}-day minimum)")
        yield ctx.finding(
            repo, resource=repo.arn, severity=None if ev.freed_bytes else "low",
            message=message,
            monthly_cost_usd=row.monthly_cost if row else None, monthly_savings_usd=res.net_monthly_savings_usd,
            evidence={"repository": repo.name, "policy": template, "images": len(ev.expire) + ev.kept_count,
                      "expire_count": len(ev.expire), "held_by_index": len(ev.held),
                      "stored_bytes": ev.stored_bytes, "freed_bytes": ev.freed_bytes, "at": iso(ctx.now)},
            arithmetic=arithmetic, fix=rollout_fix(template, repo.name))


# -- ecr.redundant-repository ----------------------------------------------------------------------------

class RedundantOptions(CheckOptions):
    redundant_days: int = option(90, "No push and no pull for this many days makes a repository redundant.",
                                 flag="--redundant-days", ge=1, le=36500)


@check("ecr.redundant-repository", title="Repository with no push and no pull for months", severity="medium",
       facts=(storage_index, in_use), options=RedundantOptions,
       docs=f"{DOCS}#ecr-redundant-repository",
       risk="A repository nobody pushes to or pulls from is billed in full every month for nothing.",
       recommendation="Confirm with its owner that nothing needs it (the playbook's 'redundant' repositories), "
                      "keep the images you must (or move them to the archive storage class), then delete the "
                      "repository: its whole storage is saved.")
def redundant_repository(ctx: CheckContext) -> Iterable[Finding]:
    sh, used = storage_index(ctx), in_use(ctx)
    days = ctx.options.redundant_days
    cutoff = ctx.now - timedelta(days=days)
    for key in sorted(sh.repos):
        repo, row = sh.repos[key], sh.rows.get(key)
        if row is None or retained(repo):
            continue
        pushed = row.last_pushed_at or repo.created_at
        if pushed is None or pushed > cutoff:
            continue
        if row.last_pulled_at is not None and row.last_pulled_at > cutoff:
            continue
        if row.pulls_30d > 0 and days >= 30:
            continue  # pulled this month even though no image records a pull time
        if used.digests(key):
            continue  # ECS runs (or may roll back to) one of its images: not redundant, whatever the metrics
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: no push for {_days(ctx.now, pushed)} days and "
            + (f"no pull for {_days(ctx.now, row.last_pulled_at)} days" if row.last_pulled_at
               else "no pull on record")
            + f" (threshold {days} days); it stores {row.stored_bytes / GIB:,.2f} GiB",
            monthly_cost_usd=row.monthly_cost, monthly_savings_usd=row.monthly_cost,
            evidence={"repository": repo.name, "threshold_days": days, "last_pushed_at": iso(row.last_pushed_at),
                      "created_at": iso(repo.created_at), "last_pulled_at": iso(row.last_pulled_at),
                      "last_pulled_source": row.last_pulled_source, "pulls_30d": row.pulls_30d,
                      "images": row.images, "stored_bytes": row.stored_bytes, "in_use_by_ecs": False},
            arithmetic={"what": "the repository's whole storage", **row.arithmetic},
            fix=f"aws ecr delete-repository --repository-name {repo.name} --force --region {repo.region}")


# -- ecr.untagged-bytes ----------------------------------------------------------------------------------

@check("ecr.untagged-bytes", title="Bytes only untagged images hold", severity="low",
       facts=(storage_index, repository_pass), docs=f"{DOCS}#ecr-untagged-bytes",
       risk="A rebuilt tag leaves its previous image untagged; its own layers are billed until it goes.",
       recommendation="Expire untagged images with a lifecycle rule (tagStatus untagged, sinceImagePushed a few "
                      "days): a rebuilt tag leaves its previous image untagged, and its own layers are billed "
                      "until it goes.")
def untagged_bytes(ctx: CheckContext) -> Iterable[Finding]:
    sh, images = storage_index(ctx), image_pass(ctx)
    for key in sorted(sh.repos):
        repo, summary = sh.repos[key], images.of(key)
        nbytes = summary.untagged_only_bytes
        if not nbytes:
            continue
        cost, arithmetic = money(nbytes, ctx.book, repo.region, "layers only untagged images reference")
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: {summary.untagged} untagged image(s) alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "untagged_images": summary.untagged, "untagged_only_bytes": nbytes,
                      "oldest_untagged_pushed_at": iso(summary.oldest_untagged_pushed_at),
                      "lifecycle_policy": repo.lifecycle_policy is not None,
                      "digests": list(summary.untagged_digests)},
            arithmetic=arithmetic,
            fix=rollout_fix("untagged-only", repo.name) if repo.lifecycle_policy is None else amend_fix(repo))


# -- ecr.large-image -------------------------------------------------------------------------------------

class LargeImageOptions(CheckOptions):
    # Bounded so a typo (1e308, inf) is an error naming the option rather than an overflow; no image is 1 TiB.
    large_image_gib: float = option(1.0, "Images above this many GiB are large.", flag="--large-image-gib",
                                    gt=0, le=1024)


@check("ecr.large-image", title="Images larger than the threshold", severity="low",
       facts=(storage_index, repository_pass, repositories_storing), options=LargeImageOptions,
       docs=f"{DOCS}#ecr-large-image",
       risk="Large images cost storage in every repository that holds them and download time and NAT bytes on "
            "every Fargate task start.",
       recommendation="Make the image smaller: a slimmer base image, multi-stage builds that leave compilers and "
                      "caches behind, fewer and smaller layers. Every task start on Fargate downloads all of it.")
def large_image(ctx: CheckContext) -> Iterable[Finding]:
    sh, images = storage_index(ctx), image_pass(ctx)
    threshold = int(ctx.options.large_image_gib * GIB)
    found = [(key, large) for key in sorted(sh.repos) if (large := images.of(key).large) is not None]
    # How many repositories store each layer shown: a layer in many is a shared base image, not this team's
    # build. Counted for those layers only, and not at all when no image is large.
    stored_in = repositories_storing(ctx, frozenset(ld for _, large in found for ld, _, _ in large.layers))
    for key, large in found:
        repo, largest = sh.repos[key], large.images[0]
        top_share = sum(s for _, s, _ in large.layers[:2]) / largest.size_bytes if largest.size_bytes else 0.0
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: {large.count} image(s) over {threshold / GIB:g} GiB (largest "
            f"{largest.size_bytes / GIB:,.2f} GiB{', ' + ', '.join(largest.tags[:2]) if largest.tags else ''}); "
            f"its {min(2, len(large.layers))} largest layer(s) are {top_share:.0%} of it",
            evidence={"repository": repo.name, "threshold_bytes": threshold, "large_images": large.count,
                      "images": [{"digest": i.digest, "tags": list(i.tags), "size_bytes": i.size_bytes,
                                  "pushed_at": iso(i.pushed_at)} for i in large.images],
                      "largest_image_layers": [
                          {"digest": ld, "size_bytes": size, "share_of_image": round(size / largest.size_bytes, 4),
                           "in_large_images": refs, "repositories_storing_it": stored_in.get(ld, 0)}
                          for ld, size, refs in large.layers]})


# -- ecr.no-cost-allocation-tags -------------------------------------------------------------------------

class CostTagOptions(CheckOptions):
    cost_tags: tuple[str, ...] = option(("team", "cost-center", "owner", "project"),
                                        "Cost allocation tag keys, any of which attributes a repository's cost.",
                                        flag="--cost-tag", metavar="KEY", min_length=1)

    @field_validator("cost_tags")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not all(k.strip() for k in v):
            raise ValueError("a tag key is empty")
        return v


@check("ecr.no-cost-allocation-tags", title="Repository without cost allocation tags", severity="low",
       facts=(storage_index,), options=CostTagOptions,
       docs=f"{DOCS}#ecr-no-cost-allocation-tags",
       risk="Its cost is attributed to nobody in Cost Explorer and the Cost and Usage Report.",
       recommendation="Tag the repository with who pays for it (team, cost-center, owner or project) and activate "
                      "the key as a cost allocation tag in the Billing console: its storage then shows per team "
                      "in Cost Explorer and the Cost and Usage Report.")
def no_cost_allocation_tags(ctx: CheckContext) -> Iterable[Finding]:
    sh = storage_index(ctx)
    keys = ctx.options.cost_tags
    wanted = {normalise_tag_key(k) for k in keys}
    for key in sorted(sh.repos):
        repo, row = sh.repos[key], sh.rows.get(key)
        if any(normalise_tag_key(k) in wanted and str(v).strip() for k, v in repo.tags.items()):
            continue
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: none of the cost allocation tags {', '.join(keys)}; its "
                    f"${(row.monthly_cost if row else 0.0):,.2f}/month is attributed to nobody",
            monthly_cost_usd=row.monthly_cost if row else None,
            evidence={"repository": repo.name, "tags": sorted(repo.tags), "wanted_any_of": list(keys)},
            arithmetic=dict(row.arithmetic) if row else {},
            fix=f"aws ecr tag-resource --resource-arn {repo.arn} --tags Key={keys[0]},Value=OWNER "
                f"--region {repo.region}")


# -- ecr.mutable-tags ------------------------------------------------------------------------------------

@check("ecr.mutable-tags", title="Repository allows mutable tags", severity="low",
       facts=(storage_index, repository_pass),
       docs=f"{DOCS}#ecr-mutable-tags",
       risk="A push can move any tag to another image, so what a tag protects, and what is in use by tag, holds "
            "only until the next push.",
       recommendation="Turn on tag immutability (put-image-tag-mutability IMMUTABLE) and push each build under a "
                      "new tag (a version or git SHA); keep tags mutable only where a tag must move, such as "
                      "pull-through cache repositories.")
def mutable_tags(ctx: CheckContext) -> Iterable[Finding]:
    # ECR User Guide, "Preventing image tags from being overwritten in Amazon ECR": with MUTABLE a push may
    # reuse an existing tag; IMMUTABLE refuses it (ImageTagAlreadyExistsException). *_WITH_EXCLUSION settings
    # are a deliberate choice per tag, so only plain MUTABLE is flagged.
    sh, images = storage_index(ctx), image_pass(ctx)
    for key in sorted(sh.repos):
        repo = sh.repos[key]
        if repo.tag_mutability != "MUTABLE":
            continue
        tagged = images.of(key).tagged
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: tags are mutable, so a push can move any of its {tagged} tagged image(s)' "
                    "tags to another image; a lifecycle rule keeping images by tag, and ECS running an image by "
                    "tag, then mean a different image",
            evidence={"repository": repo.name, "tag_mutability": repo.tag_mutability, "tagged_images": tagged,
                      "lifecycle_policy": repo.lifecycle_policy is not None},
            fix=f"aws ecr put-image-tag-mutability --repository-name {repo.name} --image-tag-mutability IMMUTABLE "
                f"--region {repo.region}")
