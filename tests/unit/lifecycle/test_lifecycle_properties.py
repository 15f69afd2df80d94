"""Property tests: random repositories and random valid policies.

The reference evaluator below is a deliberately naive re-reading of the User Guide's evaluation rules
(lists and sets, fnmatch for wildcards, ages as `at - t > N days`); the engine's fast paths (regexes over
joined tags, index lists, a claimed-bytearray) must agree with it exactly.
"""
from __future__ import annotations

import random
from datetime import timedelta
from fnmatch import fnmatchcase

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ecrwise.lifecycle.engine import Evaluation, evaluate
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, Rule, errors_only, lint, parse_policy
from ecrwise.lifecycle.simulate import Simulator, SpooledRows, simulate
from lc_helpers import AT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Tags and filters share a small alphabet so that matches, near-misses and case differences all happen.
TAGS = ["v1", "v1.2", "v2.0.1", "prod", "prod-1", "PROD-2", "beta-1", "latest", "latest-arm", "dev-abc", "abc123",
        "release-1", "re", "x"]
PREFIXES = ["v", "prod", "beta", "latest", "dev-", "re", "release-", "", "x", "P", "v1."]
PATTERNS = ["v*", "prod*", "*-1", "latest", "*a*", "v*.*", "*", "beta*", "PROD*", "*e*e*", "x"]
LAYER_SIZES = {f"sha256:layer{i}": (i + 1) * 1000 for i in range(10)}


_IMAGE_FIELDS = st.tuples(
    st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    # Whole days over a short range: equal push times (ties) and exact day boundaries are common.
    st.integers(0, 60),
    st.one_of(st.none(), st.integers(0, 60)),
    st.sampled_from(["standard"] * 5 + ["archive"]),
    st.one_of(st.none(), st.integers(0, 400)),
    st.lists(st.sampled_from(sorted(LAYER_SIZES)), max_size=4, unique=True),
    st.lists(st.integers(0, 99), max_size=2, unique=True),
    st.integers(0, 3),
)


@st.composite
def repositories(draw, max_images: int = 12) -> list[LifecycleImage]:
    n = draw(st.integers(0, max_images))
    # Digest order is random relative to push order, which matters when push times tie.
    order = draw(st.permutations(range(n)))
    images = []
    for i in range(n):
        tags, pushed, pulled, storage, archived, layers, kids, has_kids = draw(_IMAGE_FIELDS)
        # About one image in four is an index over up to two other images of the repository.
        kids = [k % n for k in kids if k % n != i] if has_kids == 0 and n > 1 else []
        images.append(LifecycleImage(
            repository="repo",
            digest=f"sha256:{order[i]:04x}",
            tags=tuple(tags),
            pushed_at=AT - timedelta(days=pushed),
            last_pulled_at=None if pulled is None else AT - timedelta(days=pulled),
            storage_class=storage,
            archived_at=AT - timedelta(days=archived) if storage == "archive" and archived is not None else None,
            layers=tuple((ld, LAYER_SIZES[ld]) for ld in layers),
            manifests=tuple(dict.fromkeys(f"sha256:{order[k]:04x}" for k in kids)),
        ))
    return images


@st.composite
def standard_rule(draw, priority: int, tag_status: str) -> Rule:
    count_type = draw(st.sampled_from(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"]))
    action = "transition" if count_type == "sinceImagePulled" else draw(st.sampled_from(["expire", "transition"]))
    prefixes = patterns = None
    if tag_status == "tagged":
        if draw(st.booleans()):
            prefixes = tuple(draw(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2, unique=True)))
        else:
            patterns = tuple(draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True)))
    return Rule(priority=priority, tag_status=tag_status, count_type=count_type,
                count_number=draw(st.integers(1, 30 if count_type != "imageCountMoreThan" else 6)),
                action=action, tag_prefixes=prefixes, tag_patterns=patterns,
                count_unit=None if count_type == "imageCountMoreThan" else "days",
                target_storage_class="archive" if action == "transition" else None)


@st.composite
def policies(draw) -> Policy:
    """Random policies that ECR would accept (checked with the linter)."""
    statuses = draw(st.lists(st.sampled_from(["tagged", "tagged", "untagged"]), max_size=4))
    statuses = [s for i, s in enumerate(statuses) if s != "untagged" or "untagged" not in statuses[:i]]
    draw(st.randoms()).shuffle(statuses)
    if draw(st.booleans()):
        statuses.append("any")  # last among the standard rules
    priorities = sorted(draw(st.lists(st.integers(1, 99), min_size=len(statuses) + 1, max_size=len(statuses) + 1,
                                      unique=True)))
    rules = [draw(standard_rule(p, s)) for p, s in zip(priorities, statuses)]
    if draw(st.booleans()):
        status = draw(st.sampled_from(["tagged", "untagged", "any"]))
        rules.append(Rule(priority=priorities[-1], tag_status=status, count_type="sinceImageTransitioned",
                          count_number=draw(st.integers(90, 300)), action="expire", storage_class="archive",
                          count_unit="days",
                          tag_patterns=tuple(draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2,
                                                           unique=True))) if status == "tagged" else None))
    assume(rules)
    pol = Policy.of(rules)
    assume(not errors_only(lint(pol.to_dict())))
    return pol


# --- the naive reference ------------------------------------------------------------------------------


def selects(rule: Rule, im: LifecycleImage) -> bool:
    if im.storage_class != rule.storage_class:
        return False
    if rule.tag_status == "any":
        return True
    if rule.tag_status == "untagged":
        return len(im.tags) == 0
    if not im.tags:
        return False
    if rule.tag_prefixes is not None:
        return all(any(t.startswith(p) for t in im.tags) for p in rule.tag_prefixes)
    return all(any(fnmatchcase(t, p) for t in im.tags) for p in rule.tag_patterns or ())


def reference(policy: Policy, images: list[LifecycleImage], at) -> dict[str, Rule]:
    youngest_first = sorted(images, key=lambda im: (im.pushed_at, im.digest), reverse=True)
    decided: dict[str, Rule] = {}
    seen: set[str] = set()
    for r in sorted(policy.rules, key=lambda r: r.priority):
        sel = [im for im in youngest_first if selects(r, im)]
        if r.count_type == "imageCountMoreThan":
            cands = sel[r.count_number:]
        else:
            def since(im):
                return {"sinceImagePushed": im.pushed_at, "sinceImagePulled": im.last_pulled_at or im.pushed_at,
                        "sinceImageTransitioned": im.archived_at}[r.count_type]
            cands = [im for im in sel if since(im) is not None and at - since(im) > timedelta(days=r.count_number)]
        for im in cands:
            if im.digest not in seen:
                decided[im.digest] = r
        seen.update(im.digest for im in sel)
    by_digest = {im.digest: im for im in images}
    while True:
        undo = []
        for child, r in decided.items():
            parents = [im for im in images if child in im.manifests and im.digest != child]
            for p in parents:
                pr = decided.get(p.digest)
                ok = (pr is not None and pr.action == "expire") if r.action == "expire" else \
                    (pr is not None or by_digest[p.digest].storage_class == "archive")
                if not ok:
                    undo.append(child)
                    break
        if not undo:
            return decided
        for c in undo:
            del decided[c]


def acted(ev: Evaluation) -> dict[str, int]:
    return {im.digest: p for im, p in ev.expire + ev.transition}


# --- properties -----------------------------------------------------------------------------------------


@SETTINGS
@given(policies(), repositories())
def test_engine_agrees_with_the_naive_reference(pol, images):
    ev = evaluate(pol, images, AT)
    ref = reference(pol, images, AT)
    assert acted(ev) == {d: r.priority for d, r in ref.items()}
    assert {im.digest for im, _ in ev.expire} == {d for d, r in ref.items() if r.action == "expire"}


@SETTINGS
@given(policies(), repositories(), st.randoms(use_true_random=False))
def test_invariants(pol, images, rnd):
    ev = evaluate(pol, images, AT)
    check_partition(ev, images)
    check_first_matching_rule(ev, pol)
    check_bytes(ev, images)
    check_index_children(ev, images)
    # Deterministic and independent of input order.
    shuffled = list(images)
    rnd.shuffle(shuffled)
    assert evaluate(pol, shuffled, AT) == ev


def check_partition(ev, images):
    """expire, transition and kept partition the input: each image is acted on at most once."""
    exp = [im.digest for im, _ in ev.expire]
    tra = [im.digest for im, _ in ev.transition]
    kept = [im.digest for im in ev.kept]
    assert len(exp) + len(tra) + len(kept) == len(images)
    assert sorted(exp + tra + kept) == sorted(im.digest for im in images)
    assert {im.digest for im, _ in ev.held} <= set(kept)


def check_first_matching_rule(ev, pol):
    """A lower-priority rule never acts on an image a higher-priority rule's selection matched."""
    rules = {r.priority: r for r in pol.rules}
    expired = {im.digest for im, _ in ev.expire}
    for im, prio in ev.expire + ev.transition:
        r = rules[prio]
        assert selects(r, im)
        assert (r.action == "expire") == (im.digest in expired)
        assert not any(selects(h, im) for h in pol.rules if h.priority < prio)


def check_bytes(ev, images):
    """freed_bytes are the standard layers no remaining standard image references; never above stored."""
    gone = set(acted(ev))
    std = [im for im in images if im.storage_class == "standard"]
    before = {d: s for im in std for d, s in im.layers}
    after = {d for im in std if im.digest not in gone for d, _ in im.layers}
    assert ev.stored_bytes == sum(before.values())
    assert ev.freed_bytes == sum(s for d, s in before.items() if d not in after)
    assert 0 <= ev.archived_bytes <= ev.freed_bytes <= ev.stored_bytes
    arc_before = {d: s for im in images if im.storage_class == "archive" for d, s in im.layers}
    assert 0 <= ev.archive_freed_bytes <= ev.archive_stored_bytes == sum(arc_before.values())
    if not ev.expire and not ev.transition:
        assert ev.freed_bytes == ev.archive_freed_bytes == 0


def check_index_children(ev, images):
    """Children of an index are never expired while it stays, nor archived while it stays standard."""
    expired = {im.digest for im, _ in ev.expire}
    transitioned = {im.digest for im, _ in ev.transition}
    for idx in images:
        for child in idx.manifests:
            if child == idx.digest:
                continue
            if idx.digest not in expired:
                assert child not in expired
            if idx.digest not in expired and idx.digest not in transitioned and idx.storage_class != "archive":
                assert child not in transitioned


@SETTINGS
@given(policies(), repositories(), st.integers(1, 400))
def test_later_evaluation_only_adds_actions(pol, images, days):
    now = acted(evaluate(pol, images, AT))
    later = acted(evaluate(pol, images, AT + timedelta(days=days)))
    assert all(later.get(d) == p for d, p in now.items())


@SETTINGS
@given(policies())
def test_policy_round_trips_through_its_json(pol):
    assert parse_policy(pol.to_json()) == pol


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(repositories(max_images=6), min_size=1, max_size=4), st.randoms(use_true_random=False),
       st.floats(0.01, 1.0), st.floats(0.0, 1.0))
def test_simulate_totals_and_prices(pol, repos, rnd, std_price, ratio):
    images = [LifecycleImage(**{**{f: getattr(im, f) for f in im.__dataclass_fields__}, "repository": f"r{k}"})
              for k, repo in enumerate(repos) for im in repo]
    arc_price = std_price * ratio
    names = [f"r{k}" for k in range(len(repos))]
    res = simulate({n: pol for n in names} | {"ghost": None}, images, AT, std_price, arc_price)
    shuffled = list(images)
    rnd.shuffle(shuffled)
    assert simulate({n: pol for n in reversed(names)} | {"ghost": None}, shuffled, AT, std_price,
                    arc_price).to_dict() == res.to_dict()
    tot = res.totals()
    assert tot["images"] == len(images) and tot["repositories"] == len(names) + 1
    assert tot["freed_bytes"] == sum(r.evaluation.freed_bytes for r in res.items)
    assert all(r.monthly_savings_usd >= 0 for r in res.items)
    savings = [r.monthly_savings_usd for r in res.items]
    assert savings == sorted(savings, reverse=True)
    for r in res.items:
        ev = r.evaluation
        expected = (ev.expired_bytes * std_price + ev.archived_bytes * (std_price - arc_price)
                    + ev.archive_freed_bytes * arc_price) / 2**30
        assert abs(r.monthly_savings_usd - expected) < 1e-12


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(repositories(max_images=6), min_size=1, max_size=4), st.randoms(use_true_random=False),
       st.booleans(), st.booleans(), st.sampled_from([None, 0, 3]))
def test_streaming_slim_simulation_reports_what_simulate_reports(pol, repos, rnd, mark, protect, spool):
    """`lifecycle simulate` over a store: repositories added one at a time in any order, each evaluation slimmed
    (kept images counted, layers dropped) before the next, reports exactly what `simulate` does; with rows
    spooled to disk after the first `spool` (every row, or some repositories' and not others') as well."""
    images = [LifecycleImage(**{**{f: getattr(im, f) for f in im.__dataclass_fields__}, "repository": f"r{k}"})
              for k, repo in enumerate(repos) for im in repo]
    in_use = ({im.repository: {im.digest: ("ecs:svc",)} for im in images if rnd.random() < 0.3} if mark else None)
    policies = {f"r{k}": pol for k in range(len(repos))} | {"ghost": None}
    options = dict(restore_price_gb=0.0066, in_use=in_use, protect_in_use=protect)
    expected = simulate(policies, images, AT, 0.10, 0.0114, **options)
    sim = Simulator(AT, 0.10, 0.0114, slim=True, spool_after=spool, **options)
    names = list(policies)
    rnd.shuffle(names)
    for name in names:
        sim.add(name, policies[name], [im for im in images if im.repository == name])
    got = sim.result()
    assert got.to_dict() == expected.to_dict()
    assert got.totals() == expected.totals()
    assert all(not r.evaluation.kept and all(not im.layers for im, _ in r.evaluation.expire) for r in got.items)
    if spool == 0:  # every row on disk, none held
        assert all(isinstance(rows, SpooledRows) or not rows for r in got.items
                   for rows in (r.evaluation.expire, r.evaluation.transition, r.evaluation.held))


def test_reference_catches_a_wrong_engine():
    # Guard against a vacuous oracle: a policy whose evaluation the reference must contradict if protection
    # by higher-priority selections were ignored.
    from lc_helpers import img
    pol = Policy.of([Rule(1, "tagged", "imageCountMoreThan", 10, tag_prefixes=("v",)),
                     Rule(2, "any", "imageCountMoreThan", 1)])
    images = [img("v1", ["v1"], days=3), img("v2", ["v2"], days=2), img("sha", ["abc"], days=9)]
    ref = reference(pol, images, AT)
    assert set(ref) == {"sha256:sha"}
    assert acted(evaluate(pol, images, AT)) == {"sha256:sha": 2}
    random.Random(0).shuffle(images)
    assert acted(evaluate(pol, images, AT)) == {"sha256:sha": 2}
