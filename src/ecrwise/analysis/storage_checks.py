"""ECR storage checks (family "storage") and one lifecycle check (family "lifecycle"). Pure.

Every figure comes from the analyses that own it, never recomputed here: stored bytes, monthly cost and last
push/pull per repository from `analysis.inventory.build_inventory`; what a lifecycle policy would expire and
the bytes it frees from the lifecycle engine (`lifecycle.simulate.simulate`, fed by
`lifecycle.from_records`); images that ECS runs or may roll back to from `analysis.in_use.find_in_use`. What
is left here is the judgement: which repositories deserve a finding, and the money it is worth.

Options (all optional; `ecrwise findings` exposes them as flags):
- `now`: the time ages are measured at (the snapshot's time);
- `storage.lifecycle_template`: the policy the no-lifecycle-policy savings are simulated with (playbook-base);
- `storage.redundant_days`: no push and no pull for this many days makes a repository redundant (90);
- `storage.large_image_bytes`: images above this size are large (1 GiB);
- `storage.cost_allocation_keys`: tag keys that attribute a repository's cost (team, cost-center, owner,
  project).
"""
from __future__ import annotations

import re
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from ecrwise.analysis.checks import REGISTRY, Finding, Records, check
from ecrwise.analysis.in_use import InUse, find_in_use
from ecrwise.analysis.inventory import Inventory, RepoRow, build_inventory
from ecrwise.errors import UserError
from ecrwise.lifecycle.from_records import lifecycle_images, repo_key
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, parse_policy
from ecrwise.lifecycle.simulate import RepositoryResult, simulate
from ecrwise.lifecycle.templates import get_template
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.pricing.money import storage_month
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.records.ecs import (EcsContainerDefinition, EcsDeployment, EcsService, EcsTask, EcsTaskContainer,
                                 EcsTaskDefinition)

DOCS = "docs/reports.md"
DEFAULT_TEMPLATE = "playbook-base"
DEFAULT_REDUNDANT_DAYS = 90
DEFAULT_LARGE_IMAGE_BYTES = GIB
DEFAULT_COST_KEYS = ("team", "cost-center", "owner", "project")
# The tag lifecycle rollout honours (remediate/lifecycle_rollout.py RETAIN_TAG; a test keeps them equal):
# a repository tagged so is kept on purpose, so no finding tells anyone to prune or delete it.
RETAIN_TAG = "ecrwise:retain"
STANDARD_ITEM = "ecr_storage_gb_month"
ARCHIVE_ITEM = "ecr_archive_storage_gb_month"

Key = tuple[str, str, str]  # (account, region, repository)


def _opt(options: dict[str, Any] | None, key: str, default: Any) -> Any:
    value = (options or {}).get(key)
    return default if value is None else value


def _rec(check_id: str) -> str:
    return REGISTRY[check_id].recommendation


def _retained(repo: Repository) -> bool:
    return str(repo.tags.get(RETAIN_TAG, "")).strip().lower() in ("true", "yes", "1")


def normalise_tag_key(key: str) -> str:
    """`Cost-Center`, `cost_center`, `CostCenter` and `cost center` are one key to a FinOps team."""
    return re.sub(r"[\s_\-:.]", "", key).lower()


# -- what the checks share, computed once per Records ------------------------------------------------------

@dataclass
class _Shared:
    inventory: Inventory
    rows: dict[Key, RepoRow]
    repos: dict[Key, Repository]
    images: dict[Key, list[Image]]
    layers: dict[Key, dict[str, dict[str, int]]]  # repo → image digest → {layer digest: size}
    in_use: InUse
    now: datetime


_cache: "weakref.WeakKeyDictionary[Records, dict[Any, Any]]" = weakref.WeakKeyDictionary()


def _memo(records: Records, key: Any, make: Any) -> Any:
    slot = _cache.setdefault(records, {})
    if key not in slot:
        slot[key] = make()
    return slot[key]


def snapshot_time(records: Records, options: dict[str, Any] | None) -> datetime:
    """The time ages are measured at: the snapshot's (options["now"]); else the newest push in it."""
    now = _opt(options, "now", None)
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    pushed = [i.pushed_at for i in records.of(Image) if i.pushed_at]
    return max(pushed) if pushed else datetime.now(timezone.utc)


def _shared(records: Records, book: PriceBook, options: dict[str, Any] | None) -> _Shared:
    now = snapshot_time(records, options)

    def make() -> _Shared:
        inv = build_inventory(records.of(Repository), records.of(Image), records.of(ImageLayer),
                              records.of(PullMetric), book)
        images: dict[Key, list[Image]] = defaultdict(list)
        for im in records.of(Image):
            images[(im.account, im.region, im.repository)].append(im)
        layers: dict[Key, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for layer in records.of(ImageLayer):
            layers[(layer.account, layer.region, layer.repository)][layer.image_digest][layer.layer_digest] = layer.size
        in_use = find_in_use(records.of(Image), records.of(EcsService), records.of(EcsDeployment),
                             records.of(EcsTaskDefinition), records.of(EcsContainerDefinition), records.of(EcsTask),
                             records.of(EcsTaskContainer))
        return _Shared(inv, {r.key: r for r in inv.rows},
                       {(r.account, r.region, r.name): r for r in records.of(Repository)}, images, layers, in_use,
                       now)

    return _memo(records, ("shared", id(book), now), make)


def _engine_images(records: Records) -> dict[str, list[LifecycleImage]]:
    """The lifecycle engine's images, by ACCOUNT/REGION/NAME."""
    def make() -> dict[str, list[LifecycleImage]]:
        out: dict[str, list[LifecycleImage]] = defaultdict(list)
        for im in lifecycle_images(records.of(Image), records.of(ImageLayer)):
            out[im.repository].append(im)
        return out

    return _memo(records, "engine-images", make)


def _simulate(records: Records, book: PriceBook, policies: dict[Key, Policy | None],
              at: datetime) -> dict[Key, RepositoryResult]:
    """Run the engine per region (each region has its own storage price)."""
    by_region: dict[str, dict[str, Policy | None]] = defaultdict(dict)
    for (account, region, name), pol in policies.items():
        by_region[region][repo_key(account, region, name)] = pol
    images = _engine_images(records)
    out: dict[Key, RepositoryResult] = {}
    for region, pols in by_region.items():
        std, arc = book.price(region, STANDARD_ITEM), book.price(region, ARCHIVE_ITEM)
        imgs = [im for k in pols for im in images.get(k, ())]
        for r in simulate(pols, imgs, at, std.usd, arc.usd).items:
            a, rg, n = r.repository.split("/", 2)
            out[(a, rg, n)] = r
    return out


def untagged_only(images: list[Image], layers: dict[str, dict[str, int]],
                  in_use: dict[str, list[str]] | None = None) -> tuple[list[Image], int, set[str]]:
    """(untagged images, bytes only they hold, those layer digests) for one repository.

    Kept: tagged images, the children of a kept image index (ECR lists them as untagged images, but they
    cannot go while their index stays), and images ECS runs or may roll back to by digest. Bytes only
    untagged images hold = distinct layers they reference that no kept image references.
    """
    by_digest = {i.digest: i for i in images}
    kept = {i.digest for i in images if i.tags} | set(in_use or ())
    frontier = list(kept)
    while frontier:  # an index's children, and theirs (nested indexes are rare but legal)
        d = frontier.pop()
        for child in by_digest[d].children if d in by_digest else ():
            if child not in kept:
                kept.add(child)
                frontier.append(child)
    untagged = [i for i in images if i.digest not in kept]
    kept_layers = {ld for d in kept for ld in layers.get(d, {})}
    only: dict[str, int] = {}
    for im in untagged:
        for ld, size in layers.get(im.digest, {}).items():
            if ld not in kept_layers:
                only[ld] = size
    return untagged, sum(only.values()), set(only)


def _money(nbytes: int, book: PriceBook, region: str, what: str) -> tuple[float, dict[str, Any]]:
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


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _days(now: datetime, t: datetime | None) -> int | None:
    return None if t is None else max(0, (now - t).days)


# -- ecr.no-lifecycle-policy -----------------------------------------------------------------------------

@check("ecr.no-lifecycle-policy", title="Repository without a lifecycle policy", severity="medium",
       family="storage", reads=("repositories", "images", "image_layers"), docs=f"{DOCS}#ecr-no-lifecycle-policy",
       recommendation="Put a lifecycle policy on the repository (the FinOps playbook's base policy is a start: "
                      "untagged > 1, latest* > 1, v* > 9, any > 20): old and untagged images then go by themselves. "
                      "Back up any images you must keep first, and protect what ECS runs.")
def no_lifecycle_policy(records: Records, book: PriceBook, options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    template = str(_opt(options, "storage.lifecycle_template", DEFAULT_TEMPLATE))
    policy = parse_policy(get_template(template), source=f"template {template}")
    targets = {k: policy for k, r in sh.repos.items() if r.lifecycle_policy is None and not _retained(r)}
    results = _simulate(records, book, targets, sh.now)
    for key in sorted(targets):
        repo, row, res = sh.repos[key], sh.rows.get(key), results[key]
        ev = res.evaluation
        savings = res.monthly_savings_usd
        arithmetic = {"what": f"layers no surviving image references once {template} has run", **res.arithmetic(),
                      "price": book.price(repo.region, STANDARD_ITEM).as_dict()}
        yield Finding(
            "ecr.no-lifecycle-policy", "medium" if ev.freed_bytes else "low", repo.account, repo.region, repo.arn,
            f"{repo.name}: no lifecycle policy; the {template} policy would expire {len(ev.expire)} of "
            f"{len(ev.expire) + len(ev.kept)} images and free {ev.freed_bytes / GIB:,.2f} GiB",
            monthly_cost_usd=row.monthly_cost if row else None, monthly_savings_usd=savings,
            evidence={"repository": repo.name, "policy": template, "images": len(ev.expire) + len(ev.kept),
                      "expire_count": len(ev.expire), "held_by_index": len(ev.held),
                      "stored_bytes": ev.stored_bytes, "freed_bytes": ev.freed_bytes, "at": _iso(sh.now)},
            arithmetic=arithmetic, recommendation=_rec("ecr.no-lifecycle-policy"),
            fix=rollout_fix(template, repo.name))


# -- ecr.redundant-repository ----------------------------------------------------------------------------

@check("ecr.redundant-repository", title="Repository with no push and no pull for months", severity="medium",
       family="storage", reads=("repositories", "images", "pull_metrics", "ecs_task_definitions", "ecs_tasks"),
       docs=f"{DOCS}#ecr-redundant-repository",
       recommendation="Confirm with its owner that nothing needs it (the playbook's 'redundant' repositories), "
                      "keep the images you must (or move them to the archive storage class), then delete the "
                      "repository: its whole storage is saved.")
def redundant_repository(records: Records, book: PriceBook, options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    days = int(_opt(options, "storage.redundant_days", DEFAULT_REDUNDANT_DAYS))
    cutoff = sh.now - timedelta(days=days)
    for key in sorted(sh.repos):
        repo, row = sh.repos[key], sh.rows.get(key)
        if row is None or _retained(repo):
            continue
        pushed = row.last_pushed_at or repo.created_at
        if pushed is None or pushed > cutoff:
            continue
        if row.last_pulled_at is not None and row.last_pulled_at > cutoff:
            continue
        if row.pulls_30d > 0 and days >= 30:
            continue  # pulled this month even though no image records a pull time
        in_use = sh.in_use.digests(key)
        if in_use:
            continue  # ECS runs (or may roll back to) one of its images: not redundant, whatever the metrics
        yield Finding(
            "ecr.redundant-repository", "medium", repo.account, repo.region, repo.arn,
            f"{repo.name}: no push for {_days(sh.now, pushed)} days and "
            + (f"no pull for {_days(sh.now, row.last_pulled_at)} days" if row.last_pulled_at
               else "no pull on record")
            + f" (threshold {days} days); it stores {row.stored_bytes / GIB:,.2f} GiB",
            monthly_cost_usd=row.monthly_cost, monthly_savings_usd=row.monthly_cost,
            evidence={"repository": repo.name, "threshold_days": days, "last_pushed_at": _iso(row.last_pushed_at),
                      "created_at": _iso(repo.created_at), "last_pulled_at": _iso(row.last_pulled_at),
                      "last_pulled_source": row.last_pulled_source, "pulls_30d": row.pulls_30d,
                      "images": row.images, "stored_bytes": row.stored_bytes, "in_use_by_ecs": False},
            arithmetic={"what": "the repository's whole storage", **row.arithmetic},
            recommendation=_rec("ecr.redundant-repository"),
            fix=f"aws ecr delete-repository --repository-name {repo.name} --force --region {repo.region}")


# -- ecr.untagged-bytes ----------------------------------------------------------------------------------

@check("ecr.untagged-bytes", title="Bytes only untagged images hold", severity="low", family="storage",
       reads=("images", "image_layers", "ecs_tasks", "ecs_task_definitions"), docs=f"{DOCS}#ecr-untagged-bytes",
       recommendation="Expire untagged images with a lifecycle rule (tagStatus untagged, sinceImagePushed a few "
                      "days): a rebuilt tag leaves its previous image untagged, and its own layers are billed "
                      "until it goes.")
def untagged_bytes(records: Records, book: PriceBook, options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    for key in sorted(sh.repos):
        repo = sh.repos[key]
        imgs = sh.images.get(key, [])
        untagged, nbytes, _ = untagged_only(imgs, sh.layers.get(key, {}), sh.in_use.digests(key))
        if not nbytes:
            continue
        cost, arithmetic = _money(nbytes, book, repo.region, "layers only untagged images reference")
        oldest = min((i.pushed_at for i in untagged if i.pushed_at), default=None)
        yield Finding(
            "ecr.untagged-bytes", "low", repo.account, repo.region, repo.arn,
            f"{repo.name}: {len(untagged)} untagged image(s) alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "untagged_images": len(untagged), "untagged_only_bytes": nbytes,
                      "oldest_untagged_pushed_at": _iso(oldest),
                      "lifecycle_policy": repo.lifecycle_policy is not None,
                      "digests": sorted(i.digest for i in untagged)[:20]},
            arithmetic=arithmetic, recommendation=_rec("ecr.untagged-bytes"),
            fix=rollout_fix("untagged-only", repo.name) if repo.lifecycle_policy is None else amend_fix(repo))


# -- ecr.large-image -------------------------------------------------------------------------------------

@check("ecr.large-image", title="Images larger than the threshold", severity="low", family="storage",
       reads=("images", "image_layers"), docs=f"{DOCS}#ecr-large-image",
       recommendation="Make the image smaller: a slimmer base image, multi-stage builds that leave compilers and "
                      "caches behind, fewer and smaller layers. Every task start on Fargate downloads all of it.")
def large_image(records: Records, book: PriceBook, options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    threshold = int(_opt(options, "storage.large_image_bytes", DEFAULT_LARGE_IMAGE_BYTES))
    # How many repositories store each layer: a layer in many is a shared base image, not this team's build.
    repos_of_layer: dict[str, set[Key]] = defaultdict(set)
    for key, by_image in sh.layers.items():
        for layers in by_image.values():
            for ld in layers:
                repos_of_layer[ld].add(key)
    for key in sorted(sh.repos):
        repo = sh.repos[key]
        big = sorted((i for i in sh.images.get(key, []) if not i.is_index and i.size_bytes > threshold),
                     key=lambda i: (-i.size_bytes, i.digest))
        if not big:
            continue
        largest = big[0]
        image_layers = sh.layers.get(key, {})
        refs: dict[str, int] = defaultdict(int)
        sizes: dict[str, int] = {}
        for im in big:
            for ld, size in image_layers.get(im.digest, {}).items():
                refs[ld] += 1
                sizes[ld] = size
        top = sorted(image_layers.get(largest.digest, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        top_share = sum(s for _, s in top[:2]) / largest.size_bytes if largest.size_bytes else 0.0
        yield Finding(
            "ecr.large-image", "low", repo.account, repo.region, repo.arn,
            f"{repo.name}: {len(big)} image(s) over {threshold / GIB:g} GiB (largest "
            f"{largest.size_bytes / GIB:,.2f} GiB{', ' + ', '.join(largest.tags[:2]) if largest.tags else ''}); "
            f"its {min(2, len(top))} largest layer(s) are {top_share:.0%} of it",
            evidence={"repository": repo.name, "threshold_bytes": threshold, "large_images": len(big),
                      "images": [{"digest": i.digest, "tags": i.tags, "size_bytes": i.size_bytes,
                                  "pushed_at": _iso(i.pushed_at)} for i in big[:5]],
                      "largest_image_layers": [
                          {"digest": ld, "size_bytes": size, "share_of_image": round(size / largest.size_bytes, 4),
                           "in_large_images": refs.get(ld, 0), "repositories_storing_it": len(repos_of_layer[ld])}
                          for ld, size in top]},
            recommendation=_rec("ecr.large-image"))


# -- ecr.no-cost-allocation-tags -------------------------------------------------------------------------

@check("ecr.no-cost-allocation-tags", title="Repository without cost allocation tags", severity="low",
       family="storage", reads=("repositories",), docs=f"{DOCS}#ecr-no-cost-allocation-tags",
       recommendation="Tag the repository with who pays for it (team, cost-center, owner or project) and activate "
                      "the key as a cost allocation tag in the Billing console: its storage then shows per team "
                      "in Cost Explorer and the Cost and Usage Report.")
def no_cost_allocation_tags(records: Records, book: PriceBook,
                            options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    keys = tuple(_opt(options, "storage.cost_allocation_keys", DEFAULT_COST_KEYS))
    wanted = {normalise_tag_key(k) for k in keys}
    for key in sorted(sh.repos):
        repo, row = sh.repos[key], sh.rows.get(key)
        if any(normalise_tag_key(k) in wanted and str(v).strip() for k, v in repo.tags.items()):
            continue
        yield Finding(
            "ecr.no-cost-allocation-tags", "low", repo.account, repo.region, repo.arn,
            f"{repo.name}: none of the cost allocation tags {', '.join(keys)}; its "
            f"${(row.monthly_cost if row else 0.0):,.2f}/month is attributed to nobody",
            monthly_cost_usd=row.monthly_cost if row else None,
            evidence={"repository": repo.name, "tags": sorted(repo.tags), "wanted_any_of": list(keys)},
            arithmetic=dict(row.arithmetic) if row else {},
            recommendation=_rec("ecr.no-cost-allocation-tags"),
            fix=f"aws ecr tag-resource --resource-arn {repo.arn} --tags Key={keys[0]},Value=OWNER "
                f"--region {repo.region}")


# -- lifecycle.policy-keeps-untagged ---------------------------------------------------------------------

@check("lifecycle.policy-keeps-untagged", title="Lifecycle policy expires nothing while untagged images stay",
       severity="low", family="lifecycle", reads=("repositories", "images", "image_layers"),
       docs=f"{DOCS}#lifecycle-policy-keeps-untagged",
       recommendation="Add a rule for untagged images (tagStatus untagged, sinceImagePushed N days) to the "
                      "repository's policy: today it expires nothing while untagged images hold bytes.")
def policy_keeps_untagged(records: Records, book: PriceBook,
                          options: dict[str, Any] | None = None) -> Iterable[Finding]:
    sh = _shared(records, book, options)
    current: dict[Key, Policy | None] = {}
    for key, repo in sh.repos.items():
        if repo.lifecycle_policy is None:
            continue
        try:
            current[key] = parse_policy(repo.lifecycle_policy, source=repo.name)
        except UserError:  # an invalid stored policy is `ecrwise lifecycle lint`'s business, not this check's
            continue
    results = _simulate(records, book, current, sh.now)
    for key in sorted(current):
        res = results[key]
        if res.evaluation.expire or res.evaluation.transition:
            continue
        repo = sh.repos[key]
        untagged, nbytes, _ = untagged_only(sh.images.get(key, []), sh.layers.get(key, {}), sh.in_use.digests(key))
        if not nbytes:
            continue
        cost, arithmetic = _money(nbytes, book, repo.region, "layers only untagged images reference")
        yield Finding(
            "lifecycle.policy-keeps-untagged", "low", repo.account, repo.region, repo.arn,
            f"{repo.name}: its lifecycle policy expires nothing today, yet {len(untagged)} untagged image(s) "
            f"alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "rules": len(current[key].rules) if current[key] else 0,
                      "untagged_images": len(untagged), "untagged_only_bytes": nbytes, "at": _iso(sh.now)},
            arithmetic=arithmetic, recommendation=_rec("lifecycle.policy-keeps-untagged"),
            fix=amend_fix(repo))
