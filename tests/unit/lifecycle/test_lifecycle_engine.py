"""Engine behaviour: the evaluation rules, and every choice made where the User Guide is silent."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ecrwise.lifecycle.engine import evaluate, pattern_regex, wildcard_match
from ecrwise.lifecycle.policy import Policy, Rule
from lc_helpers import AT, img, names, policy, rule, run

UNTAGGED_1D = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}


def tagged(patterns=None, prefixes=None, **kw):
    sel = {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}
    if patterns is not None:
        sel["tagPatternList"] = patterns
    if prefixes is not None:
        sel["tagPrefixList"] = prefixes
    sel.update(kw)
    return sel


# --- where AWS is silent ----------------------------------------------------------------------------


def test_exact_day_boundary_is_not_older():
    # Older than N days means strictly more than N×24 hours before `at`.
    images = [img("exactly", days=1), img("one-second-more", days=1 + 1 / 86400), img("one-second-less",
                                                                                      days=1 - 1 / 86400)]
    ev = run(policy(rule(1, UNTAGGED_1D)), images)
    assert names(ev.expire) == ["one-second-more"]


def test_equal_push_times_order_by_digest():
    # Same push time: the larger digest counts as the newer image, so it is the one kept.
    images = [img("b", days=2), img("a", days=2), img("c", days=2)]
    ev = run(policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1})), images)
    assert names(ev.expire) == ["a", "b"] and names(ev.kept) == ["c"]


def test_tag_matching_is_case_sensitive():
    images = [img("upper", ["PROD-1"], days=3), img("lower", ["prod-1"], days=2), img("lower2", ["prod-2"], days=1)]
    ev = run(policy(rule(1, tagged(patterns=["prod*"]))), images)
    assert names(ev.expire) == ["lower"]
    ev = run(policy(rule(1, tagged(prefixes=["prod"]))), images)
    assert names(ev.expire) == ["lower"]


def test_pattern_without_wildcard_matches_the_whole_tag_only():
    images = [img("exact", ["latest"], days=3), img("longer", ["latest-arm64"], days=2), img("newest", ["latest2"],
                                                                                              days=1)]
    # "latest" as a pattern selects only the image tagged exactly latest: the count of 1 keeps it.
    ev = run(policy(rule(1, tagged(patterns=["latest"]))), images)
    assert ev.expire == ()
    # As a prefix it selects all three and keeps only the newest.
    ev = run(policy(rule(1, tagged(prefixes=["latest"]))), images)
    assert names(ev.expire) == ["exact", "longer"]


def test_reference_matcher_agrees_with_the_engine():
    from ecrwise.lifecycle.engine import tags_match
    from ecrwise.lifecycle.policy import parse_policy
    pol = parse_policy(policy(rule(1, tagged(patterns=["*-1", "prod*"])), rule(2, tagged(prefixes=["v", "re"])),
                              rule(3, UNTAGGED_1D)))
    images = [img("a", ["prod-1"], days=9), img("b", ["prod", "x-1"], days=8), img("c", ["v2", "release"], days=7),
              img("d", ["v3"], days=6), img("e", [], days=5), img("f", ["PROD-1"], days=4)]
    ev = evaluate(pol, images, AT)
    claimed = {}
    for im in images:
        claimed[im.digest] = next((r.priority for r in pol.rules if tags_match(r, im.tags)), None)
    assert claimed == {"sha256:a": 1, "sha256:b": 1, "sha256:c": 2, "sha256:d": None, "sha256:e": 3,
                       "sha256:f": None}
    # Rule 1 keeps one of its two images (b, the newer); rule 3 expires the untagged image.
    assert [(n, p) for n, p in zip(names(ev.expire), (p for _, p in ev.expire))] == [("a", 1), ("e", 3)]


@pytest.mark.parametrize("pattern,tag,matches", [
    ("prod*", "prod", True), ("prod*", "production-team1", True), ("*prod*", "repo-production", True),
    ("*prod*", "prod-team", True), ("prod*", "preprod", False), ("v*.*.*", "v1.2.3", True), ("v*.*.*", "v1.2", False),
    ("*-sha-*", "web-sha-abc", True), ("a*b*a", "aba", True), ("ab*ba", "aba", False), ("*", "x", True),
    ("a.b", "axb", False), ("a+b", "a+b", True), ("[x]*", "[x]1", True),
])
def test_wildcards(pattern, tag, matches):
    import re
    assert wildcard_match(pattern, tag) is matches
    assert bool(re.search(pattern_regex(pattern), tag, re.M)) is matches


# --- evaluation rules ---------------------------------------------------------------------------------


def test_every_listed_prefix_must_match_some_tag():
    images = [img("both", ["prod-1", "beta-1"], days=3), img("prod-only", ["prod-2"], days=2),
              img("both-new", ["beta-2", "prod-9"], days=1)]
    ev = run(policy(rule(1, tagged(prefixes=["prod", "beta"]))), images)
    assert names(ev.expire) == ["both"]


def test_one_tag_may_satisfy_several_prefixes():
    images = [img("one", ["prod-beta"], days=2), img("two", ["prod-beta-2"], days=1)]
    ev = run(policy(rule(1, tagged(prefixes=["prod", "prod-b"]))), images)
    assert names(ev.expire) == ["one"]


def test_higher_rule_selection_protects_even_without_acting():
    # Rule 1 selects v* images but keeps 10; rule 2 (any, keep 1) cannot touch them, only the others.
    images = [img(f"v{i}", [f"v{i}"], days=10 - i) for i in range(3)] + [img("sha", ["abc123"], days=20)]
    ev = run(policy(rule(1, tagged(prefixes=["v"], countNumber=10)),
                    rule(2, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1})), images)
    assert names(ev.expire) == ["sha"] and [p for _, p in ev.expire] == [2]


def test_count_includes_images_marked_by_higher_rules():
    # Rule 1 expires the two old untagged images; rule 2 (any, keep 3) still counts them, so of the tagged
    # images only the newest one fits in its count of 3 (the two untagged ones are older).
    images = [img("t-old", ["x1"], days=30), img("u1", days=20), img("u2", days=10), img("t-mid", ["x2"], days=5),
              img("t-new", ["x3"], days=1)]
    ev = run(policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                             "countNumber": 7}),
                    rule(2, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3})), images)
    assert [(n, p) for n, p in zip(names(ev.expire), (p for _, p in ev.expire))] == [("t-old", 2), ("u1", 1),
                                                                                    ("u2", 1)]


def test_since_image_pulled_falls_back_to_push_time():
    pol = policy(rule(1, {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30},
                      {"type": "transition", "targetStorageClass": "archive"}))
    images = [img("never-pulled-old", days=40), img("never-pulled-new", days=20),
              img("old-but-pulled", days=400, pulled_days=2), img("pulled-long-ago", days=400, pulled_days=31)]
    ev = run(pol, images)
    assert names(ev.transition) == ["pulled-long-ago", "never-pulled-old"]


def test_rules_see_only_their_storage_class():
    images = [img("std", ["v1"], days=500), img("arc", ["v0"], days=900, storage_class="archive", archived_days=200)]
    ev = run(policy(rule(1, {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days",
                             "countNumber": 10})), images)
    assert names(ev.expire) == ["std"]
    ev = run(policy(rule(1, {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                             "countUnit": "days", "countNumber": 100})), images)
    assert names(ev.expire) == ["arc"]


def test_archived_image_without_archive_time_is_never_expired_by_age():
    images = [img("undated", ["v1"], days=900, storage_class="archive")]
    ev = run(policy(rule(1, {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                             "countUnit": "days", "countNumber": 90})), images)
    assert ev.expire == ()


# --- image indexes ------------------------------------------------------------------------------------

ANY_OLDER_10 = {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 10}


def test_child_of_a_kept_index_is_held():
    images = [img("child-amd64", days=30), img("child-arm64", days=30.5), img("index", ["v1"], days=5,
                                                                              manifests=("child-amd64", "child-arm64"))]
    ev = run(policy(rule(1, UNTAGGED_1D)), images)
    assert ev.expire == ()
    assert names(ev.held) == ["child-arm64", "child-amd64"] and len(ev.kept) == 3


def test_children_go_with_an_expired_index():
    images = [img("child", days=30), img("index", ["v1"], days=30, manifests=("child",))]
    ev = run(policy(rule(1, ANY_OLDER_10)), images)
    assert sorted(names(ev.expire)) == ["child", "index"] and ev.held == ()


def test_child_shared_by_two_indexes_needs_both_gone():
    images = [img("child", days=30), img("old-index", ["v1"], days=30, manifests=("child",)),
              img("new-index", ["v2"], days=2, manifests=("child",))]
    ev = run(policy(rule(1, ANY_OLDER_10)), images)
    assert names(ev.expire) == ["old-index"] and names(ev.held) == ["child"]


def test_nested_index_holds_cascade():
    # top (kept) -> mid (untagged, would expire) -> leaf (untagged, would expire): both are held.
    images = [img("leaf", days=30), img("mid", days=30, manifests=("leaf",)),
              img("top", ["v1"], days=2, manifests=("mid",))]
    ev = run(policy(rule(1, UNTAGGED_1D)), images)
    assert ev.expire == () and sorted(names(ev.held)) == ["leaf", "mid"]


def test_child_may_transition_under_an_archived_index_but_not_expire():
    images = [img("child", days=300), img("index", ["v1"], days=300, storage_class="archive", archived_days=10,
                                          manifests=("child",))]
    to_archive = policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                 "countNumber": 30}, {"type": "transition", "targetStorageClass": "archive"}))
    assert names(run(to_archive, images).transition) == ["child"]
    assert names(run(policy(rule(1, UNTAGGED_1D)), images).held) == ["child"]


# --- bytes ----------------------------------------------------------------------------------------------

BASE = ("sha256:base", 100)


def test_shared_layers_free_nothing():
    images = [img("old", days=30, layers=(BASE, ("sha256:old", 10))), img("new", ["v1"], days=1,
                                                                         layers=(BASE, ("sha256:new", 20)))]
    ev = run(policy(rule(1, UNTAGGED_1D)), images)
    assert names(ev.expire) == ["old"]
    assert ev.freed_bytes == 10 and ev.stored_bytes == 130 and ev.archived_bytes == 0


def test_layers_shared_only_among_expired_images_are_freed_once():
    images = [img("a", days=30, layers=(BASE, ("sha256:a", 1))), img("b", days=20, layers=(BASE, ("sha256:b", 2))),
              img("keep", ["v1"], days=1, layers=(("sha256:k", 5),))]
    ev = run(policy(rule(1, UNTAGGED_1D)), images)
    assert ev.freed_bytes == 103 and ev.stored_bytes == 108


def test_transition_and_archive_bytes():
    images = [img("to-archive", ["v1"], days=200, layers=(BASE, ("sha256:t", 7))),
              img("to-delete", days=200, layers=(("sha256:d", 3), ("sha256:t", 7))),
              img("stays", ["v9"], days=1, layers=(BASE,)),
              img("arc-old", ["v0"], days=999, storage_class="archive", archived_days=400,
                  layers=(("sha256:x", 50), ("sha256:t", 7))),
              img("arc-new", ["v00"], days=999, storage_class="archive", archived_days=100, layers=(("sha256:y", 60),))]
    pol = policy(rule(1, tagged(patterns=["v1"], countType="sinceImagePushed", countUnit="days", countNumber=30),
                      {"type": "transition", "targetStorageClass": "archive"}),
                 rule(2, UNTAGGED_1D),
                 rule(3, {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                          "countUnit": "days", "countNumber": 365}))
    ev = run(pol, images)
    assert names(ev.transition) == ["to-archive"] and names(ev.expire) == ["arc-old", "to-delete"]
    # Standard: t (7) and d (3) leave; base stays for "stays". Of those, t moves to archive.
    assert (ev.freed_bytes, ev.archived_bytes, ev.expired_bytes) == (10, 7, 3)
    # Archive: x (50) is deleted; t stays because the newly archived image references it.
    assert ev.archive_freed_bytes == 50 and ev.archive_stored_bytes == 117 and ev.stored_bytes == 110


# --- inputs ----------------------------------------------------------------------------------------------


def test_rejects_mixed_repositories_duplicates_and_naive_times():
    from datetime import datetime
    from ecrwise.lifecycle.images import LifecycleImage
    pol = Policy.of([Rule(1, "untagged", "imageCountMoreThan", 1)])
    with pytest.raises(ValueError, match="one repository"):
        evaluate(pol, [img("a", repository="x"), img("b", repository="y")], AT)
    with pytest.raises(ValueError, match="twice"):
        evaluate(pol, [img("a"), img("a", days=1)], AT)
    with pytest.raises(ValueError, match="timezone"):
        evaluate(pol, [img("a")], AT.replace(tzinfo=None))
    naive = LifecycleImage(digest="n", tags=(), pushed_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        evaluate(pol, [naive, img("a", repository="")], AT)


def test_empty_repository_and_empty_policy():
    ev = evaluate(Policy(()), [], AT, repository="r")
    assert ev.repository == "r" and ev.kept == () and ev.freed_bytes == 0
    ev = evaluate(Policy(()), [img("a", days=1, layers=(BASE,))], AT)
    assert names(ev.kept) == ["a"] and ev.stored_bytes == 100 and ev.freed_bytes == 0


def test_at_later_only_adds_actions():
    images = [img("u", days=5)]
    pol = policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": 7}))
    assert run(pol, images).expire == ()
    assert names(run(pol, images, AT + timedelta(days=3)).expire) == ["u"]
