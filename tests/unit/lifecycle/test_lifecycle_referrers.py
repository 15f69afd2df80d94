"""Referrers (signatures, SBOMs, attestations) and images whose index manifest ECR did not return."""
from __future__ import annotations

import dataclasses

from lc_helpers import img, names, policy, rule, run

UNTAGGED_KEEP_0 = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
OLD_RELEASES = {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "sinceImagePushed", "countUnit": "days",
                "countNumber": 30}
ARCHIVE_OLD = dict(OLD_RELEASES)
TRANSITION = {"type": "transition", "targetStorageClass": "archive"}


def ref(name, subject, *, days=0.0, layers=(), storage_class="standard", archived_days=None):
    return dataclasses.replace(img(name, days=days, layers=layers, storage_class=storage_class,
                                   archived_days=archived_days), subject=f"sha256:{subject}")


def signed_estate():
    base = ("sha256:base", 1000)
    return [
        img("old", ["v1"], days=60, layers=(base, ("sha256:app1", 500))),
        ref("old-sig", "old", days=60, layers=(("sha256:sig1", 7),)),
        ref("old-sbom", "old", days=59, layers=(("sha256:sbom1", 300),)),
        ref("old-sbom-sig", "old-sbom", days=59, layers=(("sha256:sig2", 7),)),  # a signature on the SBOM
        img("new", ["v2"], days=1, layers=(base, ("sha256:app2", 600))),
        ref("new-sig", "new", days=1, layers=(("sha256:sig3", 7),)),
        img("leftover", [], days=40, layers=(base, ("sha256:app0", 400))),
    ]


def test_expiring_a_signed_image_frees_its_referrers_bytes_too():
    ev = run(policy(rule(1, OLD_RELEASES)), signed_estate())
    assert names(ev.expire) == ["old", "old-sig", "old-sbom", "old-sbom-sig"]
    assert names(ev.followed) == ["old-sig", "old-sbom", "old-sbom-sig"]
    assert {p for _, p in ev.followed} == {1}
    # app1 + sig1 + sbom1 + sig2; base stays with "new" and "leftover".
    assert ev.freed_bytes == 500 + 7 + 300 + 7
    assert "new-sig" in names(ev.kept)


def test_untagged_rules_neither_select_nor_count_referrers():
    # Referrers are untagged, yet "keep 1 untagged" keeps the one untagged image: it counts no signature
    # and expires none of the kept images' signatures.
    ev = run(policy(rule(1, UNTAGGED_KEEP_0)), signed_estate())
    assert ev.expire == () and "leftover" in names(ev.kept)
    images = signed_estate() + [img("leftover2", [], days=30, layers=(("sha256:x", 5),))]
    ev = run(policy(rule(1, UNTAGGED_KEEP_0)), images)
    assert names(ev.expire) == ["leftover"]


def test_any_rule_does_not_count_referrers():
    ev = run(policy(rule(1, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3})),
             signed_estate())
    assert ev.expire == ()  # three ordinary images; four referrers are not counted


def test_archiving_the_subject_archives_its_referrers():
    ev = run(policy(rule(1, ARCHIVE_OLD, TRANSITION)), signed_estate())
    assert names(ev.transition) == ["old", "old-sig", "old-sbom", "old-sbom-sig"]
    assert ev.archived_bytes == 500 + 7 + 300 + 7 and ev.expire == ()


def test_referrer_of_a_held_child_stays():
    # A signature on a platform manifest that its (kept) index holds stays too.
    images = [img("amd", [], days=50, layers=(("sha256:l", 10),)),
              img("idx", ["v1"], days=1, manifests=("amd",)),
              ref("amd-sig", "amd", days=50, layers=(("sha256:s", 3),)),
              img("spare", [], days=0, layers=(("sha256:z", 1),))]
    ev = run(policy(rule(1, UNTAGGED_KEEP_0)), images)
    assert names(ev.held) == ["amd"] and ev.expire == () and "amd-sig" in names(ev.kept)


def test_dangling_referrer_is_kept():
    ev = run(policy(rule(1, OLD_RELEASES)), [ref("orphan-sig", "gone", days=90, layers=(("sha256:s", 3),))])
    assert ev.expire == () and names(ev.kept) == ["orphan-sig"]


def test_buildkit_attestation_is_an_index_child_held_with_its_index_and_counted_once():
    # BuildKit lists its attestation manifest (platform unknown/unknown) in the index: it is a child.
    shared = ("sha256:base", 100)
    images = [img("amd", [], days=50, layers=(shared, ("sha256:app", 40))),
              img("att", [], days=50, layers=(("sha256:intoto", 2),)),
              img("idx", ["v1"], days=50, manifests=("amd", "att")),
              img("idx2", ["v2"], days=1, manifests=("amd2",)),
              img("amd2", [], days=1, layers=(shared, ("sha256:app2", 41)))]
    ev = run(policy(rule(1, UNTAGGED_KEEP_0)), images)
    assert names(ev.held) == ["amd", "att"] and ev.expire == ()
    assert ev.stored_bytes == 100 + 40 + 2 + 41
    ev = run(policy(rule(1, OLD_RELEASES)), images)
    assert names(ev.expire) == ["idx"] and names(ev.held) == []  # the children stay, untagged rule absent
    # Expiring the old index (tagged v1 older than 30 days) takes its untagged children with an untagged rule.
    ev = run(policy(rule(1, OLD_RELEASES), rule(2, {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                     "countUnit": "days", "countNumber": 30})), images)
    assert names(ev.expire) == ["amd", "att", "idx"] and ev.freed_bytes == 40 + 2


def test_index_with_unknown_children_holds_every_untagged_image():
    unknown = dataclasses.replace(img("idx", ["v9"], days=1), children_unknown=True)
    images = [img("a", [], days=40, layers=(("sha256:a", 10),)), img("b", [], days=41, layers=(("sha256:b", 5),)),
              unknown]
    ev = run(policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                             "countNumber": 30})), images)
    assert ev.expire == () and names(ev.held) == ["b", "a"] and ev.freed_bytes == 0
