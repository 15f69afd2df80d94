"""ECR storage checks (family "storage"). Pure.

Every figure comes from the analyses that own it, never recomputed here: stored bytes, monthly cost and last
push/pull per repository from `analysis.inventory` (the `inventory` fact); what a lifecycle policy would expire
and the bytes it frees from the lifecycle engine (the `template_simulation` fact); images that ECS runs or may
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
from ecrwise.analysis.facts import STANDARD_ITEM, Key, in_use, inventory, layer_index, template_simulation
from ecrwise.analysis.inventory import RepoRow
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.pricing.money import storage_month
from ecrwise.lifecycle.from_records import LayerIndex, LayerPairs
from ecrwise.records.ecr import Image, Repository

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
    images: dict[Key, list[Image]]
    layers: LayerIndex  # repo → image digest → its (layer digest, size) pairs


@fact(reads=("repositories", "images"), uses=(inventory, layer_index))
def storage_index(ctx: Any) -> StorageIndex:
    """The inventory's rows, the repositories, their images and each image's layers, by repository."""
    images: dict[Key, list[Image]] = defaultdict(list)
    for im in ctx.records.of(Image):
        images[(im.account, im.region, im.repository)].append(im)
    return StorageIndex({r.key: r for r in inventory(ctx).rows},
                        {(r.account, r.region, r.name): r for r in ctx.records.of(Repository)}, images,
                        layer_index(ctx))


def untagged_only(images: list[Image], layers: dict[str, LayerPairs],
                  in_use: dict[str, list[str]] | None = None) -> tuple[list[Image], int, set[str]]:
    """(untagged images, bytes only they hold, those layer digests) for one repository.

    Kept: tagged images, the children of a kept image index (ECR lists them as untagged images, but they
    cannot go while their index stays), and images ECS runs or may roll back to by digest. Bytes only
    untagged images hold = distinct layers they reference that no kept image references.
    """
    by_digest = {i.digest: i for i in images}
    # Referrers (signatures, SBOMs) go with their subject: kept with a kept one, gone with a leftover. One
    # whose subject is not in the repository is kept, as the lifecycle engine keeps it.
    referrers: dict[str, list[str]] = {}
    for i in images:
        if i.subject_digest is not None:
            referrers.setdefault(i.subject_digest, []).append(i.digest)
    kept = ({i.digest for i in images if i.tags} | set(in_use or ())
            | {i.digest for i in images if i.subject_digest is not None and i.subject_digest not in by_digest})
    frontier = list(kept)
    while frontier:  # an index's children, and theirs (nested indexes are rare but legal); referrers
        d = frontier.pop()
        for child in [*(by_digest[d].children if d in by_digest else ()), *referrers.get(d, ())]:
            if child not in kept:
                kept.add(child)
                frontier.append(child)
    gone = [i for i in images if i.digest not in kept]
    # Counted as untagged images: the leftovers themselves, not the referrers that go with them.
    untagged = [i for i in gone if i.subject_digest is None]
    kept_layers = {ld for d in kept for ld, _ in layers.get(d, ())}
    only: dict[str, int] = {}
    for im in gone:
        for ld, size in layers.get(im.digest, ()):
            if ld not in kept_layers:
                only[ld] = size
    return untagged, sum(only.values()), set(only)


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
       facts=(storage_index, template_simulation), options=NoLifecyclePolicyOptions,
       docs=f"{DOCS}#ecr-no-lifecycle-policy",
       risk="Every image ever pushed stays, and is billed, until someone deletes it by hand.",
       recommendation="Put a lifecycle policy on the repository (the FinOps playbook's base policy is a start: "
                      "untagged > 1, latest* > 1, v* > 9, any > 20): old and untagged images then go by themselves. "
                      "Back up any images you must keep first, and protect what ECS runs.")
def no_lifecycle_policy(ctx: CheckContext) -> Iterable[Finding]:
    sh = storage_index(ctx)
    template = ctx.options.lifecycle_template
    results = template_simulation(ctx, template)
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
       facts=(storage_index, in_use), docs=f"{DOCS}#ecr-untagged-bytes",
       risk="A rebuilt tag leaves its previous image untagged; its own layers are billed until it goes.",
       recommendation="Expire untagged images with a lifecycle rule (tagStatus untagged, sinceImagePushed a few "
                      "days): a rebuilt tag leaves its previous image untagged, and its own layers are billed "
                      "until it goes.")
def untagged_bytes(ctx: CheckContext) -> Iterable[Finding]:
    sh, used = storage_index(ctx), in_use(ctx)
    for key in sorted(sh.repos):
        repo = sh.repos[key]
        untagged, nbytes, _ = untagged_only(sh.images.get(key, []), sh.layers.get(key, {}), used.digests(key))
        if not nbytes:
            continue
        cost, arithmetic = money(nbytes, ctx.book, repo.region, "layers only untagged images reference")
        oldest = min((i.pushed_at for i in untagged if i.pushed_at), default=None)
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: {len(untagged)} untagged image(s) alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "untagged_images": len(untagged), "untagged_only_bytes": nbytes,
                      "oldest_untagged_pushed_at": iso(oldest),
                      "lifecycle_policy": repo.lifecycle_policy is not None,
                      "digests": sorted(i.digest for i in untagged)[:20]},
            arithmetic=arithmetic,
            fix=rollout_fix("untagged-only", repo.name) if repo.lifecycle_policy is None else amend_fix(repo))


# -- ecr.large-image -------------------------------------------------------------------------------------

class LargeImageOptions(CheckOptions):
    # Bounded so a typo (1e308, inf) is an error naming the option rather than an overflow; no image is 1 TiB.
    large_image_gib: float = option(1.0, "Images above this many GiB are large.", flag="--large-image-gib",
                                    gt=0, le=1024)


@check("ecr.large-image", title="Images larger than the threshold", severity="low",
       facts=(storage_index,), options=LargeImageOptions, docs=f"{DOCS}#ecr-large-image",
       risk="Large images cost storage in every repository that holds them and download time and NAT bytes on "
            "every Fargate task start.",
       recommendation="Make the image smaller: a slimmer base image, multi-stage builds that leave compilers and "
                      "caches behind, fewer and smaller layers. Every task start on Fargate downloads all of it.")
def large_image(ctx: CheckContext) -> Iterable[Finding]:
    sh = storage_index(ctx)
    threshold = int(ctx.options.large_image_gib * GIB)
    found = []
    for key in sorted(sh.repos):
        big = sorted((i for i in sh.images.get(key, []) if not i.is_index and i.size_bytes > threshold),
                     key=lambda i: (-i.size_bytes, i.digest))
        if not big:
            continue
        image_layers = sh.layers.get(key, {})
        refs: dict[str, int] = defaultdict(int)
        for im in big:
            for ld in dict(image_layers.get(im.digest, ())):  # a manifest may list a layer twice: count it once
                refs[ld] += 1
        top = sorted(dict(image_layers.get(big[0].digest, ())).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        found.append((key, big, refs, top))
    # How many repositories store each layer shown: a layer in many is a shared base image, not this team's
    # build. Counted for those layers only, and not at all when no image is large.
    shown = {ld for *_, top in found for ld, _ in top}
    repos_of_layer: dict[str, set[Key]] = defaultdict(set)
    if shown:
        for key, by_image in sh.layers.items():
            for ld, _ in (pair for pairs in by_image.values() for pair in pairs):
                if ld in shown:
                    repos_of_layer[ld].add(key)
    for key, big, refs, top in found:
        repo, largest = sh.repos[key], big[0]
        top_share = sum(s for _, s in top[:2]) / largest.size_bytes if largest.size_bytes else 0.0
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: {len(big)} image(s) over {threshold / GIB:g} GiB (largest "
            f"{largest.size_bytes / GIB:,.2f} GiB{', ' + ', '.join(largest.tags[:2]) if largest.tags else ''}); "
            f"its {min(2, len(top))} largest layer(s) are {top_share:.0%} of it",
            evidence={"repository": repo.name, "threshold_bytes": threshold, "large_images": len(big),
                      "images": [{"digest": i.digest, "tags": i.tags, "size_bytes": i.size_bytes,
                                  "pushed_at": iso(i.pushed_at)} for i in big[:5]],
                      "largest_image_layers": [
                          {"digest": ld, "size_bytes": size, "share_of_image": round(size / largest.size_bytes, 4),
                           "in_large_images": refs.get(ld, 0), "repositories_storing_it": len(repos_of_layer[ld])}
                          for ld, size in top]})


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

@check("ecr.mutable-tags", title="Repository allows mutable tags", severity="low", facts=(storage_index,),
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
    sh = storage_index(ctx)
    for key in sorted(sh.repos):
        repo = sh.repos[key]
        if repo.tag_mutability != "MUTABLE":
            continue
        tagged = [i for i in sh.images.get(key, []) if i.tags]
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: tags are mutable, so a push can move any of its {len(tagged)} tagged image(s)' "
                    "tags to another image; a lifecycle rule keeping images by tag, and ECS running an image by "
                    "tag, then mean a different image",
            evidence={"repository": repo.name, "tag_mutability": repo.tag_mutability, "tagged_images": len(tagged),
                      "lifecycle_policy": repo.lifecycle_policy is not None},
            fix=f"aws ecr put-image-tag-mutability --repository-name {repo.name} --image-tag-mutability IMMUTABLE "
                f"--region {repo.region}")
