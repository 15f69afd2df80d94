"""`ecrwise lifecycle lint | simulate | template` through Typer's runner (in process)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from ecrwise.cli.lifecycle import app, parse_at, select_repositories
from ecrwise.errors import UserError
from ecrwise.lifecycle.templates import get_template

runner = CliRunner()

GIB = 2**30

IMAGES = {"images": [
    {"repository": "web", "digest": "sha256:w1", "tags": ["v1.0.0"], "pushed_at": "2025-01-01T00:00:00Z",
     "layers": [{"digest": "sha256:base", "size": GIB}, {"digest": "sha256:w1l", "size": 2 * GIB}]},
    {"repository": "web", "digest": "sha256:w2", "tags": [], "pushed_at": "2025-02-01T00:00:00Z",
     "layers": [{"digest": "sha256:base", "size": GIB}, {"digest": "sha256:w2l", "size": 3 * GIB}]},
    {"repository": "web", "digest": "sha256:w3", "tags": [], "pushed_at": "2025-03-01T00:00:00Z",
     "layers": [{"digest": "sha256:base", "size": GIB}, {"digest": "sha256:w3l", "size": GIB}]},
    {"repository": "api", "digest": "sha256:a1", "tags": [], "pushed_at": "2025-01-01T00:00:00Z",
     "layers": [{"digest": "sha256:a1l", "size": 5 * GIB}]},
    {"repository": "api", "digest": "sha256:a2", "tags": [], "pushed_at": "2025-01-02T00:00:00Z",
     "layers": [{"digest": "sha256:a2l", "size": GIB}]},
    {"repository": "tools/ci", "digest": "sha256:c1", "tags": ["latest"], "pushed_at": "2025-01-02T00:00:00Z",
     "layers": [{"digest": "sha256:c1l", "size": GIB}]},
]}


@pytest.fixture()
def files(tmp_path):
    images = tmp_path / "images.json"
    images.write_text(json.dumps(IMAGES))
    policy = tmp_path / "policy.json"
    policy.write_text(get_template("playbook-base"))
    return images, policy


def test_lint_valid_file_exits_0(files):
    _, policy = files
    res = runner.invoke(app, ["lint", str(policy)])
    assert res.exit_code == 0, res.output
    assert f"{policy}: valid" in res.output


def test_lint_reports_every_error_with_its_path_and_exits_2(tmp_path, files):
    _, good = files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5,
                                          "countUnit": "days"}, "action": {"type": "expire"}},
        {"rulePriority": 2, "selection": {"tagStatus": "tagged", "countType": "sinceImagePushed", "countNumber": 0},
         "action": {"type": "expire"}}]}))
    res = runner.invoke(app, ["lint", str(good), str(bad)])
    assert res.exit_code == 2
    for fragment in ("rules[0].selection.countUnit", "[count-unit-not-allowed]", "rules[0].rulePriority",
                     "[any-rule-not-last]", "rules[1].selection.tagStatus", "[tag-list-required]",
                     "rules[1].selection.countUnit", "rules[1].selection.countNumber"):
        assert fragment in res.output
    assert f"{good}: valid" in res.output


def test_lint_warnings_exit_0_and_json_output(tmp_path):
    p = tmp_path / "risky.json"
    p.write_text(json.dumps({"rules": [{"rulePriority": 1, "description": "keep two",
                                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                      "countNumber": 2}, "action": {"type": "expire"}}]}))
    res = runner.invoke(app, ["lint", str(p), "--format", "json"])
    assert res.exit_code == 0
    doc = json.loads(res.output)
    assert doc["kind"] == "lifecycle-lint" and doc["snapshot"] is None
    assert doc["totals"] == {"files": 1, "errors": 0, "warnings": 1}
    assert doc["items"][0]["code"] == "any-rule-small-count" and doc["items"][0]["severity"] == "warning"


def test_lint_unreadable_file_is_an_error(tmp_path):
    res = runner.invoke(app, ["lint", str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "cannot read" in res.output


def test_template_list_and_print():
    res = runner.invoke(app, ["template"])
    assert res.exit_code == 0 and "playbook-base" in res.output and "archive-old" in res.output
    res = runner.invoke(app, ["template", "untagged-only"])
    assert res.exit_code == 0 and json.loads(res.output)["rules"][0]["selection"]["tagStatus"] == "untagged"
    res = runner.invoke(app, ["template", "nope"])
    assert res.exit_code == 2 and "unknown lifecycle template" in res.output


def test_simulate_json_document(files):
    images, policy = files
    res = runner.invoke(app, ["simulate", "--images", str(images), "--policy", str(policy), "--at", "2025-06-01",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert (doc["ecrwise"], doc["kind"], doc["snapshot"]) == ("0.1.0", "lifecycle-simulation", None)
    items = {i["repository"]: i for i in doc["items"]}
    # api: two untagged images, rule 1 keeps one: a1 (5 GiB, no shared layer) goes.
    assert [e["digest"] for e in items["api"]["expire"]] == ["sha256:a1"]
    assert items["api"]["expire"][0] == {"digest": "sha256:a1", "tags": [], "pushed_at": "2025-01-01T00:00:00Z",
                                         "rule_priority": 1}
    assert items["api"]["freed_bytes"] == 5 * GIB and items["api"]["kept"] == 1
    # web: untagged w2 goes; base is shared with survivors, so only its own 3 GiB is freed.
    assert [e["digest"] for e in items["web"]["expire"]] == ["sha256:w2"]
    assert items["web"]["freed_bytes"] == 3 * GIB
    price = doc["totals"]["prices"]["standard"]["usd"]
    assert items["api"]["monthly_savings_usd"] == round(5 * price, 2)
    arithmetic = items["api"]["arithmetic"]
    assert arithmetic["bytes"] == 5 * GIB and arithmetic["price_usd_per_gb_month"] == price
    assert [i["repository"] for i in doc["items"]] == ["api", "web", "tools/ci"]  # by savings
    assert doc["totals"]["freed_bytes"] == 8 * GIB and doc["totals"]["expire_count"] == 2
    assert doc["totals"]["at"] == "2025-06-01T00:00:00Z"


def test_simulate_repository_globs_and_csv(files):
    images, policy = files
    res = runner.invoke(app, ["simulate", "--images", str(images), "--policy", str(policy), "--repository", "*",
                              "--exclude", "tools/*", "--format", "csv", "--at", "2025-06-01"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [r["repository"] for r in rows] == ["api", "web"]
    assert rows[0]["freed_bytes"] == str(5 * GIB)
    res = runner.invoke(app, ["simulate", "--images", str(images), "--policy", str(policy), "--format", "csv",
                              "--list", "--repository", "web"])
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [(r["repository"], r["action"], r["digest"]) for r in rows] == [("web", "expire", "sha256:w2")]


def test_simulate_table(files):
    images, policy = files
    res = runner.invoke(app, ["simulate", "--images", str(images), "--policy", str(policy), "--list"],
                        env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "Lifecycle simulation at" in res.output and "total" in res.output and "w2" in res.output


@pytest.mark.parametrize("args,message", [
    (["--images", "I"], "--images FILE needs --policy FILE"),
    (["--policy", "P", "--store", "missing.duckdb"], "no store here yet"),
    (["--images", "I", "--policy", "P", "--repository", "nothing-*"], "no repository matches"),
    (["--images", "I", "--policy", "P", "--at", "tomorrow"], "--at: 'tomorrow' is not an ISO-8601 time"),
])
def test_simulate_usage_errors_exit_2(files, args, message):
    images, policy = files
    args = [str(images) if a == "I" else str(policy) if a == "P" else a for a in args]
    res = runner.invoke(app, ["simulate", *args])
    assert res.exit_code == 2 and message in res.output


def test_simulate_invalid_policy_lists_errors(tmp_path, files):
    images, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text(get_template("playbook-base-as-published"))
    res = runner.invoke(app, ["simulate", "--images", str(images), "--policy", str(bad)])
    assert res.exit_code == 2 and "bad.json: (document): not valid JSON" in res.output and "U+00A0" in res.output


def test_parse_at():
    now = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
    assert parse_at(None, now) == now and parse_at("now", now) == now
    assert parse_at("+30d", now) == datetime(2025, 7, 1, 12, tzinfo=timezone.utc)
    assert parse_at("-12h", now) == datetime(2025, 6, 1, 0, tzinfo=timezone.utc)
    assert parse_at("2025-07-01", now) == datetime(2025, 7, 1, tzinfo=timezone.utc)
    assert parse_at("2025-07-01T02:00:00+02:00", now) == datetime(2025, 7, 1, tzinfo=timezone.utc)
    assert parse_at("2025-07-01T00:00:00Z", now) == datetime(2025, 7, 1, tzinfo=timezone.utc)
    with pytest.raises(UserError):
        parse_at("+30y", now)


def test_select_repositories():
    names = ["web", "api", "tools/ci", "tools/lint"]
    assert select_repositories(names, [], []) == ["api", "tools/ci", "tools/lint", "web"]
    assert select_repositories(names, ["tools/*"], ["*/lint"]) == ["tools/ci"]
    assert select_repositories(names, ["w*", "a*"], []) == ["api", "web"]
