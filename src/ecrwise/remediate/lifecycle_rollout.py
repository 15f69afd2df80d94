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
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict

from ecrwise import __version__
from ecrwise.analysis.in_use import InUse
from ecrwise.errors import UserError
from ecrwise.inputs import check_aws_names, parse_json, validate
from ecrwise.lifecycle.from_records import repo_key
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, Rule, parse_policy
from ecrwise.lifecycle.simulate import simulate
from ecrwise.pricing.book import PriceBook
from ecrwise.pricing.money import usd
from ecrwise.records.ecr import Repository
from ecrwise.remediate.backup import read_json, write_backup

PROTECT_PREFIX = "ecrwise-keep-"
PROTECT_DESCRIPTION = "ecrwise: never expire images in use (tagged ecrwise-keep-*)"
RETAIN_TAG = "ecrwise:retain"
NEVER_DAYS = 36500  # "older than 100 years": the protection rule matches, and never acts


def protect_tag(digest: str) -> str:
    return PROTECT_PREFIX + digest.split(":", 1)[-1][:12]


def protection_rule() -> Rule:
    return Rule(priority=1, tag_status="tagged", tag_prefixes=(PROTECT_PREFIX,), count_type="sinceImagePushed",
                count_unit="days", count_number=NEVER_DAYS, action="expire", description=PROTECT_DESCRIPTION)


def is_protection_rule(rule: Rule) -> bool:
    return rule.tag_prefixes == (PROTECT_PREFIX,) and rule.tag_status == "tagged"


def with_protection(policy: Policy) -> Policy:
    """The policy with the protection rule first; the user's rules keep their order, shifted by one."""
    user = [r for r in policy.rules if not is_protection_rule(r)]
    shifted = [replace(r, priority=r.priority + 1) for r in user] if any(r.priority == 1 for r in user) else user
    return Policy.of([protection_rule(), *shifted])


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
               snapshot: dict[str, Any] | None) -> dict[str, Any]:
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
    return {"ecrwise": __version__, "kind": "lifecycle-plan", "created_at": at.isoformat().replace("+00:00", "Z"),
            "snapshot": snapshot, "policy_source": policy_source, "policy": new_text,
            "protect_prefix": PROTECT_PREFIX, "items": items, "excluded": excluded, "totals": totals,
            "warnings": list(in_use.warnings)}


def _plan_repository(repo: Repository, images: list[LifecycleImage], user_policy: Policy, new_policy: Policy,
                     new_text: str, in_use: InUse, book: PriceBook, at: datetime) -> tuple[dict[str, Any], float]:
    key = repo_key(repo.account, repo.region, repo.name)
    used = in_use.digests((repo.account, repo.region, repo.name))
    present = {im.digest: im for im in images}
    protect = [{"digest": d, "tag": protect_tag(d)} for d in sorted(used) if d in present
               and protect_tag(d) not in present[d].tags]
    # The images as they will be once the protection tags are on.
    tagged = [replace(im, tags=tuple(sorted({*im.tags, protect_tag(im.digest)}))) if im.digest in used else im
              for im in images]
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


# -- reading plans and backups ------------------------------------------------------------------------

class _PlanTag(BaseModel):
    model_config = ConfigDict(extra="ignore")
    digest: str
    tag: str


class _PlanItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    account: str
    region: str
    repository: str
    action: str
    current_policy: str | None
    new_policy: str
    protect_tags: list[_PlanTag] = []


class _Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: str
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


def load_plan(path: Path) -> _Plan:
    plan = _validate(_Plan, read_json(path, "plan file"), path, "lifecycle-plan")
    for i, item in enumerate(plan.items):
        try:
            parse_policy(item.new_policy, source=f"{path}: items[{i}].new_policy")
        except UserError as e:
            raise UserError(str(e)) from None
        if item.current_policy is not None:  # compared as JSON at apply time: it must parse within limits
            parse_json(item.current_policy, source=f"{path}: items[{i}].current_policy")
    return plan


def load_backup(path: Path) -> _Backup:
    backup = _validate(_Backup, read_json(path, "backup file"), path, "lifecycle-backup")
    for i, item in enumerate(backup.items):
        if item.previous_policy is not None:
            parse_json(item.previous_policy, source=f"{path}: items[{i}].previous_policy")
    return backup


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
    return {"ecrwise": __version__, "kind": "lifecycle-backup",
            "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), "source": source,
            "items": items}


def read_state(ecr: Any, repository: str, digests: Iterable[str]
               ) -> tuple[str | None, dict[str, list[str] | None]]:
    """The live policy text and the live tags of some images of one repository (None: image gone)."""
    from ecrwise.aws.lifecycle_apply import get_policy, image_tags

    return get_policy(ecr, repository), {d: image_tags(ecr, repository, d) for d in digests}


def apply_plan(plan: _Plan, client_for: ClientFor, backup_dir: Path | None, source: str, *,
               dry_run: bool) -> tuple[list[RepoOutcome], Path | None]:
    """Bring every repository of the plan to its new state. The backup of everything that will change is
    written (and fsynced) before the first change; a repository whose policy changed since the plan was made
    is left alone (re-plan); one repository failing does not stop the others."""
    from ecrwise.aws.lifecycle_apply import add_tag, set_policy

    outcomes: list[RepoOutcome] = []
    todo: list[tuple[_PlanItem, Any, list[_PlanTag], RepoOutcome]] = []
    backup_items = []
    for item in plan.items:
        out = RepoOutcome(item.account, item.region, item.repository, "unchanged")
        try:
            ecr = client_for(item.account, item.region)
            live, tags = read_state(ecr, item.repository, [t.digest for t in item.protect_tags])
        except Exception as e:  # noqa: BLE001 — reported per repository
            out.status, out.detail = "failed", f"reading current state: {e}"
            outcomes.append(out)
            continue
        # An in-use image may be untagged ([]): it needs the tag all the more. A gone image (None) does not.
        missing = [t for t in item.protect_tags if tags.get(t.digest) is not None and t.tag not in tags[t.digest]]
        policy_done = live is not None and _same_policy(live, item.new_policy)
        if policy_done and not missing:
            outcomes.append(out)
            continue
        if not policy_done and not _same_or_both_none(live, item.current_policy):
            out.status, out.detail = "drifted", "the policy changed since the plan was made; re-run `lifecycle plan`"
            outcomes.append(out)
            continue
        backup_items.append({"account": item.account, "region": item.region, "repository": item.repository,
                             "previous_policy": live,
                             "added_tags": [t.model_dump() for t in missing]})
        todo.append((item, ecr, missing, out))
        outcomes.append(out)
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
