"""Evaluate an ECR lifecycle policy against one repository's images, the way ECR's evaluator does.

The rules this follows are the User Guide's "Lifecycle policy evaluation rules" (page "Automate the cleanup
of images by using lifecycle policies in Amazon ECR"); docs/lifecycle.md lists them with the choices made
where the guide is silent. In short:

- rules are applied in ascending rulePriority; each image is acted on by at most one rule;
- a rule only sees images of its storage class (standard unless it says archive);
- an image matched by the *tag selection* of a higher-priority rule is never acted on by a lower-priority
  rule, whether or not the higher rule acted on it; it still counts for the lower rule's imageCountMoreThan;
- every listed prefix or pattern must match some tag of the image;
- ages are strict: an image is older than N days when more than N×24 hours separate it from `at`;
- images referenced by an image index are not expired while the index stays (see `_hold_index_children`);
- referrers (signatures, SBOMs, attestations: images with a `subject`) are neither selected nor counted by
  rules; each goes with its subject, expired or archived when the subject is (see `_follow_subjects`).

Images are totally ordered by (pushed_at, digest), so the result does not depend on input order.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Callable, Iterable, Sequence

from ecrwise.lifecycle.images import ARCHIVE, STANDARD, LifecycleImage, new_image
from ecrwise.lifecycle.policy import Policy, Rule, wildcard_match

EXPIRE = "expire"
TRANSITION = "transition"


@dataclass(frozen=True, slots=True)
class Evaluation:
    repository: str
    # (image, rulePriority of the rule that acts on it), oldest first.
    expire: tuple[tuple[LifecycleImage, int], ...]
    transition: tuple[tuple[LifecycleImage, int], ...]
    # Every image no rule acts on (including `held`), oldest first.
    kept: tuple[LifecycleImage, ...]
    # Images a rule would have acted on but an image index that stays still references them.
    held: tuple[tuple[LifecycleImage, int], ...]
    # Bytes of distinct layers no longer stored in the standard class: referenced by an expired or
    # transitioned standard image and by no standard image that remains.
    freed_bytes: int
    # The part of freed_bytes that moves to the archive class rather than being deleted.
    archived_bytes: int
    # Bytes of distinct layers deleted from the archive class (expired archived images' layers that no
    # remaining archived image references).
    archive_freed_bytes: int
    # Distinct-layer bytes stored before evaluation, per class.
    stored_bytes: int
    archive_stored_bytes: int
    # Referrers expired or transitioned because their subject is (also listed in `expire` / `transition`,
    # with the subject's rule), oldest first.
    followed: tuple[tuple[LifecycleImage, int], ...] = ()
    # Kept images counted but not held in `kept` (`slim`): a simulation over a million images keeps only what
    # it reports about each repository.
    kept_not_listed: int = 0

    @property
    def expired_bytes(self) -> int:
        """Standard-class bytes deleted outright (freed, and not moved to archive)."""
        return self.freed_bytes - self.archived_bytes

    @property
    def kept_count(self) -> int:
        return len(self.kept) + self.kept_not_listed

    def slim(self) -> "Evaluation":
        """The same evaluation holding only what its report prints: the kept images as a count, and the images
        acted on without their layers (the byte figures are already summed)."""
        def bare(rows: tuple[tuple[LifecycleImage, int], ...]) -> tuple[tuple[LifecycleImage, int], ...]:
            # new_image, not dataclasses.replace: a million-image simulation makes one per image acted on.
            return tuple((new_image(im.repository, im.digest, im.tags, im.pushed_at, im.last_pulled_at,
                                    im.storage_class, im.archived_at, (), im.manifests, im.subject,
                                    im.children_unknown), p)
                         for im, p in rows)

        return replace(self, expire=bare(self.expire), transition=bare(self.transition), held=bare(self.held),
                       followed=bare(self.followed), kept=(), kept_not_listed=self.kept_count)


# The total order images are counted in: push time, then digest for equal push times. attrgetter builds
# the key in C, which matters at a million images.
order_key: Callable[[LifecycleImage], tuple[datetime, str]] = attrgetter("pushed_at", "digest")


# --- tag matching ----------------------------------------------------------------------------------


def pattern_regex(pattern: str) -> str:
    """A tagPatternList entry as a regex over one line: '*' matches any run of characters (even none);
    everything else is literal and case-sensitive, and the pattern must match the whole tag."""
    return "^" + "[^\n]*".join(re.escape(part) for part in pattern.split("*")) + "$"


def prefix_regex(prefix: str) -> str:
    return "^" + re.escape(prefix)


def tags_match(rule: Rule, tags: Sequence[str]) -> bool:
    """Reference (slow) matcher: every listed prefix/pattern matches at least one of the tags."""
    if rule.tag_status == "untagged":
        return not tags
    if rule.tag_status == "any":
        return True
    if not tags:
        return False
    if rule.tag_prefixes is not None:
        return all(any(t.startswith(p) for t in tags) for p in rule.tag_prefixes)
    assert rule.tag_patterns is not None
    return all(any(wildcard_match(p, t) for t in tags) for p in rule.tag_patterns)


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    # For tagged rules: one search function per listed prefix/pattern, applied to the image's tags joined
    # by newlines (tags cannot contain a newline), so one regex call tests all of an image's tags.
    searches: tuple[Callable[[str], object], ...]
    days: timedelta | None


@lru_cache(maxsize=256)
def _compile(policy: Policy) -> tuple[_CompiledRule, ...]:
    out = []
    for r in sorted(policy.rules, key=lambda r: r.priority):
        exprs: tuple[str, ...] = ()
        if r.tag_status == "tagged":
            if r.tag_prefixes is not None:
                exprs = tuple(prefix_regex(p) for p in r.tag_prefixes)
            elif r.tag_patterns is not None:
                exprs = tuple(pattern_regex(p) for p in r.tag_patterns)
        searches = tuple(re.compile(e, re.M).search for e in dict.fromkeys(exprs))
        days = timedelta(days=r.count_number) if r.count_type != "imageCountMoreThan" else None
        out.append(_CompiledRule(r, searches, days))
    return tuple(out)


# --- evaluation -------------------------------------------------------------------------------------


def evaluate(policy: Policy, images: Iterable[LifecycleImage], at: datetime, *,
             repository: str | None = None) -> Evaluation:
    """What `policy` would do to one repository's `images` at time `at` (an aware datetime).

    `repository` names the repository when `images` may be empty; otherwise it is taken from the images.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("evaluate: `at` must be timezone-aware")
    try:
        # Youngest first: imageCountMoreThan keeps the first N matches in this order.
        ys = sorted(images, key=order_key, reverse=True)
    except TypeError:
        raise ValueError("evaluate: every pushed_at must be a timezone-aware datetime") from None
    n = len(ys)
    if repository is None:
        repository = ys[0].repository if ys else ""
    repos = {im.repository for im in ys}
    if repos - {repository}:
        raise ValueError(f"evaluate: one repository at a time, got {sorted(repos | {repository})!r}")
    if len({im.digest for im in ys}) != n:
        dup = min(d for d, c in Counter(im.digest for im in ys).items() if c > 1)
        raise ValueError(f"evaluate: digest {dup} appears twice in repository {repository!r}")

    rules = _compile(policy)
    by_class: dict[str, tuple[list[int], list[int]]] = {STANDARD: ([], []), ARCHIVE: ([], [])}
    for i, im in enumerate(ys):
        if im.subject is not None:
            continue  # a referrer: no rule selects or counts it; it follows its subject
        tagged, untagged = by_class.setdefault(im.storage_class, ([], []))
        (tagged if im.tags else untagged).append(i)

    joined: dict[int, str] | None = None
    claimed = bytearray(n)  # 1 once any applied rule's tag selection matched the image
    acted: list[Rule | None] = [None] * n

    for cr in rules:
        r = cr.rule
        tagged, untagged = by_class.get(r.storage_class, ([], []))
        if r.tag_status == "untagged":
            matched = untagged
        elif r.tag_status == "any":
            # Merge back into youngest-first order; both lists are already in it.
            matched = sorted(tagged + untagged)
        else:
            if joined is None:
                joined = {i: "\n".join(ys[i].tags) for c in by_class.values() for i in c[0]}
            matched = tagged
            for search in cr.searches:
                matched = [i for i in matched if search(joined[i])]

        if r.count_type == "imageCountMoreThan":
            # Counting includes images that higher-priority rules matched or marked ("can still identify
            # them as if they haven't been expired"); they just cannot be acted on again.
            candidates: Iterable[int] = matched[r.count_number:]
        else:
            assert cr.days is not None
            cutoff = at - cr.days
            if r.count_type == "sinceImagePushed":
                candidates = [i for i in matched if ys[i].pushed_at < cutoff]
            elif r.count_type == "sinceImagePulled":
                # Never pulled: ECR uses the push time instead.
                candidates = [i for i in matched
                              if (ys[i].last_pulled_at or ys[i].pushed_at) < cutoff]
            else:  # sinceImageTransitioned
                # An archived image with no recorded archive time is never old enough: ecrwise will not
                # predict a deletion it cannot date.
                candidates = [i for i in matched
                              if ys[i].archived_at is not None and ys[i].archived_at < cutoff]
        for i in candidates:
            if not claimed[i]:
                acted[i] = r
        for i in matched:
            claimed[i] = 1

    held = _hold_index_children(ys, acted)
    followed = _follow_subjects(ys, acted)

    expire: list[tuple[LifecycleImage, int]] = []
    transition: list[tuple[LifecycleImage, int]] = []
    kept: list[LifecycleImage] = []
    for i in range(n - 1, -1, -1):  # oldest first in the result
        r = acted[i]
        if r is None:
            kept.append(ys[i])
        elif r.action == EXPIRE:
            expire.append((ys[i], r.priority))
        else:
            transition.append((ys[i], r.priority))

    freed, archived, arc_freed, stored, arc_stored = _layer_bytes(ys, acted)
    return Evaluation(
        repository=repository,
        expire=tuple(expire),
        transition=tuple(transition),
        kept=tuple(kept),
        held=tuple((ys[i], held[i].priority) for i in sorted(held, reverse=True)),  # oldest first
        freed_bytes=freed,
        archived_bytes=archived,
        archive_freed_bytes=arc_freed,
        stored_bytes=stored,
        archive_stored_bytes=arc_stored,
        followed=tuple((ys[i], acted[i].priority) for i in sorted(followed, reverse=True)),  # type: ignore[union-attr]
    )


def _follow_subjects(ys: list[LifecycleImage], acted: list[Rule | None]) -> set[int]:
    """Act on referrers as on their subjects; return the referrers acted on.

    The User Guide ("Sign images in Amazon ECR", Considerations): "When reference artifacts are present in a
    repository, Amazon ECR lifecycle policies will automatically clean up those artifacts within 24 hours of
    the deletion of the subject image" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-signing.html);
    archival too, in the wording issue 14 quotes from the lifecycle page (docs/lifecycle.md says where). So a referrer is expired when its subject is expired and
    archived when its (standard-class) subject is transitioned. A referrer of a referrer (a signature on an
    SBOM) follows in turn. A referrer whose subject is not in the repository is kept: ecrwise predicts no
    action it cannot tie to a rule.
    """
    pos = {im.digest: i for i, im in enumerate(ys)}
    refs = [(i, pos[im.subject]) for i, im in enumerate(ys) if im.subject is not None and im.subject in pos]
    followed: set[int] = set()
    changed = bool(refs)
    while changed:
        changed = False
        for i, j in refs:
            r = acted[j]
            if r is None or acted[i] is not None:
                continue
            if r.action == EXPIRE or ys[i].storage_class == STANDARD:
                acted[i] = r
                followed.add(i)
                changed = True
    return followed


def _hold_index_children(ys: list[LifecycleImage], acted: list[Rule | None]) -> dict[int, Rule]:
    """Undo actions on images that an image index in the repository still needs; return what was undone.

    The User Guide: "If an image is referenced by a manifest list, it cannot be expired or archived without
    the manifest list being deleted or archived first." ecrwise reads that as:
    - a child may be expired only when every index referencing it is expired in the same evaluation;
    - a child may be transitioned only when every index referencing it is already archived, or is expired
      or transitioned in the same evaluation.
    Undoing one child's action can hold back that child's own children (nested indexes), so this repeats
    until nothing changes. Only removals happen, so it terminates.
    """
    pos = {im.digest: i for i, im in enumerate(ys)}
    parents: dict[int, list[int]] = {}
    for i, im in enumerate(ys):
        for child in im.manifests:
            j = pos.get(child)
            if j is not None and j != i:
                parents.setdefault(j, []).append(i)
    # An index whose manifest ECR did not return may reference any untagged image: each is treated as
    # its child (held while that index stays), rather than guessing which ones are.
    unknown = [i for i, im in enumerate(ys) if im.children_unknown]
    if unknown:
        for j, im in enumerate(ys):
            if not im.tags and im.subject is None and not im.children_unknown:
                parents.setdefault(j, []).extend(p for p in unknown if p not in parents.get(j, ()))
    held: dict[int, Rule] = {}
    if not parents:
        return held
    changed = True
    while changed:
        changed = False
        for child, ps in parents.items():
            r = acted[child]
            if r is None:
                continue
            if r.action == EXPIRE:
                ok = all(acted[p] is not None and acted[p].action == EXPIRE for p in ps)  # type: ignore[union-attr]
            else:
                ok = all(acted[p] is not None or ys[p].storage_class == ARCHIVE for p in ps)
            if not ok:
                acted[child] = None
                held[child] = r
                changed = True
    return held


def _layer_bytes(ys: list[LifecycleImage], acted: list[Rule | None]) -> tuple[int, int, int, int, int]:
    """(freed, archived, archive_freed, stored, archive_stored), each over distinct layer digests."""
    std_keep: dict[str, int] = {}
    std_gone: dict[str, int] = {}
    moved: dict[str, int] = {}
    arc_keep: dict[str, int] = {}
    arc_gone: dict[str, int] = {}
    for im, r in zip(ys, acted):
        if im.storage_class == STANDARD:
            if r is None:
                std_keep.update(im.layers)
            else:
                std_gone.update(im.layers)
                if r.action == TRANSITION:
                    moved.update(im.layers)
        else:
            (arc_keep if r is None else arc_gone).update(im.layers)
    stored = sum({**std_gone, **std_keep}.values())
    arc_stored = sum({**arc_gone, **arc_keep}.values())
    if not std_gone and not arc_gone:
        return 0, 0, 0, stored, arc_stored
    freed_keys = std_gone.keys() - std_keep.keys()
    freed = sum(std_gone[d] for d in freed_keys)
    archived = sum(moved[d] for d in freed_keys if d in moved)
    # Layers of expired archived images stay stored if a remaining archived image, or an image moved to
    # archive in this evaluation, still references them.
    arc_freed = sum(arc_gone[d] for d in arc_gone.keys() - arc_keep.keys() - moved.keys())
    return freed, archived, arc_freed, stored, arc_stored
