"""The lint case table: each validation rule, once passing and once failing, with the path it must name."""
from __future__ import annotations

import copy
import json

import pytest

from ecrwise.errors import UserError
from ecrwise.lifecycle.policy import MAX_RULES, POLICY_TEXT_MAX, errors_only, lint, parse_policy
from lc_helpers import policy, rule

UNTAGGED_COUNT = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
TAGGED_PREFIX = {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 9}
TAGGED_PATTERN = {"tagStatus": "tagged", "tagPatternList": ["prod*"], "countType": "sinceImagePushed",
                  "countUnit": "days", "countNumber": 14}
ANY_COUNT = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}
PULLED = {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90}
TRANSITION = {"type": "transition", "targetStorageClass": "archive"}
ARCHIVE_EXPIRE = {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned",
                  "countUnit": "days", "countNumber": 365}


def _with(sel: dict, **changes) -> dict:
    out = copy.deepcopy(sel)
    for k, v in changes.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


_DROP = object()

# (case id, policy object, expected error codes mapped to the path each must name; {} means valid)
CASES: list[tuple[str, dict, dict[str, str]]] = [
    # rulePriority: required, integer, >= 1, unique
    ("priority-valid", policy(rule(1, UNTAGGED_COUNT), rule(7, TAGGED_PREFIX)), {}),
    ("priority-missing", {"rules": [{"selection": UNTAGGED_COUNT, "action": {"type": "expire"}}]},
     {"missing-property": "rules[0].rulePriority"}),
    ("priority-zero", policy(rule(0, UNTAGGED_COUNT)), {"rule-priority-not-positive": "rules[0].rulePriority"}),
    ("priority-string", policy(rule("1", UNTAGGED_COUNT)), {"wrong-type": "rules[0].rulePriority"}),  # type: ignore
    ("priority-float", policy(rule(1.5, UNTAGGED_COUNT)), {"wrong-type": "rules[0].rulePriority"}),  # type: ignore
    ("priority-duplicate", policy(rule(1, UNTAGGED_COUNT), rule(1, TAGGED_PREFIX)),
     {"duplicate-rule-priority": "rules[1].rulePriority"}),
    # description: optional string
    ("description-valid", policy(rule(1, UNTAGGED_COUNT, description="clean up")), {}),
    ("description-number", {"rules": [{"rulePriority": 1, "description": 5, "selection": UNTAGGED_COUNT,
                                       "action": {"type": "expire"}}]}, {"wrong-type": "rules[0].description"}),
    # tagStatus: required, enum (case-sensitive)
    ("tag-status-missing", policy(rule(1, _with(UNTAGGED_COUNT, tagStatus=_DROP))),
     {"missing-property": "rules[0].selection.tagStatus"}),
    ("tag-status-bad", policy(rule(1, _with(UNTAGGED_COUNT, tagStatus="UNTAGGED"))),
     {"invalid-tag-status": "rules[0].selection.tagStatus"}),
    # tagged needs a list; untagged/any must not have one
    ("tagged-with-prefix", policy(rule(1, TAGGED_PREFIX)), {}),
    ("tagged-with-pattern", policy(rule(1, TAGGED_PATTERN)), {}),
    ("tagged-without-list", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=_DROP))),
     {"tag-list-required": "rules[0].selection.tagStatus"}),
    ("untagged-with-prefix", policy(rule(1, _with(UNTAGGED_COUNT, tagPrefixList=["v"]))),
     {"tag-list-not-allowed": "rules[0].selection.tagPrefixList"}),
    ("any-with-pattern", policy(rule(1, _with(ANY_COUNT, tagPatternList=["v*"]))),
     {"tag-list-not-allowed": "rules[0].selection.tagPatternList"}),
    ("prefix-and-pattern", policy(rule(1, _with(TAGGED_PREFIX, tagPatternList=["v*"]))),
     {"prefix-and-pattern-list": "rules[0].selection.tagPatternList"}),
    ("empty-prefix-list", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=[]))),
     {"empty-tag-list": "rules[0].selection.tagPrefixList"}),
    ("prefix-list-not-array", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList="v"))),
     {"wrong-type": "rules[0].selection.tagPrefixList"}),
    ("prefix-list-item-number", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=["v", 2]))),
     {"wrong-type": "rules[0].selection.tagPrefixList[1]"}),
    # wildcard limit: four per string (the User Guide's own valid and invalid examples)
    ("four-wildcards", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["*test*1*2*3", "test*1*2*3*"]))), {}),
    ("six-wildcards", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["test*1*2*3*4*5*6"]))),
     {"too-many-wildcards": "rules[0].selection.tagPatternList[0]"}),
    ("five-wildcards-second", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["a*", "*a*b*c*d*"]))),
     {"too-many-wildcards": "rules[0].selection.tagPatternList[1]"}),
    # countType: required enum
    ("count-type-missing", policy(rule(1, _with(UNTAGGED_COUNT, countType=_DROP))),
     {"missing-property": "rules[0].selection.countType"}),
    ("count-type-bad", policy(rule(1, _with(UNTAGGED_COUNT, countType="sinceImageCreated"))),
     {"invalid-count-type": "rules[0].selection.countType"}),
    # countUnit: required with since*, forbidden otherwise, only "days"
    ("count-unit-days", policy(rule(1, TAGGED_PATTERN)), {}),
    ("count-unit-missing", policy(rule(1, _with(TAGGED_PATTERN, countUnit=_DROP))),
     {"count-unit-required": "rules[0].selection.countUnit"}),
    ("count-unit-with-count", policy(rule(1, _with(UNTAGGED_COUNT, countUnit="days"))),
     {"count-unit-not-allowed": "rules[0].selection.countUnit"}),
    ("count-unit-hours", policy(rule(1, _with(TAGGED_PATTERN, countUnit="hours"))),
     {"invalid-count-unit": "rules[0].selection.countUnit"}),
    # countNumber: required positive integer
    ("count-number-one", policy(rule(1, _with(UNTAGGED_COUNT, countNumber=1))), {}),
    ("count-number-zero", policy(rule(1, _with(UNTAGGED_COUNT, countNumber=0))),
     {"count-number-not-positive": "rules[0].selection.countNumber"}),
    ("count-number-huge", policy(rule(1, _with(UNTAGGED_COUNT, countNumber=10**30))),
     {"count-number-too-large": "rules[0].selection.countNumber"}),
    ("count-number-missing", policy(rule(1, _with(UNTAGGED_COUNT, countNumber=_DROP))),
     {"missing-property": "rules[0].selection.countNumber"}),
    ("count-number-string", policy(rule(1, _with(UNTAGGED_COUNT, countNumber="5"))),
     {"wrong-type": "rules[0].selection.countNumber"}),
    ("count-number-bool", policy(rule(1, _with(UNTAGGED_COUNT, countNumber=True))),
     {"wrong-type": "rules[0].selection.countNumber"}),
    # action: type required enum; transition needs targetStorageClass archive; expire must not have one
    ("action-missing", {"rules": [{"rulePriority": 1, "selection": UNTAGGED_COUNT}]},
     {"missing-property": "rules[0].action"}),
    ("action-type-missing", policy(rule(1, UNTAGGED_COUNT, {})), {"missing-property": "rules[0].action.type"}),
    ("action-type-bad", policy(rule(1, UNTAGGED_COUNT, {"type": "delete"})),
     {"invalid-action-type": "rules[0].action.type"}),
    ("transition-valid", policy(rule(1, PULLED, TRANSITION)), {}),
    ("transition-no-target", policy(rule(1, PULLED, {"type": "transition"})),
     {"target-storage-class-required": "rules[0].action.targetStorageClass"}),
    ("transition-target-standard", policy(rule(1, PULLED, {"type": "transition", "targetStorageClass": "standard"})),
     {"invalid-target-storage-class": "rules[0].action.targetStorageClass"}),
    ("expire-with-target", policy(rule(1, UNTAGGED_COUNT, {"type": "expire", "targetStorageClass": "archive"})),
     {"target-storage-class-not-allowed": "rules[0].action.targetStorageClass"}),
    ("target-null", policy(rule(1, UNTAGGED_COUNT, {"type": "expire", "targetStorageClass": None})),
     {"wrong-type": "rules[0].action.targetStorageClass"}),
    # count types and actions
    ("pushed-transition", policy(rule(1, TAGGED_PATTERN, TRANSITION)), {}),
    ("count-transition", policy(rule(1, UNTAGGED_COUNT, TRANSITION)), {}),
    ("pulled-expire", policy(rule(1, PULLED)), {"pulled-requires-transition": "rules[0].action.type"}),
    ("transitioned-transition", policy(rule(1, ARCHIVE_EXPIRE, TRANSITION)),
     {"transitioned-requires-expire": "rules[0].action.type"}),
    # storage class: standard default; archive only with sinceImageTransitioned, which requires it
    ("archive-expire-valid", policy(rule(1, ARCHIVE_EXPIRE)), {}),
    ("standard-explicit", policy(rule(1, _with(UNTAGGED_COUNT, storageClass="standard"))), {}),
    ("storage-class-bad", policy(rule(1, _with(UNTAGGED_COUNT, storageClass="glacier"))),
     {"invalid-storage-class": "rules[0].selection.storageClass"}),
    ("transitioned-without-class", policy(rule(1, _with(ARCHIVE_EXPIRE, storageClass=_DROP))),
     {"storage-class-required": "rules[0].selection.storageClass"}),
    ("transitioned-standard", policy(rule(1, _with(ARCHIVE_EXPIRE, storageClass="standard"))),
     {"storage-class-count-type-mismatch": "rules[0].selection.storageClass"}),
    ("archive-with-count", policy(rule(1, _with(UNTAGGED_COUNT, storageClass="archive"))),
     {"storage-class-count-type-mismatch": "rules[0].selection.storageClass"}),
    ("archive-89-days", policy(rule(1, _with(ARCHIVE_EXPIRE, countNumber=89))),
     {"archive-minimum-days": "rules[0].selection.countNumber"}),
    ("archive-90-days", policy(rule(1, _with(ARCHIVE_EXPIRE, countNumber=90))), {}),
    # the any rule is evaluated last among the rules of its storage class
    ("any-last", policy(rule(1, TAGGED_PREFIX), rule(2, ANY_COUNT)), {}),
    ("any-not-last", policy(rule(1, ANY_COUNT), rule(2, TAGGED_PREFIX)),
     {"any-rule-not-last": "rules[0].rulePriority"}),
    ("any-not-last-by-number", policy(rule(5, ANY_COUNT), rule(3, UNTAGGED_COUNT), rule(9, TAGGED_PREFIX)),
     {"any-rule-not-last": "rules[0].rulePriority"}),
    ("any-per-class", policy(rule(1, _with(ANY_COUNT, countType="sinceImagePushed", countUnit="days"), TRANSITION),
                             rule(2, ARCHIVE_EXPIRE)), {}),
    ("any-rule-twice-same-class", policy(rule(1, ANY_COUNT), rule(2, _with(ANY_COUNT, countNumber=5))),
     {"any-rule-not-last": "rules[0].rulePriority"}),
    # one untagged rule per storage class
    ("untagged-once", policy(rule(1, UNTAGGED_COUNT), rule(2, TAGGED_PREFIX)), {}),
    ("untagged-twice", policy(rule(1, UNTAGGED_COUNT), rule(2, _with(TAGGED_PATTERN, tagStatus="untagged",
                                                                        tagPatternList=_DROP))),
     {"multiple-untagged-rules": "rules[1].selection.tagStatus"}),
    ("untagged-per-class", policy(rule(1, UNTAGGED_COUNT),
                                  rule(2, _with(ARCHIVE_EXPIRE, tagStatus="untagged"))), {}),
    # unique prefix sets per storage class
    ("prefix-sets-differ", policy(rule(1, TAGGED_PREFIX), rule(2, _with(TAGGED_PREFIX, tagPrefixList=["v", "x"]))), {}),
    ("prefix-sets-same", policy(rule(1, TAGGED_PREFIX), rule(2, _with(TAGGED_PREFIX, countNumber=3))),
     {"duplicate-prefix-set": "rules[1].selection.tagPrefixList"}),
    ("prefix-sets-same-order-differs", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=["a", "b"])),
                                              rule(2, _with(TAGGED_PREFIX, tagPrefixList=["b", "a"]))),
     {"duplicate-prefix-set": "rules[1].selection.tagPrefixList"}),
    # unknown properties
    ("unknown-top", {**policy(rule(1, UNTAGGED_COUNT)), "version": 1}, {"unknown-property": "version"}),
    ("unknown-rule", policy({**rule(1, UNTAGGED_COUNT), "enabled": True}), {"unknown-property": "rules[0].enabled"}),
    ("unknown-selection", policy(rule(1, _with(UNTAGGED_COUNT, tagPrefix="v"))),
     {"unknown-property": "rules[0].selection.tagPrefix"}),
    ("unknown-action", policy(rule(1, UNTAGGED_COUNT, {"type": "expire", "dryRun": True})),
     {"unknown-property": "rules[0].action.dryRun"}),
    # the document
    ("no-rules-key", {"Rules": []}, {"missing-property": "rules", "unknown-property": "Rules"}),
    ("rules-empty", {"rules": []}, {"no-rules": "rules"}),
    ("rules-not-array", {"rules": {"rulePriority": 1}}, {"wrong-type": "rules"}),
    ("rule-not-object", {"rules": [1]}, {"wrong-type": "rules[0]"}),
    ("selection-not-object", {"rules": [{"rulePriority": 1, "selection": [], "action": {"type": "expire"}}]},
     {"wrong-type": "rules[0].selection"}),
    ("rules-limit", policy(*[rule(i, _with(TAGGED_PREFIX, tagPrefixList=[f"t{i}-"])) for i in range(1, MAX_RULES + 1)]),
     {}),
    ("rules-over-limit", policy(*[rule(i, _with(TAGGED_PREFIX, tagPrefixList=[f"t{i}-"]))
                                  for i in range(1, MAX_RULES + 2)]), {"too-many-rules": "rules"}),
]


@pytest.mark.parametrize("case_id,obj,expected", CASES, ids=[c[0] for c in CASES])
def test_lint_case_table(case_id, obj, expected):
    errors = errors_only(lint(obj))
    got = {(e.code, e.path) for e in errors}
    if not expected:
        assert errors == [], f"{case_id}: expected valid, got {[str(e) for e in errors]}"
    for code, path in expected.items():
        assert (code, path) in got, f"{case_id}: expected {code} at {path}, got {sorted(got)}"


def test_case_table_covers_every_error_code():
    # A new error code without a case in the table fails here.
    import ecrwise.lifecycle.policy as p
    import inspect
    import re
    source = inspect.getsource(p)
    codes = set(re.findall(r'self\.err\([^,]+,\s*"([a-z-]+)"', source)) | \
        set(re.findall(r'lt\.err\([^,]+,\s*"([a-z-]+)"', source))
    codes |= {"invalid-tag-status", "invalid-storage-class", "invalid-count-type", "invalid-count-unit",
              "invalid-action-type", "invalid-target-storage-class"}
    tested = {c for _, _, exp in CASES for c in exp} | {"invalid-json", "duplicate-key", "policy-too-short",
                                                          "policy-too-long"}
    assert codes - tested == set()


def test_every_error_is_reported_at_once():
    obj = policy(rule(0, _with(UNTAGGED_COUNT, countUnit="days", countNumber=0)),
                 rule(2, _with(TAGGED_PATTERN, tagPatternList=["a*b*c*d*e*f"], countUnit=_DROP)),
                 rule(2, PULLED))
    codes = [e.code for e in errors_only(lint(obj))]
    for c in ("rule-priority-not-positive", "count-unit-not-allowed", "count-number-not-positive",
              "too-many-wildcards", "count-unit-required", "pulled-requires-transition", "duplicate-rule-priority"):
        assert c in codes


# --- text-level checks ---------------------------------------------------------------------------------

VALID_TEXT = json.dumps(policy(rule(1, UNTAGGED_COUNT, description="Clean untagged")))


def test_text_length_limits_from_botocore():
    assert len(VALID_TEXT) >= 100 and errors_only(lint(VALID_TEXT)) == []
    # The shortest valid policy is longer than 100 characters, so the minimum only bites on broken ones.
    assert len(json.dumps(policy(rule(1, UNTAGGED_COUNT)), separators=(",", ":"))) > 100
    for n, too_short in ((99, True), (100, False)):
        text = '{"rules":[]' + " " * (n - 12) + "}"
        assert len(text) == n
        codes = [e.code for e in errors_only(lint(text))]
        assert ("policy-too-short" in codes) is too_short and "no-rules" in codes
    at_max = VALID_TEXT[:-1] + " " * (POLICY_TEXT_MAX - len(VALID_TEXT)) + "}"
    assert len(at_max) == POLICY_TEXT_MAX and errors_only(lint(at_max)) == []
    over = VALID_TEXT[:-1] + " " * (POLICY_TEXT_MAX + 1 - len(VALID_TEXT)) + "}"
    assert [e.code for e in errors_only(lint(over))] == ["policy-too-long"]


def test_invalid_json_and_duplicate_keys():
    bad = lint('{"rules": [')
    assert [e.code for e in bad] == ["invalid-json"] and "line 1" in bad[0].message
    dup = lint('{"rules": [], "rules": []}' + " " * 100)
    assert [e.code for e in dup] == ["duplicate-key"]


def test_non_breaking_space_gets_a_hint():
    text = VALID_TEXT.replace('{"rulePriority"', '{\u00a0"rulePriority"')
    (issue,) = lint(text)
    assert issue.code == "invalid-json" and "U+00A0" in issue.message


def test_case_sensitive_enum_suggests_the_right_spelling():
    (issue,) = errors_only(lint(policy(rule(1, _with(UNTAGGED_COUNT, countType="ImageCountMoreThan")))))
    assert "did you mean 'imageCountMoreThan'" in issue.message


# --- warnings ------------------------------------------------------------------------------------------

WARNING_CASES = [
    ("any-small-count", policy(rule(1, _with(ANY_COUNT, countNumber=3))), "any-rule-small-count",
     "rules[0].selection.countNumber"),
    ("any-by-age-unshielded", policy(rule(1, UNTAGGED_COUNT),
                                     rule(2, _with(ANY_COUNT, countType="sinceImagePushed", countUnit="days"))),
     "any-rule-expires-by-age", "rules[1].selection.countType"),
    ("empty-prefix", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=[""]))), "broad-tag-filter",
     "rules[0].selection.tagPrefixList[0]"),
    ("star-pattern", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["**"]))), "broad-tag-filter",
     "rules[0].selection.tagPatternList[0]"),
    ("empty-pattern", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=[""]))), "pattern-matches-nothing",
     "rules[0].selection.tagPatternList[0]"),
    ("star-in-prefix", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=["v*"]))), "prefix-has-wildcard",
     "rules[0].selection.tagPrefixList[0]"),
    ("shadowed-prefix", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=["re"])),
                               rule(2, _with(TAGGED_PREFIX, tagPrefixList=["release-"]))), "unreachable-rule",
     "rules[1].selection"),
    ("shadowed-pattern", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["a*"])),
                                rule(2, _with(TAGGED_PATTERN, tagPatternList=["a*", "b*"]))), "unreachable-rule",
     "rules[1].selection"),
]

NO_WARNING_CASES = [
    ("any-count-20", policy(rule(1, TAGGED_PREFIX), rule(2, ANY_COUNT))),
    ("any-by-age-shielded", policy(rule(1, TAGGED_PREFIX),
                                   rule(2, _with(ANY_COUNT, countType="sinceImagePushed", countUnit="days")))),
    ("prefix-not-shadowed", policy(rule(1, _with(TAGGED_PREFIX, tagPrefixList=["release-"])),
                                   rule(2, _with(TAGGED_PREFIX, tagPrefixList=["re"])))),
    ("other-class-not-shadowed", policy(rule(1, _with(TAGGED_PATTERN, tagPatternList=["v*"]), TRANSITION),
                                        rule(2, _with(ARCHIVE_EXPIRE, tagStatus="tagged", tagPatternList=["v*"])))),
]


@pytest.mark.parametrize("case_id,obj,code,path", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_warnings(case_id, obj, code, path):
    issues = lint(obj)
    assert errors_only(issues) == []
    assert (code, path, "warning") in {(i.code, i.path, i.severity) for i in issues}


@pytest.mark.parametrize("case_id,obj", NO_WARNING_CASES, ids=[c[0] for c in NO_WARNING_CASES])
def test_no_warning(case_id, obj):
    assert lint(obj) == []


# --- parse_policy ---------------------------------------------------------------------------------------


def test_parse_policy_builds_the_model_sorted_by_priority():
    p = parse_policy(policy(rule(9, ANY_COUNT), rule(2, TAGGED_PATTERN, TRANSITION), rule(1, UNTAGGED_COUNT)))
    assert [r.priority for r in p.rules] == [1, 2, 9]
    r = p.rules[1]
    assert (r.tag_status, r.tag_patterns, r.count_unit, r.action, r.target_storage_class) == \
        ("tagged", ("prod*",), "days", "transition", "archive")
    assert parse_policy(p.to_json()) == p


def test_parse_policy_raises_user_error_listing_every_error():
    with pytest.raises(UserError) as ei:
        parse_policy(policy(rule(0, _with(UNTAGGED_COUNT, countNumber=0))), source="p.json")
    msg = str(ei.value)
    assert "p.json: rules[0].rulePriority" in msg and "p.json: rules[0].selection.countNumber" in msg
