"""The ranked findings: de-duplication, ranking, overlaps counted once, filters, totals, CI gates, and the
renderers (Markdown for a pull request, CSV, SARIF 2.1.0 validated against the schema's constraints)."""
import csv
import dataclasses
import io
import json

import jsonschema
import pytest
from sarif_schema import SCHEMA
from storage_helpers import BOOK, NOW, app_images, old_repo_images, records, repo

from ecrwise.analysis.checks import Finding
from ecrwise.analysis.findings import (FindingsResult, Ranked, assign_overlaps, collect, dedupe, rank_key, registry,
                                       select, threshold_met, totals, unknown_check_specs)
from ecrwise.report import findings as view


def F(check, severity, resource, savings=None, account="1", region="us-east-1", **kw):
    return Finding(check, severity, account, region, resource, f"{check} on {resource}", monthly_savings_usd=savings,
                   **kw)


def ranked(findings, vpcs=None):
    reg = registry()
    items = [Ranked(f, reg[f.check].family) for f in dedupe(findings)]
    assign_overlaps(items, vpcs or {})
    items.sort(key=rank_key)
    for i, it in enumerate(items, 1):
        it.rank = i
    return FindingsResult(items, [], [], vpcs or {})


def test_ranked_by_savings_then_severity_and_info_neither_ranks_nor_counts():
    r = ranked([F("ecr.large-image", "low", "a"), F("ecs.single-replica", "medium", "s"),
                F("ecr.untagged-bytes", "low", "b", 5.0), F("ecr.redundant-repository", "medium", "c", 5.0),
                F("ecs.fargate-vs-ec2", "info", "svc", 99.0), F("ecs.agent-auth-data-plaintext", "critical", "i")])
    assert [it.finding.resource for it in r.items] == ["c", "b", "i", "s", "a", "svc"]
    t = totals(r.items)
    assert t["monthly_savings"] == 10.0 and t["monthly_savings_listed"] == 10.0
    assert t["by_severity"] == {"critical": 1, "medium": 2, "low": 2, "info": 1}


def test_same_id_is_one_finding_the_more_severe_one():
    a, b = F("ecs.single-replica", "medium", "s"), F("ecs.single-replica", "high", "s")
    assert [f.severity for f in dedupe([a, b, a])] == ["high"]


def test_one_repository_s_storage_findings_count_their_largest_saving_once():
    arn = "arn:aws:ecr:us-east-1:1:repository/app"
    r = ranked([F("ecr.redundant-repository", "medium", arn, 0.42), F("ecr.no-lifecycle-policy", "medium", arn, 0.26),
                F("ecr.untagged-bytes", "low", arn, 0.10), F("ecr.untagged-bytes", "low", "other-repo", 0.05)])
    counted = {(it.finding.check, it.finding.resource): it.counted_savings for it in r.items}
    assert counted[("ecr.redundant-repository", arn)] == 0.42
    assert counted[("ecr.no-lifecycle-policy", arn)] == 0 and counted[("ecr.untagged-bytes", arn)] == 0
    t = totals(r.items)
    assert t["monthly_savings"] == pytest.approx(0.47)
    assert t["monthly_savings_overlapping"] == pytest.approx(0.36)
    assert len(r.items[0].overlaps) == 2  # the redundant finding lists the two it overlaps


def test_crash_loop_savings_overlap_the_network_findings_of_its_vpc():
    svc = "arn:aws:ecs:us-east-1:1:service/prod/api"
    net = F("network.endpoint-missing", "high", "vpc-1/s3", 230.0, evidence={"vpc_id": "vpc-1"})
    loop = F("ecs.crash-loop", "high", svc, 229.0)
    r = ranked([net, loop], {svc: ("1", "us-east-1", "vpc-1")})
    assert totals(r.items)["monthly_savings"] == 230.0
    # Elsewhere (another VPC, or none known) the crash loop's savings count.
    r = ranked([net, loop], {svc: ("1", "us-east-1", "vpc-2")})
    assert totals(r.items)["monthly_savings"] == 459.0


def test_filters_and_overlaps_within_the_selection():
    arn = "arn:aws:ecr:us-east-1:1:repository/app"
    r = ranked([F("ecr.redundant-repository", "medium", arn, 0.42), F("ecr.no-lifecycle-policy", "medium", arn, 0.26),
                F("ecs.single-replica", "medium", "s", region="eu-west-1"), F("ecr.large-image", "low", "x"),
                F("ecs.agent-auth-data-plaintext", "critical", "i", account="2")])
    only = select(r, checks=["ecr.no-lifecycle-policy"])
    assert [it.finding.check for it in only.items] == ["ecr.no-lifecycle-policy"]
    assert totals(only.items)["monthly_savings"] == 0.26  # its partner is not selected: it counts now
    assert {it.finding.check for it in select(r, checks=["ecs"]).items} == {"ecs.single-replica",
                                                                            "ecs.agent-auth-data-plaintext"}
    assert {it.finding.check for it in select(r, checks=["ecr.*"]).items} == {
        "ecr.redundant-repository", "ecr.no-lifecycle-policy", "ecr.large-image"}
    assert {it.finding.severity for it in select(r, severity="medium").items} == {"medium", "critical"}
    assert [it.finding.resource for it in select(r, regions=["eu-west-1"]).items] == ["s"]
    assert [it.finding.resource for it in select(r, accounts=["2"]).items] == ["i"]
    assert [it.rank for it in select(r, checks=["ecr.large-image"]).items] == [5]  # ranks kept


def test_unknown_check_specs():
    assert unknown_check_specs(["ecr.*", "storage", "ecs.crash-loop", "nope", "ecr.typo"]) == ["nope", "ecr.typo"]


def test_gates():
    r = ranked([F("ecr.untagged-bytes", "low", "b", 4.994), F("ecs.single-replica", "medium", "s")])
    assert threshold_met(r.items, savings_usd=5.0) == []  # $4.99 after rounding to cents
    assert threshold_met(r.items, savings_usd=4.99)
    assert threshold_met(r.items, severity="medium") and not threshold_met(r.items, severity="high")
    assert threshold_met([], savings_usd=0.0)  # "at least $0" always holds


def test_collect_on_a_snapshot_runs_every_registered_family():
    recs = records([repo("app"), repo("old")], app_images("app") + old_repo_images("old"))
    result = collect(recs, BOOK, {"now": NOW})
    assert result.warnings == []
    checks = {it.finding.check for it in result.items}
    assert {"ecr.no-lifecycle-policy", "ecr.untagged-bytes", "ecr.redundant-repository", "ecr.large-image",
            "ecr.no-cost-allocation-tags"} <= checks
    assert {c.family for c in registry().values()} >= {"storage", "lifecycle", "ecs", "network"}
    assert [it.rank for it in result.items] == list(range(1, len(result.items) + 1))
    savings = [it.finding.monthly_savings_usd or 0 for it in result.items]
    assert savings == sorted(savings, reverse=True)


def test_a_failing_check_becomes_a_warning(monkeypatch):
    from ecrwise.analysis import checks as checks_mod

    broken = checks_mod.REGISTRY["ecr.large-image"]

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(checks_mod.REGISTRY, "ecr.large-image", dataclasses.replace(broken, fn=boom))
    result = collect(records([repo("app")], app_images()), BOOK, {"now": NOW})
    assert result.warnings == ["check ecr.large-image failed: RuntimeError: disk on fire"]
    assert "ecr.untagged-bytes" in {it.finding.check for it in result.items}


# -- renderers -----------------------------------------------------------------------------------------------

def rendered():
    recs = records([repo("app"), repo("old")], app_images("app") + old_repo_images("old"))
    result = collect(recs, BOOK, {"now": NOW})
    reg = registry()
    return [view.item(it, reg) for it in result.items], view.totals_json(result.totals()), reg


def test_json_items_carry_the_issue_s_fields():
    items, totals_, _ = rendered()
    want = {"id", "check", "severity", "account", "region", "resource", "monthly_cost_usd", "monthly_savings_usd",
            "evidence", "arithmetic", "recommendation", "fix"}
    assert all(want <= set(i) for i in items)
    json.dumps(items)
    assert totals_["findings"] == len(items)
    assert totals_["monthly_savings_usd"] == round(sum(i["counted_savings_usd"] for i in items), 2)


def test_csv_round_trips():
    items, _, _ = rendered()
    out = io.StringIO()
    view.print_csv(items, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["id"] for r in rows] == [i["id"] for i in items]
    assert json.loads(rows[0]["evidence"]) == json.loads(json.dumps(items[0]["evidence"], default=str))


def test_markdown_is_a_pull_request_comment():
    items, totals_, _ = rendered()
    items[0] = dict(items[0], message="a | pipe <b>and</b>\nnewline", resource_name="x|y")
    md = view.markdown(items, totals_, {"id": 3, "taken_at": "2026-06-01T00:00:00Z"}, top=2)
    lines = md.splitlines()
    assert lines[0] == "### ecrwise findings · snapshot 3 (2026-06-01 00:00 UTC)"
    table = [l for l in lines if l.startswith("| ") and "`ecr." in l][:2]
    assert len(table) == 2 and all(l.count(" | ") == 6 for l in table)  # 7 cells, escaped pipes don't split
    assert "a \\| pipe &lt;b&gt;and&lt;/b&gt; newline" in md and "x\\|y" in md
    assert f"Top 2 of {len(items)}" in md and "<details><summary>" in md


def test_sarif_validates_and_maps_severities():
    items, _, reg = rendered()
    doc = view.sarif(items, reg, {"id": 1, "taken_at": "2026-06-01T00:00:00Z"})
    jsonschema.validate(doc, SCHEMA)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(reg)  # every registered check is a rule
    assert all("helpUri" not in r for r in rules)  # no absolute docs URL known
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] == view.SARIF_LEVEL[res["properties"]["severity"]]
        assert res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("arn:aws:ecr:")
        assert "physicalLocation" not in res["locations"][0]
    assert {r["defaultConfiguration"]["level"] for r in rules} <= {"error", "warning", "note"}
    doc = view.sarif(items, reg, None, docs_base_url="https://example.invalid/ecrwise/", artifact="infra/ecr.tf")
    jsonschema.validate(doc, SCHEMA)
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"].startswith("https://example.invalid/ecrwise/docs/")
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/ecr.tf"}}


def test_the_schema_catches_what_sarif_forbids():
    items, _, reg = rendered()
    doc = view.sarif(items, reg, None)
    doc["runs"][0]["results"][0]["level"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    doc = view.sarif(items, reg, None)
    doc["runs"][0]["results"][0]["locaitons"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_short_resource_and_rule_names():
    assert view.short_resource("arn:aws:ecr:us-east-1:1:repository/team/app") == "team/app"
    assert view.short_resource("arn:aws:ecs:us-east-1:1:service/prod/api") == "prod/api"
    assert view.short_resource("vpc-1/s3") == "vpc-1/s3"
    assert view.rule_name("ecr.no-lifecycle-policy") == "EcrNoLifecyclePolicy"
