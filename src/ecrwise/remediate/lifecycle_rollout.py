"""Rolling a lifecycle policy out to many repositories safely: plan, protect images in use, back up,
apply, restore.

Protection must hold when ECR evaluates the policy later, not only in ecrwise's simulation. It uses ECR's
documented evaluation rule that an image matched by the tag selection of a higher-priority rule is never
acted on by a lower-priority rule: every image in use gets a tag `ecrwise-keep-<12 hex of its digest>` (added
with PutImage, which keeps the digest), and the rolled-out policy starts with a rule of priority 1 whose tag
selection matches that prefix and whose count (older than 100 years) never fires. The engine proves it: the
plan's effect is evaluated on the images as they will be tagged.

The plan is pure (snapshot data in, a JSON-able plan out); `apply_plan`, `restore_backup` and
`refresh_protection` act through `ecrwise.aws.lifecycle_apply` and write their backup before any change.

A plan means what it said, in two independent ways. It carries a sha256 digest of its canonical JSON
(`remediate.integrity.seal`), and `load_plan` refuses a plan whose digest is missing or wrong, or that is stale
(`check_plan_integrity`): that catches an edited file. A digest anyone can recompute is no defence against
someone who means harm, so `load_plan` also checks the plan against itself (`check_plan_invariants`: the
protection rule first, every item inside the plan's selection and putting the plan's one policy, protection
tags that are protection tags), and `apply_plan` re-verifies each repository against live state before
touching it (`verify_live`): live images, the live in-use set, the exact engine.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Protocol

from pydantic import BaseModel, ConfigDict

from ecrwise import __version__
from ecrwise.analysis.in_use import InUse, find_in_use
from ecrwise.errors import AwsUnavailable, UserError
from ecrwise.inputs import check_aws_names, parse_json, validate
from ecrwise.lifecycle.engine import evaluate
from ecrwise.lifecycle.from_records import lifecycle_images, repo_key
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, parse_policy
from ecrwise.lifecycle.protection import (NEVER_DAYS, PROTECT_DESCRIPTION, PROTECT_PREFIX, as_protected,  # noqa: F401
                                          is_protection_rule, protect_tag, protection_rule, with_protection)
from ecrwise.lifecycle.simulate import simulate
from ecrwise.pricing.book import PriceBook
from ecrwise.pricing.money import usd
from ecrwise.records import Records
from ecrwise.records.ecr import Image, ImageLayer, Repository
from ecrwise.remediate.backup import read_json, write_backup
from ecrwise.remediate.integrity import check_seal, seal

RETAIN_TAG = "ecrwise:retain"


def policy_text(policy: Policy) -> str:
    # Compact, stable text: what is put to ECR and compared for idempotence.
    return json.dumps(policy.to_dict(), separators=(",", ":"))


def _pretty(text: str | None) -> list[str]:
    if text is None:
        return ["(no policy)"]
    try:
        return json.dumps(json.loads(text), indent=2).splitlines()
    except json.JSONDecodeError:
        return text.splitlines()


def policy_diff(old: str | None, new: str | None, name: str) -> str:
    return "\n".join(difflib.unified_diff(_pretty(old), _pretty(new), f"{name} (current)", f"{name} (new)",
                                          lineterm=""))


def selected(name: str, include: list[str], exclude: list[str]) -> tuple[bool, str | None]:
    """(in scope, why excluded). Globs match the repository name."""
    if include and not any(fnmatchcase(name, g) for g in include):
        return False, None
    for g in exclude:
        if fnmatchcase(name, g):
            return False, f"excluded by --exclude {g}"
    return True, None


# -- the plan ------------------------------------------------------------------------------------------

def build_plan(policy_source: str, policy: Policy, repos: list[Repository], images: list[LifecycleImage],
               in_use: InUse, book: PriceBook, *, include: list[str], exclude: list[str], at: datetime,
               snapshot: dict[str, Any] | None, rollback_revisions: int = 2) -> dict[str, Any]:
    """The plan document, sealed with its digest (`remediate.integrity.seal`). `rollback_revisions` is recorded so that
    `apply` re-derives the in-use set from live ECS the way this plan did."""
    by_repo: dict[str, list[LifecycleImage]] = {}
    for im in images:
        by_repo.setdefault(im.repository, []).append(im)
    new_policy = with_protection(policy)
    new_text = policy_text(new_policy)
    items, excluded = [], []
    savings = 0.0  # unrounded; items carry cents
    for repo in sorted(repos, key=lambda r: (r.account, r.region, r.name)):
        ok, why = selected(repo.name, include, exclude)
        if not ok and why is None:
            continue
        if ok and repo.tags.get(RETAIN_TAG, "").lower() == "true":
            ok, why = False, f"repository tag {RETAIN_TAG}=true (retention/compliance exception)"
        if not ok:
            excluded.append({"account": repo.account, "region": repo.region, "repository": repo.name,
                             "reason": why})
            continue
        item, raw = _plan_repository(repo, by_repo.get(repo_key(repo.account, repo.region, repo.name), []),
                                     policy, new_policy, new_text, in_use, book, at)
        items.append(item)
        savings += raw
    totals = {
        "repositories": len(items),
        "changing": sum(1 for i in items if i["action"] == "update"),
        "excluded": len(excluded),
        "expire": sum(i["effect"]["expire_count"] for i in items),
        "transition": sum(i["effect"]["transition_count"] for i in items),
        "freed_bytes": sum(i["effect"]["freed_bytes"] for i in items),
        "monthly_savings_usd": usd(savings),
        "in_use_images": sum(len(i["in_use"]) for i in items),
        "in_use_saved_by_protection": sum(len(i["in_use_acted_on_without_protection"]) for i in items),
        "protect_tags": sum(len(i["protect_tags"]) for i in items),
    }
    return seal({
        "ecrwise": __version__, "kind": "lifecycle-plan", "created_at": at.isoformat().replace("+00:00", "Z"),
        "snapshot": snapshot, "policy_source": policy_source, "policy": new_text,
        "protect_prefix": PROTECT_PREFIX, "selection": {"include": list(include), "exclude": list(exclude)},
        "in_use_sources": {"rollback_revisions": rollback_revisions}, "items": items, "excluded": excluded,
        "totals": totals, "warnings": list(in_use.warnings)})


def _plan_repository(repo: Repository, images: list[LifecycleImage], user_policy: Policy, new_policy: Policy,
                     new_text: str, in_use: InUse, book: PriceBook, at: datetime) -> tuple[dict[str, Any], float]:
    key = repo_key(repo.account, repo.region, repo.name)
    used = in_use.digests((repo.account, repo.region, repo.name))
    present = {im.digest: im for im in images}
    protect = [{"digest": d, "tag": protect_tag(d)} for d in sorted(used) if d in present
               and protect_tag(d) not in present[d].tags]
    tagged = as_protected(images, used)
    std = book.price(repo.region, "ecr_storage_gb_month")
    arc = book.price(repo.region, "ecr_archive_storage_gb_month")
    result = simulate({key: new_policy}, tagged, at, std.usd, arc.usd).items[0]
    unprotected = simulate({key: user_policy}, images, at, std.usd, arc.usd).items[0]
    acted = {im.digest for im, _ in (*unprotected.evaluation.expire, *unprotected.evaluation.transition)}
    effect = result.to_dict(images=True)
    effect["arithmetic"]["price"] = std.as_dict()
    in_use_hit = [{"digest": d, "tags": list(present[d].tags), "reasons": used[d]}
                  for d in sorted(acted & set(used))]
    leaked = {im.digest for im, _ in (*result.evaluation.expire, *result.evaluation.transition)} & set(used)
    if leaked:  # the engine says protection fails: never plan that
        raise AssertionError(f"{key}: protection does not hold for {sorted(leaked)}")
    unchanged = repo.lifecycle_policy is not None and _same_policy(repo.lifecycle_policy, new_text) and not protect
    return {
        "account": repo.account, "region": repo.region, "repository": repo.name,
        "action": "unchanged" if unchanged else "update",
        "current_policy": repo.lifecycle_policy, "new_policy": new_text,
        "diff": policy_diff(repo.lifecycle_policy, new_text, repo.name),
        "protect_tags": protect,
        "in_use": [{"digest": d, "reasons": r} for d, r in sorted(used.items()) if d in present],
        "in_use_acted_on_without_protection": in_use_hit,
        "effect": {k: effect[k] for k in ("images", "expire_count", "transition_count", "kept", "held_by_index",
                                          "stored_bytes", "freed_bytes", "monthly_savings_usd", "arithmetic",
                                          "expire", "transition")},
    }, result.monthly_savings_usd


def _same_policy(a: str, b: str) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except json.JSONDecodeError:
        return False


# -- plan integrity --------------------------------------------------------------------------------------

# A plan is a reviewed picture of one moment. After a day the estate it describes (images, deployments,
# policies) has moved on and the figures a reviewer approved are no longer what would happen; apply's live
# re-verification keeps it safe regardless, but a day-old plan is refused so what is applied is what was shown.
MAX_PLAN_AGE = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=5)  # a plan "from the future" beyond this was not written by this clock's plan
REPLAN = "re-run `ecrwise lifecycle plan`"


def check_plan_integrity(doc: Any, path: Path, now: datetime) -> None:
    """Refuse (UserError, exit 2) a plan file that is not exactly what `lifecycle plan` wrote, or is stale."""
    check_seal(doc, path, "`ecrwise lifecycle plan`", REPLAN)
    created = _parse_time(doc.get("created_at"))
    if created is None:
        raise UserError(f"{path}: created_at: not an ISO-8601 UTC time; {REPLAN}")
    if created > now + CLOCK_SKEW:
        raise UserError(f"{path}: created_at: {doc['created_at']} is in the future; {REPLAN}")
    if now - created > MAX_PLAN_AGE:
        hours = (now - created).total_seconds() / 3600
        raise UserError(f"{path}: the plan is stale: written {doc['created_at']} ({hours:.0f} h ago; plans older "
                        f"than {MAX_PLAN_AGE.total_seconds() / 3600:.0f} h are refused); {REPLAN}")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


# -- reading plans and backups ------------------------------------------------------------------------

class _PlanTag(BaseModel):
    model_config = ConfigDict(extra="ignore")
    digest: str
    tag: str


class _PlanInUse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    digest: str
    reasons: list[str] = []


class _PlanItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: str
    region: str
    repository: str
    action: str
    current_policy: str | None
    new_policy: str
    protect_tags: list[_PlanTag] = []
    in_use: list[_PlanInUse] = []
    effect: dict[str, Any] = {}  # the plan's prediction (monthly_savings_usd), recorded when applied


class _PlanSelection(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include: list[str]
    exclude: list[str]


class _PlanExcluded(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: str
    region: str
    repository: str


class _PlanInUseSources(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rollback_revisions: int


class _Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str
    policy: str
    selection: _PlanSelection
    in_use_sources: _PlanInUseSources
    snapshot: dict[str, Any] | None = None
    excluded: list[_PlanExcluded] = []
    items: list[_PlanItem]


class _BackupItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: str
    region: str
    repository: str
    previous_policy: str | None
    added_tags: list[_PlanTag] = []
    removed_tags: list[_PlanTag] = []


class _Backup(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str
    items: list[_BackupItem]


def _validate(model: type[BaseModel], doc: Any, path: Path, kind: str) -> Any:
    if isinstance(doc, dict) and "kind" in doc and doc["kind"] != kind:  # the wrong file: say so first
        raise UserError(f"{path}: kind: expected {kind!r}, got {doc['kind']!r}")
    obj = validate(doc, model, source=str(path))
    if obj.kind != kind:
        raise UserError(f"{path}: kind: expected {kind!r}, got {obj.kind!r}")
    # Account, region and repository reach AWS API calls: malformed ones stop here, not in botocore.
    check_aws_names(obj.items, source=str(path))
    return obj


def load_plan(path: Path, now: datetime | None = None) -> _Plan:
    """A plan exactly as `lifecycle plan` wrote it, not stale, and consistent with itself; else UserError."""
    doc = read_json(path, "plan file")
    check_plan_integrity(doc, path, now or datetime.now(timezone.utc))
    plan = _validate(_Plan, doc, path, "lifecycle-plan")
    for i, item in enumerate(plan.items):
        try:
            parse_policy(item.new_policy, source=f"{path}: items[{i}].new_policy")
        except UserError as e:
            raise UserError(str(e)) from None
        if item.current_policy is not None:  # compared as JSON at apply time: it must parse within limits
            parse_json(item.current_policy, source=f"{path}: items[{i}].current_policy")
    check_plan_invariants(plan, path)
    return plan


def _each_repository_once(items: Iterable[Any], path: Path,
                          hint: str) -> Iterator[tuple[str, tuple[str, str, str], Any]]:
    """(JSON path, repository key, item) per item of a plan or backup, which ecrwise writes with each repository
    once; UserError (naming the JSON path, ending with `hint`) at the first repository listed again."""
    seen: set[tuple[str, str, str]] = set()
    for i, item in enumerate(items):
        where = f"{path}: items[{i}]"
        key = (item.account, item.region, item.repository)
        if key in seen:
            raise UserError(f"{where}: {item.region}/{item.repository} appears twice; {hint}")
        seen.add(key)
        yield where, key, item


def check_plan_invariants(plan: _Plan, path: Path) -> None:
    """What every plan ecrwise writes holds, whatever its digest says (a recomputed digest, an older buggy
    ecrwise): one policy for every item, that starts with the protection rule; every item once, inside the
    plan's selection and not among its exclusions; protection tags that are `ecrwise-keep-` tags of their
    own digest (a `PutImage` of any other tag would move that tag). UserError (exit 2) names the JSON path."""
    top = parse_policy(plan.policy, source=f"{path}: policy")
    if not top.rules or top.rules[0] != protection_rule():
        raise UserError(f"{path}: policy: the first rule is not ecrwise's protection rule (priority 1, tag prefix "
                        f"{PROTECT_PREFIX}, never fires): images in use would not be protected; {REPLAN}")
    if any(r.priority == 1 for r in top.rules[1:]):
        raise UserError(f"{path}: policy: another rule shares priority 1 with the protection rule; {REPLAN}")
    excluded = {(e.account, e.region, e.repository) for e in plan.excluded}
    for where, key, item in _each_repository_once(plan.items, path, REPLAN):
        ok, why = selected(item.repository, plan.selection.include, plan.selection.exclude)
        if not ok or key in excluded:
            raise UserError(f"{where}.repository: {item.repository} is outside the plan's selection "
                            f"({why or ('listed as excluded' if key in excluded else 'matches no --repository glob')}); "
                            f"{REPLAN}")
        if not _same_policy(item.new_policy, plan.policy):
            raise UserError(f"{where}.new_policy: differs from the plan's policy; {REPLAN}")
        for j, t in enumerate(item.protect_tags):
            if t.tag != protect_tag(t.digest):
                raise UserError(f"{where}.protect_tags[{j}].tag: {t.tag!r} is not the protection tag of "
                                f"{t.digest} ({protect_tag(t.digest)}); {REPLAN}")


def load_backup(path: Path) -> _Backup:
    doc = read_json(path, "backup file")
    check_seal(doc, path, "ecrwise", RESTORE_INSTEAD)
    backup = _validate(_Backup, doc, path, "lifecycle-backup")
    check_backup_entries(backup, path)
    return backup


RESTORE_INSTEAD = ("restore from an unedited backup (`lifecycle apply`, `backup` and `protect` write one before "
                   "every change)")


def check_backup_entries(backup: _Backup, path: Path) -> None:
    """What every lifecycle backup ecrwise writes holds, digest or not: each repository once, previous
    policies ECR would accept, and only `ecrwise-keep-` tags of their own digest to remove or re-add (a
    restore must never move or delete any other tag). UserError (exit 2) names the JSON path."""
    for where, _key, item in _each_repository_once(backup.items, path, RESTORE_INSTEAD):
        if item.previous_policy is not None:
            parse_policy(item.previous_policy, source=f"{where}.previous_policy")
        for field_name in ("added_tags", "removed_tags"):
            for j, t in enumerate(getattr(item, field_name)):
                if t.tag != protect_tag(t.digest):
                    raise UserError(f"{where}.{field_name}[{j}].tag: {t.tag!r} is not the protection tag of "
                                    f"{t.digest}; {RESTORE_INSTEAD}")


# -- acting on AWS --------------------------------------------------------------------------------------

ClientFor = Callable[[str, str], Any]  # (account, region) -> ECR client


@dataclass
class RepoOutcome:
    account: str
    region: str
    repository: str
    status: str  # changed | unchanged | drifted | failed | skipped
    detail: str = ""
    tag_changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "repository": self.repository,
                "status": self.status, "detail": self.detail, "tag_changes": self.tag_changes}


def _backup_doc(items: list[dict[str, Any]], source: str) -> dict[str, Any]:
    return seal({"ecrwise": __version__, "kind": "lifecycle-backup",
                 "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), "source": source,
                 "items": items})


class LiveReader(Protocol):
    """Live state for apply-time re-verification (`ecrwise.aws.lifecycle_apply.LiveState`)."""

    def repository(self, account: str, region: str, name: str
                   ) -> tuple[Repository | None, list[Image], list[ImageLayer]]: ...

    def ecs_records(self, account: str, region: str) -> list[Any]: ...


def live_in_use(images: list[Image], ecs_records: list[Any], rollback_revisions: int, repo: tuple[str, str, str],
                planned: list[_PlanInUse]) -> dict[str, list[str]]:
    """digest → reasons of the images of `repo` in use now: derived from live ECS exactly as `plan` derives
    it from a snapshot, plus everything the plan itself recorded as in use (which covers `--in-use-file`
    images, by the digest they resolved to when planning, and ECS in accounts or regions not re-read)."""
    of: dict[type, list[Any]] = {Image: list(images)}
    for r in ecs_records:
        of.setdefault(type(r), []).append(r)
    found = find_in_use(Records(of), rollback_revisions=rollback_revisions)
    used = {d: list(r) for d, r in found.digests(repo).items()}
    for u in planned:
        used.setdefault(u.digest, []).extend(x for x in u.reasons if x not in used[u.digest])
    return used


def verify_live(item: _PlanItem, policy: Policy, repo: Repository | None, images: list[Image],
                layers: list[ImageLayer], used: dict[str, list[str]], at: datetime) -> str | None:
    """Why putting `policy` on this repository now would be unsafe (None: safe). Checked on live state: the
    repository still exists and is not under a retention exception; every image in use will carry its
    protection tag once the plan's tags are on; and the exact lifecycle engine, on the live images as they
    will be tagged, expires or archives none of them."""
    if repo is None:
        return "the repository no longer exists"
    if repo.tags.get(RETAIN_TAG, "").lower() == "true":
        return f"the repository is now tagged {RETAIN_TAG}=true (retention/compliance exception)"
    adding = {t.digest: t.tag for t in item.protect_tags}
    present = {im.digest: im for im in images}
    will_carry = {d: {*im.tags, *([adding[d]] if d in adding else [])} for d, im in present.items()}
    key = repo_key(repo.account, repo.region, repo.name)
    tagged = [replace(im, tags=tuple(sorted(will_carry[im.digest]))) for im in lifecycle_images(images, layers)]
    ev = evaluate(policy, tagged, at, repository=key)
    hit = sorted({im.digest for im, _ in (*ev.expire, *ev.transition)} & set(used))
    if hit:
        return (f"the policy would expire or archive {len(hit)} image(s) in use, e.g. {hit[0][:19]}… "
                f"({'; '.join(used[hit[0]])}); {REPLAN}")
    # Not acted on today is not enough: ECR evaluates the policy every day, and only the protection tag keeps
    # an in-use image out of every later rule's reach.
    unprotected = sorted(d for d in used if d in present and protect_tag(d) not in will_carry[d])
    if unprotected:
        d = unprotected[0]
        return (f"{len(unprotected)} image(s) in use would not carry a protection tag, e.g. {d[:19]}… "
                f"({'; '.join(used[d])}); {REPLAN}")
    return None


def _ecs_scope(plan: _Plan) -> list[tuple[str, str]]:
    """(account, region) pairs whose ECS is re-read: every account of the plan, in every region the plan's
    snapshot covered and every region of its items (a task may pull from another region's repository)."""
    regions = {i.region for i in plan.items} | set((plan.snapshot or {}).get("regions") or [])
    return sorted({(i.account, r) for i in plan.items for r in regions})


def apply_plan(plan: _Plan, client_for: ClientFor, backup_dir: Path | None, source: str, *,
               dry_run: bool, live: LiveReader, now: datetime | None = None) -> tuple[list[RepoOutcome], Path | None]:
    """Bring every repository of the plan to its new state. Each repository is first re-verified against live
    state (`verify_live`); one that fails is `refused` and left untouched, and the others go on (each is
    proven safe on its own). The backup of everything that will change is written (and fsynced) before the
    first change; a repository whose policy changed since the plan was made is left alone (re-plan); one
    repository failing does not stop the others. ECS must be re-readable in every account and region of the
    plan, or nothing is changed (AwsUnavailable): the in-use set cannot be verified without it."""
    from ecrwise.aws.lifecycle_apply import add_tag, set_policy

    at = now or datetime.now(timezone.utc)
    policy = parse_policy(plan.policy)
    ecs: dict[tuple[str, str], list[Any]] = {}
    for account, region in _ecs_scope(plan):
        try:
            ecs[(account, region)] = live.ecs_records(account, region)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 — any failure means in-use cannot be verified
            raise AwsUnavailable(f"cannot re-read ECS in {account}/{region} to verify which images are in use "
                                 f"({e}); nothing was changed") from None
    ecs_all = [r for recs in ecs.values() for r in recs]
    outcomes: list[RepoOutcome] = []
    todo: list[tuple[_PlanItem, Any, list[_PlanTag], RepoOutcome]] = []
    backup_items = []
    for item in plan.items:
        out = RepoOutcome(item.account, item.region, item.repository, "unchanged")
        outcomes.append(out)
        try:
            ecr = client_for(item.account, item.region)
            repo, images, layers = live.repository(item.account, item.region, item.repository)
        except Exception as e:  # noqa: BLE001 — reported per repository
            out.status, out.detail = "failed", f"reading current state: {e}"
            continue
        live_policy = repo.lifecycle_policy if repo else None
        tags: dict[str, list[str]] = {im.digest: list(im.tags) for im in images}
        # An in-use image may be untagged ([]): it needs the tag all the more. A gone image does not.
        missing = [t for t in item.protect_tags if t.digest in tags and t.tag not in tags[t.digest]]
        policy_done = live_policy is not None and _same_policy(live_policy, item.new_policy)
        if repo is not None and policy_done and not missing:
            continue
        if repo is not None and not policy_done and not _same_or_both_none(live_policy, item.current_policy):
            out.status, out.detail = "drifted", f"the policy changed since the plan was made; {REPLAN}"
            continue
        used = live_in_use(images, ecs_all, plan.in_use_sources.rollback_revisions,
                           (item.account, item.region, item.repository), item.in_use)
        why = verify_live(item, policy, repo, images, layers, used, at)
        if why:
            out.status, out.detail = "refused", why
            continue
        backup_items.append({"account": item.account, "region": item.region, "repository": item.repository,
                             "previous_policy": live_policy,
                             "added_tags": [t.model_dump() for t in missing]})
        todo.append((item, ecr, missing, out))
    if not todo:
        return outcomes, None
    if dry_run:
        for _, _, missing, o in todo:
            o.status, o.detail = "would-change", f"policy and {len(missing)} protection tag(s)"
        return outcomes, None
    backup = write_backup(backup_dir, "lifecycle-backup", _backup_doc(backup_items, source))
    for item, ecr, missing, o in todo:
        try:
            # Tags first: the protection must be on the images before the policy that relies on it is live.
            for t in missing:
                o.tag_changes.append(f"{add_tag(ecr, item.repository, t.digest, t.tag).outcome} {t.tag}")
            set_policy(ecr, item.repository, item.new_policy)
            o.status = "changed"
        except Exception as e:  # noqa: BLE001 — reported per repository, the rest go on
            o.status, o.detail = "failed", str(e)
    return outcomes, backup


def _same_or_both_none(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _same_policy(a, b)


def restore_backup(backup: _Backup, client_for: ClientFor, *, dry_run: bool) -> list[RepoOutcome]:
    """Put every repository back: its previous policy (or none), and remove only the tags ecrwise added,
    never an image's last tag; tags a `protect` run removed are put back."""
    from ecrwise.aws.lifecycle_apply import add_tag, get_policy, remove_tag, set_policy

    outcomes = []
    for item in backup.items:
        o = RepoOutcome(item.account, item.region, item.repository, "unchanged")
        try:
            ecr = client_for(item.account, item.region)
            if dry_run:
                live = get_policy(ecr, item.repository)
                changes = ([] if _same_or_both_none(live, item.previous_policy) else ["policy"]) + \
                    [f"remove {t.tag}" for t in item.added_tags] + [f"re-add {t.tag}" for t in item.removed_tags]
                o.status = "would-change" if changes else "unchanged"
                o.detail = ", ".join(changes)
            else:
                changed = set_policy(ecr, item.repository, item.previous_policy)
                for t in item.added_tags:
                    o.tag_changes.append(f"{remove_tag(ecr, item.repository, t.digest, t.tag).outcome} {t.tag}")
                for t in item.removed_tags:
                    o.tag_changes.append(f"{add_tag(ecr, item.repository, t.digest, t.tag).outcome} {t.tag}")
                o.status = "changed" if changed or any(c.startswith(("removed", "added")) for c in o.tag_changes) \
                    else "unchanged"
        except Exception as e:  # noqa: BLE001
            o.status, o.detail = "failed", str(e)
        outcomes.append(o)
    return outcomes


def backup_current(repos: list[tuple[str, str, str]], client_for: ClientFor, backup_dir: Path | None,
                   out: Path | None) -> tuple[Path, list[RepoOutcome]]:
    """A backup of the current policies of `repos` (account, region, name), changing nothing."""
    from ecrwise.aws.lifecycle_apply import get_policy

    items, outcomes = [], []
    for account, region, name in repos:
        try:
            text = get_policy(client_for(account, region), name)
            items.append({"account": account, "region": region, "repository": name, "previous_policy": text,
                          "added_tags": []})
            outcomes.append(RepoOutcome(account, region, name, "backed-up", "no policy" if text is None else ""))
        except Exception as e:  # noqa: BLE001
            outcomes.append(RepoOutcome(account, region, name, "failed", str(e)))
    doc = _backup_doc(items, "ecrwise lifecycle backup")
    from ecrwise.remediate.backup import write_durably

    path = write_durably(out, doc) if out else write_backup(backup_dir, "lifecycle-backup", doc)
    return path, outcomes


def protection_changes(repos: list[Repository], images_tags: dict[tuple[str, str, str], dict[str, list[str]]],
                       in_use: InUse) -> list[dict[str, Any]]:
    """For repositories whose policy carries the protection rule: tags to add to images now in use, and
    protection tags to release from images no longer in use (never an image's last tag)."""
    out = []
    for repo in sorted(repos, key=lambda r: (r.account, r.region, r.name)):
        if not repo.lifecycle_policy or PROTECT_PREFIX not in repo.lifecycle_policy:
            continue
        key = (repo.account, repo.region, repo.name)
        tags_by_digest = images_tags.get(key, {})
        used = in_use.digests(key)
        add = [{"digest": d, "tag": protect_tag(d)} for d in sorted(used)
               if d in tags_by_digest and protect_tag(d) not in tags_by_digest[d]]
        release, kept = [], []
        for d, tags in sorted(tags_by_digest.items()):
            for t in tags:
                if t.startswith(PROTECT_PREFIX) and d not in used:
                    (kept if tags == [t] else release).append({"digest": d, "tag": t})
        if add or release or kept:
            out.append({"account": repo.account, "region": repo.region, "repository": repo.name, "add": add,
                        "release": release, "kept_last_tag": kept})
    return out


def apply_protection(changes: list[dict[str, Any]], client_for: ClientFor, backup_dir: Path | None
                     ) -> tuple[list[RepoOutcome], Path | None]:
    from ecrwise.aws.lifecycle_apply import add_tag, get_policy, remove_tag

    actionable = [c for c in changes if c["add"] or c["release"]]
    if not actionable:
        return [], None
    items = []
    for c in actionable:
        live = get_policy(client_for(c["account"], c["region"]), c["repository"])
        items.append({"account": c["account"], "region": c["region"], "repository": c["repository"],
                      "previous_policy": live, "added_tags": c["add"], "removed_tags": c["release"]})
    backup = write_backup(backup_dir, "lifecycle-backup", _backup_doc(items, "ecrwise lifecycle protect"))
    outcomes = []
    for c in actionable:
        o = RepoOutcome(c["account"], c["region"], c["repository"], "changed")
        try:
            ecr = client_for(c["account"], c["region"])
            for t in c["add"]:
                o.tag_changes.append(f"{add_tag(ecr, c['repository'], t['digest'], t['tag']).outcome} {t['tag']}")
            for t in c["release"]:
                o.tag_changes.append(f"{remove_tag(ecr, c['repository'], t['digest'], t['tag']).outcome} {t['tag']}")
        except Exception as e:  # noqa: BLE001
            o.status, o.detail = "failed", str(e)
        outcomes.append(o)
    return outcomes, backup
