"""Lint traps real policies fall into: "all of these" tag lists, and transitions the archive minimum undoes.

ECR's rule for several tags (User Guide, lifecycle_policy_parameters.html): "If you specify multiple tags, only
the images with all specified tags are selected." The engine implements that; these tests pin the warning,
its suggestion (which must lint clean and select what the author meant), and the snapshot counts.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ecrwise.cli.lifecycle import app
from ecrwise.lifecycle.engine import evaluate, tags_match
from ecrwise.lifecycle.policy import ARCHIVE_MIN_DAYS, Policy, Rule, count_all_vs_any, errors_only, lint, parse_policy
from ecrwise.records.ecr import Image, ImageLayer, Repository
from ecrwise.store import Store
from lc_helpers import AT, img, policy, rule
from test_lifecycle_properties import PATTERNS, PREFIXES, TAGS

TRANSITION = {"type": "transition", "targetStorageClass": "archive"}
UNTAGGED_14 = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}
CODE = "tag-list-requires-all"


def _keep(prefixes=None, patterns=None, n=10):
    sel = {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": n}
    if prefixes is not None:
        sel["tagPrefixList"] = prefixes
    if patterns is not None:
        sel["tagPatternList"] = patterns
    return sel


def _trap(issues):
    found = [i for i in issues if i.code == CODE]
    assert len(found) <= 1
    return found[0] if found else None


def _applied(obj: dict, issue) -> dict:
    """The policy the warning suggests: its renumbered policy, or the split rules put in place."""
    d = issue.detail
    if "suggested_policy" in d:
        return d["suggested_policy"]
    me = d["rule_priority"]
    rules = [r for r in obj["rules"] if r["rulePriority"] != me] + d["suggested_rules"]
    return {"rules": sorted(rules, key=lambda r: r["rulePriority"])}


# --- the warning ------------------------------------------------------------------------------------------

TRAP_CASES = [
    ("two-prefixes", policy(rule(1, _keep(["v", "release-"])), rule(2, UNTAGGED_14)),
     "rules[0].selection.tagPrefixList", ["v", "release-"]),
    ("three-patterns", policy(rule(5, _keep(patterns=["prod*", "stage*", "qa*"]))),
     "rules[0].selection.tagPatternList", ["prod*", "stage*", "qa*"]),
    ("second-rule", policy(rule(1, UNTAGGED_14), rule(3, _keep(["main-", "develop-"]))),
     "rules[1].selection.tagPrefixList", ["main-", "develop-"]),
    ("duplicates-collapsed", policy(rule(1, _keep(["a", "b", "a"]))), "rules[0].selection.tagPrefixList", ["a", "b"]),
    ("transition-rule", policy(rule(1, _keep(["v", "rc"]), TRANSITION)), "rules[0].selection.tagPrefixList",
     ["v", "rc"]),
]


@pytest.mark.parametrize("case_id,obj,path,entries", TRAP_CASES, ids=[c[0] for c in TRAP_CASES])
def test_several_entries_warn_with_path_and_entries(case_id, obj, path, entries):
    issues = lint(obj)
    assert errors_only(issues) == []
    w = _trap(issues)
    assert w is not None and (w.path, w.severity) == (path, "warning")
    assert w.detail["entries"] == entries and w.detail["selects"] == "all"
    assert "all" in w.message and "not any one of them" in w.message
    assert w.as_dict()["detail"] is w.detail


@pytest.mark.parametrize("obj", [
    policy(rule(1, _keep(["v"]))),
    policy(rule(1, _keep(["v", "v"]))),  # the same prefix twice is one prefix
    policy(rule(1, _keep(patterns=["v*"]))),
    policy(rule(1, UNTAGGED_14)),
], ids=["one-prefix", "repeated-prefix", "one-pattern", "untagged"])
def test_single_entry_does_not_warn(obj):
    assert _trap(lint(obj)) is None


def test_issue_without_detail_keeps_its_old_shape():
    (issue,) = lint(policy(rule(1, _keep([""]))))
    assert set(issue.as_dict()) == {"path", "message", "code", "severity"}


# --- the suggestion ---------------------------------------------------------------------------------------


def test_split_fits_in_place_when_priorities_are_free():
    obj = policy(rule(1, _keep(["v", "release-"]), description="releases"), rule(10, UNTAGGED_14))
    d = _trap(lint(obj)).detail
    assert "suggested_policy" not in d
    assert [(r["rulePriority"], r["selection"]["tagPrefixList"], r["description"]) for r in d["suggested_rules"]] == \
        [(1, ["v"], "releases (tag prefix 'v')"), (2, ["release-"], "releases (tag prefix 'release-')")]
    # Everything else of the rule is carried over unchanged.
    assert all(r["selection"]["countNumber"] == 10 and r["action"] == {"type": "expire"} for r in d["suggested_rules"])
    assert errors_only(lint(_applied(obj, _trap(lint(obj))))) == []


def test_split_renumbers_the_policy_when_priorities_are_taken():
    obj = policy(rule(1, _keep(["v", "release-", "hotfix-"])), rule(2, UNTAGGED_14))
    d = _trap(lint(obj)).detail
    new = d["suggested_policy"]["rules"]
    assert [r["rulePriority"] for r in new] == [1, 2, 3, 4]
    assert [r["selection"].get("tagPrefixList") for r in new] == [["v"], ["release-"], ["hotfix-"], None]
    assert new[3]["selection"] == UNTAGGED_14
    assert lint(d["suggested_policy"]) == []


def test_prefix_that_already_has_its_own_rule_is_left_out():
    # ECR rejects two standard rules with the same prefix set, so the split must not repeat ["v"].
    obj = policy(rule(1, _keep(["v"], n=3)), rule(5, _keep(["v", "release-"])))
    w = _trap(lint(obj))
    assert w.detail["already_selected_alone_by"] == {"v": "rules[0]"}
    assert [r["selection"]["tagPrefixList"] for r in w.detail["suggested_rules"]] == [["release-"]]
    assert errors_only(lint(_applied(obj, w))) == []


def test_no_suggestion_when_every_entry_already_has_a_rule():
    obj = policy(rule(1, _keep(["a"])), rule(2, _keep(["b"])), rule(3, _keep(["a", "b"])))
    d = _trap(lint(obj)).detail
    assert "suggested_rules" not in d and d["suggestion_unavailable"] == ["every entry already has its own rule"]


def test_suggested_rules_select_what_any_of_them_meant():
    obj = policy(rule(1, {"tagStatus": "tagged", "tagPrefixList": ["v", "release-"], "countType": "sinceImagePushed",
                          "countUnit": "days", "countNumber": 30}))
    images = [img("v1", ["v1.0"], days=40), img("rel", ["release-7"], days=40), img("both", ["v2", "release-8"],
                                                                                     days=40),
              img("young", ["v3"], days=5), img("other", ["abc"], days=40)]
    as_written = evaluate(parse_policy(obj), images, AT)
    assert [im.digest for im, _ in as_written.expire] == ["sha256:both"]  # all of them: only the image with both
    fixed = evaluate(parse_policy(_applied(obj, _trap(lint(obj)))), images, AT)
    assert sorted(im.digest for im, _ in fixed.expire) == ["sha256:both", "sha256:rel", "sha256:v1"]


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _trap_policies(draw):
    """A valid policy with one multi-entry tagged rule among other rules."""
    use_prefix = draw(st.booleans())
    entries = draw(st.lists(st.sampled_from(PREFIXES if use_prefix else PATTERNS), min_size=2, max_size=4,
                            unique=True))
    others = draw(st.lists(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2, unique=True), max_size=3))
    prios = sorted(draw(st.lists(st.integers(1, 12), min_size=len(others) + 2, max_size=len(others) + 2,
                                 unique=True)))
    rules = [rule(p, _keep(o)) for p, o in zip(prios, others)]
    me = draw(st.integers(0, len(rules)))
    rules.insert(me, rule(0, _keep(entries) if use_prefix else _keep(patterns=entries)))
    for r, p in zip(rules, prios):
        r["rulePriority"] = p
    rules.append(rule(prios[-1], UNTAGGED_14))
    return policy(*rules)


@_SETTINGS
@given(_trap_policies())
def test_property_suggestion_is_valid_and_splits_every_free_entry(obj):
    issues = lint(obj)
    if errors_only(issues):  # e.g. two "other" rules drew the same prefix set
        return
    traps = [i for i in issues if i.code == CODE]
    assert traps
    for w in traps:
        d = w.detail
        if "suggestion_unavailable" in d:
            assert set(d.get("already_selected_alone_by", {})) == set(d["entries"])
            continue
        assert errors_only(lint(_applied(obj, w))) == []
        split = [e for r in d["suggested_rules"] for e in r["selection"].get("tagPrefixList",
                                                                               r["selection"].get("tagPatternList"))]
        assert split + sorted(d.get("already_selected_alone_by", {})) == \
            [e for e in d["entries"] if e in split] + sorted(d.get("already_selected_alone_by", {}))
        assert set(split) | set(d.get("already_selected_alone_by", {})) == set(d["entries"])


# --- counting all versus any --------------------------------------------------------------------------------


def test_count_all_vs_any_by_hand():
    pol = Policy.of([Rule(1, "tagged", "imageCountMoreThan", 5, tag_prefixes=("v", "latest")),
                     Rule(2, "tagged", "imageCountMoreThan", 5, tag_patterns=("prod*",)),
                     Rule(3, "untagged", "imageCountMoreThan", 1)])
    images = [img("a", ["v1", "latest"]), img("b", ["v2"]), img("c", ["latest-arm"]), img("d", []),
              img("e", ["x"]), img("f", ["v3", "latest"], storage_class="archive"),
              img("g", ["v4", "latest"], repository="other")]
    (c,) = count_all_vs_any(pol, images)
    assert c == {"rule_priority": 1, "list": "tagPrefixList", "entries": ["v", "latest"], "storage_class": "standard",
                 "images": 5, "all": 2, "any": 4, "per_entry": {"v": 3, "latest": 3},
                 "repositories_all": 2, "repositories_any": 2}


@_SETTINGS
@given(st.lists(st.sampled_from(PREFIXES), min_size=2, max_size=3, unique=True) |
       st.lists(st.sampled_from(PATTERNS), min_size=2, max_size=3, unique=True),
       st.booleans(),
       st.lists(st.lists(st.sampled_from(TAGS), max_size=3, unique=True), max_size=15))
def test_property_all_is_what_the_engine_selects_and_any_is_the_union(entries, as_prefix, tag_sets):
    r = Rule(1, "tagged", "imageCountMoreThan", 1, tag_prefixes=tuple(entries) if as_prefix else None,
             tag_patterns=None if as_prefix else tuple(entries))
    images = [img(f"i{k}", tags) for k, tags in enumerate(tag_sets)]
    (c,) = count_all_vs_any(Policy.of([r]), images)
    singles = [Rule(1, "tagged", "imageCountMoreThan", 1, tag_prefixes=(e,) if as_prefix else None,
                    tag_patterns=None if as_prefix else (e,)) for e in entries]
    assert c["all"] == sum(1 for im in images if tags_match(r, im.tags))
    assert c["any"] == sum(1 for im in images if any(tags_match(s, im.tags) for s in singles))
    assert c["per_entry"] == {e: sum(1 for im in images if tags_match(s, im.tags)) for e, s in zip(entries, singles)}
    assert c["all"] <= min(c["per_entry"].values()) <= max(c["per_entry"].values()) <= c["any"]


# --- archive-minimum warnings -----------------------------------------------------------------------------


def _pulled_transition(days):
    return {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "sinceImagePulled", "countUnit": "days",
            "countNumber": days}


def _age(days, status="any"):
    return {"tagStatus": status, "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days}


ARCHIVE_365 = {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
               "countUnit": "days", "countNumber": 365}


@pytest.mark.parametrize("days,warns", [(1, True), (30, True), (89, True), (90, False), (180, False)])
def test_transition_on_pulls_shorter_than_the_minimum(days, warns):
    issues = lint(policy(rule(1, _pulled_transition(days), TRANSITION)))
    assert errors_only(issues) == []
    hits = [i for i in issues if i.code == "transition-before-archive-minimum"]
    assert bool(hits) is warns
    if warns:
        assert hits[0].path == "rules[0].selection.countNumber" and hits[0].detail["count_number"] == days
        assert f"{ARCHIVE_MIN_DAYS}-day minimum" in hits[0].message


def test_expire_meant_for_archived_images_before_the_minimum():
    obj = policy(rule(1, _age(30, "tagged") | {"tagPatternList": ["v*"]}, TRANSITION), rule(2, _age(60)))
    issues = lint(obj)
    assert errors_only(issues) == []
    (w,) = [i for i in issues if i.code == "expire-before-archive-minimum"]
    assert w.path == "rules[1].selection.countNumber" and w.severity == "warning"
    assert w.detail["days_in_archive_intended"] == 30 and w.detail["transition_rule_priority"] == 1
    # No archive rule at all: the suggestion is one, at the earliest day ECR allows, and it lints clean.
    (sr,) = w.detail["suggested_rules"]
    assert sr["selection"]["countNumber"] == ARCHIVE_MIN_DAYS and sr["selection"]["storageClass"] == "archive"
    assert errors_only(lint({"rules": obj["rules"] + [sr]})) == []
    # With an archive rule present the warning stays (the standard rule still never deletes archived images)
    # but no rule is suggested.
    (w2,) = [i for i in lint({"rules": obj["rules"] + [rule(3, ARCHIVE_365)]})
             if i.code == "expire-before-archive-minimum"]
    assert "suggested_rules" not in w2.detail


@pytest.mark.parametrize("t_days,e_days", [(30, 30), (30, 20), (30, 120), (10, 200)])
def test_no_expire_warning_outside_the_window(t_days, e_days):
    obj = policy(rule(1, _age(t_days, "tagged") | {"tagPatternList": ["v*"]}, TRANSITION), rule(2, _age(e_days)))
    assert not [i for i in lint(obj) if i.code == "expire-before-archive-minimum"]


def test_expire_rule_for_other_tags_is_not_flagged():
    obj = policy(rule(1, _age(30, "tagged") | {"tagPatternList": ["v*"]}, TRANSITION), rule(2, _age(60, "untagged")))
    assert not [i for i in lint(obj) if i.code == "expire-before-archive-minimum"]


# --- the CLI ------------------------------------------------------------------------------------------------

runner = CliRunner()
T0 = AT - timedelta(days=1)


def _store(path):
    def im(digest, tags):
        return Image("111111111111", "us-east-1", "web", digest, tags, T0, None, 10, "m", None, 10)
    recs = {Repository: [Repository("111111111111", "us-east-1", "web", "arn:aws:ecr:us-east-1:111111111111:"
                                    "repository/web", "111111111111.dkr.ecr.us-east-1.amazonaws.com/web", T0,
                                    "MUTABLE", False, "AES256", {}, None)],
            Image: [im("sha256:1", ["v1", "latest"]), im("sha256:2", ["v2"]), im("sha256:3", ["latest-x"]),
                    im("sha256:4", [])],
            ImageLayer: [ImageLayer("111111111111", "us-east-1", "web", f"sha256:{k}", f"sha256:l{k}", 10)
                         for k in range(1, 5)]}
    with Store(path) as st:
        return st.save_scan(T0, ["111111111111"], ["us-east-1"], ["ecr"], recs, [], "t").id


@pytest.fixture
def trap_file(tmp_path):
    p = tmp_path / "any-of.json"
    p.write_text(json.dumps(policy(rule(1, _keep(["v", "latest"])), rule(2, UNTAGGED_14))))
    return p


def test_lint_cli_shows_the_suggestion_and_exits_0(trap_file):
    res = runner.invoke(app, ["lint", str(trap_file)])
    assert res.exit_code == 0, res.output
    assert "[tag-list-requires-all]" in res.output and "suggested policy (renumbered):" in res.output
    line = next(ln for ln in res.output.splitlines() if '"tagPrefixList": ["latest"]' in ln)
    assert json.loads(line)["rulePriority"] == 2


def test_lint_cli_counts_all_versus_any_in_a_snapshot(trap_file, tmp_path):
    db = tmp_path / "s.duckdb"
    sid = _store(db)
    res = runner.invoke(app, ["lint", str(trap_file), "--store", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["snapshot"]["id"] == sid
    (item,) = doc["items"]
    counts = item["detail"]["snapshot_counts"]
    assert (counts["snapshot"], counts["images"], counts["all"], counts["any"]) == (sid, 3, 1, 3)
    assert counts["per_entry"] == {"v": 2, "latest": 2}
    assert f"snapshot {sid}: 1 of 3 tagged standard images carry all of them, 3 carry any of them" in item["message"]
    # Same counts when the snapshot is named; text output carries them too.
    res = runner.invoke(app, ["lint", str(trap_file), "--store", str(db), "--snapshot", str(sid)])
    assert res.exit_code == 0 and "1 of 3 tagged standard images carry all of them" in res.output


def test_lint_cli_without_a_store_does_not_count(trap_file):
    doc = json.loads(runner.invoke(app, ["lint", str(trap_file), "--format", "json"]).output)
    assert doc["snapshot"] is None and "snapshot_counts" not in doc["items"][0]["detail"]


def test_lint_cli_missing_store_is_a_user_error(trap_file, tmp_path):
    res = runner.invoke(app, ["lint", str(trap_file), "--store", str(tmp_path / "missing.duckdb")])
    assert res.exit_code == 2 and "no store here yet" in res.output
