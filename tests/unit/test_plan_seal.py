"""Plan and backup integrity on data: the digest rule, staleness, and the invariants checked whatever the
digest says."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecrwise.errors import UserError
from ecrwise.remediate.integrity import canonical_json, check_seal, digest_of, seal
from ecrwise.remediate.lifecycle_rollout import check_plan_integrity, load_plan

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
P = Path("plan.json")


def test_seal_round_trips_through_json_and_detects_any_change():
    doc = seal({"b": [1, 2.5, "é"], "a": {"t": datetime(2026, 1, 1, tzinfo=timezone.utc)}})
    again = json.loads(json.dumps(doc, indent=2))  # what the file holds, however it is indented
    check_seal(again, P, "x", "fix")
    assert again["integrity"]["digest"] == digest_of(again) and len(digest_of(again)) == 64
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    for edit in (lambda d: d["b"].append(3), lambda d: d.update(c=1), lambda d: d["a"].update(t="now"),
                 lambda d: d["integrity"].update(digest="0" * 64), lambda d: d.pop("integrity"),
                 lambda d: d["integrity"].update(algorithm="md5"), lambda d: d["b"].__setitem__(1, float("nan"))):
        bad = copy.deepcopy(again)
        edit(bad)
        with pytest.raises(UserError):
            check_seal(bad, P, "x", "fix")


def plan_doc(created: datetime) -> dict:
    return seal({"kind": "lifecycle-plan", "created_at": created.isoformat().replace("+00:00", "Z")})


def test_stale_and_future_plans_are_refused():
    check_plan_integrity(plan_doc(NOW - timedelta(hours=23)), P, NOW)
    with pytest.raises(UserError, match="stale"):
        check_plan_integrity(plan_doc(NOW - timedelta(hours=25)), P, NOW)
    with pytest.raises(UserError, match="in the future"):
        check_plan_integrity(plan_doc(NOW + timedelta(hours=1)), P, NOW)
    with pytest.raises(UserError, match="created_at"):
        check_plan_integrity(seal({"kind": "lifecycle-plan", "created_at": "yesterday"}), P, NOW)
    with pytest.raises(UserError, match="JSON object"):
        check_plan_integrity([], P, NOW)


def test_a_resealed_plan_without_the_protection_rule_is_refused(tmp_path):
    no_protection = json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})
    doc = seal({"kind": "lifecycle-plan", "created_at": NOW.isoformat().replace("+00:00", "Z"),
                "policy": no_protection, "selection": {"include": [], "exclude": []},
                "in_use_sources": {"rollback_revisions": 2}, "items": []})
    (tmp_path / "p.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="not ecrwise's protection rule"):
        load_plan(tmp_path / "p.json", now=NOW)
